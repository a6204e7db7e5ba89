"""The MLflow pyfunc every registered model is: DataFrame in, label + score + probabilities out.

Input: a DataFrame with `text` (and `target` for stance models). Output: one row per input with
`label` (a string from the model's own label set), `score` (that label's probability) and one
`proba_<label>` column per class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from training.models.base import Classifier, load_classifier

ARTIFACT_KEY = "classifier"
PROBA_PREFIX = "proba_"
REQUIRED_COLUMNS = {"topic": ("text",), "stance": ("text", "target")}


def check_inputs(inputs: pd.DataFrame, task: str) -> pd.DataFrame:
    """The columns the model reads, as strings; a clear error when one is missing."""
    missing = [column for column in REQUIRED_COLUMNS[task] if column not in inputs.columns]
    if missing:
        raise ValueError(
            f"a {task} model needs column(s) {', '.join(REQUIRED_COLUMNS[task])}; missing: {', '.join(missing)}"
        )
    return inputs[list(REQUIRED_COLUMNS[task])].astype(str)


def prediction_frame(labels: list[str], probabilities: np.ndarray) -> pd.DataFrame:
    """The contract's output frame from a probability matrix whose columns follow labels."""
    best = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, dtype=int)
    frame = pd.DataFrame(
        {
            "label": np.asarray(labels, dtype=object)[best],
            "score": probabilities[np.arange(len(best)), best].astype(float),
        }
    )
    for index, label in enumerate(labels):
        frame[f"{PROBA_PREFIX}{label}"] = probabilities[:, index].astype(float)
    return frame


def predict(classifier: Classifier, inputs: pd.DataFrame) -> pd.DataFrame:
    """Apply a classifier under the pyfunc contract."""
    return prediction_frame(classifier.labels, classifier.predict_proba(check_inputs(inputs, classifier.task)))


class ClassifierModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper around a saved Classifier (any family)."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.classifier = load_classifier(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict(self.classifier, model_input)
