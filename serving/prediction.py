"""Model calls under the pyfunc contract, without MLflow's per-call schema enforcement."""

from __future__ import annotations

from time import perf_counter
from typing import NamedTuple

import pandas as pd
import sklearn

from serving.metrics import ServiceMetrics
from serving.schemas import Prediction, StancePrediction
from serving.snapshot import LoadedModel
from training.models.base import Classifier


class Scored(NamedTuple):
    """One row's prediction: the label, its probability and every label's probability."""

    label: str
    score: float
    probabilities: dict[str, float]

    def prediction(self) -> Prediction:
        """The row as a topic prediction in a response."""
        return Prediction(label=self.label, score=self.score, probabilities=self.probabilities)

    def stance(self, target: str) -> StancePrediction:
        """The row as the stance toward `target` in a response."""
        return StancePrediction(target=target, label=self.label, score=self.score, probabilities=self.probabilities)


def score_rows(classifier: Classifier, labels: tuple[str, ...], columns: dict[str, list[str]]) -> list[Scored]:
    """Classify the rows of `columns` in one call, or ValueError when the probabilities do not fit the labels.

    The result is `training.models.pyfunc.predict`'s contract (label = the most probable label,
    score = its probability, one probability per label), read straight off the probability matrix:
    building the contract's output DataFrame column by column cost a fifth of the service's
    throughput on the small batches of a busy server (measured with benchmarks/bench_serving.py).
    """
    rows = len(columns["text"])
    # The inputs are validated strings, so sklearn's per-call parameter and finiteness checks only cost time.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        probabilities = classifier.predict_proba(pd.DataFrame(columns))
    if probabilities.shape != (rows, len(labels)):
        raise ValueError(
            f"the model gave probabilities of shape {probabilities.shape} for {rows} row(s) and {len(labels)} labels"
        )
    best = probabilities.argmax(axis=1).tolist()
    return [
        Scored(labels[index], row[index], dict(zip(labels, row, strict=True)))
        for index, row in zip(best, probabilities.tolist(), strict=True)
    ]


def predict_rows(model: LoadedModel, columns: dict[str, list[str]], metrics: ServiceMetrics) -> list[Scored]:
    """`score_rows` for a loaded model, timed in the metrics; blocking, so run it in a thread."""
    started = perf_counter()
    scored = score_rows(model.classifier, model.labels, columns)
    metrics.prediction_seconds.labels(model.task).observe(perf_counter() - started)
    metrics.prediction_rows.labels(model.task).observe(len(scored))
    return scored
