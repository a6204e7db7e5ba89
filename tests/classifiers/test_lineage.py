"""classifiers/lineage.py: a version is vouched for only by a finished run of its own and its lineage tags."""

from __future__ import annotations

import pytest
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from classifiers.lineage import DATA_DIGEST_TAG, VERSION_LINEAGE_TAGS, UnfinishedVersion, check_finished

NAME = "news-topic"


def registered(client: MlflowClient, finished: bool = True, version_tags: tuple[str, ...] = VERSION_LINEAGE_TAGS,
               run_tagged: bool = True) -> ModelVersion:
    """A version of NAME registered from a new run, with the given lineage tags on it and on its run."""
    run_id = client.create_run(experiment_id="0").info.run_id
    if run_tagged:
        client.set_tag(run_id, DATA_DIGEST_TAG, "digest")
    if finished:
        client.set_terminated(run_id)
    if not client.search_registered_models(f"name = '{NAME}'"):
        client.create_registered_model(NAME)
    return client.create_model_version(NAME, "/nowhere/model", run_id=run_id, tags={tag: "x" for tag in version_tags})


def test_a_finished_run_with_every_lineage_tag_vouches_for_its_version(store_uri: str) -> None:
    client = MlflowClient()
    version = registered(client)
    assert check_finished(client, version).info.run_id == version.run_id


def test_a_run_that_did_not_finish_or_left_tags_missing_is_named_with_what_is_wrong(store_uri: str) -> None:
    client = MlflowClient()
    killed = registered(client, finished=False)
    with pytest.raises(UnfinishedVersion, match=rf"^{NAME} version {killed.version}: run {killed.run_id} is RUNNING, not "
                       "FINISHED: its training did not finish$"):
        check_finished(client, killed)

    untagged = registered(client, version_tags=("task", "model_family", "labels"), run_tagged=False)
    with pytest.raises(UnfinishedVersion) as refused:
        check_finished(client, untagged)
    assert str(refused.value) == (
        f"{NAME} version {untagged.version} (run {untagged.run_id}) has no lineage tags (primary_metric, "
        "primary_metric_value, run tag data_digest missing): it was not registered by a completed training run of "
        "this project"
    )


def test_a_version_without_a_run_or_whose_run_is_gone_is_refused(store_uri: str) -> None:
    client = MlflowClient()
    runless = client.create_model_version(registered(client).name, "/nowhere/model")
    with pytest.raises(UnfinishedVersion, match=f"version {runless.version} has no run: it was not registered by training"):
        check_finished(client, runless)

    # A run removed from the store for good (mlflow gc), its version left behind.
    gone = ModelVersion(NAME, "7", creation_timestamp=0, run_id="0" * 32)
    with pytest.raises(UnfinishedVersion, match=f"version 7: run {'0' * 32} no longer exists, so its lineage is unknown"):
        check_finished(client, gone)
