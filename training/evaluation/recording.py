"""An evaluation kept as an MLflow run, so that scores on held-out data sit beside the training runs in the UI."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import PandasDataset
from mlflow.exceptions import MlflowException

from classifiers.errors import UserInputError
from training import tracking
from training.evaluation.metrics import classification_metrics, confusion_matrix_figure, report_text
from training.labelled_data import frame_digest

EVALUATION_CONTEXT = "evaluation"


@dataclass(frozen=True)
class Evaluation:
    """What one `evaluate` scored and found: the model, the rows and their predictions, the printed result."""

    model_uri: str
    identity: dict[str, str | None]
    model_id: str | None
    task: str
    labels: list[str]
    rows: pd.DataFrame
    predicted: list[str]
    data_name: str
    data_source: str
    params: dict[str, str]
    interval: tuple[float, float] | None
    official: dict[str, float]
    result: dict[str, object]


def check_experiment(name: str) -> None:
    """Refuse, before anything is scored, an experiment name a run cannot be recorded in."""
    if not name.strip():
        raise UserInputError("--experiment: the experiment name is empty")
    found = mlflow.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage == "deleted":
        raise UserInputError(
            f"--experiment: experiment '{name}' is deleted; restore it (`mlflow experiments restore --experiment-id "
            f"{found.experiment_id}`) or name another"
        )


def record_evaluation(experiment: str, evaluation: Evaluation) -> dict[str, str]:
    """Log the evaluation as a finished run of the experiment (created if missing): the model it scored as tags and
    params, the training runs' metric names, the rows as the run's `evaluation` input, the result and the reports
    as artifacts. The metrics are also attached to the model's MLflow LoggedModel where this store holds it. Returns
    the experiment's name and the run's id; a run that could not be written whole ends FAILED."""
    gold = evaluation.rows["label"].tolist()
    metrics = classification_metrics(gold, evaluation.predicted, evaluation.labels)
    if evaluation.interval is not None:
        metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"] = evaluation.interval
    metrics |= evaluation.official
    with warnings.catch_warnings():
        # MLflow registers its local-file source twice and warns that a path is ambiguous between the two.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        dataset = mlflow.data.from_pandas(
            evaluation.rows,
            source=evaluation.data_source,
            targets="label",
            name=evaluation.data_name,
            digest=frame_digest(evaluation.rows),
        )
    # No tags: the experiment may be a training one, whose own are left as they are.
    experiment_id = tracking.ensure_experiment(experiment, {})
    run_id = None
    try:
        with tracking.tracked_run(experiment_id=experiment_id, run_name=_run_name(evaluation)) as run:
            run_id = run.info.run_id
            _log(evaluation, dataset, metrics)
    except (MlflowException, OSError) as err:
        ended = f"; its run {run_id} ends FAILED" if run_id else ""
        raise UserInputError(f"the evaluation could not be recorded in experiment '{experiment}': {err}{ended}") from err
    return {"experiment": experiment, "run_id": run.info.run_id}


def _log(evaluation: Evaluation, dataset: PandasDataset, metrics: dict[str, float]) -> None:
    """What the active run records of the evaluation."""
    gold = evaluation.rows["label"].tolist()
    identity = {f"evaluated_model_{key}": value for key, value in evaluation.identity.items() if value and key != "uri"}
    mlflow.set_tags(
        {
            "task": evaluation.task,
            "evaluated_model_uri": evaluation.model_uri,
            **identity,
            "data_rows": str(len(evaluation.rows)),
            "git_commit": tracking.git_commit(),
        }
    )
    mlflow.log_params({"model_uri": evaluation.model_uri, **evaluation.params})
    mlflow.log_input(dataset, context=EVALUATION_CONTEXT)
    mlflow.log_metrics(metrics, dataset=dataset, model_id=_logged_model(evaluation.model_id))
    figure = confusion_matrix_figure(gold, evaluation.predicted, evaluation.labels, f"{evaluation.task}: {evaluation.data_name}")
    mlflow.log_figure(figure, "evaluation/confusion_matrix.png")
    mlflow.log_text(report_text(gold, evaluation.predicted, evaluation.labels), "evaluation/classification_report.txt")
    mlflow.log_dict(evaluation.result, "evaluation/result.json")


def _run_name(evaluation: Evaluation) -> str:
    name, version = evaluation.identity.get("name"), evaluation.identity.get("version")
    model = f"{name} v{version}" if name and version else evaluation.model_uri
    return f"{model} on {evaluation.data_name}"


def _logged_model(model_id: str | None) -> str | None:
    """The model's LoggedModel id when this store holds it (a model logged before MLflow 3, or in another store, has
    none here, and its metrics stay the run's alone)."""
    if model_id is None:
        return None
    try:
        mlflow.MlflowClient().get_logged_model(model_id)
    except MlflowException:
        return None
    return model_id
