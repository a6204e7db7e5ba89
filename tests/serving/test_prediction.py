"""serving/prediction.py: a model's rows for a request, timed, as response objects, and read beside their neighbours."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from serving.metrics import ServiceMetrics
from serving.prediction import as_prediction, as_stance, beside_neighbours, predict_rows
from serving.schemas import Prediction, StancePrediction
from tests.serving.conftest import loaded_model

TOPICS = ("conflict", "economy")


def test_rows_are_scored_in_one_call_and_counted_in_the_metrics() -> None:
    model = loaded_model("topic", TOPICS)
    metrics = ServiceMetrics(CollectorRegistry())

    scored = predict_rows(model, {"text": ["Conflict in the north.", "The economy grew.", "Weather."]}, metrics)

    assert [row.label for row in scored] == ["conflict", "economy", "conflict"]
    assert scored[0].score == pytest.approx(0.7)
    assert scored[2].probabilities == pytest.approx({"conflict": 0.5, "economy": 0.5})
    assert len(model.classifier.calls) == 1  # type: ignore[attr-defined]
    registry = metrics.registry
    assert registry.get_sample_value("news_prediction_rows_count", {"task": "topic"}) == 1
    assert registry.get_sample_value("news_prediction_rows_sum", {"task": "topic"}) == 3
    assert registry.get_sample_value("news_prediction_seconds_count", {"task": "topic"}) == 1


def test_a_row_becomes_the_prediction_or_the_stance_toward_its_target() -> None:
    [scored] = predict_rows(loaded_model("stance", ("against", "favor")), {"text": ["In favor."], "target": ["Iran"]},
                            ServiceMetrics(CollectorRegistry()))

    assert as_prediction(scored) == Prediction(label="favor", score=0.7, probabilities={"against": 0.3, "favor": 0.7})
    assert as_stance(scored, "Iran", mentioned=False) == StancePrediction(
        target="Iran", mentioned=False, label="favor", score=0.7, probabilities={"against": 0.3, "favor": 0.7}
    )


def test_topic_rows_are_mixed_with_their_neighbours_in_the_same_document_only() -> None:
    texts = {"text": ["Conflict.", "Economy.", "Conflict.", "Economy."]}
    alone = predict_rows(loaded_model("topic", TOPICS), texts, ServiceMetrics(CollectorRegistry()))
    model = loaded_model("topic", TOPICS, neighbour_weight=0.4)

    mixed = beside_neighbours(alone, model, ["a", "a", "a", None])

    # The middle segment of document a takes 40% from the mean of the two around it; the last row is read alone.
    assert mixed[1].probabilities["economy"] == pytest.approx(0.6 * 0.7 + 0.4 * 0.3)
    assert mixed[1].label == "economy"
    assert mixed[0].probabilities["conflict"] == pytest.approx(0.6 * 0.7 + 0.4 * 0.3)
    assert mixed[3] == alone[3]
    # Without documents the rows are one article's segments, the last beside the one before it; a model without a
    # neighbour weight leaves them as they are.
    assert beside_neighbours(alone, model)[3].probabilities["economy"] == pytest.approx(0.6 * 0.7 + 0.4 * 0.3)
    assert beside_neighbours(alone, loaded_model("topic", TOPICS)) is alone
