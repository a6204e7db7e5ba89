"""serving/classification.py: a /v1/classify batch, one model call per task, answered in item order."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from serving.batching import PredictionBatcher
from serving.classification import classify_items
from serving.metrics import ServiceMetrics
from serving.schemas import ClassifyItem, ClassifyResponse, ModelRef
from serving.snapshot import LoadedModel, ModelSnapshot, ModelUnavailable
from tests.serving.conftest import loaded_model

TOPICS = ("conflict", "economy")
STANCES = ("against", "favor")


def classify(snapshot: ModelSnapshot, items: list[ClassifyItem]) -> ClassifyResponse:
    return asyncio.run(classify_items(PredictionBatcher(ServiceMetrics(CollectorRegistry()), max_rows=256), snapshot, items))


def calls(model: LoadedModel) -> list[dict[str, list[str]]]:
    return [frame.to_dict(orient="list") for frame in model.classifier.calls]  # type: ignore[attr-defined]


def test_every_item_gets_a_topic_and_those_with_a_target_a_stance_in_one_call_per_task() -> None:
    topic, stance = loaded_model("topic", TOPICS), loaded_model("stance", STANCES, version="2")
    items = [
        ClassifyItem(text="The economy shrank."),
        ClassifyItem(text="They are in favor of the conflict ending.", target="Iran"),
        ClassifyItem(text="Against the strikes.", target="Israel"),
    ]

    response = classify(ModelSnapshot({"topic": topic, "stance": stance}), items)

    assert [result.topic.label for result in response.results if result.topic] == ["economy", "conflict", "conflict"]
    assert response.results[0].stance is None
    assert [(result.stance.target, result.stance.label) for result in response.results[1:] if result.stance] == [
        ("Iran", "favor"),
        ("Israel", "against"),
    ]
    assert calls(topic) == [{"text": [item.text for item in items]}]
    assert calls(stance) == [{"text": [items[1].text, items[2].text], "target": ["Iran", "Israel"]}]
    assert (response.models.topic, response.models.stance) == (
        ModelRef(name="news-topic", version="1"),
        ModelRef(name="news-stance", version="2"),
    )


def test_without_a_target_no_stance_model_is_needed_or_named() -> None:
    response = classify(ModelSnapshot({"topic": loaded_model("topic", TOPICS)}), [ClassifyItem(text="Conflict.")])

    assert response.models.stance is None and response.results[0].stance is None


def test_a_needed_stance_model_that_is_missing_fails_the_batch_with_its_reason() -> None:
    snapshot = ModelSnapshot({"topic": loaded_model("topic", TOPICS)}, {"stance": "no model at models:/news-stance@champion"})

    with pytest.raises(ModelUnavailable, match="no model at models:/news-stance@champion"):
        classify(snapshot, [ClassifyItem(text="Conflict.", target="Iran")])


def test_a_stance_the_server_does_not_serve_is_lasting_even_while_the_topic_model_is_missing() -> None:
    # Its 503 (retry after 30 s) for the missing topic model had a retry policy ask again for what never comes.
    snapshot = ModelSnapshot({}, {"topic": "no model at models:/news-topic/99", "stance": "not served"}, served=("topic",))

    with pytest.raises(ModelUnavailable, match="not served") as refused:
        classify(snapshot, [ClassifyItem(text="Conflict.", target="Iran")])
    assert refused.value.lasting
    with pytest.raises(ModelUnavailable, match="no model at models:/news-topic/99") as missing:
        classify(snapshot, [ClassifyItem(text="Conflict.")])
    assert not missing.value.lasting


def test_a_stance_only_server_answers_items_with_a_target_and_names_those_without_one() -> None:
    stance = loaded_model("stance", STANCES)
    snapshot = ModelSnapshot({"stance": stance}, {"topic": "not served"}, served=("stance",))

    response = classify(snapshot, [ClassifyItem(text="In favor.", target="Iran")])
    assert response.results[0].topic is None and response.results[0].stance is not None
    assert response.models.topic is None

    untargeted = [ClassifyItem(text=f"Item {i}.") for i in range(7)]
    with pytest.raises(ModelUnavailable) as refused:
        classify(snapshot, [ClassifyItem(text="In favor.", target="Iran"), *untargeted])
    assert str(refused.value).startswith("items[1], items[2], items[3], items[4], items[5] ... have no target, and ")
    assert str(refused.value).endswith(": give every item a target")
    assert refused.value.lasting
    assert len(calls(stance)) == 1  # refused before any model call


def test_items_of_one_document_are_read_beside_each_other_by_the_topic_models_weight() -> None:
    topic = loaded_model("topic", TOPICS, neighbour_weight=0.4)
    items = [ClassifyItem(text="Conflict.", document="a"), ClassifyItem(text="Economy.", document="a"),
             ClassifyItem(text="Economy.")]

    response = classify(ModelSnapshot({"topic": topic}), items)

    scores = [result.topic.probabilities["economy"] for result in response.results if result.topic]
    assert scores == pytest.approx([0.6 * 0.3 + 0.4 * 0.7, 0.6 * 0.7 + 0.4 * 0.3, 0.7])
