"""serving/dependencies.py: what a route is given from the app (its settings, models and checked body) and the admin
key check, on a bare FastAPI app of its own rather than the service's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from serving.dependencies import AdminDep, ClassifyBody, SettingsDep, SnapshotDep, require_admin
from serving.metrics import ServiceMetrics
from serving.model_holder import ModelHolder
from serving.settings import ServingSettings
from serving.snapshot import ModelSnapshot
from tests.serving.conftest import ADMIN_KEY, loaded_model

SettingsFactory = Callable[..., ServingSettings]


@pytest.mark.parametrize(
    ("configured", "sent", "status", "detail"),
    [
        (None, ADMIN_KEY, 403, "admin endpoints are disabled: set NEWS_ADMIN_API_KEY to enable them"),
        (ADMIN_KEY, None, 401, "missing X-API-Key header"),
        (ADMIN_KEY, " \t", 401, "missing X-API-Key header"),
        (ADMIN_KEY, ADMIN_KEY + "x", 403, "wrong X-API-Key"),
    ],
    ids=["no key configured", "no key sent", "blank key sent", "wrong key"],
)
def test_the_admin_key_is_required_and_checked(
    store_uri: str, make_settings: SettingsFactory, configured: str | None, sent: str | None, status: int, detail: str
) -> None:
    settings = make_settings(store_uri, admin_api_key=configured)
    with pytest.raises(HTTPException) as refused:
        asyncio.run(require_admin(settings, sent))
    assert (refused.value.status_code, refused.value.detail) == (status, detail)
    if status == 401:
        assert refused.value.headers == {"WWW-Authenticate": "X-API-Key"}


def test_the_right_key_passes_with_the_spaces_http_allows_around_it(store_uri: str, make_settings: SettingsFactory) -> None:
    settings = make_settings(store_uri)
    assert asyncio.run(require_admin(settings, ADMIN_KEY)) is None
    assert asyncio.run(require_admin(settings, f"\t{ADMIN_KEY} ")) is None


def test_a_route_gets_the_apps_settings_its_current_models_and_a_body_checked_against_the_limits(
    store_uri: str, make_settings: SettingsFactory
) -> None:
    settings = make_settings(store_uri, max_items=2)
    holder = ModelHolder(settings, ServiceMetrics(CollectorRegistry()))
    holder.current = ModelSnapshot({"topic": loaded_model("topic", ("conflict", "economy"), version="4")})
    app = FastAPI()
    app.state.settings, app.state.model_holder = settings, holder

    @app.post("/items")
    async def items(body: ClassifyBody, settings: SettingsDep, snapshot: SnapshotDep) -> dict[str, object]:
        return {"items": len(body.items), "max_items": settings.max_items, "topic": snapshot.versions()["topic"]}

    @app.get("/admin")
    async def admin(_: AdminDep) -> dict[str, str]:
        return {"admin": "yes"}

    with TestClient(app) as client:
        ok = client.post("/items", json={"items": [{"text": "One."}, {"text": "Two."}]})
        over = client.post("/items", json={"items": [{"text": "One."}] * 3})
        admin_ok = client.get("/admin", headers={"X-API-Key": ADMIN_KEY})
        admin_refused = client.get("/admin")

    assert ok.json() == {"items": 2, "max_items": 2, "topic": "4"}
    # The settings' limit, refused before validation (the service's own handler adds the path to the message).
    assert over.status_code == 422
    assert over.json()["detail"] == [{"type": "too_many_items", "loc": ["body", "items"], "msg": "at most 2 items per request, got 3"}]
    assert admin_ok.json() == {"admin": "yes"}
    assert admin_refused.status_code == 401
