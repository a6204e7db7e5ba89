"""Serving fixtures: an app over the session's trained default models, with small limits to test against."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from classifiers import store
from serving.app import create_app
from serving.settings import ServingSettings

ADMIN_KEY = "test-admin-key-0123456789"
# Small limits, so the limit tests need small bodies; the defaults are checked in test_settings.
LIMITS: dict[str, Any] = {
    "max_items": 8,
    "max_text_chars": 500,
    "max_request_chars": 900,
    "max_target_chars": 40,
    "max_targets": 3,
    "max_article_chars": 3000,
    "max_body_bytes": 20_000,
}


def serving_settings(tracking_uri: str, **overrides: Any) -> ServingSettings:
    """Settings for a test app: the given store, the admin key and the small limits.

    A `poll_seconds` under a second, which a server refuses (NEWS_POLL_SECONDS), is set after validation: the
    polling tests would otherwise wait seconds per poll.
    """
    poll_seconds = overrides.pop("poll_seconds", None)
    settings = ServingSettings(tracking_uri=tracking_uri, **{"admin_api_key": ADMIN_KEY, **LIMITS, **overrides})
    return settings if poll_seconds is None else settings.model_copy(update={"poll_seconds": poll_seconds})


SettingsFactory = Callable[..., ServingSettings]


@pytest.fixture(scope="session")
def empty_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The database file of an empty store (its tables made), made once: copying it is quicker than MLflow's
    migrations."""
    database = tmp_path_factory.mktemp("empty-store") / "mlflow.db"
    store.use_store(f"sqlite:///{database}")
    return database


@pytest.fixture
def store_uri(store_uri: str, empty_store_file: Path) -> str:
    """The test's empty SQLite store, made: a server opens a store but never creates one (training does)."""
    database = store.sqlite_path(store_uri)
    assert database is not None
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(empty_store_file, database)
    return store_uri


@pytest.fixture
def make_settings() -> SettingsFactory:
    """`make_settings(tracking_uri, **overrides)`: settings with the admin key and the small limits."""
    return serving_settings


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}


@pytest.fixture
def limits() -> dict[str, Any]:
    return dict(LIMITS)


@pytest.fixture(scope="session")
def client(trained_store: str) -> Iterator[TestClient]:
    """A running app (lifespan done) over the trained default models; shared, so do not reload it."""
    with TestClient(create_app(serving_settings(trained_store))) as test_client:
        yield test_client


@pytest.fixture
def fresh_client(trained_store: str) -> Iterator[TestClient]:
    """An app of its own (own metrics registry) over the trained default models."""
    with TestClient(create_app(serving_settings(trained_store))) as test_client:
        yield test_client
