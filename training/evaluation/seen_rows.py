"""How many rows of an evaluation the model was trained on: its figures on them are training figures, not held-out
ones (a file of the model's own training rows scored 1.0)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from classifiers.contract import REQUIRED_COLUMNS
from training.evaluation.logged_predictions import logged_predictions
from training.input_copies import input_keys
from training.locations import PROJECT_ROOT

_EXTRA_SOURCE = re.compile(r"extra_training\.(\d+)\.data\.source")


@dataclass(frozen=True)
class EvaluatedSource:
    """What an evaluation scores: a JSONL file (`path`), or a benchmark's split (`benchmark`, `split`)."""

    path: Path | None = None
    benchmark: str | None = None
    split: str | None = None


def rows_trained_on(run_id: str | None, frame: pd.DataFrame, task: str, source: EvaluatedSource) -> int | None:
    """Rows of `frame` whose input the run's model was trained on: every one where the source is the run's data or one
    of its extra training sources; otherwise those whose input (case and spacing aside) is one of its data's rows,
    all of which its final fit saw. None where the run or its logged predictions cannot be read."""
    if run_id is None:
        return None
    client = MlflowClient()
    try:
        params = client.get_run(run_id).data.params
    except MlflowException:
        return None
    if any(_names(params, prefix, source) for prefix in _data_prefixes(params)):
        return len(frame)
    try:
        logged = logged_predictions(client, run_id)
    except (MlflowException, OSError, KeyError, ValueError):
        return None
    if not set(REQUIRED_COLUMNS[task]) <= set(logged.columns):
        return None
    return int(input_keys(frame, task).isin(set(input_keys(logged, task))).sum())


def _data_prefixes(params: dict[str, str]) -> list[str]:
    """The param prefixes of the run's data and of each of its extra training sources."""
    extras = sorted(int(found[1]) for key in params if (found := _EXTRA_SOURCE.fullmatch(key)))
    return ["data.", *(f"extra_training.{index}.data." for index in extras)]


def _names(params: dict[str, str], prefix: str, source: EvaluatedSource) -> bool:
    """Whether the data the params describe under `prefix` is the evaluated source."""
    kind = params.get(f"{prefix}source")
    if kind == "jsonl" and source.path is not None:
        # The params name a project file from the project root (training.trainer._comparable), any other whole.
        logged = Path(params.get(f"{prefix}path", ""))
        return (logged if logged.is_absolute() else PROJECT_ROOT / logged).resolve() == source.path.resolve()
    if kind == "benchmark" and source.benchmark is not None and params.get(f"{prefix}name") == source.benchmark:
        from training.public_datasets.adapters import get_benchmark

        split = params.get(f"{prefix}split", "null")
        return get_benchmark(source.benchmark).resolve_split(None if split == "null" else split) == source.split
    return False
