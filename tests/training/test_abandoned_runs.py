import socket
import subprocess

import psutil
import pytest
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from typer.testing import CliRunner

from training.abandoned_runs import ABANDONED_REASON
from training.cli import app
from training.tracking import ERROR_TAG, PROCESS_TAG, this_process, tracked_run

runner = CliRunner()


def left_running(client: MlflowClient, experiment_id: str, parent: Run | None = None) -> Run:
    """A run as a training that lost its tracking server leaves it: created, never ended."""
    tags = {MLFLOW_PARENT_RUN_ID: parent.info.run_id} if parent is not None else None
    return client.create_run(experiment_id, tags=tags)


def status(client: MlflowClient, run: Run) -> str:
    return client.get_run(run.info.run_id).info.status


def test_fail_runs_marks_a_running_run_failed_with_the_reason_and_leaves_a_finished_one(store_uri: str) -> None:
    client = MlflowClient()
    experiment = client.create_experiment("abandoned")
    running, finished = left_running(client, experiment), left_running(client, experiment)
    client.set_terminated(finished.info.run_id)

    result = runner.invoke(app, ["fail-runs", running.info.run_id, finished.info.run_id])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"run {running.info.run_id}: RUNNING -> FAILED",
        f"run {finished.info.run_id}: already FINISHED, left as it is",
    ]
    assert status(client, running) == "FAILED"
    assert client.get_run(running.info.run_id).data.tags[ERROR_TAG] == ABANDONED_REASON
    assert status(client, finished) == "FINISHED"
    assert ERROR_TAG not in client.get_run(finished.info.run_id).data.tags


def test_fail_runs_on_a_sweep_parent_ends_its_running_children_and_keeps_an_error_tag_already_written(
    store_uri: str,
) -> None:
    client = MlflowClient()
    experiment = client.create_experiment("abandoned sweep")
    parent = left_running(client, experiment)
    client.set_tag(parent.info.run_id, ERROR_TAG, "ValueError: the real reason")
    running_child, finished_child = left_running(client, experiment, parent), left_running(client, experiment, parent)
    client.set_terminated(finished_child.info.run_id)
    stranger = left_running(client, experiment)  # another training's run, not named

    result = runner.invoke(app, ["fail-runs", parent.info.run_id, parent.info.run_id])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"run {parent.info.run_id}: RUNNING -> FAILED",
        f"run {running_child.info.run_id}: RUNNING -> FAILED",
    ]
    assert [status(client, run) for run in (parent, running_child, finished_child, stranger)] == [
        "FAILED", "FAILED", "FINISHED", "RUNNING"
    ]
    assert client.get_run(parent.info.run_id).data.tags[ERROR_TAG] == "ValueError: the real reason"


@pytest.mark.parametrize("missing", ["0123456789abcdef0123456789abcdef", "", "x' or '1'='1"])
def test_fail_runs_naming_a_run_that_does_not_exist_changes_nothing(store_uri: str, missing: str) -> None:
    client = MlflowClient()
    running = left_running(client, client.create_experiment("abandoned"))

    result = runner.invoke(app, ["fail-runs", running.info.run_id, missing])

    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: no run {missing!r} in this store: nothing was changed"
    assert status(client, running) == "RUNNING"
    assert ERROR_TAG not in client.get_run(running.info.run_id).data.tags


def test_fail_runs_needs_a_run_id(store_uri: str) -> None:
    result = runner.invoke(app, ["fail-runs"])

    assert result.exit_code == 2
    assert "Missing argument 'RUN_ID...'" in result.stderr


def test_fail_runs_leaves_a_deleted_run_as_it_is_and_still_ends_the_others(store_uri: str) -> None:
    client = MlflowClient()
    experiment = client.create_experiment("abandoned")
    running, deleted, ended = left_running(client, experiment), left_running(client, experiment), left_running(client, experiment)
    client.delete_run(deleted.info.run_id)
    client.set_terminated(ended.info.run_id)
    client.delete_run(ended.info.run_id)
    gone_experiment = client.create_experiment("deleted with its runs")
    in_deleted_experiment = left_running(client, gone_experiment)
    client.delete_experiment(gone_experiment)

    result = runner.invoke(
        app, ["fail-runs", deleted.info.run_id, running.info.run_id, in_deleted_experiment.info.run_id, ended.info.run_id]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"run {deleted.info.run_id}: deleted (RUNNING), left as it is (restore it in the MLflow UI to end it)",
        f"run {running.info.run_id}: RUNNING -> FAILED",
        f"run {in_deleted_experiment.info.run_id}: deleted (RUNNING), left as it is (restore it in the MLflow UI to end it)",
        # Nothing to end: restoring it was advised all the same.
        f"run {ended.info.run_id}: deleted (FINISHED), left as it is",
    ]
    assert [status(client, run) for run in (deleted, running, in_deleted_experiment)] == ["RUNNING", "FAILED", "RUNNING"]


def process_tag(process: subprocess.Popen[bytes]) -> str:
    """PROCESS_TAG as the process would have written it, running a run."""
    return f"{socket.gethostname()} {process.pid} {psutil.Process(process.pid).create_time()}"


def test_a_run_carries_the_process_that_runs_it(store_uri: str) -> None:
    with tracked_run(experiment_id=MlflowClient().create_experiment("tagged")) as run:
        pass
    assert MlflowClient().get_run(run.info.run_id).data.tags[PROCESS_TAG] == this_process()


def test_fail_runs_refuses_a_run_its_process_still_runs_and_changes_nothing(store_uri: str) -> None:
    client = MlflowClient()
    experiment = client.create_experiment("live")
    abandoned, live = left_running(client, experiment), left_running(client, experiment)
    trainer = subprocess.Popen(["sleep", "60"])
    try:
        client.set_tag(live.info.run_id, PROCESS_TAG, process_tag(trainer))
        # The same pid started at another time: a process that ended, its number since given to another.
        client.set_tag(abandoned.info.run_id, PROCESS_TAG, f"{socket.gethostname()} {trainer.pid} 12.5")

        result = runner.invoke(app, ["fail-runs", abandoned.info.run_id, live.info.run_id])

        # It was marked FAILED, then ended FINISHED by its training, which registered its model.
        assert result.exit_code == 1
        assert (
            f"error: run {live.info.run_id} is not abandoned: process {trainer.pid} (sleep 60) still runs it on this "
            "machine; stop that process (Ctrl-C, or kill it), which ends the run itself: nothing was changed"
        ) in result.output
        assert [status(client, run) for run in (abandoned, live)] == ["RUNNING", "RUNNING"]
    finally:
        trainer.kill()
        trainer.wait()

    result = runner.invoke(app, ["fail-runs", abandoned.info.run_id, live.info.run_id])

    assert result.exit_code == 0, result.output
    assert [status(client, run) for run in (abandoned, live)] == ["FAILED", "FAILED"]
