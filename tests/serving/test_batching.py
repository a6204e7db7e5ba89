"""Dynamic batching: concurrent requests share model calls and get exactly their own answers."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Coroutine
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from classifiers.contract import Scored
from serving import batching
from serving.batching import PredictionBatcher
from serving.metrics import ServiceMetrics
from serving.prediction import predict_rows
from serving.snapshot import LoadedModel
from tests.serving.conftest import KeywordModel

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

# An encoder pads a batch to its longest text; padding is masked out, but the sums differ in the last bits.
BATCH_TOLERANCE = 1e-6


def model(client: TestClient, task: str) -> LoadedModel:
    return client.app.state.model_holder.current.models[task]  # type: ignore[attr-defined]


def calls(metrics: ServiceMetrics, task: str) -> tuple[float, float]:
    """(model calls, rows) recorded for a task."""
    samples = {
        sample.name: sample.value
        for sample in next(iter(metrics.prediction_rows.collect())).samples
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
        assert together[0].probabilities == pytest.approx(single[0].probabilities, abs=BATCH_TOLERANCE)  # type: ignore[index]
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


class Exploding(KeywordModel):
    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("model exploded")


def test_a_failing_model_fails_only_its_own_requests(client: TestClient, metrics: ServiceMetrics) -> None:
    topic = model(client, "topic")
    broken = dataclasses.replace(topic, classifier=Exploding("topic", ["conflict"]))
    batcher = PredictionBatcher(metrics, max_rows=256)

    failed, fine = run_together(
        batcher.predict(broken, {"text": TEXTS[:1]}, "classify"),
        batcher.predict(topic, {"text": TEXTS[:1]}, "classify"),
    )

    assert isinstance(failed, RuntimeError) and str(failed) == "model exploded"
    assert isinstance(fine, list) and len(fine) == 1


def test_a_request_over_max_rows_goes_in_chunks_that_let_other_requests_in(
    client: TestClient, metrics: ServiceMetrics
) -> None:
    topic = model(client, "topic")
    batcher = PredictionBatcher(metrics, max_rows=4)
    finished: list[str] = []

    async def tracked(name: str, texts: list[str]) -> list[Scored]:
        scored = await batcher.predict(topic, {"text": texts}, "articles")
        finished.append(name)
        return scored

    big, small = run_together(tracked("big", TEXTS), tracked("small", TEXTS[:1]))

    alone = predict_rows(topic, {"text": TEXTS}, ServiceMetrics(CollectorRegistry()))
    assert [scored.label for scored in big] == [scored.label for scored in alone]  # type: ignore[union-attr]
    for chunked, single in zip(big, alone, strict=True):  # type: ignore[arg-type]
        assert chunked.probabilities == pytest.approx(single.probabilities, abs=BATCH_TOLERANCE)
    assert len(small) == 1  # type: ignore[arg-type]
    # Calls of 4, 1 (the small request, between two chunks), 4 and 2 rows: none over max_rows.
    assert calls(metrics, "topic") == (4, 11)
    assert finished == ["small", "big"]


def test_a_fault_in_the_batching_loop_fails_its_requests_instead_of_leaving_them_waiting(
    client: TestClient, metrics: ServiceMetrics
) -> None:
    stance = model(client, "stance")
    batcher = PredictionBatcher(metrics, max_rows=256)

    async def scenario() -> tuple[tuple[list[Scored] | BaseException, list[Scored] | BaseException], list[Scored]]:
        # Rows of one model with different columns cannot be merged: a fault outside the model call.
        mismatched = asyncio.gather(
            batcher.predict(stance, {"text": TEXTS[:1], "target": ["Israel"]}, "classify"),
            batcher.predict(stance, {"text": TEXTS[1:2]}, "classify"),
            return_exceptions=True,
        )
        failed = await asyncio.wait_for(mismatched, timeout=30)
        later = await asyncio.wait_for(
            batcher.predict(stance, {"text": TEXTS[:1], "target": ["Israel"]}, "classify"), timeout=30
        )
        return failed, later

    failed, later = asyncio.run(scenario())

    assert all(isinstance(error, RuntimeError) and "batching failed" in str(error) for error in failed)
    assert len(later) == 1


def test_the_rows_of_a_request_cancelled_while_waiting_never_reach_the_model(
    client: TestClient, metrics: ServiceMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = model(client, "topic")
    batcher = PredictionBatcher(metrics, max_rows=256)
    first_call_running, first_call_may_end = threading.Event(), threading.Event()

    def held(*args: Any) -> list[Scored]:
        # The first call is held in its thread until the test has cancelled the request queued behind it.
        first_call_running.set()
        assert first_call_may_end.wait(timeout=60)
        return predict_rows(*args)

    monkeypatch.setattr(batching, "predict_rows", held)

    async def scenario() -> tuple[list[Scored], bool, list[Scored]]:
        running = asyncio.ensure_future(batcher.predict(topic, {"text": TEXTS[:2]}, "classify"))
        await asyncio.to_thread(first_call_running.wait, 60)
        abandoned = asyncio.ensure_future(batcher.predict(topic, {"text": TEXTS[2:5]}, "classify"))
        kept = asyncio.ensure_future(batcher.predict(topic, {"text": TEXTS[5:6]}, "classify"))
        await asyncio.sleep(0)  # both are queued now
        abandoned.cancel()  # as serving.disconnect cancels the request of a client that left
        first_call_may_end.set()
        first, kept_rows = await running, await kept
        return first, abandoned.cancelled(), kept_rows

    first, cancelled, kept = asyncio.run(scenario())

    assert cancelled and len(first) == 2 and len(kept) == 1
    assert calls(metrics, "topic") == (2, 3)  # the first call's 2 rows, then the kept 1: never the abandoned 3
