"""Every answer carries an X-Request-ID: the caller's own where usable, else a new one."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.request_id import is_usable
from tests.serving.conftest import SettingsFactory

NEW_ID = re.compile(r"[0-9a-f]{32}")
CLASSIFY = {"items": [{"text": "Talks resumed in Cairo."}]}


@pytest.mark.parametrize(
    ("request_id", "usable"),
    [
        ("3f2a9c0e8b7d4e1f9a6b5c4d3e2f1a0b", True),
        ("Root=1-67891233-abcdef012345678912345678", True),
        ("x", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("two words", False),
        ("caf\u00e9", False),
        ("", False),
    ],
)
def test_a_sent_id_is_kept_if_it_is_visible_ascii_of_at_most_128_characters(request_id: str, usable: bool) -> None:
    assert is_usable(request_id) is usable


def test_an_answer_gets_a_new_id_where_none_was_sent_and_each_its_own(client: TestClient) -> None:
    first = client.post("/v1/classify", json=CLASSIFY)
    second = client.post("/v1/classify", json=CLASSIFY)

    assert first.status_code == second.status_code == 200
    assert NEW_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_a_callers_id_comes_back_as_sent(client: TestClient) -> None:
    # An AWS load balancer's trace ID: not a UUID, which the library alone would have replaced.
    sent = "Root=1-67891233-abcdef012345678912345678"

    response = client.post("/v1/classify", json=CLASSIFY, headers={"X-Request-ID": sent})

    assert response.headers["x-request-id"] == sent


def test_an_unusable_id_is_replaced_by_a_new_one(client: TestClient) -> None:
    response = client.post("/v1/classify", json=CLASSIFY, headers={"X-Request-ID": "x" * 500})

    assert response.status_code == 200
    assert NEW_ID.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/classify", {"items": []}, 422),
        ("GET", "/v1/classify", None, 405),
        ("GET", "/v1/nowhere", None, 404),
        ("GET", "/health", None, 200),
    ],
)
def test_refusals_carry_the_callers_id_too(
    client: TestClient, method: str, path: str, body: object, status: int
) -> None:
    response = client.request(method, path, json=body, headers={"X-Request-ID": "req-7"})

    assert response.status_code == status
    assert response.headers["x-request-id"] == "req-7"


def test_a_body_over_the_size_limit_carries_the_callers_id(store_uri: str, make_settings: SettingsFactory) -> None:
    # Answered by the body-limit middleware, before any route.
    settings = make_settings(store_uri)
    with TestClient(create_app(settings)) as small:
        too_large = b"x" * (settings.max_body_bytes + 1)
        response = small.post("/v1/classify", content=too_large, headers={"X-Request-ID": "req-8"})

    assert response.status_code == 413
    assert response.headers["x-request-id"] == "req-8"
