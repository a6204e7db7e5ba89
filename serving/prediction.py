"""Model calls for requests: the contract's rows, timed, and turned into response objects."""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter

import numpy as np

from classifiers.contract import Scored, score_columns, scored_rows
from classifiers.document_context import mix_neighbours
from serving.metrics import ServiceMetrics
from serving.schemas import Prediction, StancePrediction
from serving.snapshot import LoadedModel


def as_prediction(scored: Scored) -> Prediction:
    """A row as a topic prediction in a response."""
    return Prediction(label=scored.label, score=scored.score, probabilities=scored.probabilities)


def as_stance(scored: Scored, target: str, mentioned: bool) -> StancePrediction:
    """A row as the stance toward `target` in a response; `mentioned`: whether its text names the target."""
    return StancePrediction(
        target=target, mentioned=mentioned, label=scored.label, score=scored.score, probabilities=scored.probabilities
    )


def predict_rows(model: LoadedModel, columns: dict[str, list[str]], metrics: ServiceMetrics) -> list[Scored]:
    """The contract's rows for a loaded model, timed in the metrics; blocking, so run it in a thread."""
    started = perf_counter()
    scored = score_columns(model.classifier, model.labels, columns)
    metrics.prediction_seconds.labels(model.task).observe(perf_counter() - started)
    metrics.prediction_rows.labels(model.task).observe(len(scored))
    return scored


def beside_neighbours(
    topics: list[Scored], model: LoadedModel, documents: Sequence[object] | None = None
) -> list[Scored]:
    """Topic rows of segments in reading order, each mixed with its neighbours' in the same document (one document
    when `documents` is None; a row whose document is None is read alone) by the model's neighbour weight; unchanged
    for a model without one."""
    weight = model.classifier.neighbour_weight
    if not weight:
        return topics
    probabilities = np.array([[scored.probabilities[label] for label in model.labels] for scored in topics])
    return scored_rows(model.labels, mix_neighbours(probabilities, weight, documents), len(topics))
