"""MLflow experiments, the code version runs are tagged with, and runs that record why they failed."""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mlflow
import psutil
from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_TIMEOUT
from mlflow.exceptions import MlflowException

from classifiers import store
from classifiers.errors import UserInputError
from classifiers.redaction import redact_uri
from training import locations
from training.stop_requests import Stopped

logger = logging.getLogger(__name__)

ERROR_TAG = "error"
MAX_TAG_LENGTH = 5000
# The process that runs the run ("<host> <pid> <start time>"): fail-runs leaves a run alone while it still runs it.
PROCESS_TAG = "process"


# Tells the MLflow UI these are model-training experiments, so it opens on the runs table, not the GenAI view.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def deleted_experiment(name: str) -> str | None:
    """Why no run can be recorded in the experiment if it is deleted (with how to restore it); None otherwise."""
    found = mlflow.get_experiment_by_name(name)
    if found is None or found.lifecycle_stage != "deleted":
        return None
    restore = store.mlflow_command(mlflow.get_tracking_uri(), f"experiments restore --experiment-id {found.experiment_id}")
    return f"experiment '{name}' is deleted; restore it (`{restore}`) or name another"


def ensure_experiment(name: str, tags: dict[str, str], new_tags: dict[str, str] | None = None) -> str:
    """Id of the experiment, created on first use with its artifacts beside a SQLite store; `tags` set on it, and
    `new_tags` too where it is created here."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        for key, value in tags.items():
            if found.tags.get(key) != value:
                mlflow.MlflowClient().set_experiment_tag(found.experiment_id, key, value)
        return found.experiment_id
    database = store.sqlite_path(mlflow.get_tracking_uri())
    # Without an explicit location MLflow would put artifacts under the current directory.
    location = str(database.parent.resolve() / "artifacts" / name) if database is not None else None
    return mlflow.create_experiment(name, artifact_location=location, tags={**(new_tags or {}), **tags})


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
    """The tracking server stopped answering during a training: the runs it had open could not be ended.

    `stop` is the signal's exception when the training was being stopped meanwhile; its exit code is kept (130 for
    Ctrl-C, 143 for SIGTERM).
    """

    def __init__(self, reason: str, run_ids: tuple[str, ...] = (), stop: BaseException | None = None) -> None:
        self.reason = reason
        self.run_ids = run_ids
        self.stop = stop
        self.exit_code = stop.exit_code if isinstance(stop, Stopped) else 128 + signal.SIGINT if stop is not None else 1
        stopped = f"{stop if isinstance(stop, Stopped) else 'stopped by SIGINT (Ctrl-C)'}; " if stop is not None else ""
        left = ""
        if len(run_ids) > 1:
            left = f"; runs {', '.join(run_ids)} could not be marked FAILED and show as RUNNING"
        elif run_ids:
            left = f"; run {run_ids[0]} could not be marked FAILED and shows as RUNNING"
        if run_ids:
            left += (
                " (serving and `promote` never take a version whose run did not finish); once the server answers, "
                f"`python -m training fail-runs {' '.join(run_ids)}` marks {'them' if len(run_ids) > 1 else 'it'} FAILED"
            )
        super().__init__(
            f"{stopped}the MLflow tracking server at {redact_uri(mlflow.get_tracking_uri())} stopped answering: "
            f"{reason}{left}"
        )

    def left_running(self, run_id: str) -> TrackingServerLost:
        """The same loss, with one more run that could not be ended."""
        return TrackingServerLost(self.reason, (*self.run_ids, run_id), self.stop)


@contextmanager
def tracked_run(**start_run: Any) -> Iterator[mlflow.ActiveRun]:
    """`mlflow.start_run` whose failure also leaves the error message as the run's `error` tag.

    A tracking server lost meanwhile ends it in TrackingServerLost, naming the runs whose end could not be written.
    """
    failure: BaseException | None = None
    lost: TrackingServerLost | None = None
    run_id: str | None = None
    run_name: str | None = None
    try:
        with mlflow.start_run(**start_run) as run:
            run_id, run_name = run.info.run_id, run.info.run_name
            try:
                mlflow.set_tag(PROCESS_TAG, this_process())
                yield run
            except BaseException as err:
                failure = err
                lost = _lost_in(err) or _tag_failure(run_id, err)
                if lost is not None:
                    # The run's end would wait out minutes of retries too, only to fail.
                    _stop_retrying()
                raise
    except BaseException as err:
        if lost is None:
            # start_run's or end_run's own calls met the lost server.
            reason = store.lost_server_reason(err)
            if reason is None:
                if err is failure:  # and MLflow ended the run FAILED
                    note_undone(err, f"run {run_id} ({run_name}) marked FAILED")
                raise
            lost = TrackingServerLost(reason)
        # end_run raised instead of letting the failure through: the run was not ended.
        if run_id is not None and err is not failure:
            lost = lost.left_running(run_id)
        raise lost from err


def this_process() -> str:
    """This process as PROCESS_TAG names it: the start time tells it from a later process given the same pid."""
    return f"{socket.gethostname()} {os.getpid()} {psutil.Process().create_time()}"


def live_process(tag: str | None) -> psutil.Process | None:
    """The process of this machine that a PROCESS_TAG names, if it still runs; None for another machine's."""
    parts = (tag or "").rsplit(" ", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return None
    try:
        process = psutil.Process(int(parts[1]))
        return process if str(process.create_time()) == parts[2] and process.is_running() else None
    except psutil.Error:
        return None


def note_undone(err: BaseException, what: str) -> None:
    """Note on a stop (Ctrl-C, SIGTERM) what was ended, undone or left on its way out, for the command's closing line."""
    if isinstance(err, Stopped | KeyboardInterrupt):
        err.add_note(what)


def _lost_in(err: BaseException) -> TrackingServerLost | None:
    if isinstance(err, TrackingServerLost):
        return err
    reason = store.lost_server_reason(err)
    return TrackingServerLost(reason) if reason is not None else None


def failure_reason(err: BaseException) -> str:
    """What a failed run's `error` tag says of the exception that ended it."""
    if isinstance(err, KeyboardInterrupt):  # it has no message of its own
        return "stopped by SIGINT (Ctrl-C)"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _tag_failure(run_id: str, err: BaseException) -> TrackingServerLost | None:
    """Log the failure and write it as the run's `error` tag; the loss, if the tracking server is found gone."""
    reason = failure_reason(err)
    logger.error("run %s failed: %s", run_id, reason)
    stop = err if isinstance(err, Stopped | KeyboardInterrupt) else None
    try:
        # A training is often stopped because it hangs on a server that is gone: one quick look first, since the
        # tag's call would wait out minutes of retries before failing.
        store.check_reachable(mlflow.get_tracking_uri())
        mlflow.set_tag(ERROR_TAG, reason[:MAX_TAG_LENGTH])
    except store.RegistryUnreachable as gone:
        return TrackingServerLost(store.lost_server_reason(gone.__cause__ or gone) or gone.reason, stop=stop)
    except MlflowException as tag_error:
        lost_reason = store.lost_server_reason(tag_error)
        if lost_reason is None:
            raise
        return TrackingServerLost(lost_reason, stop=stop)
    return None


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
