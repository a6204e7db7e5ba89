"""deploy/cli.py: what `python -m deploy` prints and exits with, around the stack it drives (its commands' own checks
of the data folder, the ports a plain start keeps, errors in one line, a SIGTERM during a stop). The stack itself, a
real PostgreSQL cluster and tracking server, is tested in test_stack.py."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy import cli as deploy_cli
from deploy.stack import Ports, Stack, StackError, StackStatus


@pytest.fixture(autouse=True)
def _sigterm_handler_restored() -> Iterator[None]:
    """Each command installs its SIGTERM handler in this process: the next test gets pytest's back."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("command", ["status", "stop"])
def test_status_or_stop_of_a_folder_that_does_not_exist_or_is_a_file_says_so(tmp_path: Path, command: str) -> None:
    # A mistyped folder given to stop answered "stopped" while the real stack ran on.
    result = CliRunner().invoke(deploy_cli.app, [command, "--data-dir", str(tmp_path / "typo")])
    assert result.exit_code == 1
    assert f"error: no stack in {tmp_path / 'typo'}: the folder does not exist" in result.output

    (tmp_path / "a-file").write_text("not a folder")
    result = CliRunner().invoke(deploy_cli.app, [command, "--data-dir", str(tmp_path / "a-file")])
    assert result.exit_code == 1
    assert f"error: the data folder {tmp_path / 'a-file'} cannot be used: it is a file" in result.output


def test_status_of_a_stack_that_is_not_running_reports_both_parts_stopped_on_its_saved_ports(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "stack.json").write_text('{"postgres": 6101, "mlflow": 6102}')

    result = CliRunner().invoke(deploy_cli.app, ["status", "--data-dir", str(data)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "postgres  stopped  6101",
        "mlflow    stopped  http://127.0.0.1:6102",
        f"data      {data}",
    ]


def test_a_tracking_server_whose_postgres_is_stopped_is_reported_as_unable_to_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(Stack, "status", lambda self: StackStatus(self.data_dir, Ports(6101, 6102), False, True))
    monkeypatch.setattr(Stack, "stray_processes", lambda self: [])

    result = CliRunner().invoke(deploy_cli.app, ["status", "--data-dir", str(data)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "postgres  stopped  6101",
        (
            "mlflow    running but cannot answer: its PostgreSQL is stopped (`python -m deploy start` starts it again)  "
            "http://127.0.0.1:6102"
        ),
    ]


def test_a_plain_start_keeps_the_ports_it_finds_and_an_option_replaces_only_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen: list[Ports] = []

    def start(self: Stack, ports: Ports, workers: int) -> StackStatus:
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
    def start(self: Stack, ports: Ports, workers: int) -> StackStatus:
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


def test_a_sigterm_during_a_stop_lets_the_stop_finish_then_exits_with_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    assert result.stderr.strip() == "error: stopped by SIGTERM (once the stop had finished)"
