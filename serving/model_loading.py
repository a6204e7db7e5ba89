"""Resolve each configured registry URI to one exact version, load it, and build a snapshot."""

from __future__ import annotations

import logging
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime

import mlflow.artifacts
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from classifiers.contract import REQUIRED_COLUMNS, score_columns
from classifiers.pyfunc import ClassifierModel, load_pyfunc
from classifiers.store import train_defaults_command
from serving.settings import ServingSettings, parse_registry_uri
from serving.snapshot import TASKS, LoadedModel, ModelSnapshot, Task

logger = logging.getLogger(__name__)

KEY_METRICS = ("macro_f1", "accuracy")
SMOKE_TEXT = "Officials met in the capital on Monday to discuss the ceasefire."
# MLflow answers a missing name or version with RESOURCE_DOES_NOT_EXIST, a missing alias with INVALID_PARAMETER_VALUE.
_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


class ModelNotRegistered(Exception):
    """The configured name, alias or version does not exist in the registry (nothing trained yet)."""


def resolve(client: MlflowClient, uri: str, tracking_uri: str) -> ModelVersion:
    """The exact registered version a configured URI points at now in the store at tracking_uri."""
    name, alias, version = parse_registry_uri(uri)
    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, str(version))
    except MlflowException as err:
        if err.error_code in _NOT_FOUND_CODES:
            raise ModelNotRegistered(
                f"no model at {uri} ({err.message}); train the default models with `{train_defaults_command(tracking_uri)}`"
            ) from err
        raise


def resolve_versions(client: MlflowClient, settings: ServingSettings) -> dict[Task, str | None]:
    """The version each task's URI points at now (None where nothing is registered)."""
    versions: dict[Task, str | None] = {}
    for task in TASKS:
        try:
            versions[task] = str(resolve(client, settings.model_uri(task), settings.tracking_uri).version)
        except ModelNotRegistered:
            versions[task] = None
    return versions


def load_version(client: MlflowClient, task: Task, configured_uri: str, version: ModelVersion) -> LoadedModel:
    """Load one exact registered version and check it is a model for the task."""
    uri = f"models:/{version.name}/{version.version}"
    python_model = _load_python_model(uri)
    if not isinstance(python_model, ClassifierModel):
        raise TypeError(f"{uri} is a {type(python_model).__name__}, not this project's classifier pyfunc")
    classifier = python_model.classifier
    if classifier.task != task:
        raise ValueError(f"{uri} is a {classifier.task} model, configured as the {task} model")
    labels = tuple(classifier.labels)
    # A model that loads but cannot be served must never be swapped in, so the check goes through the
    # same code as a request (which also checks the probabilities fit the labels); it warms the model up too.
    score_columns(classifier, labels, {column: [SMOKE_TEXT] for column in REQUIRED_COLUMNS[task]})
    return LoadedModel(
        task=task,
        name=version.name,
        version=str(version.version),
        run_id=version.run_id,
        configured_uri=configured_uri,
        labels=labels,
        family=classifier.family,
        metrics=run_metrics(client, version),
        loaded_at=datetime.now(UTC),
        classifier=classifier,
    )


def _load_python_model(uri: str) -> object:
    """The python model of a registered version, loaded from a download that is removed afterwards."""
    # MLflow downloads a model from a remote artifact store into a new temporary folder at every load and
    # never removes it. Every family reads its files into memory while loading (joblib, transformers'
    # from_pretrained), so the copy can go once the model is loaded (tests/serving/test_model_download.py checks it).
    with tempfile.TemporaryDirectory(prefix="news-model-") as download:
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=download)
            return load_pyfunc(local).unwrap_python_model()
        finally:
            # The model's copy of the classifiers package was put on sys.path; the served one is
            # already imported, and a path into a removed folder would only pile up with every load.
            sys.path[:] = [entry for entry in sys.path if not entry.startswith(download)]


def run_metrics(client: MlflowClient, version: ModelVersion) -> dict[str, float]:
    """The key metrics of the run that produced a version; empty when there is no such run."""
    # A version registered from a plain path has no run.
    if not version.run_id:
        return {}
    try:
        metrics = client.get_run(version.run_id).data.metrics
    # A run removed for good (`mlflow gc`) takes only the metrics with it, not the model.
    except MlflowException as err:
        logger.warning("no metrics for %s/%s: run %s: %s", version.name, version.version, version.run_id, err.message)
        return {}
    return {key: metrics[key] for key in KEY_METRICS if key in metrics}


@dataclass(frozen=True)
class LoadOutcome:
    """A new snapshot, and the failures that must keep a reload from swapping it in.

    `failures` names tasks whose model moved (or vanished) but could not be loaded; a task that
    never had a model and still has none (nothing registered, or a version that cannot be loaded)
    is only a problem of the snapshot, not a failure, so it never holds back the other task's reload.
    `unloadable` names the registered version (name, version) each task could not load, in both cases.
    """

    snapshot: ModelSnapshot
    failures: dict[Task, str] = field(default_factory=dict)
    unloadable: dict[Task, tuple[str, str]] = field(default_factory=dict)


def load_snapshot(client: MlflowClient, settings: ServingSettings, previous: ModelSnapshot) -> LoadOutcome:
    """Resolve every task's URI; reuse models whose version did not move, load the others."""
    models: dict[Task, LoadedModel] = {}
    problems: dict[Task, str] = {}
    failures: dict[Task, str] = {}
    unloadable: dict[Task, tuple[str, str]] = {}
    for task in TASKS:
        uri = settings.model_uri(task)
        current = previous.models.get(task)
        version: ModelVersion | None = None
        try:
            version = resolve(client, uri, settings.tracking_uri)
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
            if current is not None:
                failures[task] = f"{problems[task]} (still serving {current.uri})"
            # None when the registry itself could not be read: no version is to blame then.
            if version is not None:
                unloadable[task] = (version.name, str(version.version))
            logger.error("%s", problems[task])
    return LoadOutcome(ModelSnapshot(models, problems), failures, unloadable)
