"""What a registered version must carry before it is promoted or served: a finished run and its lineage tags.

Training registers a version inside its run, tags the version, and only then ends the run FINISHED.
A version whose run is still RUNNING (the process was killed), failed, or never wrote the tags is
half-finished: nothing vouches for what it was trained and scored on.
"""

from __future__ import annotations

from mlflow.entities import Run, RunStatus
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient

from classifiers.errors import UserInputError

PRIMARY_METRIC_TAG = "primary_metric"
PRIMARY_METRIC_VALUE_TAG = "primary_metric_value"
DATA_DIGEST_TAG = "data_digest"
# Written on the version by the trainer once the model is registered, before the run ends.
VERSION_LINEAGE_TAGS = ("task", "model_family", PRIMARY_METRIC_TAG, PRIMARY_METRIC_VALUE_TAG, "labels")
# Written on the run when its data is logged: what promotions compare on.
RUN_LINEAGE_TAGS = (DATA_DIGEST_TAG,)
FINISHED = RunStatus.to_string(RunStatus.FINISHED)
# Written on a version when it becomes champion: the version it took over from, or NO_PREVIOUS_CHAMPION.
PROMOTED_FROM_TAG = "promoted_from"
NO_PREVIOUS_CHAMPION = "none"


class UnfinishedVersion(UserInputError):
    """A version whose run did not finish or left no lineage tags; the message names the run and what is wrong."""


def check_finished(client: MlflowClient, version: ModelVersion) -> Run:
    """The run that produced `version`, if it FINISHED and the lineage tags are there; else UnfinishedVersion."""
    label = f"{version.name} version {version.version}"
    if not version.run_id:
        raise UnfinishedVersion(f"{label} has no run: it was not registered by training, so nothing vouches for it")
    try:
        run = client.get_run(version.run_id)
    except MlflowException as err:
        if err.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise UnfinishedVersion(
                f"{label}: run {version.run_id} no longer exists, so its lineage is unknown"
            ) from err
        raise
    if run.info.status != FINISHED:
        raise UnfinishedVersion(
            f"{label}: run {version.run_id} is {run.info.status}, not {FINISHED}: its training did not finish"
        )
    missing = [tag for tag in VERSION_LINEAGE_TAGS if not version.tags.get(tag)]
    missing += [f"run tag {tag}" for tag in RUN_LINEAGE_TAGS if not run.data.tags.get(tag)]
    if missing:
        raise UnfinishedVersion(
            f"{label} (run {version.run_id}) has no lineage tags ({', '.join(missing)} missing): "
            "it was not registered by a completed training run of this project"
        )
    return run
