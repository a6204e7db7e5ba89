"""Serving fixtures: an app over the session's trained default models, with small limits to test against."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings

ADMIN_KEY = "test-admin-key-0123456789"
# Small limits, so the limit tests need small bodies; the defaults are checked in test_settings.
LIMITS: dict[str, Any] = {
    "max_items": 8,
    "max_text_chars": 500,
    "max_target_chars": 40,
    "max_targets": 3,
    "max_article_chars": 3000,
    "max_body_bytes": 20_000,
}


def serving_settings(tracking_uri: str, **overrides: Any) -> ServingSettings:
    """Settings for a test app: the given store, the admin key and the small limits."""
    return ServingSettings(tracking_uri=tracking_uri, **{"admin_api_key": ADMIN_KEY, **LIMITS, **overrides})


SettingsFactory = Callable[..., ServingSettings]


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
