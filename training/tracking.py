"""MLflow store selection, experiments and runs that record why they failed."""

from __future__ import annotations

import functools
import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from training import locations

logger = logging.getLogger(__name__)

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
SQLITE_PREFIX = "sqlite:///"
ERROR_TAG = "error"
MAX_TAG_LENGTH = 5000


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else the project's SQLite store in mlruns/."""
    return os.environ.get(TRACKING_URI_ENV) or locations.DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI, else None."""
    return Path(uri.removeprefix(SQLITE_PREFIX)) if uri.startswith(SQLITE_PREFIX) else None


def use_store(uri: str | None = None) -> MlflowClient:
    """Point MLflow (tracking and registry) at the store and return a client for it."""
    uri = uri or tracking_uri()
    database = sqlite_path(uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(name: str) -> str:
    """Id of the experiment, created on first use with its artifacts beside a SQLite store."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    database = sqlite_path(mlflow.get_tracking_uri())
    # Without an explicit location MLflow would put artifacts under the current directory.
    location = str(database.parent.resolve() / "artifacts" / name) if database is not None else None
    return mlflow.create_experiment(name, artifact_location=location)


@functools.cache
def git_commit() -> str:
    """HEAD of the project checkout, with '-dirty' when it has uncommitted changes; 'unknown' outside git.

    Read once per process: the code that runs is the code that was imported, and a sweep tags every child.
    """
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=locations.PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        return f"{commit}-dirty" if git("status", "--porcelain", "--untracked-files=no") else commit
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@contextmanager
def tracked_run(**start_run: Any) -> Iterator[mlflow.ActiveRun]:
    """`mlflow.start_run` whose failure also leaves the error message as the run's `error` tag."""
    with mlflow.start_run(**start_run) as run:
        try:
            yield run
        except BaseException as err:
            mlflow.set_tag(ERROR_TAG, f"{type(err).__name__}: {err}"[:MAX_TAG_LENGTH])
            logger.error("run %s failed: %s", run.info.run_id, err)
            raise
