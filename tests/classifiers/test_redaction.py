"""Secrets of tracking URIs never shown: in URIs, in messages that quote them, in log lines."""

from __future__ import annotations

import logging

import pytest

from classifiers.redaction import RedactingFilter, redact_text, redact_uri

DATABASE = "postgresql+psycopg2://mlflow:p%40ss-w0rd@db.internal:5432/mlflow"


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (DATABASE, "postgresql+psycopg2://mlflow:***@db.internal:5432/mlflow"),
        ("https://ci-token-123@mlflow.example/", "https://***@mlflow.example/"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////srv/mlruns/mlflow.db", "sqlite:////srv/mlruns/mlflow.db"),
    ],
)
def test_the_secret_of_a_uri_is_masked(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown


def test_a_message_quoting_the_secret_its_own_way_is_masked() -> None:
    # A library may print the password decoded, or the URI inside other text.
    message = f"connection to {DATABASE} failed for password 'p@ss-w0rd'"

    assert redact_text(message, DATABASE) == (
        "connection to postgresql+psycopg2://mlflow:***@db.internal:5432/mlflow failed for password '***'"
    )


def test_log_lines_and_tracebacks_lose_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test_redaction")
    redacting = RedactingFilter(DATABASE)
    logger.addFilter(redacting)
    try:
        try:
            raise ConnectionError(f"cannot reach {DATABASE}")
        except ConnectionError:
            logger.exception("store %s is down", DATABASE)
    finally:
        logger.removeFilter(redacting)

    text = caplog.text
    assert "p%40ss-w0rd" not in text and "p@ss-w0rd" not in text
    assert "store postgresql+psycopg2://mlflow:***@db.internal:5432/mlflow is down" in text
    assert "ConnectionError: cannot reach postgresql+psycopg2://mlflow:***@" in text
