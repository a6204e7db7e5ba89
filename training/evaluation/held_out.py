"""Score a registered (or any) model on labelled data it has never seen."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException

from classifiers.contract import REQUIRED_COLUMNS
from classifiers.errors import UserInputError
from classifiers.pyfunc import load_pyfunc
from training.evaluation.metrics import summary_metrics
from training.jsonl_table import read_jsonl_table


def load_model(model_uri: str) -> tuple[mlflow.pyfunc.PyFuncModel, str, list[str]]:
    """The pyfunc with the task and label set it carries."""
    try:
        model = load_pyfunc(model_uri)
    except (MlflowException, OSError) as err:
        raise UserInputError(f"cannot load model '{model_uri}': {err}") from err
    meta = model.metadata.metadata or {}
    if "task" not in meta or "labels" not in meta:
        raise UserInputError(f"model '{model_uri}' was not trained by this project (no task/labels metadata)")
    return model, meta["task"], list(meta["labels"])


def predict_labels(model: mlflow.pyfunc.PyFuncModel, task: str, labels: list[str], frame: pd.DataFrame) -> list[str]:
    """The model's label for every row of a frame with inputs and `label`; gold labels must be known to it."""
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        raise UserInputError(
            f"labels the model does not know: {', '.join(unknown)} (model labels: {', '.join(labels)})"
        )
    return model.predict(frame[list(REQUIRED_COLUMNS[task])])["label"].tolist()


def evaluate_file(model_uri: str, path: Path) -> dict[str, object]:
    """Metrics of the model on a JSONL file of `text`, `label` (and `target` for stance)."""
    model, task, labels = load_model(model_uri)
    frame = read_jsonl_table(path, [*REQUIRED_COLUMNS[task], "label"])
    if frame.empty:
        raise UserInputError(f"{path}: no rows to evaluate")
    return summary_metrics(frame["label"].tolist(), predict_labels(model, task, labels, frame), labels)


def evaluate_benchmark(model_uri: str, name: str, data_dir: Path, split: str | None) -> dict[str, object]:
    """Metrics of the model on a benchmark split in its official layout (default: the training split),
    official metrics included."""
    from training.public_datasets.adapters import load_benchmark
    from training.public_datasets.scorers import official_metrics

    model, task, labels = load_model(model_uri)
    frame = load_benchmark(name, data_dir, split, task)
    gold, predicted = frame["label"].tolist(), predict_labels(model, task, labels, frame)
    # A benchmark scored per subset (VAST: zero-shot, few-shot) has a `subset` column; the others have none.
    subsets = frame["subset"].tolist() if "subset" in frame else None
    return {**summary_metrics(gold, predicted, labels), **official_metrics(name, gold, predicted, subsets)}
