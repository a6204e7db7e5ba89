"""training/evaluation/logged_predictions.py: a run's out-of-fold predictions read back as training logged them."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training.evaluation.logged_predictions import PREDICTIONS_ARTIFACT, logged_predictions


def experiment(tmp_path: Path) -> str:
    """An experiment whose artifacts go under tmp_path (the Default one's would go under the current folder)."""
    return mlflow.create_experiment("predictions", artifact_location=(tmp_path / "artifacts").as_uri())


def test_the_logged_rows_come_back_in_order_every_column_as_text_but_the_figures(store_uri: str, tmp_path: Path) -> None:
    # Labels and groups that look like numbers and dates: read as text, as they were logged, not as pandas guesses.
    logged = pd.DataFrame(
        {
            "text": ["Jets struck the base.", "Talks resumed."],
            "label": ["1", "0"],
            "group": ["2024-01-05", "007"],
            "predicted": ["1", "1"],
            "score": [0.75, 0.5],
            "proba_0": [0.25, 0.5],
            "proba_1": [0.75, 0.5],
        }
    )
    with mlflow.start_run(experiment_id=experiment(tmp_path)) as run:
        mlflow.log_table(logged, PREDICTIONS_ARTIFACT)

    read = logged_predictions(MlflowClient(), run.info.run_id)

    pd.testing.assert_frame_equal(read, logged)
    assert read["group"].tolist() == ["2024-01-05", "007"]


def test_a_run_that_logged_no_predictions_is_an_error(store_uri: str, tmp_path: Path) -> None:
    with mlflow.start_run(experiment_id=experiment(tmp_path)) as run:
        pass
    # The run exists: what is missing is its predictions file, not the store or the run.
    with pytest.raises((MlflowException, OSError), match="predictions.json"):
        logged_predictions(MlflowClient(), run.info.run_id)
