"""Dynamic batching: concurrent requests share model calls and get exactly their own answers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from serving.batching import PredictionBatcher
from serving.metrics import ServiceMetrics
from serving.prediction import Scored, predict_rows
from serving.snapshot import LoadedModel

TEXTS = [
    "Troops shelled the town overnight.",
    "The finance minister presented the budget.",
    "Aid convoys reached the camp.",
    "Envoys met in Doha for talks.",
    "Parliament passed the election law.",
    "The currency fell to a record low.",
    "Rockets hit the northern border area.",
    "Refugees crossed into Jordan.",
    "The president dissolved the cabinet.",
    "Oil exports rose last month.",
]


def model(client: TestClient, task: str) -> LoadedModel:
    return client.app.state.model_holder.current.models[task]  # type: ignore[attr-defined]


def calls(metrics: ServiceMetrics, task: str) -> tuple[float, float]:
    """(model calls, rows) recorded for a task."""
    samples = {
        sample.name: sample.value
        for sample in metrics.prediction_rows.collect()[0].samples
        if sample.labels.get("task") == task
    }
    return samples["news_prediction_rows_count"], samples["news_prediction_rows_sum"]


def run_together(*requests: Coroutine[Any, Any, list[Scored]]) -> list[list[Scored] | BaseException]:
    async def together() -> list[list[Scored] | BaseException]:
        return await asyncio.gather(*requests, return_exceptions=True)

    return asyncio.run(together())


@pytest.fixture
def metrics() -> ServiceMetrics:
    return ServiceMetrics(CollectorRegistry())


def test_concurrent_single_rows_become_one_call_with_unchanged_answers(
    client: TestClient, metrics: ServiceMetrics
) -> None:
    topic = model(client, "topic")
    batcher = PredictionBatcher(metrics, max_rows=256)

    batched = run_together(*(batcher.predict(topic, {"text": [text]}, "classify") for text in TEXTS))

    alone = [predict_rows(topic, {"text": [text]}, ServiceMetrics(CollectorRegistry())) for text in TEXTS]
    assert [result[0].label for result in batched] == [result[0].label for result in alone]  # type: ignore[index]
    for together, single in zip(batched, alone, strict=True):
        assert together[0].probabilities == pytest.approx(single[0].probabilities, abs=1e-12)  # type: ignore[index]
    assert calls(metrics, "topic") == (1, len(TEXTS))


def test_calls_stay_under_max_rows_without_splitting_a_request(client: TestClient, metrics: ServiceMetrics) -> None:
    topic = model(client, "topic")
    batcher = PredictionBatcher(metrics, max_rows=4)

    results = run_together(
        batcher.predict(topic, {"text": TEXTS[:3]}, "classify"),
        batcher.predict(topic, {"text": TEXTS[3:6]}, "classify"),  # would make 6 rows: next call
        batcher.predict(topic, {"text": TEXTS[6:]}, "classify"),  # 4 rows alone: one call even at the limit
    )

    assert [len(result) for result in results] == [3, 3, 4]  # type: ignore[arg-type]
    assert calls(metrics, "topic") == (3, 10)


def test_requests_for_different_models_are_called_separately(client: TestClient, metrics: ServiceMetrics) -> None:
    topic, stance = model(client, "topic"), model(client, "stance")
    batcher = PredictionBatcher(metrics, max_rows=256)

    topics, stances = run_together(
        batcher.predict(topic, {"text": TEXTS[:2]}, "classify"),
        batcher.predict(stance, {"text": TEXTS[:2], "target": ["Israel", "Jordan"]}, "articles"),
    )

    assert {scored.label for scored in stances} <= {"against", "favor", "none"}  # type: ignore[union-attr]
    assert set(topics[0].probabilities) == set(topic.labels)  # type: ignore[index]
    assert calls(metrics, "topic") == (1, 2)
    assert calls(metrics, "stance") == (1, 2)


class Exploding:
    task = "topic"
    labels = ("conflict",)

    def predict_proba(self, frame: Any) -> Any:
        raise RuntimeError("model exploded")


def test_a_failing_model_fails_only_its_own_requests(client: TestClient, metrics: ServiceMetrics) -> None:
    topic = model(client, "topic")
    broken = dataclasses.replace(topic, classifier=Exploding())
    batcher = PredictionBatcher(metrics, max_rows=256)

    failed, fine = run_together(
        batcher.predict(broken, {"text": TEXTS[:1]}, "classify"),
        batcher.predict(topic, {"text": TEXTS[:1]}, "classify"),
    )

    assert isinstance(failed, RuntimeError) and str(failed) == "model exploded"
    assert isinstance(fine, list) and len(fine) == 1
