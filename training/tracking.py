"""MLflow experiments, the code version runs are tagged with, and runs that record why they failed."""

from __future__ import annotations

import functools
import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mlflow
from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_TIMEOUT
from mlflow.exceptions import MlflowException

from classifiers import store
from classifiers.errors import UserInputError
from classifiers.redaction import redact_uri
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
    database = store.sqlite_path(mlflow.get_tracking_uri())
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


class TrackingServerLost(UserInputError):
    """The tracking server stopped answering during a training: the runs it had open could not be ended."""

    def __init__(self, reason: str, run_ids: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.run_ids = run_ids
        left = ""
        if len(run_ids) > 1:
            left = f"; runs {', '.join(run_ids)} could not be marked FAILED and show as RUNNING"
        elif run_ids:
            left = f"; run {run_ids[0]} could not be marked FAILED and shows as RUNNING"
        if run_ids:
            left += " (serving and `promote` never take a version whose run did not finish)"
        super().__init__(
            f"the MLflow tracking server at {redact_uri(mlflow.get_tracking_uri())} stopped answering: {reason}{left}"
        )


@contextmanager
def tracked_run(**start_run: Any) -> Iterator[mlflow.ActiveRun]:
    """`mlflow.start_run` whose failure also leaves the error message as the run's `error` tag.

    A tracking server lost meanwhile ends it in TrackingServerLost, naming the runs left RUNNING.
    """
    lost: TrackingServerLost | None = None
    try:
        with mlflow.start_run(**start_run) as run:
            try:
                yield run
            except BaseException as err:
                lost_reason = err.reason if isinstance(err, TrackingServerLost) else store.lost_server_reason(err)
                if lost_reason is not None:
                    # Each call to the lost server (the tag, the run's end) would wait out minutes of retries.
                    _stop_retrying()
                    earlier = err.run_ids if isinstance(err, TrackingServerLost) else ()
                    lost = TrackingServerLost(lost_reason, (*earlier, run.info.run_id))
                    raise lost from err
                # Ctrl-C's KeyboardInterrupt has no message of its own.
                reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                mlflow.set_tag(ERROR_TAG, reason[:MAX_TAG_LENGTH])
                logger.error("run %s failed: %s", run.info.run_id, reason)
                raise
    # Raised by the server's calls at the run's start or end (the end of a run whose server was lost, too).
    except MlflowException as err:
        lost_reason = store.lost_server_reason(err)
        if lost_reason is None:
            raise
        raise (lost or TrackingServerLost(lost_reason)) from err


def _stop_retrying() -> None:
    os.environ[MLFLOW_HTTP_REQUEST_MAX_RETRIES.name] = "0"
    os.environ[MLFLOW_HTTP_REQUEST_TIMEOUT.name] = str(store.REACHABILITY_TIMEOUT_S)


@contextmanager
def retry_settings_kept() -> Iterator[None]:
    """Put back MLflow's HTTP retry settings, which a lost tracking server makes tracked_run turn off, when the block ends."""
    names = (MLFLOW_HTTP_REQUEST_MAX_RETRIES.name, MLFLOW_HTTP_REQUEST_TIMEOUT.name)
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
