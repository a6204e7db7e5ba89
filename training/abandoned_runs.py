"""Runs whose training ended without ending them (a lost tracking server, a killed process), marked FAILED by hand.

MLflow's CLI and UI cannot change a run's status, so such a run would show as RUNNING for good.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import psutil
from mlflow.entities import LifecycleStage, Run, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from classifiers.errors import UserInputError
from training.stop_requests import Stopped
from training.tracking import ERROR_TAG, PROCESS_TAG, live_process, note_undone

logger = logging.getLogger(__name__)

# MLflow refuses an id it cannot look up (empty, or holding a quote) as INVALID_PARAMETER_VALUE before asking the store.
NO_SUCH_RUN = {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}

RUNNING = RunStatus.to_string(RunStatus.RUNNING)
FAILED = RunStatus.to_string(RunStatus.FAILED)
ABANDONED_REASON = (
    "marked FAILED by `python -m training fail-runs`: its training ended without ending the run "
    "(a lost tracking server or a killed process)"
)


@dataclass(frozen=True)
class RunEnding:
    """What fail-runs did to one run: `before` is its status when found; `failed` whether this call ended it; `deleted`
    whether it (or its experiment) was deleted, which leaves it as it is."""

    run_id: str
    before: str
    failed: bool
    deleted: bool = False

    def describe(self) -> str:
        """One line for the user."""
        if self.failed:
            return f"run {self.run_id}: {RUNNING} -> {FAILED}"
        if self.deleted and self.before == RUNNING:
            return f"run {self.run_id}: deleted ({self.before}), left as it is (restore it in the MLflow UI to end it)"
        if self.deleted:
            # Ended already: restoring it would leave nothing to end.
            return f"run {self.run_id}: deleted ({self.before}), left as it is"
        return f"run {self.run_id}: already {self.before}, left as it is"


def fail_abandoned_runs(client: MlflowClient, run_ids: list[str]) -> list[RunEnding]:
    """Mark each named run FAILED if it is RUNNING, and the RUNNING children of a named sweep parent with it.

    Every id is looked up before any run changes: one that names no run changes nothing. A run's `error` tag, when
    its training managed to write one, is kept; else it says why the run was marked.
    """
    named = [_find(client, run_id) for run_id in dict.fromkeys(run_ids)]
    runs = {run.info.run_id: run for run in named}
    for run in named:
        for child in _running_children(client, run):
            runs.setdefault(child.info.run_id, child)
    _refuse_live(runs.values())
    endings: list[RunEnding] = []
    try:
        for run in runs.values():
            endings.append(_fail(client, run))
    except (KeyboardInterrupt, Stopped) as stop:
        # For the command's closing line: the runs it ended, and those it leaves RUNNING (the one it was ending too).
        for ending in endings:
            if ending.failed:
                note_undone(stop, f"run {ending.run_id} marked {FAILED}")
        ended = {ending.run_id for ending in endings}
        for run_id, run in runs.items():
            if run_id not in ended and run.info.status == RUNNING and run.info.lifecycle_stage != LifecycleStage.DELETED:
                note_undone(stop, f"run {run_id} left {RUNNING}")
        raise
    return endings


def _refuse_live(runs: Iterable[Run]) -> None:
    """A RUNNING run whose process still runs on this machine is not abandoned: marked FAILED, it went on to end
    FINISHED and register its model, tagged as failed. Another machine's process cannot be seen from here."""
    for run in runs:
        if run.info.status != RUNNING:
            continue
        process = live_process(run.data.tags.get(PROCESS_TAG))
        if process is not None:
            raise UserInputError(
                f"run {run.info.run_id} is not abandoned: process {process.pid} ({_command(process)}) still runs it on "
                "this machine; stop that process (Ctrl-C, or kill it), which ends the run itself: nothing was changed"
            )


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()) or process.name()
    except psutil.Error:
        return "its command line is not readable"


def _find(client: MlflowClient, run_id: str) -> Run:
    try:
        return client.get_run(run_id)
    except MlflowException as err:
        if err.error_code in NO_SUCH_RUN:
            raise UserInputError(f"no run {run_id!r} in this store: nothing was changed") from err
        raise


def _running_children(client: MlflowClient, parent: Run) -> list[Run]:
    return client.search_runs(
        [parent.info.experiment_id],
        f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent.info.run_id}' and attributes.status = '{RUNNING}'",
    )


def _fail(client: MlflowClient, run: Run) -> RunEnding:
    run_id, status = run.info.run_id, run.info.status
    # MLflow changes nothing of a deleted run (nor of a run of a deleted experiment) until it is restored.
    if run.info.lifecycle_stage == LifecycleStage.DELETED:
        return RunEnding(run_id, status, failed=False, deleted=True)
    if status != RUNNING:
        return RunEnding(run_id, status, failed=False)
    if ERROR_TAG not in run.data.tags:
        client.set_tag(run_id, ERROR_TAG, ABANDONED_REASON)
    client.set_terminated(run_id, status=FAILED)
    logger.info("run %s marked %s", run_id, FAILED)
    return RunEnding(run_id, status, failed=True)
