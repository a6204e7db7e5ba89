"""An evaluation kept as an MLflow run, so that scores on held-out data sit beside the training runs in the UI."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import PandasDataset, from_pandas
from mlflow.exceptions import MlflowException

from classifiers.errors import UserInputError
from training import tracking
from training.evaluation.metrics import classification_metrics, confusion_matrix_figure, report_text
from training.labelled_data import frame_digest

if TYPE_CHECKING:  # held_out imports this module
    from training.evaluation.held_out import EvaluatedModel

EVALUATION_CONTEXT = "evaluation"


@dataclass(frozen=True)
class Evaluation:
    """What one `evaluate` scored and found."""

    model: EvaluatedModel
    rows: pd.DataFrame  # the rows scored: the model's inputs, the gold `label`, a `document` where rows give one
    predicted: list[str]
    data_name: str
    data_source: str
    params: dict[str, str]  # what was scored besides the model: the file or benchmark, a group column, a label map
    official: dict[str, float]  # the benchmark's official metrics, as in the result
    result: dict[str, object]  # what `evaluate` prints


def check_experiment(name: str) -> None:
    """Refuse, before anything is scored, an experiment name a run cannot be recorded in."""
    if not name.strip():
        raise UserInputError("--experiment: the experiment name is empty")
    if (deleted := tracking.deleted_experiment(name)) is not None:
        raise UserInputError(f"--experiment: {deleted}")


def record_evaluation(experiment: str, evaluation: Evaluation) -> dict[str, str]:
    """Log the evaluation as a finished run of the experiment (created if missing): the model it scored as tags and
    params, the training runs' metric names, the rows as the run's `evaluation` input, the result and the reports
    as artifacts. The metrics are also attached to the model's MLflow LoggedModel where this store holds it. Returns
    the experiment's name and the run's id; a run that could not be written whole ends FAILED where the store lets it."""
    labels = list(evaluation.result["labels"])  # type: ignore[call-overload]
    gold = evaluation.rows["label"].tolist()
    # The labels the data or the predictions show, as printed: a label of the model that neither shows would be
    # logged as F1 0, as if the model failed at it.
    metrics = classification_metrics(gold, evaluation.predicted, labels)
    interval = evaluation.result["macro_f1_interval"]
    if isinstance(interval, list):
        metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"] = interval
    metrics |= evaluation.official
    with warnings.catch_warnings():
        # MLflow registers its local-file source twice and warns that a path is ambiguous between the two.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        dataset = from_pandas(
            evaluation.rows,
            source=evaluation.data_source,
            targets="label",
            name=evaluation.data_name,
            digest=frame_digest(evaluation.rows),
        )
    run_id: str | None = None
    try:
        # Tagged only when made here: the experiment may be a training one, whose own tags are left as they are.
        experiment_id = tracking.ensure_experiment(experiment, {}, new_tags=tracking.EXPERIMENT_KIND)
        with tracking.tracked_run(experiment_id=experiment_id, run_name=_run_name(evaluation)) as run:
            run_id = run.info.run_id
            _log(evaluation, dataset, metrics, gold, labels)
    except (MlflowException, OSError) as err:
        raise UserInputError(f"the evaluation could not be recorded in experiment '{experiment}': {err}{_left(run_id)}") from err
    return {"experiment": experiment, "run_id": run_id}


def _log(
    evaluation: Evaluation, dataset: PandasDataset, metrics: dict[str, float], gold: list[str], labels: list[str]
) -> None:
    """What the active run records of the evaluation."""
    predicted = evaluation.predicted
    identity = evaluation.model.identity
    mlflow.set_tags(
        {
            "task": evaluation.model.task,
            "evaluated_model_uri": identity["uri"],
            **{f"evaluated_model_{key}": value for key, value in identity.items() if value and key != "uri"},
            "data_rows": str(len(evaluation.rows)),
            "git_commit": tracking.git_commit(),
        }
    )
    # The interval resamples articles in training runs; here whatever the command was told (rows without it).
    resamples = str(evaluation.result["interval_resamples"])
    mlflow.log_params({"model_uri": identity["uri"], **evaluation.params, "interval_resamples": resamples})
    mlflow.log_input(dataset, context=EVALUATION_CONTEXT)
    mlflow.log_metrics(metrics, dataset=dataset, model_id=_logged_model(evaluation.model.model.metadata.model_id))
    # A label predicted with no gold row (through a label map) is not averaged, but its rows still show where they went.
    without = evaluation.result.get("predicted_without_gold")
    shown = [*labels, *(without if isinstance(without, dict) else {})]
    figure = confusion_matrix_figure(gold, predicted, shown, f"{evaluation.model.task}: {evaluation.data_name}")
    mlflow.log_figure(figure, "evaluation/confusion_matrix.png")
    mlflow.log_text(report_text(gold, predicted, labels), "evaluation/classification_report.txt")
    mlflow.log_dict(evaluation.result, "evaluation/result.json")


def _left(run_id: str | None) -> str:
    """How a run whose recording failed was left, read back: FAILED, or not ended (the store refused that too)."""
    if run_id is None:
        return ""
    try:
        status = mlflow.MlflowClient().get_run(run_id).info.status
    except MlflowException:
        status = None
    if status == "FAILED":
        return f"; its run {run_id} ends FAILED"
    return (
        f"; its run {run_id} could not be ended and shows as {status or 'RUNNING'}: once the store takes writes, "
        f"`python -m training fail-runs {run_id}` marks it FAILED"
    )


# MLflow's SQL schema keeps a run's name in VARCHAR(250), which PostgreSQL enforces.
MAX_RUN_NAME_LENGTH = 250


def _run_name(evaluation: Evaluation) -> str:
    """"<model> on <data>", the data's name cut at its start where the whole would not fit (its end names the file)."""
    identity = evaluation.model.identity
    name, version = identity.get("name"), identity.get("version")
    model = f"{name} v{version}" if name and version else identity["uri"]
    full = f"{model} on {evaluation.data_name}"
    if len(full) <= MAX_RUN_NAME_LENGTH:
        return full
    return f"{model} on …{evaluation.data_name[len(full) - MAX_RUN_NAME_LENGTH + 1 :]}"


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
