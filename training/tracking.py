"""MLflow experiments, the code version runs are tagged with, and runs that record why they failed."""

from __future__ import annotations

import functools
import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mlflow

from classifiers.store import sqlite_path
from training import locations

logger = logging.getLogger(__name__)

ERROR_TAG = "error"
MAX_TAG_LENGTH = 5000


def ensure_experiment(name: str, tags: dict[str, str]) -> str:
    """Id of the experiment, created on first use with its artifacts beside a SQLite store; tags set on it."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        for key, value in tags.items():
            if found.tags.get(key) != value:
                mlflow.MlflowClient().set_experiment_tag(found.experiment_id, key, value)
        return found.experiment_id
    database = sqlite_path(mlflow.get_tracking_uri())
    # Without an explicit location MLflow would put artifacts under the current directory.
    location = str(database.parent.resolve() / "artifacts" / name) if database is not None else None
    return mlflow.create_experiment(name, artifact_location=location, tags=tags)


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
            # Ctrl-C's KeyboardInterrupt has no message of its own.
            reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            mlflow.set_tag(ERROR_TAG, reason[:MAX_TAG_LENGTH])
            logger.error("run %s failed: %s", run.info.run_id, reason)
            raise
