"""Model calls under the pyfunc contract, without MLflow's per-call schema enforcement."""

from __future__ import annotations

from time import perf_counter
from typing import NamedTuple

import pandas as pd
import sklearn

from serving.metrics import ServiceMetrics
from serving.schemas import Prediction, StancePrediction
from serving.snapshot import LoadedModel


class Scored(NamedTuple):
    """One row's prediction: the label, its probability and every label's probability."""

    label: str
    score: float
    probabilities: dict[str, float]

    def prediction(self) -> Prediction:
        return Prediction(label=self.label, score=self.score, probabilities=self.probabilities)

    def stance(self, target: str) -> StancePrediction:
        return StancePrediction(target=target, label=self.label, score=self.score, probabilities=self.probabilities)


def predict_rows(model: LoadedModel, columns: dict[str, list[str]], metrics: ServiceMetrics) -> list[Scored]:
    """Classify the rows of `columns` (text, and target for stance) in one call; blocking, so run it in a thread.

    The result is `training.models.pyfunc.predict`'s contract (label = the most probable label,
    score = its probability, one probability per label), read straight off the probability matrix:
    building the contract's output DataFrame column by column cost a fifth of the service's
    throughput on the small batches of a busy server (measured with benchmarks/bench_serving.py).
    """
    started = perf_counter()
    # The inputs are validated strings, so sklearn's per-call parameter and finiteness checks only cost time.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        probabilities = model.classifier.predict_proba(pd.DataFrame(columns))
    best = probabilities.argmax(axis=1).tolist()
    labels = model.labels
    scored = [
        Scored(labels[index], row[index], dict(zip(labels, row, strict=True)))
        for index, row in zip(best, probabilities.tolist(), strict=True)
    ]
    metrics.prediction_seconds.labels(model.task).observe(perf_counter() - started)
    metrics.prediction_rows.labels(model.task).observe(len(scored))
    return scored
