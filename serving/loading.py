"""Resolve each configured registry URI to one exact version, load it, and build a snapshot."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import mlflow.pyfunc
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving.settings import ServingSettings, parse_registry_uri
from serving.snapshot import TASKS, LoadedModel, ModelSnapshot, Task
from training.defaults import TRAIN_DEFAULTS_COMMAND
from training.models.pyfunc import REQUIRED_COLUMNS, ClassifierModel, predict

logger = logging.getLogger(__name__)

KEY_METRICS = ("macro_f1", "accuracy")
SMOKE_TEXT = "Officials met in the capital on Monday to discuss the ceasefire."
# MLflow answers a missing name or version with RESOURCE_DOES_NOT_EXIST, a missing alias with INVALID_PARAMETER_VALUE.
_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


class ModelNotRegistered(Exception):
    """The configured name, alias or version does not exist in the registry (nothing trained yet)."""


def resolve(client: MlflowClient, uri: str) -> ModelVersion:
    """The exact registered version a configured URI points at now."""
    name, alias, version = parse_registry_uri(uri)
    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, str(version))
    except MlflowException as err:
        if err.error_code in _NOT_FOUND_CODES:
            raise ModelNotRegistered(
                f"no model at {uri} ({err.message}); train the default models with `{TRAIN_DEFAULTS_COMMAND}`"
            ) from err
        raise


def resolve_versions(client: MlflowClient, settings: ServingSettings) -> dict[Task, str | None]:
    """The version each task's URI points at now (None where nothing is registered)."""
    versions: dict[Task, str | None] = {}
    for task in TASKS:
        try:
            versions[task] = str(resolve(client, settings.model_uri(task)).version)
        except ModelNotRegistered:
            versions[task] = None
    return versions


def load_version(client: MlflowClient, task: Task, configured_uri: str, version: ModelVersion) -> LoadedModel:
    """Load one exact registered version and check it is a model for the task."""
    uri = f"models:/{version.name}/{version.version}"
    pyfunc_model = mlflow.pyfunc.load_model(uri)
    python_model = pyfunc_model.unwrap_python_model()
    if not isinstance(python_model, ClassifierModel):
        raise TypeError(f"{uri} is a {type(python_model).__name__}, not this project's classifier pyfunc")
    classifier = python_model.classifier
    if classifier.task != task:
        raise ValueError(f"{uri} is a {classifier.task} model, configured as the {task} model")
    # A model that loads but cannot predict must never be swapped in; the call also warms it up.
    predict(classifier, pd.DataFrame({column: [SMOKE_TEXT] for column in REQUIRED_COLUMNS[task]}))
    # A version registered from a plain path has no run, hence no metrics.
    run_metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
    return LoadedModel(
        task=task,
        name=version.name,
        version=str(version.version),
        run_id=version.run_id,
        configured_uri=configured_uri,
        labels=tuple(classifier.labels),
        family=classifier.family,
        metrics={key: run_metrics[key] for key in KEY_METRICS if key in run_metrics},
        loaded_at=datetime.now(UTC),
        classifier=classifier,
    )


@dataclass(frozen=True)
class LoadOutcome:
    """A new snapshot, and the failures that must keep a reload from swapping it in.

    `failures` names tasks whose model moved (or vanished) but could not be loaded; a task that
    never had a model and still has none is only a problem of the snapshot, not a failure.
    """

    snapshot: ModelSnapshot
    resolved: dict[Task, str | None]
    failures: dict[Task, str] = field(default_factory=dict)


def load_snapshot(client: MlflowClient, settings: ServingSettings, previous: ModelSnapshot) -> LoadOutcome:
    """Resolve every task's URI; reuse models whose version did not move, load the others."""
    models: dict[Task, LoadedModel] = {}
    problems: dict[Task, str] = {}
    failures: dict[Task, str] = {}
    resolved: dict[Task, str | None] = dict.fromkeys(TASKS)
    for task in TASKS:
        uri = settings.model_uri(task)
        current = previous.models.get(task)
        try:
            version = resolve(client, uri)
            resolved[task] = str(version.version)
            if current is not None and (current.name, current.version) == (version.name, str(version.version)):
                models[task] = current
                continue
            models[task] = load_version(client, task, uri, version)
            logger.info("loaded %s model %s (run %s)", task, models[task].uri, models[task].run_id)
        except ModelNotRegistered as err:
            problems[task] = str(err)
            if current is not None:
                failures[task] = f"{err} (still serving {current.uri})"
        # Any error while loading a model (missing artifacts, unpicklable files, a broken store) must leave
        # the server up with its previous models, so nothing narrower than Exception will do here.
        except Exception as err:
            problems[task] = f"the {task} model at {uri} could not be loaded: {type(err).__name__}: {err}"
            failures[task] = problems[task] + (f" (still serving {current.uri})" if current is not None else "")
            logger.error("%s", problems[task])
    return LoadOutcome(ModelSnapshot(models, problems), resolved, failures)
