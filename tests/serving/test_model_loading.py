"""serving/model_loading.py: which version each configured URI names, why a task has no model, and what a reload
keeps. Loading trained models, and the fallback to an earlier champion: test_model_reload.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from classifiers.errors import UserInputError
from serving.model_loading import (
    ModelNotRegistered,
    Unservable,
    load_snapshot,
    not_served,
    public_reason,
    resolve,
    resolve_versions,
)
from serving.settings import ServingSettings
from serving.snapshot import ModelSnapshot
from tests.serving.conftest import loaded_model

SettingsFactory = Callable[..., ServingSettings]
TOPICS = ("conflict", "economy")


def two_topic_versions(store_uri: str, tmp_path: Path) -> MlflowClient:
    """news-topic versions 1 and 2 (2 champion), registered by hand: no run vouches for either."""
    client = MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)
    client.create_registered_model("news-topic")
    for _ in range(2):
        client.create_model_version("news-topic", source=str(tmp_path))
    client.set_registered_model_alias("news-topic", "champion", "2")
    return client


def test_a_uri_resolves_to_the_version_its_alias_or_number_names(store_uri: str, tmp_path: Path) -> None:
    client = two_topic_versions(store_uri, tmp_path)

    assert str(resolve(client, "models:/news-topic@champion").version) == "2"
    assert str(resolve(client, "models:/news-topic/1").version) == "1"
    for missing in ("models:/news-topic/7", "models:/news-topic@staging", "models:/news-stance@champion"):
        with pytest.raises(ModelNotRegistered, match=f"^no model at {missing} "):
            resolve(client, missing)


def test_each_served_task_resolves_to_a_version_or_none(
    store_uri: str, tmp_path: Path, make_settings: SettingsFactory
) -> None:
    client = two_topic_versions(store_uri, tmp_path)

    assert resolve_versions(client, make_settings(store_uri)) == {"topic": "2", "stance": None}
    topic_only = make_settings(store_uri, topic_model_uri="models:/news-topic/1", stance_model_uri="")
    assert resolve_versions(client, topic_only) == {"topic": "1", "stance": None}


def test_callers_are_told_this_services_own_reasons_in_full_and_other_errors_by_kind_only() -> None:
    assert public_reason(Unservable("models:/x/1 is a stance model, configured as the topic model")) == (
        "models:/x/1 is a stance model, configured as the topic model"
    )
    assert public_reason(UserInputError("the model was saved by an older version")) == "the model was saved by an older version"
    assert public_reason(FileNotFoundError("/srv/models/secret/pipeline.joblib")) == "FileNotFoundError (details in the server log)"
    assert not_served("stance") == "this server does not serve stance models (NEWS_STANCE_MODEL_URI is empty)"


def test_a_task_without_a_loadable_model_gets_its_reason_and_advice(
    store_uri: str, tmp_path: Path, make_settings: SettingsFactory
) -> None:
    client = two_topic_versions(store_uri, tmp_path)
    settings = make_settings(store_uri)

    outcome = load_snapshot(client, settings, ModelSnapshot())

    snapshot = outcome.snapshot
    assert snapshot.models == {}
    assert snapshot.problems["topic"] == (
        "the topic model at models:/news-topic@champion (version 2) could not be loaded: news-topic version 2 has no run: "
        "it was not registered by training, so nothing vouches for it"
    )
    assert snapshot.problems["stance"].startswith("no model at models:/news-stance@champion (")
    assert snapshot.problems["stance"].endswith(
        f"; train the default models with `MLFLOW_TRACKING_URI={store_uri} python -m training train-defaults`, or serve "
        "without stance models (NEWS_STANCE_MODEL_URI=)"
    )
    # Nothing was served before: no failure holds a reload back, but the version that could not load is remembered.
    assert (outcome.failures, outcome.unloadable) == ({}, {"topic": ("news-topic", "2")})


def test_a_reload_keeps_the_served_model_of_a_version_that_did_not_move_and_fails_on_one_that_cannot_load(
    store_uri: str, tmp_path: Path, make_settings: SettingsFactory
) -> None:
    client = two_topic_versions(store_uri, tmp_path)
    served = replace(loaded_model("topic", TOPICS, version="2"), fallback="an earlier failure")
    previous = ModelSnapshot({"topic": served}, {"stance": "not yet"})

    kept = load_snapshot(client, make_settings(store_uri), previous, tasks=["topic"])

    # Version 2 is what the alias names and what serves: kept as it is, its note cleared; stance was not reloaded.
    assert kept.snapshot.models["topic"].classifier is served.classifier
    assert kept.snapshot.models["topic"].fallback is None
    assert kept.snapshot.problems == {"stance": "not yet"}
    assert kept.failures == {}

    client.set_registered_model_alias("news-topic", "champion", "1")
    failed = load_snapshot(client, make_settings(store_uri), previous, tasks=["topic"])

    assert failed.failures["topic"].endswith("nothing vouches for it (still serving models:/news-topic/2)")
    assert failed.unloadable == {"topic": ("news-topic", "1")}


def test_a_task_the_server_is_configured_without_is_never_loaded(
    store_uri: str, tmp_path: Path, make_settings: SettingsFactory
) -> None:
    client = two_topic_versions(store_uri, tmp_path)

    outcome = load_snapshot(client, make_settings(store_uri, topic_model_uri=""), ModelSnapshot())

    assert outcome.snapshot.problems["topic"] == not_served("topic")
    assert outcome.snapshot.served == ("stance",)
    assert outcome.unloadable == {}
