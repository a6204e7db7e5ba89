"""Resolve each configured registry URI to one exact version, load it, and build a snapshot."""

from __future__ import annotations

import logging
import shlex
import sys
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import mlflow.artifacts
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from classifiers.contract import REQUIRED_COLUMNS, score_columns
from classifiers.errors import UserInputError
from classifiers.lineage import NO_PREVIOUS_CHAMPION, PROMOTED_FROM_TAG, check_finished
from classifiers.pyfunc import ClassifierModel, load_pyfunc
from classifiers.store import (
    CHAMPION,
    DEFAULT_REGISTERED_NAMES,
    parse_registry_uri,
    registered_version,
    store_names_said,
    train_defaults_command,
    training_command,
)
from serving.settings import ServingSettings
from serving.snapshot import TASKS, LoadedModel, ModelSnapshot, Task

logger = logging.getLogger(__name__)

KEY_METRICS = ("macro_f1", "accuracy")
# How many champions back a server starting with a broken one looks for one that loads.
MAX_FALLBACKS = 3
SMOKE_TEXT = "Officials met in the capital on Monday to discuss the ceasefire."
# MLflow answers a missing name or version with RESOURCE_DOES_NOT_EXIST, a missing alias with INVALID_PARAMETER_VALUE.
_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


class ModelNotRegistered(Exception):
    """The configured name, alias or version does not exist in the registry (nothing trained yet)."""


def resolve(client: MlflowClient, uri: str) -> ModelVersion:
    """The exact registered version a configured URI points at now in the client's store."""
    try:
        return registered_version(client, uri)
    except MlflowException as err:
        if err.error_code in _NOT_FOUND_CODES:
            raise ModelNotRegistered(f"no model at {uri} ({err.message})") from err
        raise


def _how_to_get(client: MlflowClient, uri: str, tracking_uri: str) -> str:
    """What makes a missing model exist: for a registered name, the alias or a version it has; else train-defaults
    for a default name, a config registering it, or a name that is there (a misspelt one is the likelier cause)."""
    name, alias, _ = parse_registry_uri(uri)
    versions = _versions_of(client, name)
    if versions and alias == CHAMPION:
        promote = training_command(tracking_uri, f"promote --name {shlex.quote(name)} --version {versions[-1]}")
        return f"{name} has version(s) {', '.join(versions)}, none of them {alias}: make one champion with `{promote}`"
    if versions and alias is not None:
        return f"{name} has version(s) {', '.join(versions)}, none of them {alias}: set the alias in the MLflow UI"
    if versions:
        return f"{name} has version(s) {', '.join(versions)}"
    if name in DEFAULT_REGISTERED_NAMES.values():
        return f"train the default models with `{train_defaults_command(tracking_uri)}`"
    return f"train a config with `registered_model: {name}`, or name a registered model ({store_names_said(client)})"


def _versions_of(client: MlflowClient, name: str) -> list[str]:
    """The registered versions of name, oldest first; none when it is not registered (or cannot be searched for)."""
    try:
        found = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return []
    return [str(number) for number in sorted(int(version.version) for version in found)]


def not_served(task: Task) -> str:
    """Why a task this server was configured without has no model."""
    return f"this server does not serve {task} models (NEWS_{task.upper()}_MODEL_URI is empty)"


def resolve_versions(client: MlflowClient, settings: ServingSettings) -> dict[Task, str | None]:
    """The version each task's URI points at now (None where nothing is registered)."""
    versions: dict[Task, str | None] = {}
    for task in TASKS:
        if task not in settings.served_tasks:
            versions[task] = None
            continue
        try:
            versions[task] = str(resolve(client, settings.model_uri(task)).version)
        except ModelNotRegistered:
            versions[task] = None
    return versions


class Unservable(Exception):
    """A version that loads but cannot serve its task; the message is meant for callers."""


def public_reason(err: Exception) -> str:
    """What callers are told about a failed load: this service's own checks in full, any other error by
    its kind only, since its message may quote this host's file paths (the log has it in full)."""
    if isinstance(err, Unservable | UserInputError):
        return str(err)
    return f"{type(err).__name__} (details in the server log)"


def load_version(client: MlflowClient, task: Task, configured_uri: str, version: ModelVersion) -> LoadedModel:
    """Load one exact registered version, if its training finished, and check it is a model for the task."""
    # A version whose training did not finish (or that no training registered) is never served.
    run = check_finished(client, version)
    uri = f"models:/{version.name}/{version.version}"
    python_model = _load_python_model(uri)
    if not isinstance(python_model, ClassifierModel):
        raise Unservable(f"{uri} is a {type(python_model).__name__}, not this project's classifier pyfunc")
    classifier = python_model.classifier
    if classifier.task != task:
        raise Unservable(f"{uri} is a {classifier.task} model, configured as the {task} model")
    labels = tuple(classifier.labels)
    # A model that loads but cannot be served must never be swapped in, so the check goes through the
    # same code as a request (which also checks the probabilities fit the labels); it warms the model up too.
    try:
        score_columns(classifier, labels, {column: [SMOKE_TEXT] for column in REQUIRED_COLUMNS[task]})
    except ValueError as err:
        raise Unservable(f"{uri} fails a smoke prediction: {err}") from err
    return LoadedModel(
        task=task,
        name=version.name,
        version=str(version.version),
        run_id=version.run_id,
        configured_uri=configured_uri,
        labels=labels,
        family=classifier.family,
        metrics={key: run.data.metrics[key] for key in KEY_METRICS if key in run.data.metrics},
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


def load_snapshot(
    client: MlflowClient, settings: ServingSettings, previous: ModelSnapshot, tasks: Collection[Task] = TASKS
) -> LoadOutcome:
    """Resolve the URIs of `tasks`; reuse models whose version did not move, load the others.

    The other tasks keep what `previous` has for them, model or problem, untouched. A task with no
    model yet (at start-up) whose champion cannot be loaded falls back to the champion before it
    (earlier_champion); the poller keeps trying the configured one.
    """
    models: dict[Task, LoadedModel] = {}
    problems: dict[Task, str] = {}
    failures: dict[Task, str] = {}
    unloadable: dict[Task, tuple[str, str]] = {}
    for task in TASKS:
        uri = settings.model_uri(task)
        current = previous.models.get(task)
        if task not in settings.served_tasks:
            problems[task] = not_served(task)
            continue
        if task not in tasks:
            if current is not None:
                models[task] = current
            elif task in previous.problems:
                problems[task] = previous.problems[task]
            continue
        version: ModelVersion | None = None
        try:
            version = resolve(client, uri)
            if current is not None and (current.name, current.version) == (version.name, str(version.version)):
                # The URI names the served version (again): no failure to report any more.
                models[task] = replace(current, fallback=None)
                continue
            models[task] = load_version(client, task, uri, version)
            logger.info("loaded %s model %s (run %s)", task, models[task].uri, models[task].run_id)
        except ModelNotRegistered as err:
            # The advice is worked out here, where it is shown, not in every poll that finds the model still missing.
            # A store of one task's models (a team's topic models alone) is served so too, with the other left out.
            problems[task] = (
                f"{err}; {_how_to_get(client, uri, settings.tracking_uri)}, or serve without {task} models "
                f"(NEWS_{task.upper()}_MODEL_URI=)"
            )
            if current is not None:
                failures[task] = f"{problems[task]} (still serving {current.uri})"
        # Any error while loading a model (missing artifacts, unpicklable files, a broken store) must leave
        # the server up with its previous models, so nothing narrower than Exception will do here.
        except Exception as err:
            logger.error("the %s model at %s could not be loaded: %s: %s", task, uri, type(err).__name__, err)
            # The version an alias named is what the operator must fix or move away from.
            by_alias = parse_registry_uri(uri)[1] is not None
            which = f"{uri} (version {version.version})" if version is not None and by_alias else uri
            problem = f"the {task} model at {which} could not be loaded: {public_reason(err)}"
            if current is not None:
                failures[task] = f"{problem} (still serving {current.uri})"
            # None when the registry itself could not be read: no version is to blame then.
            if version is not None:
                unloadable[task] = (version.name, str(version.version))
            fallback = None
            if current is None and version is not None and parse_registry_uri(uri)[1] == CHAMPION:
                fallback = earlier_champion(client, task, uri, version, problem)
            if fallback is None:
                problems[task] = problem
            else:
                models[task] = fallback
    return LoadOutcome(ModelSnapshot(models, problems, settings.served_tasks), failures, unloadable)


def earlier_champion(
    client: MlflowClient, task: Task, configured_uri: str, failed: ModelVersion, problem: str
) -> LoadedModel | None:
    """The newest earlier champion that loads, following the promotion tags back from `failed`; None if none does.

    A server restarted while its champion is broken would otherwise serve nothing for the task; the
    previous champion is what it served before the promotion.
    """
    version = failed
    for _ in range(MAX_FALLBACKS):
        previous = version.tags.get(PROMOTED_FROM_TAG)
        if not previous or previous == NO_PREVIOUS_CHAMPION:
            return None
        try:
            version = client.get_model_version(version.name, previous)
        # A deleted version ends the search; it must not fail the other task's load too.
        except MlflowException as err:
            logger.error("%s version %s, the %s before, cannot be read: %s", failed.name, previous, CHAMPION, err.message)
            return None
        try:
            model = load_version(client, task, configured_uri, version)
        except Exception as err:
            logger.error(
                "%s version %s could not be loaded either: %s: %s", failed.name, previous, type(err).__name__, err
            )
            continue
        note = f"{problem}; serving version {model.version}, the {CHAMPION} before it, until that one loads"
        logger.warning("%s", note)
        return replace(model, fallback=note)
    return None
