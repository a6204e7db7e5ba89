"""The out-of-fold predictions a training run logs: every row of its evaluated data, as it was scored."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

# Where training logs them (`mlflow.log_table`): the rows' inputs, `label`, `group`, `predicted`, `score` and each
# label's probability under PROBABILITY_PREFIX + label.
PREDICTIONS_ARTIFACT = "evaluation/predictions.json"
PROBABILITY_PREFIX = "proba_"  # as the registered model names its output columns


def logged_predictions(client: MlflowClient, run_id: str) -> pd.DataFrame:
    """The run's logged predictions, every column but the score and the probabilities read as text (MlflowException
    or OSError where it has none)."""
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, PREDICTIONS_ARTIFACT, folder)
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    # Read as logged (mlflow.log_table's columns and rows), without pandas' guesses at numbers and dates.
    frame = pd.DataFrame(table["data"], columns=table["columns"])
    numbers = {"score", *(column for column in table["columns"] if column.startswith(PROBABILITY_PREFIX))}
    return frame.astype({column: str for column in frame.columns if column not in numbers})
