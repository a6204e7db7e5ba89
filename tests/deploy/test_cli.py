"""deploy/cli.py: what `python -m deploy` prints and exits with, around the stack it drives (its commands' own checks
of the data folder, the ports a plain start keeps, errors in one line, a stop while a command runs said in one line).
The stack itself, a real PostgreSQL cluster and tracking server, is tested in test_stack.py."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from classifiers.store import PROJECT_ROOT
from deploy import cli as deploy_cli
from deploy.stack import DEFAULT_DATA_DIR, Ports, Stack, StackError, StackStatus, deploy_command
from tests.conftest import free_port


@pytest.fixture(autouse=True)
def _sigterm_handler_restored() -> Iterator[None]:
    """Each command installs its SIGTERM handler in this process: the next test gets pytest's back."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_a_hint_names_the_stacks_data_dir_unless_it_is_the_default(tmp_path: Path) -> None:
    assert deploy_command("stop", DEFAULT_DATA_DIR) == "python -m deploy stop"
    assert deploy_command("stop", tmp_path / "my stack") == f"python -m deploy stop --data-dir '{tmp_path / 'my stack'}'"


@pytest.mark.parametrize("command", ["status", "stop"])
def test_status_or_stop_of_a_folder_that_does_not_exist_or_is_a_file_says_so(tmp_path: Path, command: str) -> None:
    # A mistyped folder given to stop answered "stopped" while the real stack ran on.
    result = CliRunner().invoke(deploy_cli.app, [command, "--data-dir", str(tmp_path / "typo")])
    assert result.exit_code == 1
    assert f"error: no stack in {tmp_path / 'typo'}: the folder does not exist (a mistyped --data-dir? " in result.output

    (tmp_path / "a-file").write_text("not a folder")
    result = CliRunner().invoke(deploy_cli.app, [command, "--data-dir", str(tmp_path / "a-file")])
    assert result.exit_code == 1
    assert f"error: the data folder {tmp_path / 'a-file'} cannot be used: it is a file" in result.output


@pytest.mark.parametrize("command", ["status", "stop"])
def test_status_or_stop_of_a_folder_that_holds_other_files_and_none_of_a_stack_says_so(
    tmp_path: Path, command: str
) -> None:
    # `--data-dir "$UNSET"` (the current folder) or the folder above the stack's answered "stopped", code 0, while the
    # real stack ran on.
    for name in ("README.md", "deploy", "pyproject.toml", "tests"):
        (tmp_path / name).touch()

    result = CliRunner().invoke(deploy_cli.app, [command, "--data-dir", str(tmp_path)])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: no stack in {tmp_path}: the folder holds other files (README.md, deploy, pyproject.toml and 1 more) "
        "and none of the stack's (postgres/, stack.json, ...): most likely a mistyped --data-dir (an empty --data-dir "
        "is the current folder)"
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["README.md", "deploy", "pyproject.toml", "tests"]

    # A stack's folder may hold files of its operator's beside its own, and a new one none at all.
    (tmp_path / "stack.json").write_text('{"postgres": 6101, "mlflow": 6102}')
    (tmp_path / "empty").mkdir()
    for data in (tmp_path, tmp_path / "empty"):
        result = CliRunner().invoke(deploy_cli.app, [command, "--data-dir", str(data)])
        assert result.exit_code == (3 if command == "status" else 0), result.output  # status: a stopped stack
        assert result.stdout.splitlines()[1].startswith("mlflow    stopped")


def test_a_data_folder_under_home_written_with_a_tilde_is_the_home_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--data-dir=~/stack` keeps its `~` in the shell: a start made a folder named `~` in the current one.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home" / "stack").mkdir(parents=True)
    (tmp_path / "home" / "stack" / "stack.json").write_text('{"postgres": 6101, "mlflow": 6102}')

    result = CliRunner().invoke(deploy_cli.app, ["status", "--data-dir=~/stack"])

    assert result.exit_code == deploy_cli.NOT_RUNNING_EXIT_CODE, result.output  # found, and stopped
    assert result.stdout.splitlines()[-1] == f"data      {tmp_path / 'home' / 'stack'}"
    assert not (tmp_path / "~").exists()


def test_status_of_a_stack_that_is_not_running_reports_both_parts_stopped_on_its_saved_ports(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "stack.json").write_text('{"postgres": 6101, "mlflow": 6102}')

    result = CliRunner().invoke(deploy_cli.app, ["status", "--data-dir", str(data)])

    assert result.exit_code == deploy_cli.NOT_RUNNING_EXIT_CODE, result.output
    assert result.stdout.splitlines() == [
        "postgres  stopped  6101",
        "mlflow    stopped  http://127.0.0.1:6102",
        f"data      {data}",
    ]


def status_reported(folder: Path, monkeypatch: pytest.MonkeyPatch, postgres: bool, mlflow: bool) -> Result:
    """`status` of a stack in folder/data whose parts run as given (no stray processes)."""
    (folder / "data").mkdir()
    monkeypatch.setattr(Stack, "status", lambda self: StackStatus(self.data_dir, Ports(6101, 6102), postgres, mlflow))
    monkeypatch.setattr(Stack, "stray_processes", lambda self: [])
    return CliRunner().invoke(deploy_cli.app, ["status", "--data-dir", str(folder / "data")])


def test_a_tracking_server_whose_postgres_is_stopped_is_reported_as_unable_to_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = status_reported(tmp_path, monkeypatch, postgres=False, mlflow=True)

    assert result.exit_code == deploy_cli.NOT_RUNNING_EXIT_CODE, result.output
    assert result.stdout.splitlines()[:2] == [
        "postgres  stopped  6101",
        (
            "mlflow    running but cannot answer: its PostgreSQL is stopped "
            f"(`python -m deploy start --data-dir {tmp_path / 'data'}` starts it again)  http://127.0.0.1:6102"
        ),
    ]


@pytest.mark.parametrize(
    ("postgres", "mlflow", "code"), [(True, True, 0), (True, False, 3), (False, True, 3), (False, False, 3)]
)
def test_status_exits_0_only_when_both_parts_run_and_3_as_pg_ctl_does_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres: bool, mlflow: bool, code: int
) -> None:
    # It exited 0 for a stopped stack, so `python -m deploy status && python -m training ...` went on to fail later.
    result = status_reported(tmp_path, monkeypatch, postgres, mlflow)

    assert result.exit_code == code, result.output
    assert result.stdout.splitlines()[2] == f"data      {tmp_path / 'data'}"  # the report is printed whatever the code


def test_a_plain_start_keeps_the_ports_it_finds_and_an_option_replaces_only_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen: list[Ports] = []

    def start(self: Stack, ports: Ports, workers: int | None) -> StackStatus:
        chosen.append(ports)
        return StackStatus(self.data_dir, ports, True, True)

    monkeypatch.setattr(Stack, "status", lambda self: StackStatus(self.data_dir, Ports(6101, 6102), True, False))
    monkeypatch.setattr(Stack, "start", start)
    data = ["--data-dir", str(tmp_path / "data")]

    plain = CliRunner().invoke(deploy_cli.app, ["start", *data])
    moved = CliRunner().invoke(deploy_cli.app, ["start", *data, "--port", "6200"])

    assert (plain.exit_code, moved.exit_code) == (0, 0), plain.output + moved.output
    assert chosen == [Ports(6101, 6102), Ports(6101, 6200)]
    assert plain.stdout.splitlines()[-1] == "export MLFLOW_TRACKING_URI=http://127.0.0.1:6102"
    assert moved.stdout.splitlines()[-1] == "export MLFLOW_TRACKING_URI=http://127.0.0.1:6200"


def test_a_stack_error_ends_the_command_in_its_message_and_notes_with_code_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def start(self: Stack, ports: Ports, workers: int | None) -> StackStatus:
        error = StackError("the tracking server did not start")
        error.add_note("cleaning up after the failed start, stopping PostgreSQL failed too")
        raise error

    monkeypatch.setattr(Stack, "start", start)

    result = CliRunner().invoke(deploy_cli.app, ["start", "--data-dir", str(tmp_path / "data")])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: the tracking server did not start",
        "cleaning up after the failed start, stopping PostgreSQL failed too",
    ]
    assert result.stdout == ""


def closing_line(caplog: pytest.LogCaptureFixture) -> str:
    """The command's last logged line, which must be deploy's own."""
    last = caplog.records[-1]
    assert last.name == "deploy", caplog.text
    return last.getMessage()


def test_a_sigterm_during_a_stop_lets_the_stop_finish_then_exits_with_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    finished: list[bool] = []

    def stop(self: Stack) -> StackStatus:
        signal.raise_signal(signal.SIGTERM)  # a process manager's stop, while the tracking server stops
        finished.append(True)  # PostgreSQL stops after it
        return StackStatus(self.data_dir, Ports(6101, 6102), False, False)

    monkeypatch.setattr(Stack, "stop", stop)

    result = CliRunner().invoke(deploy_cli.app, ["stop", "--data-dir", str(data)])

    assert result.exit_code == 128 + signal.SIGTERM
    assert finished == [True]
    assert result.stdout.splitlines()[:2] == ["postgres  stopped  6101", "mlflow    stopped  http://127.0.0.1:6102"]
    # It said so in "error: stopped by SIGTERM (once the stop had finished)", not in the words of deploy's other stops.
    assert closing_line(caplog) == (
        f"stop stopped by SIGTERM once it had finished: the stack is stopped; runs, models and artifacts stay in {data}"
    )
    assert result.stderr == ""


# A stop while a command runs, made exact: the process sends itself the signal as the command calls a method of the
# stack, before the method runs.
SIGNALLED_CALL = """
import os, runpy, sys
from deploy.stack import Stack

signum, method = int(sys.argv.pop(1)), sys.argv.pop(1)
called = getattr(Stack, method)

def signalled(*args, **kwargs):
    os.kill(os.getpid(), signum)
    return called(*args, **kwargs)

setattr(Stack, method, signalled)
runpy.run_module("deploy", run_name="__main__", alter_sys=True)
"""

UNDONE = "what it had started is undone and the saved ports are as before it; what ran before it runs on"
# A hint names the stack's --data-dir: copied as printed, it acted on deploy/.data.
UNFINISHED = (
    "part of the stack may still run (`python -m deploy status --data-dir {data}` says which, "
    "`python -m deploy stop --data-dir {data}` stops it)"
)


@pytest.mark.parametrize(
    ("command", "method", "signum", "left"),
    [
        ("status", "status", signal.SIGINT, ": it changes nothing, the stack left as it was"),
        ("status", "status", signal.SIGTERM, ": it changes nothing, the stack left as it was"),
        # Its checks of a new folder, before anything starts: a stop anywhere in Stack.start is undone there.
        ("start", "_check_new_data_dir", signal.SIGINT, f": {UNDONE}"),
        ("start", "_check_new_data_dir", signal.SIGTERM, f": {UNDONE}"),
        # Ctrl-C ends a stop where it stands; SIGTERM waits for it.
        ("stop", "stop_tracking_server", signal.SIGINT, f" before it had finished: {UNFINISHED}"),
        ("stop", "stop_tracking_server", signal.SIGTERM, " once it had finished: the stack is stopped; runs, models and "
         "artifacts stay in {data}"),
    ],
    ids=["status", "status-sigterm", "start", "start-sigterm", "stop", "stop-sigterm"],
)
def test_a_stop_while_a_command_runs_ends_it_in_one_line_saying_what_it_left(
    tmp_path: Path, command: str, method: str, signum: int, left: str
) -> None:
    # It ended in the signal's exit code without a word (the stop sent SIGTERM in an "error: ..." line of its own).
    data = tmp_path / ("new" if command == "start" else "data")
    if command != "start":
        data.mkdir()
    ports = ["--postgres-port", str(free_port()), "--port", str(free_port())] if command == "start" else []
    result = subprocess.run(
        [sys.executable, "-c", SIGNALLED_CALL, str(int(signum)), method, command, "--data-dir", str(data), *ports],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )

    said = "interrupted (Ctrl-C)" if signum == signal.SIGINT else "stopped by SIGTERM"
    assert result.stderr.splitlines() == [f"ERROR deploy: {command} {said}{left.format(data=data)}"], result.stderr
    assert result.returncode == 128 + signum
    if command == "start":
        assert not data.exists()


def test_a_start_stopped_once_the_stack_has_started_says_it_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def report(status: StackStatus) -> None:
        signal.raise_signal(signal.SIGTERM)  # Stack.start has returned: nothing of it is undone any more

    monkeypatch.setattr(Stack, "status", lambda self: StackStatus(self.data_dir, Ports(6101, 6102), False, False))
    monkeypatch.setattr(Stack, "start", lambda self, ports, workers: StackStatus(self.data_dir, ports, True, True))
    monkeypatch.setattr(deploy_cli, "_report", report)

    result = CliRunner().invoke(deploy_cli.app, ["start", "--data-dir", str(tmp_path / "data")])

    assert result.exit_code == 128 + signal.SIGTERM
    assert closing_line(caplog) == "start stopped by SIGTERM after the stack had started: it runs on, at http://127.0.0.1:6102"


def undoing_failed(self: Stack, ports: Ports, workers: int | None) -> StackStatus:
    """Stack.start stopped, one of its cleanup's steps failing (a note on the stop, as Stack._undo_start adds)."""
    stop = KeyboardInterrupt()
    stop.add_note("cleaning up after the failed start, stopping PostgreSQL failed too: pg_ctl failed")
    raise stop


def undoing_cut_short(self: Stack, ports: Ports, workers: int | None) -> StackStatus:
    """Stack.start stopped, then stopped again while it undid what it had started (a second Ctrl-C ends the cleanup)."""
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise KeyboardInterrupt  # the second, raised in the cleanup: the first is its context


@pytest.mark.parametrize(
    ("start", "left"),
    [
        (undoing_failed, "undoing what it had started failed in part (said above)"),
        (undoing_cut_short, "undoing what it had started was cut short by this second stop"),
    ],
    ids=["failed", "cut-short"],
)
def test_a_start_stopped_whose_undoing_did_not_finish_does_not_say_it_was_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    start: Callable[[Stack, Ports, int], StackStatus], left: str
) -> None:
    monkeypatch.setattr(Stack, "start", start)

    with caplog.at_level(logging.INFO):
        result = CliRunner().invoke(deploy_cli.app, ["start", "--data-dir", str(tmp_path / "data")])

    assert result.exit_code == 128 + signal.SIGINT
    said = f"`python -m deploy status --data-dir {tmp_path / 'data'}` says what runs"
    assert closing_line(caplog) == f"start interrupted (Ctrl-C): {left}; {said}"
