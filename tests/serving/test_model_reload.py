"""Reloading when the champion alias moves: manual and by polling, atomic, and safe when a load fails.

These tests change the registry, so they use a store of their own with two trained topic models
(version 1 is champion; version 2 is a retrain with another C) and no stance model.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from serving.app import create_app
from serving.routers import classify as classify_router
from serving.settings import ServingSettings
from training.config.loading import load_config
from training.defaults import DEFAULT_CONFIGS
from training.promotion import CHAMPION
from training.trainer import train

SettingsFactory = Callable[..., ServingSettings]
TOPIC = "news-topic"
ITEMS = {"items": [{"text": "Ministers met in Brussels to discuss the ceasefire proposal and new sanctions."}]}
POLL_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def topic_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = f"sqlite:///{tmp_path_factory.mktemp('reload-store') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        train(load_config(DEFAULT_CONFIGS["topic"]))
        train(load_config(DEFAULT_CONFIGS["topic"], ["model.C=0.1", "promote=never"]))
    return uri


@pytest.fixture
def registry(topic_store: str) -> Iterator[MlflowClient]:
    """A client on the reload store whose champion is version 1 again when each test starts."""
    client = MlflowClient(tracking_uri=topic_store, registry_uri=topic_store)
    client.set_registered_model_alias(TOPIC, CHAMPION, "1")
    yield client
    client.set_registered_model_alias(TOPIC, CHAMPION, "1")


def broken_version(registry: MlflowClient, scratch: Path) -> str:
    """Register a new version whose artifacts are version 1's minus the fitted pipeline file."""
    source = Path(registry.get_model_version_download_uri(TOPIC, "1"))
    copy = scratch / "broken-model"
    shutil.copytree(source, copy)
    removed = [path.unlink() for path in copy.rglob("pipeline.joblib")]
    assert removed, "the copied model should have had a pipeline file to remove"
    run_id = registry.get_model_version(TOPIC, "1").run_id
    return str(registry.create_model_version(TOPIC, str(copy), run_id=run_id).version)


def topic_version(client: TestClient) -> str:
    response = client.post("/v1/classify", json=ITEMS)
    assert response.status_code == 200, response.text
    return response.json()["models"]["topic"]["version"]


def reload_outcomes(client: TestClient) -> dict[str, float]:
    families = {family.name: family for family in text_string_to_metric_families(client.get("/metrics").text)}
    return {
        sample.labels["outcome"]: sample.value
        for sample in families["news_model_reloads"].samples
        if sample.name.endswith("_total")
    }


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_manual_reload_swaps_in_the_new_champion(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, admin_headers: dict[str, str]
) -> None:
    with TestClient(create_app(make_settings(topic_store))) as client:
        before = client.post("/v1/classify", json=ITEMS).json()
        registry.set_registered_model_alias(TOPIC, CHAMPION, "2")
        response = client.post("/v1/models/reload", headers=admin_headers)
        after = client.post("/v1/classify", json=ITEMS).json()
        models = client.get("/v1/models").json()

    assert response.status_code == 200
    assert response.json()["changed"] is True
    assert response.json()["models"] == [{"task": "topic", "name": TOPIC, "version": "2", "previous_version": "1"}]
    assert [entry["task"] for entry in response.json()["unavailable"]] == ["stance"]
    assert before["models"]["topic"]["version"] == "1"
    assert after["models"]["topic"]["version"] == "2"
    # Version 2 was trained with another C: it is really another model, not a relabelled one.
    assert after["results"][0]["topic"]["probabilities"] != before["results"][0]["topic"]["probabilities"]
    assert [model["uri"] for model in models["models"]] == [f"models:/{TOPIC}/2"]


def test_a_request_in_flight_finishes_on_the_model_it_started_with(
    registry: MlflowClient,
    topic_store: str,
    make_settings: SettingsFactory,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entered, release = threading.Event(), threading.Event()
    real_classify = classify_router.classify_items

    async def held_classify(*args: Any) -> Any:
        entered.set()
        assert await anyio.to_thread.run_sync(release.wait, POLL_TIMEOUT_S)
        return await real_classify(*args)

    monkeypatch.setattr(classify_router, "classify_items", held_classify)
    with TestClient(create_app(make_settings(topic_store))) as client:
        in_flight: dict[str, Any] = {}
        request = threading.Thread(target=lambda: in_flight.update(response=client.post("/v1/classify", json=ITEMS)))
        request.start()
        assert entered.wait(POLL_TIMEOUT_S)
        registry.set_registered_model_alias(TOPIC, CHAMPION, "2")
        reload = client.post("/v1/models/reload", headers=admin_headers)
        release.set()
        request.join(POLL_TIMEOUT_S)
        after = client.post("/v1/classify", json=ITEMS)

    assert reload.status_code == 200
    assert in_flight["response"].json()["models"]["topic"]["version"] == "1"
    assert after.json()["models"]["topic"]["version"] == "2"


def test_a_failed_load_keeps_the_old_model_and_says_why(
    registry: MlflowClient,
    topic_store: str,
    make_settings: SettingsFactory,
    admin_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    with TestClient(create_app(make_settings(topic_store))) as client:
        broken = broken_version(registry, tmp_path)
        registry.set_registered_model_alias(TOPIC, CHAMPION, broken)
        response = client.post("/v1/models/reload", headers=admin_headers)
        still = topic_version(client)
        outcomes = reload_outcomes(client)

    assert response.status_code == 502
    detail = response.json()["detail"]
    assert "the previous models are still served" in detail
    assert f"models:/{TOPIC}@{CHAMPION}" in detail
    assert "FileNotFoundError" in detail and "pipeline.joblib" in detail
    assert f"still serving models:/{TOPIC}/1" in response.json()["failures"]["topic"]
    assert still == "1"
    assert outcomes["failed"] == 1


def test_a_removed_alias_keeps_the_old_model(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, admin_headers: dict[str, str]
) -> None:
    with TestClient(create_app(make_settings(topic_store))) as client:
        registry.delete_registered_model_alias(TOPIC, CHAMPION)
        response = client.post("/v1/models/reload", headers=admin_headers)
        still = topic_version(client)

    assert response.status_code == 502
    assert f"still serving models:/{TOPIC}/1" in response.json()["detail"]
    assert still == "1"


def test_polling_follows_the_alias_and_survives_a_broken_version(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    with TestClient(create_app(make_settings(topic_store, poll_seconds=0.2))) as client:
        assert topic_version(client) == "1"
        registry.set_registered_model_alias(TOPIC, CHAMPION, "2")
        wait_for(lambda: topic_version(client) == "2", "the poller to load version 2")

        registry.set_registered_model_alias(TOPIC, CHAMPION, broken_version(registry, tmp_path))
        wait_for(lambda: reload_outcomes(client).get("failed", 0) >= 1, "the poller to try the broken version")
        time.sleep(1.0)  # several more poll intervals: the broken version is not retried until the alias moves
        outcomes = reload_outcomes(client)
        still = topic_version(client)

    assert still == "2"
    assert outcomes == {"swapped": 1, "failed": 1}


def test_a_broken_champion_at_startup_is_reported_not_fatal(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    registry.set_registered_model_alias(TOPIC, CHAMPION, broken_version(registry, tmp_path))

    with TestClient(create_app(make_settings(topic_store))) as client:
        health = client.get("/health")
        ready = client.get("/ready")
        classify = client.post("/v1/classify", json=ITEMS)

    assert health.status_code == 200
    assert ready.status_code == classify.status_code == 503
    assert (
        f"the topic model at models:/{TOPIC}@{CHAMPION} could not be loaded: FileNotFoundError"
        in classify.json()["detail"]
    )


def test_a_version_registered_without_a_run_loads_without_metrics(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, admin_headers: dict[str, str]
) -> None:
    source = registry.get_model_version_download_uri(TOPIC, "1")
    runless = str(registry.create_model_version(TOPIC, source).version)
    registry.set_registered_model_alias(TOPIC, CHAMPION, runless)

    with TestClient(create_app(make_settings(topic_store))) as client:
        topic = client.get("/v1/models").json()["models"][0]
        version = topic_version(client)

    assert (topic["version"], topic["run_id"], topic["metrics"]) == (runless, None, {})
    assert version == runless
