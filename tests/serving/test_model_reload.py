"""Reloading when the champion alias moves: manual and by polling, atomic, and safe when a load fails.

These tests change the registry, so they use a store of their own with two trained topic models
(version 1 is champion; version 2 is a retrain with another C) and no stance model.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from classifiers.families.tfidf import TfidfClassifier
from classifiers.lineage import PROMOTED_FROM_TAG
from classifiers.store import CHAMPION
from serving import model_holder, model_loading
from serving.app import create_app
from serving.model_holder import retry_delay
from serving.routers import classify as classify_router
from serving.settings import ServingSettings
from serving.snapshot import Task
from training import locations
from training.config.resolve import load_config
from training.promotion import promote
from training.trainer import train

SettingsFactory = Callable[..., ServingSettings]
TOPIC = "news-topic"
STANCE = "news-stance"
ITEMS = {"items": [{"text": "Ministers met in Brussels to discuss the ceasefire proposal and new sanctions."}]}
POLL_TIMEOUT_S = 30.0

# a TF-IDF topic model: trains in seconds
FAST_TOPIC_CONFIG = locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"
FAST_STANCE_CONFIG = locations.CONFIGS_DIR / "stance" / "tfidf_svm.yaml"


def store_trained_with(folder: Path, *trainings: tuple[Path, list[str]]) -> str:
    """A new store in folder, with a model trained by each (config, overrides) in turn."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        for config, overrides in trainings:
            train(load_config(config, overrides))
    return uri


# A retrain with another C, not promoted: version 2 of its name.
RETRAIN = ["model.C=0.1", "promote=never"]


@pytest.fixture(scope="module")
def topic_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return store_trained_with(tmp_path_factory.mktemp("reload-store"), (FAST_TOPIC_CONFIG, []), (FAST_TOPIC_CONFIG, RETRAIN))


@pytest.fixture
def registry(topic_store: str) -> Iterator[MlflowClient]:
    """A client on the reload store whose champion is version 1 again when each test starts."""
    client = MlflowClient(tracking_uri=topic_store, registry_uri=topic_store)
    client.set_registered_model_alias(TOPIC, CHAMPION, "1")
    yield client
    client.set_registered_model_alias(TOPIC, CHAMPION, "1")


def broken_version(registry: MlflowClient, scratch: Path) -> str:
    """Register a new version whose artifacts are version 1's minus the fitted pipeline file (same run and tags)."""
    source = Path(registry.get_model_version_download_uri(TOPIC, "1"))
    copy = scratch / "broken-model"
    shutil.copytree(source, copy)
    removed = list(copy.rglob("pipeline.joblib"))
    assert removed, "the copied model should have had a pipeline file to remove"
    for path in removed:
        path.unlink()
    first = registry.get_model_version(TOPIC, "1")
    return str(registry.create_model_version(TOPIC, str(copy), run_id=first.run_id, tags=first.tags).version)


def repair(registry: MlflowClient, scratch: Path) -> None:
    """Put back the file broken_version removed: the version loads from now on."""
    source = Path(registry.get_model_version_download_uri(TOPIC, "1"))
    for path in source.rglob("pipeline.joblib"):
        shutil.copy(path, scratch / "broken-model" / path.relative_to(source))


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
    caplog: pytest.LogCaptureFixture,
) -> None:
    with TestClient(create_app(make_settings(topic_store))) as client:
        broken = broken_version(registry, tmp_path)
        registry.set_registered_model_alias(TOPIC, CHAMPION, broken)
        response = client.post("/v1/models/reload", headers=admin_headers)
        still = topic_version(client)
        outcomes = reload_outcomes(client)
        (kept,) = client.get("/v1/models").json()["models"]
        registry.set_registered_model_alias(TOPIC, CHAMPION, "1")
        again = client.post("/v1/models/reload", headers=admin_headers)
        (cleared,) = client.get("/v1/models").json()["models"]

    # Until the URI's version loads, what is served says it is not that version, and why.
    assert kept["version"] == "1" and kept["fallback"] == response.json()["failures"]["topic"]
    assert (again.status_code, again.json()["changed"], cleared["version"], cleared["fallback"]) == (200, False, "1", None)
    assert response.status_code == 502
    detail = response.json()["detail"]
    assert "the previous models are still served" in detail
    assert f"models:/{TOPIC}@{CHAMPION}" in detail
    # The kind of error is public; its message, with this host's paths, goes to the log only.
    assert "FileNotFoundError (details in the server log)" in detail
    assert "pipeline.joblib" not in response.text and str(tmp_path) not in response.text
    assert "pipeline.joblib" in caplog.text
    assert f"still serving models:/{TOPIC}/1" in response.json()["failures"]["topic"]
    assert still == "1"
    assert outcomes["failed"] == 1


def test_a_reload_while_the_store_cannot_be_read_changes_nothing_and_says_the_registry_is_away(
    topic_store: str, make_settings: SettingsFactory, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    database = tmp_path / "mlflow.db"
    shutil.copyfile(str(topic_store).removeprefix("sqlite:///"), database)
    with TestClient(create_app(make_settings(f"sqlite:///{database}", stance_model_uri=""))) as client:
        database.write_bytes(b"not a database any more\n" * 100)
        reload = client.post("/v1/models/reload", headers=admin_headers)
        ready = client.get("/ready")
        (served,) = client.get("/v1/models").json()["models"]
        still = topic_version(client)

    assert reload.status_code == 503
    assert reload.json()["detail"].startswith("nothing was reloaded, the loaded models still serve: ")
    assert "file is not a database" in reload.json()["detail"]
    registry = ready.json()["registry"]
    assert (registry["reachable"], "file is not a database" in registry["problem"]) == (False, True)
    # The model is not taken for the failure: it serves on, without a fallback note.
    assert (still, served["fallback"]) == ("1", None)


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


def test_polling_keeps_the_old_model_once_its_alias_is_removed_and_says_so_once(
    registry: MlflowClient,
    topic_store: str,
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    polls = count_polls(monkeypatch)
    with TestClient(create_app(make_settings(topic_store, poll_seconds=0.05))) as client:
        registry.delete_registered_model_alias(TOPIC, CHAMPION)
        removed = len(polls)
        wait_for(lambda: len(polls) - removed >= 20, "20 polls")
        still = topic_version(client)
        outcomes = reload_outcomes(client)
        registry.set_registered_model_alias(TOPIC, CHAMPION, "2")
        wait_for(lambda: topic_version(client) == "2", "the poller to load version 2 once the alias is back")

    assert still == "1"
    # Nothing to load while the alias is gone: no reload is attempted, so none fails.
    assert outcomes.get("failed", 0) == 0
    warnings = [record for record in caplog.records if "no longer resolves" in record.getMessage()]
    assert len(warnings) == 1
    assert f"models:/{TOPIC}@{CHAMPION}" in warnings[0].getMessage()


@pytest.fixture(scope="module")
def two_task_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with one topic model (champion) and two stance models (version 1 champion)."""
    return store_trained_with(
        tmp_path_factory.mktemp("two-task-store"), (FAST_TOPIC_CONFIG, []), (FAST_STANCE_CONFIG, ["promote=auto"]), (FAST_STANCE_CONFIG, RETRAIN)
    )


@pytest.mark.parametrize("topic_change", ["alias removed", "broken version"])
def test_polling_swaps_in_a_moved_model_while_the_other_task_cannot_load_its_own(
    two_task_store: str,
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    topic_change: str,
) -> None:
    registry = MlflowClient(tracking_uri=two_task_store, registry_uri=two_task_store)
    loads = count_loads(monkeypatch)
    polls = count_polls(monkeypatch)
    try:
        with TestClient(create_app(make_settings(two_task_store, poll_seconds=0.05))) as client:
            if topic_change == "alias removed":
                registry.delete_registered_model_alias(TOPIC, CHAMPION)
            else:
                registry.set_registered_model_alias(TOPIC, CHAMPION, broken_version(registry, tmp_path))
            registry.set_registered_model_alias(STANCE, CHAMPION, "2")
            wait_for(lambda: served_versions(client) == {"topic": "1", "stance": "2"}, "stance version 2 to be served")
            moved = len(polls)
            wait_for(lambda: len(polls) - moved >= 20, "20 more polls")
            outcomes = reload_outcomes(client)
    finally:
        registry.set_registered_model_alias(TOPIC, CHAMPION, "1")
        registry.set_registered_model_alias(STANCE, CHAMPION, "1")

    # Loaded once and kept: a poll does not load the other task's new version again and again.
    assert len(loads[f"{STANCE}/2"]) == 1, loads
    assert outcomes["swapped"] == 1


def served_versions(client: TestClient) -> dict[str, str]:
    return {model["task"]: model["version"] for model in client.get("/v1/models").json()["models"]}


def test_polling_follows_the_alias_and_retries_a_version_that_failed_to_load(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    with TestClient(create_app(make_settings(topic_store, poll_seconds=0.2))) as client:
        assert topic_version(client) == "1"
        registry.set_registered_model_alias(TOPIC, CHAMPION, "2")
        wait_for(lambda: topic_version(client) == "2", "the poller to load version 2")

        broken = broken_version(registry, tmp_path)
        registry.set_registered_model_alias(TOPIC, CHAMPION, broken)
        wait_for(lambda: reload_outcomes(client).get("failed", 0) >= 3, "the poller to retry the broken version")
        still = topic_version(client)
        noted = fallback_of(client)
        # The failure was transient (say, an artifact store that was down): the next poll loads the version.
        repair(registry, tmp_path)
        wait_for(lambda: topic_version(client) == broken, "the poller to load the repaired version")
        outcomes = reload_outcomes(client)
        fallback_of_after_repair = fallback_of(client)

    assert still == "2"
    assert outcomes["swapped"] == 2
    assert noted is not None and f"(version {broken}) could not be loaded" in noted
    assert fallback_of_after_repair is None


def fallback_of(client: TestClient) -> str | None:
    (model,) = client.get("/v1/models").json()["models"]
    return model["fallback"]


def test_polling_clears_a_failed_loads_note_once_the_alias_names_the_served_version_again(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    with TestClient(create_app(make_settings(topic_store, poll_seconds=0.2))) as client:
        broken = broken_version(registry, tmp_path)
        registry.set_registered_model_alias(TOPIC, CHAMPION, broken)
        wait_for(lambda: fallback_of(client) is not None, "the poller to fail on the broken version")
        registry.set_registered_model_alias(TOPIC, CHAMPION, "1")
        wait_for(lambda: fallback_of(client) is None, "the poller to clear the note")
        version = topic_version(client)

    assert version == "1"


def count_loads(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """When each version's load started (time.monotonic()), by "name/version", from now on."""
    started: dict[str, list[float]] = {}
    real_load_version = model_loading.load_version

    def counted(client: MlflowClient, task: Task, configured_uri: str, version: Any) -> Any:
        started.setdefault(f"{version.name}/{version.version}", []).append(time.monotonic())
        return real_load_version(client, task, configured_uri, version)

    monkeypatch.setattr(model_loading, "load_version", counted)
    return started


def count_polls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When each poll resolved the aliases, from now on."""
    polls: list[float] = []
    real_resolve_versions = model_holder.resolve_versions

    def counted(*args: Any) -> Any:
        polls.append(time.monotonic())
        return real_resolve_versions(*args)

    monkeypatch.setattr(model_holder, "resolve_versions", counted)
    return polls


def test_polling_backs_off_from_a_version_that_keeps_failing(
    registry: MlflowClient,
    topic_store: str,
    make_settings: SettingsFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    interval = 0.05
    loads = count_loads(monkeypatch)
    polls = count_polls(monkeypatch)
    with TestClient(create_app(make_settings(topic_store, poll_seconds=interval))) as client:
        broken = broken_version(registry, tmp_path)
        registry.set_registered_model_alias(TOPIC, CHAMPION, broken)
        first_poll = len(polls)
        wait_for(lambda: len(polls) - first_poll >= 40, "40 polls")
        still = topic_version(client)

    attempts = loads[f"{TOPIC}/{broken}"]
    # Without a backoff every one of the 40 polls would load the version again.
    assert 3 <= len(attempts) <= 10, attempts
    gaps = [later - earlier for earlier, later in pairwise(attempts)]
    for failures, gap in enumerate(gaps, start=1):
        assert gap >= retry_delay(interval, failures), (failures, gaps)
    assert still == "1"


def test_polling_loads_another_version_at_once_while_backing_off(
    registry: MlflowClient,
    topic_store: str,
    make_settings: SettingsFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(model_holder, "retry_delay", lambda interval, failures: 3600.0)
    loads = count_loads(monkeypatch)
    polls = count_polls(monkeypatch)
    with TestClient(create_app(make_settings(topic_store, poll_seconds=0.05))) as client:
        broken = broken_version(registry, tmp_path)
        registry.set_registered_model_alias(TOPIC, CHAMPION, broken)
        wait_for(lambda: f"{TOPIC}/{broken}" in loads, "the poller to try the broken version")
        tried = len(polls)
        wait_for(lambda: len(polls) - tried >= 10, "10 more polls")
        attempts = len(loads[f"{TOPIC}/{broken}"])
        registry.set_registered_model_alias(TOPIC, CHAMPION, "2")
        moved = len(polls)
        # Polls go on while the poller backs off, so a poller that held version 2 back too shows in the count.
        wait_for(lambda: f"{TOPIC}/2" in loads or len(polls) - moved >= 20, "version 2 to load or 20 polls")
        assert f"{TOPIC}/2" in loads, f"{len(polls) - moved} polls since the alias moved did not load version 2"
        polls_before_load = [when for when in polls[moved:] if when <= loads[f"{TOPIC}/2"][0]]
        # The next poll or so (none if one begun before the move saw it), not the hour of backoff.
        assert len(polls_before_load) <= 3, polls_before_load
        wait_for(lambda: topic_version(client) == "2", "the poller to load version 2")

    assert attempts == 1


def test_a_task_that_never_loaded_does_not_block_the_other_tasks_reload(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, admin_headers: dict[str, str]
) -> None:
    # A topic model configured as the stance model fails every load, but there was never a stance model to keep.
    settings = make_settings(topic_store, stance_model_uri=f"models:/{TOPIC}/1")
    with TestClient(create_app(settings)) as client:
        registry.set_registered_model_alias(TOPIC, CHAMPION, "2")
        response = client.post("/v1/models/reload", headers=admin_headers)
        version = topic_version(client)
        outcomes = reload_outcomes(client)

    assert response.status_code == 200, response.text
    # The topic model moved, but a load failed: the attempt counts as failed, not as swapped or unchanged.
    assert outcomes == {"failed": 1.0}
    assert response.json()["models"] == [{"task": "topic", "name": TOPIC, "version": "2", "previous_version": "1"}]
    (unavailable,) = response.json()["unavailable"]
    assert unavailable["task"] == "stance"
    assert "is a topic model, configured as the stance model" in unavailable["reason"]
    assert version == "2"


def test_a_broken_champion_at_startup_is_reported_not_fatal(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    broken = broken_version(registry, tmp_path)
    registry.set_registered_model_alias(TOPIC, CHAMPION, broken)

    with TestClient(create_app(make_settings(topic_store))) as client:
        health = client.get("/health")
        ready = client.get("/ready")
        classify = client.post("/v1/classify", json=ITEMS)

    assert health.status_code == 200
    assert ready.status_code == classify.status_code == 503
    assert (
        f"the topic model at models:/{TOPIC}@{CHAMPION} (version {broken}) could not be loaded: FileNotFoundError"
        in classify.json()["detail"]
    )


def test_a_restart_with_a_broken_champion_serves_the_champion_before_it_and_says_so(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    broken = broken_version(registry, tmp_path)
    promote(registry, TOPIC, broken, force=True)

    with TestClient(create_app(make_settings(topic_store, poll_seconds=0))) as client:
        # This store has no stance model, so /ready is 503; /v1/models reports the same fields per task.
        ready = client.get("/ready")
        (topic,) = client.get("/v1/models").json()["models"]
        version = topic_version(client)

    assert (topic["version"], version) == ("1", "1")
    # The 503 names what is loaded and serving meanwhile, as a 200 would.
    assert ready.status_code == 503
    assert ready.json()["models"] == [{key: topic[key] for key in ready.json()["models"][0]}]
    assert topic["fallback"] == (
        f"the topic model at models:/{TOPIC}@{CHAMPION} (version {broken}) could not be loaded: FileNotFoundError "
        f"(details in the server log); serving version 1, the {CHAMPION} before it, until that one loads"
    )


def test_a_broken_champion_whose_predecessor_is_gone_leaves_the_task_unavailable(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    broken = broken_version(registry, tmp_path)
    promote(registry, TOPIC, broken, force=True)
    registry.set_model_version_tag(TOPIC, broken, PROMOTED_FROM_TAG, "99")

    with TestClient(create_app(make_settings(topic_store, poll_seconds=0))) as client:
        classify = client.post("/v1/classify", json=ITEMS)

    assert classify.status_code == 503
    assert (
        f"the topic model at models:/{TOPIC}@{CHAMPION} (version {broken}) could not be loaded: FileNotFoundError"
        in classify.text
    )


def test_a_model_whose_probabilities_do_not_fit_its_labels_fails_to_load(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_predict_proba = TfidfClassifier.predict_proba

    def one_column_too_many(self: TfidfClassifier, inputs: pd.DataFrame) -> np.ndarray:
        probabilities = real_predict_proba(self, inputs)
        return np.hstack([probabilities, np.zeros((len(probabilities), 1))])

    monkeypatch.setattr(TfidfClassifier, "predict_proba", one_column_too_many)
    with TestClient(create_app(make_settings(topic_store))) as client:
        classify = client.post("/v1/classify", json=ITEMS)

    # Not a 500 on every request: the load fails and says why.
    assert classify.status_code == 503
    assert "probabilities of shape (1, 6) for 1 row(s) and 5 labels" in classify.json()["detail"]


def unfinished_version(registry: MlflowClient, run: str) -> tuple[str, str]:
    """Register version 1's model again, as a version that must not be served; its number and what is wrong.

    `run` is "running" (training killed right after registering), "gone" (`mlflow gc` removed the run)
    or "none" (registered by hand from a path).
    """
    source = registry.get_model_version_download_uri(TOPIC, "1")
    if run == "none":
        version = str(registry.create_model_version(TOPIC, source).version)
        return version, f"{TOPIC} version {version} has no run"
    if run == "gone":
        run_id = "0" * 32
        version = str(registry.create_model_version(TOPIC, source, run_id=run_id).version)
        return version, f"run {run_id} no longer exists"
    run_id = registry.create_run(experiment_id="0").info.run_id
    version = str(registry.create_model_version(TOPIC, source, run_id=run_id).version)
    return version, f"run {run_id} is RUNNING, not FINISHED: its training did not finish"


@pytest.mark.parametrize("run", ["running", "gone", "none"])
def test_a_version_whose_training_did_not_finish_is_never_served(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, run: str
) -> None:
    version, wrong = unfinished_version(registry, run)
    registry.set_registered_model_alias(TOPIC, CHAMPION, version)

    with TestClient(create_app(make_settings(topic_store))) as client:
        classify = client.post("/v1/classify", json=ITEMS)
        models = client.get("/v1/models").json()

    assert classify.status_code == 503
    assert wrong in classify.json()["detail"]
    assert models["models"] == []


def test_a_reload_onto_an_unfinished_version_keeps_the_old_model(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory, admin_headers: dict[str, str]
) -> None:
    version, wrong = unfinished_version(registry, "running")
    with TestClient(create_app(make_settings(topic_store))) as client:
        registry.set_registered_model_alias(TOPIC, CHAMPION, version)
        response = client.post("/v1/models/reload", headers=admin_headers)
        still = topic_version(client)

    assert response.status_code == 502
    failure = response.json()["failures"]["topic"]
    assert wrong in failure and f"still serving models:/{TOPIC}/1" in failure
    assert still == "1"


def test_a_manual_reload_reaches_the_other_workers_sharing_the_broadcast_file(
    registry: MlflowClient,
    topic_store: str,
    make_settings: SettingsFactory,
    admin_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    # Two apps stand for two worker processes of one server: they share only the broadcast file.
    settings = make_settings(topic_store, reload_broadcast_file=tmp_path / "reload")
    with TestClient(create_app(settings)) as answering, TestClient(create_app(settings)) as sibling:
        registry.set_registered_model_alias(TOPIC, CHAMPION, "2")
        response = answering.post("/v1/models/reload", headers=admin_headers)
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while topic_version(sibling) != "2":
            assert time.monotonic() < deadline, "the sibling never reloaded"
            time.sleep(0.1)
        answering_version = topic_version(answering)
        sibling_reloads = reload_outcomes(sibling)

    assert response.json()["workers_notified"] is True
    assert answering_version == "2"
    # The sibling reloaded once, on hearing the broadcast; the answering app did not reload twice.
    assert sibling_reloads.get("swapped") == 1


def test_an_article_whose_segments_name_no_target_needs_no_stance_model(
    registry: MlflowClient, topic_store: str, make_settings: SettingsFactory
) -> None:
    # This store has no stance model: a target no segment names needs none, one that a segment names does.
    article = {"title": "t", "body": "Israel struck Gaza overnight.\n\nMarkets fell.", "targets": ["Hamas"]}
    with TestClient(create_app(make_settings(topic_store))) as client:
        unnamed = client.post("/v1/articles", json=article)
        named = client.post("/v1/articles", json={**article, "targets": ["Israel"]})

    assert unnamed.status_code == 200, unnamed.text
    assert unnamed.json()["models"] == {"topic": {"name": TOPIC, "version": "1"}, "stance": None}
    assert unnamed.json()["summary"]["stances"][0] == {
        "target": "Hamas", "mentioned": False, "label": None, "score": None, "probabilities": None, "segments": []
    }
    assert named.status_code == 503 and "stance" in named.json()["detail"]  # served, but not in this store yet


def test_a_stance_only_server_answers_items_with_a_target_and_articles_without_topics(
    trained_store: str, make_settings: SettingsFactory
) -> None:
    # A newsroom with a stance model of its own and no use for topics: NEWS_TOPIC_MODEL_URI= (empty).
    with TestClient(create_app(make_settings(trained_store, topic_model_uri=""))) as client:
        ready = client.get("/ready")
        targeted = client.post("/v1/classify", json={"items": [{"text": "Iran condemned the strikes.", "target": "Israel"}]})
        untargeted = client.post("/v1/classify", json={"items": [{"text": "Iran condemned the strikes.", "target": "Israel"}, {"text": "Talks resumed."}]})
        article = client.post("/v1/articles", json={"title": "t", "body": "Israel struck Gaza.\n\nMarkets fell.", "targets": ["Israel"]})
        no_targets = client.post("/v1/articles", json={"title": "t", "body": "Israel struck Gaza."})

    assert ready.status_code == 200 and [model["task"] for model in ready.json()["models"]] == ["stance"]
    assert targeted.status_code == 200, targeted.text
    assert targeted.json()["models"]["topic"] is None and targeted.json()["models"]["stance"]["name"] == STANCE
    (result,) = targeted.json()["results"]
    assert result["topic"] is None and result["stance"]["target"] == "Israel"
    # 501, not 503: no wait brings a task the server is configured without, and clients retry a 503
    assert untargeted.status_code == 501 and "retry-after" not in untargeted.headers
    assert untargeted.json()["detail"] == (
        "items[1] has no target, and this server does not serve topic models (NEWS_TOPIC_MODEL_URI is empty): give every "
        "item a target"
    )
    assert article.status_code == 200, article.text
    body = article.json()
    assert [segment["topic"] for segment in body["segments"]] == [None, None] and body["summary"]["topics"] == []
    assert body["summary"]["stances"][0]["mentioned"] and body["models"]["topic"] is None
    # Nothing this server can classify: a 200 with nothing in it read as success.
    assert no_targets.status_code == 501 and "retry-after" not in no_targets.headers
    assert no_targets.json()["detail"] == (
        "the article has no targets, and this server does not serve topic models (NEWS_TOPIC_MODEL_URI is empty): give it "
        "targets"
    )


def test_a_topic_only_server_is_ready_and_says_it_does_not_serve_stance(topic_store: str, make_settings: SettingsFactory) -> None:
    # A newsroom that classifies topics only: NEWS_STANCE_MODEL_URI= (empty).
    with TestClient(create_app(make_settings(topic_store, stance_model_uri="", poll_seconds=30))) as client:
        ready = client.get("/ready")
        topic_only = client.post("/v1/classify", json=ITEMS)
        with_target = client.post("/v1/classify", json={"items": [{"text": "Ministers met.", "target": "Iran"}]})
        models = client.get("/v1/models").json()

    assert ready.status_code == 200, ready.text
    assert [model["task"] for model in ready.json()["models"]] == ["topic"]
    assert topic_only.status_code == 200
    assert with_target.status_code == 501 and "retry-after" not in with_target.headers  # waiting will not bring it
    assert with_target.json()["detail"] == "this server does not serve stance models (NEWS_STANCE_MODEL_URI is empty)"
    assert models["unavailable"] == [{"task": "stance", "reason": with_target.json()["detail"]}]
