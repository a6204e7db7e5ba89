"""serving/snapshot.py: the models a request is served with, and why a task has none."""

from __future__ import annotations

import pytest

from serving.snapshot import LoadedModel, ModelSnapshot, ModelUnavailable, Task
from tests.serving.conftest import loaded_model

TOPICS = ("conflict", "economy")


def test_a_task_without_a_model_says_why_and_whether_a_retry_can_help() -> None:
    topic = loaded_model("topic", TOPICS)
    snapshot = ModelSnapshot({"topic": topic}, {"stance": "no model at models:/news-stance@champion"})

    assert snapshot.require("topic") is topic
    assert not snapshot.ready
    with pytest.raises(ModelUnavailable, match="^no model at models:/news-stance@champion$") as missing:
        snapshot.require("stance")
    assert not missing.value.lasting  # a reload may bring it

    topic_only = ModelSnapshot({"topic": topic}, {"stance": "not served"}, served=("topic",))
    assert topic_only.ready
    with pytest.raises(ModelUnavailable, match="^not served$") as not_served:
        topic_only.require("stance")
    assert not_served.value.lasting  # no reload or retry brings a task the server is configured without

    with pytest.raises(ModelUnavailable, match="^no stance model is loaded$"):
        ModelSnapshot({"topic": topic}).require("stance")


def test_a_snapshot_cannot_change_under_the_requests_that_share_it() -> None:
    models: dict[Task, LoadedModel] = {"topic": loaded_model("topic", TOPICS)}
    snapshot = ModelSnapshot(models)
    models["stance"] = loaded_model("stance", ("against", "favor"))

    assert list(snapshot.models) == ["topic"]
    with pytest.raises(TypeError):
        snapshot.models["stance"] = models["stance"]  # type: ignore[index]
    with pytest.raises(TypeError):
        snapshot.problems["topic"] = "gone"  # type: ignore[index]


def test_noting_sets_the_fallback_of_the_noted_tasks_only_and_versions_name_what_serves() -> None:
    snapshot = ModelSnapshot(
        {"topic": loaded_model("topic", TOPICS, version="3"), "stance": loaded_model("stance", ("against", "favor"))}
    )

    noted = snapshot.noting({"topic": "version 4 could not be loaded"})

    assert noted.models["topic"].fallback == "version 4 could not be loaded"
    assert noted.models["stance"].fallback is None
    assert snapshot.models["topic"].fallback is None  # the snapshot noted is left as it was
    assert noted.versions() == {"topic": "3", "stance": "1"}
    assert ModelSnapshot({"topic": noted.models["topic"]}).versions() == {"topic": "3", "stance": None}
    assert noted.models["topic"].uri == "models:/news-topic/3"
