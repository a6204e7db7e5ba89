"""The shared tracking stack: a real PostgreSQL cluster and `mlflow server`, started as users start it."""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mlflow
import psutil
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from classifiers.store import CHAMPION, PROJECT_ROOT
from deploy import cli as deploy_cli
from deploy import stack as stack_module
from deploy.stack import ARTIFACTS_VARIABLE, POSTGRES_SYSTEM_USER, Ports, Stack, StackError
from serving.app import create_app
from serving.settings import ServingSettings
from tests.conftest import RunningStack, answers, answers_within, free_port, refuses
from training import cli

# One worker runs every test of the session's tracking stack (tests/serving/test_replicas.py too), so one starts it.
pytestmark = pytest.mark.xdist_group("tracking_stack")

TOPIC_CONFIG = str(PROJECT_ROOT / "configs/topic/tfidf_logreg.yaml")
# What a start stopped while it ran says it left (deploy.cli)
UNDONE = "what it had started is undone and the saved ports are as before it; what ran before it runs on"
ITEMS = {"items": [{"text": "Israeli jets struck targets in southern Lebanon overnight.", "target": "Israel"}]}


def versions(name: str) -> list[str]:
    return sorted(version.version for version in mlflow.MlflowClient().search_model_versions(f"name = '{name}'"))


class CountingProxy(ThreadingHTTPServer):
    """A loopback HTTP proxy in front of the tracking server that notes every request it passes on."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream).netloc
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), Forwarding)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Forwarding(BaseHTTPRequestHandler):
    server: CountingProxy
    protocol_version = "HTTP/1.1"

    def forward(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {name: value for name, value in self.headers.items() if name.lower() not in ("host", "connection")}
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=60)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            content = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PATCH = do_DELETE = forward  # noqa: N815 (the names http.server looks up)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@contextmanager
def counting_proxy(upstream: str) -> Iterator[CountingProxy]:
    proxy = CountingProxy(upstream)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_start_is_idempotent_and_status_reports_both_services(tracking_stack: RunningStack) -> None:
    pid = tracking_stack.stack.pid_file.read_text()

    again = tracking_stack.cli("start")
    same_workers = tracking_stack.cli("start", "--workers", "1")
    # A running server keeps its workers: asked for others, start said nothing and the operator believed it had them.
    other_workers = tracking_stack.cli("start", "--workers", "3")
    status = tracking_stack.cli("status")

    assert again.returncode == 0, again.stderr
    assert same_workers.returncode == 0, same_workers.stderr
    assert other_workers.returncode == 1
    assert other_workers.stderr.strip().splitlines()[-1] == (
        f"error: the tracking server in {tracking_stack.stack.data_dir} already runs with 1 worker; stop it before "
        f"changing --workers (`python -m deploy stop --data-dir {tracking_stack.stack.data_dir}`)"
    )
    assert tracking_stack.stack.pid_file.read_text() == pid
    assert status.returncode == 0, status.stderr
    assert "postgres  running" in status.stdout and "mlflow    running" in status.stdout
    with urllib.request.urlopen(f"{tracking_stack.uri}/health", timeout=5) as response:
        assert response.status == 200



def test_status_and_a_plain_start_take_the_running_ports_when_the_saved_ones_are_gone(tracking_stack: RunningStack) -> None:
    # stack.json removed under a running stack (what its error about a damaged file advises): status named the default
    # ports, so a wrong MLFLOW_TRACKING_URI, and a plain start failed to connect to PostgreSQL on the default port.
    stack = tracking_stack.stack
    saved = stack.ports_file.read_text()
    ports = stack.saved_ports()
    stack.ports_file.unlink()
    try:
        status = tracking_stack.cli("status")
        started = tracking_stack.cli("start")
        rewritten = stack.ports_file.read_text() if stack.ports_file.exists() else None
    finally:
        stack.ports_file.write_text(saved)

    assert f"postgres  running  {ports.postgres}" in status.stdout
    assert f"mlflow    running  {tracking_stack.uri}" in status.stdout
    assert started.returncode == 0, started.stderr
    assert f"export MLFLOW_TRACKING_URI={tracking_stack.uri}" in started.stdout
    assert rewritten is not None and json.loads(rewritten) == {"postgres": ports.postgres, "mlflow": ports.mlflow}

def test_models_trained_through_the_server_are_served_and_survive_a_restart(
    tracking_stack: RunningStack, stack_uri: str
) -> None:
    settings = ServingSettings(tracking_uri=stack_uri)
    with TestClient(create_app(settings)) as client:
        before = client.post("/v1/classify", json=ITEMS).json()

    stopped = tracking_stack.cli("stop")
    assert "postgres  stopped" in stopped.stdout and "mlflow    stopped" in stopped.stdout
    restarted = tracking_stack.cli("start")
    assert restarted.returncode == 0, restarted.stderr

    client_after = mlflow.MlflowClient()
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready").json()
        after = client.post("/v1/classify", json=ITEMS).json()

    assert before["models"] == {"topic": {"name": "news-topic", "version": "1"}, "stance": {"name": "news-stance", "version": "1"}}
    assert after == before
    assert client_after.get_model_version_by_alias("news-topic", CHAMPION).version == "1"
    # The artifacts were stored by the server's proxy, in the stack's folder.
    assert any(tracking_stack.stack.artifacts.rglob("MLmodel"))
    assert ready["registry"]["reachable"] is True


def test_training_fails_fast_with_nothing_registered_when_postgres_is_down(
    tracking_stack: RunningStack, stack_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered = versions("news-topic")
    # Any retry MLflow made of the server's 503 would come at once and pass the proxy, instead of after minutes.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    with counting_proxy(stack_uri) as proxy:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.uri)
        tracking_stack.stack.stop_postgres()
        try:
            result = CliRunner().invoke(cli.app, ["train", TOPIC_CONFIG])
            status = tracking_stack.cli("status")
        finally:
            assert tracking_stack.cli("start").returncode == 0

    assert result.exit_code == 1
    assert f"the MLflow tracking server at {proxy.uri} cannot be used" in result.output
    assert "(a tracking server answers 503 while its backend database is down)" in result.output
    # Fails fast: the one reachability check, not retried, and nothing after it.
    assert proxy.requests == ["GET /api/2.0/mlflow/registered-models/search?max_results=1"]
    assert versions("news-topic") == registered
    # status says why the server that runs fails, and how to mend it, and exits 3 as pg_ctl status does
    assert status.returncode == 3, status.stderr
    assert "postgres  stopped" in status.stdout
    mend = f"(`python -m deploy start --data-dir {tracking_stack.stack.data_dir}` starts it again)"
    assert f"mlflow    running but cannot answer: its PostgreSQL is stopped {mend}" in status.stdout


def test_the_server_keeps_serving_while_the_registry_is_away_and_sees_it_return(
    tracking_stack: RunningStack, stack_uri: str
) -> None:
    # Polling faster than a server may (NEWS_POLL_SECONDS is 0 or at least 1), so the test waits less.
    settings = ServingSettings(tracking_uri=stack_uri).model_copy(update={"poll_seconds": 0.3})
    with TestClient(create_app(settings)) as client:
        tracking_stack.stack.stop_tracking_server()
        try:
            away = wait_for_registry(client, reachable=False)
            served = client.post("/v1/classify", json=ITEMS)
        finally:
            assert tracking_stack.cli("start").returncode == 0
        back = wait_for_registry(client, reachable=True)

    assert served.status_code == 200
    assert served.json()["models"]["topic"] == {"name": "news-topic", "version": "1"}
    assert away["status"] == "ready"
    assert f"the MLflow tracking server at {stack_uri} cannot be used" in away["registry"]["problem"]
    assert back["registry"]["problem"] is None


def wait_for_registry(client: TestClient, reachable: bool, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        ready = client.get("/ready").json()
        if ready["registry"]["reachable"] is reachable:
            return ready
        assert time.monotonic() < deadline, f"the registry never became reachable={reachable}: {ready}"
        time.sleep(0.2)


@pytest.mark.parametrize("command", [["start", "--postgres-port", "1"], ["start", "--port", "1"]])
def test_a_start_on_other_ports_while_running_is_refused(tracking_stack: RunningStack, command: list[str]) -> None:
    result = tracking_stack.cli(*command)

    assert result.returncode == 1
    ports = tracking_stack.stack.saved_ports()
    assert f"already runs on ports {ports.postgres} (PostgreSQL) and {ports.mlflow} (MLflow); stop it" in result.stderr



def test_with_only_postgres_running_the_tracking_server_can_move_to_the_port_an_error_advises(
    tracking_stack: RunningStack,
) -> None:
    # "the MLflow port is already in use: choose another with --port", then that start was refused: "already runs on
    # ports ... and <the taken port> (MLflow); stop it before changing ports", though no tracking server ran.
    stack = tracking_stack.stack
    original = stack.saved_ports()
    stack.stop_tracking_server()
    try:
        with socket.socket() as taken:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            taken.bind(("127.0.0.1", original.mlflow))
            taken.listen()
            refused = tracking_stack.cli("start")
            other = free_port()
            moved = tracking_stack.cli("start", "--port", str(other))
            status = stack.status()
        stack.stop_tracking_server()
    finally:
        assert tracking_stack.cli("start", "--port", str(original.mlflow)).returncode == 0

    assert refused.returncode == 1
    assert "the MLflow port, is already in use: choose another with --port" in refused.stderr
    assert moved.returncode == 0, moved.stderr
    assert status.mlflow_running and status.ports == Ports(original.postgres, other)

def test_ui_links_to_the_tracking_server_instead_of_starting_another(
    stack_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="training"):
        result = CliRunner().invoke(cli.app, ["ui", "--port", "1"])

    assert result.exit_code == 0, result.output
    # The tracking server serves the UI itself; the command returns instead of starting one on --port.
    assert f"MLflow UI for {stack_uri} at {stack_uri}" in caplog.text
    assert f"{stack_uri}/#/experiments/" in caplog.text


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as its own system user only when the command runs as root")
def test_as_root_a_data_folder_postgres_cannot_enter_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    stack = Stack(private / "data")

    with pytest.raises(StackError, match=rf"'postgres' system user .* cannot enter {private} \(mode drwx------\)"):
        stack.start(Ports(postgres=free_port(), mlflow=free_port()))
    assert not stack.data_dir.exists()  # not even the folder: no password file, no half-made cluster


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as its own system user only when the command runs as root")
def test_as_root_an_existing_stack_under_a_folder_made_private_is_named_not_called_stopped() -> None:
    with stack_postgres_can_reach() as stack:
        stack.start(Ports(postgres=free_port(), mlflow=free_port()))
        above = stack.data_dir.parent
        above.chmod(0o700)
        try:
            # The cluster stays where it is: the advice is the folder's mode, not another --data-dir.
            message = rf"'postgres' system user .* cannot enter {above} \(mode drwx------\): let others enter"
            # pg_ctl could not read the running cluster: status called it stopped and stop left it running.
            with pytest.raises(StackError, match=message):
                stack.status()
            with pytest.raises(StackError, match=message):
                stack.stop()
        finally:
            above.chmod(0o755)
        assert stack.status().postgres_running
        stack.stop()
        above.chmod(0o700)
        try:
            with pytest.raises(StackError, match=message):
                stack.start()
        finally:
            above.chmod(0o755)


def test_a_pid_file_naming_another_process_is_not_taken_for_the_server(tmp_path: Path) -> None:
    # What a reboot or a killed server leaves: the saved pid now belongs to some other process.
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        stack = Stack(tmp_path / "data")
        stack.data_dir.mkdir(parents=True)
        stack.pid_file.write_text(str(stranger.pid))

        assert not stack.status().mlflow_running
        stack.stop_tracking_server()
        assert stranger.poll() is None  # not signalled
    finally:
        stranger.kill()
        stranger.wait()


def test_a_group_whose_leader_is_gone_counts_only_if_a_member_serves_this_stacks_mlflow(tmp_path: Path) -> None:
    # The saved pid's group outlives its leader; a process in it that merely names mlflow is not the server.
    stack = Stack(tmp_path / "data")
    stack.data_dir.mkdir(parents=True)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", "mlflow.server.fastapi_app:app"]
    leader = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.Popen(sys.argv[1:])", *sleeper],
        start_new_session=True,
    )
    leader.wait()  # gone; its child stays in the group
    try:
        stack.pid_file.write_text(str(leader.pid))
        assert not stack.status().mlflow_running
        stack.stop_tracking_server()
        assert any(
            "mlflow.server.fastapi_app:app" in " ".join(process.cmdline()) for process in group_members(leader.pid)
        )  # not signalled
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)


def group_members(group: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(process.pid) == group:
                members.append(process)
    return members


def test_the_artifacts_variable_is_mlflows() -> None:
    from mlflow.server.constants import ARTIFACTS_DESTINATION_ENV_VAR

    assert ARTIFACTS_VARIABLE == ARTIFACTS_DESTINATION_ENV_VAR


def test_a_cluster_is_run_by_the_postgresql_version_that_made_it_where_several_are_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After a distribution upgrade installs PostgreSQL 17 beside 15, the newest could not run a cluster 15 made
    # ("database files are incompatible with server"): every start failed.
    installed = tmp_path / "postgresql"
    for version in ("15", "17"):
        (installed / version / "bin").mkdir(parents=True)
        (installed / version / "bin" / "pg_ctl").touch()
    monkeypatch.setattr(stack_module, "POSTGRES_VERSIONS", installed)
    monkeypatch.setattr(shutil, "which", lambda program: None)  # not on PATH, as on Debian
    ran: list[str] = []

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        ran.append(command[0])
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    stack = Stack(tmp_path / "data")
    stack.cluster.mkdir(parents=True)
    stack.postmaster_pid_file.touch()

    stack._postgres_running()  # a new cluster's binaries: the newest
    (stack.cluster / "PG_VERSION").write_text("15\n")
    stack._postgres_running()
    (stack.cluster / "PG_VERSION").write_text("14\n")  # not installed: the newest, whose log names the mismatch
    stack._postgres_running()

    assert ran == [str(installed / v / "bin" / "pg_ctl") for v in ("17", "15", "17")]


def test_a_port_in_use_is_named_before_anything_is_started_or_written(tmp_path: Path) -> None:
    stack = Stack(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            deploy_cli.app, ["start", "--data-dir", str(stack.data_dir), "--postgres-port", str(free_port()), "--port", str(port)]
        )
    assert result.exit_code == 1
    assert f"error: 127.0.0.1:{port}, the MLflow port, is already in use: choose another with --port" in result.output
    assert not stack.data_dir.exists()  # no cluster, no saved ports


def test_an_unusable_data_folder_or_damaged_stack_files_end_in_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    ports = ["--postgres-port", str(free_port()), "--port", str(free_port())]
    result = CliRunner().invoke(deploy_cli.app, ["start", "--data-dir", str(a_file), *ports])
    assert result.exit_code == 1
    assert f"error: the data folder {a_file} cannot be used: it is a file" in result.output

    data = tmp_path / "data"
    data.mkdir()
    (data / "mlflow.pid").write_text("")  # cut short by a crash
    (data / "stack.json").write_text('{"postgres": 5433')
    for command in ("status", "start", "stop"):
        result = CliRunner().invoke(deploy_cli.app, [command, "--data-dir", str(data)])
        assert result.exit_code == 1, (command, result.output)
        stopped = f"the stack in {data} is stopped, but " if command == "stop" else ""
        assert f"error: {stopped}{data / 'stack.json'} is not the stack's saved ports" in result.output
    (data / "stack.json").unlink()
    assert not Stack(data).status().mlflow_running


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_server_whose_parent_was_killed_still_counts_as_running_and_stop_ends_its_workers(
    tmp_path: Path, workers: str
) -> None:
    # `kill -9` on the pid in mlflow.pid leaves uvicorn's worker serving; status said stopped and start then found
    # its own port taken, while stop left the worker running. With --workers 2, `pkill -9 -f mlflow` (the leader and
    # its uvicorn) left the workers uvicorn spawns, whose command line is multiprocessing's alone, serving unseen.
    stack = Stack(tmp_path / "data")
    stack.data_dir.mkdir(parents=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
         "--artifacts-destination", str(stack.artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", workers],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    stack.pid_file.write_text(str(server.pid))
    health = f"http://127.0.0.1:{port}/health"
    try:
        deadline = time.monotonic() + 120
        while not answers(health):
            assert server.poll() is None and time.monotonic() < deadline, "the MLflow server did not start"
            time.sleep(0.5)
        if workers == "2":
            for process in group_members(server.pid):
                if "mlflow" in " ".join(process.cmdline()) and process.pid != server.pid:
                    process.kill()
        server.kill()  # the parent alone
        server.wait()
        assert answers_within(health, 30)  # its worker still serves

        assert stack.status().mlflow_running
        stack.stop_tracking_server()

        assert refuses(health)
        assert not stack.pid_file.exists()
        assert not stack.status().mlflow_running
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--postgres-port", "7001", "--port", "7001"], "--postgres-port and --port are both 7001"),
        (["--port", "70000"], "Invalid value for '--port': Input should be less than or equal to 65535"),
        (["--port", "0"], "Invalid value for '--port': Input should be greater than or equal to 1"),
    ],
)
def test_ports_that_cannot_work_are_refused_before_anything_starts(
    tmp_path: Path, options: list[str], message: str
) -> None:
    data = tmp_path / "data"
    result = CliRunner().invoke(deploy_cli.app, ["start", "--data-dir", str(data), *options])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()), result.output
    assert not data.exists()


def test_saved_ports_that_are_not_port_numbers_are_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for saved in ('{"postgres": "abc", "mlflow": 5000}', '{"postgres": 5433, "mlflow": 70000}'):
        (data / "stack.json").write_text(saved)
        result = CliRunner().invoke(deploy_cli.app, ["status", "--data-dir", str(data)])
        assert result.exit_code == 1, result.output
        assert f"error: {data / 'stack.json'} is not the stack's saved ports" in result.output


@contextmanager
def stack_postgres_can_reach() -> Iterator[Stack]:
    """A stack in a new folder outside pytest's private temporary one, which PostgreSQL's own system user cannot enter
    when the tests run as root (as the session's stack is made); stopped and removed when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="news-stack-"))
    folder.chmod(0o755)
    stack = Stack(folder / "data")
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(folder, ignore_errors=True)


def start_command(stack: Stack) -> list[str]:
    """`python -m deploy start` of the stack on free ports."""
    return [sys.executable, "-m", "deploy", "start", "--data-dir", str(stack.data_dir),
            "--postgres-port", str(free_port()), "--port", str(free_port())]


@pytest.mark.slow
def test_a_start_that_fails_after_starting_postgres_stops_it_and_saves_no_ports() -> None:
    with stack_postgres_can_reach() as stack:
        # The tracking server cannot start: a file stands where its artifacts folder goes.
        stack.data_dir.mkdir(parents=True)
        stack.artifacts.write_text("a file")

        result = CliRunner().invoke(deploy_cli.app, start_command(stack)[3:])

        assert result.exit_code == 1
        assert f"error: the artifacts folder {stack.artifacts} cannot be used: File exists" in result.output
        assert "Traceback" not in result.output
        status = stack.status()
        assert not status.postgres_running and not status.mlflow_running
        assert not stack.ports_file.exists()  # a plain start would not try these ports again


@pytest.mark.slow
def test_two_starts_at_once_on_a_new_folder_leave_one_working_stack() -> None:
    # Each wrote the new cluster's password; the one that lost the race left a password that no longer opened it,
    # and every later start failed.
    with stack_postgres_can_reach() as stack:
        command = start_command(stack)
        starts = [subprocess.Popen(command, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        errors = [start.communicate(timeout=300)[1] for start in starts]
        assert [start.returncode for start in starts] == [0, 0], errors

        stack.stop()
        again = subprocess.run(command[:6], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert stack.status().mlflow_running


@pytest.mark.slow
def test_with_only_the_tracking_server_running_postgres_cannot_move_to_another_port() -> None:
    # The server keeps the store it was started with: PostgreSQL started on the new port, status said running, and
    # every request of the server failed (500) until the whole stack was stopped.
    with stack_postgres_can_reach() as stack:
        command = start_command(stack)
        assert CliRunner().invoke(deploy_cli.app, command[3:]).exit_code == 0
        stack.stop_postgres()
        other = str(free_port())

        result = CliRunner().invoke(deploy_cli.app, [*command[3:6], "--postgres-port", other])

        assert result.exit_code == 1, result.output
        assert (
            f"error: the tracking server in {stack.data_dir} keeps its store on PostgreSQL's port {command[7]}: start "
            f"PostgreSQL there (--postgres-port {command[7]}), or stop the stack before changing --postgres-port"
        ) in result.output
        status = stack.status()
        assert (status.postgres_running, status.mlflow_running) == (False, True)
        # The advice works: PostgreSQL back on the server's port, the stack whole again.
        assert CliRunner().invoke(deploy_cli.app, command[3:]).exit_code == 0
        assert stack.status().postgres_running


@pytest.mark.slow
def test_a_stack_json_damaged_under_a_running_stack_fails_neither_status_nor_stop(caplog: pytest.LogCaptureFixture) -> None:
    # Both read the file first: status failed on a stack that ran whole, and stop, having stopped everything, ended
    # in the file's error and exit code 1, which a script took for a failed stop.
    with stack_postgres_can_reach() as stack:
        command = start_command(stack)
        assert CliRunner().invoke(deploy_cli.app, command[3:]).exit_code == 0
        stack.ports_file.write_text('{"postgres": 5433')

        status = CliRunner().invoke(deploy_cli.app, ["status", *command[4:6]])
        stop = CliRunner().invoke(deploy_cli.app, ["stop", *command[4:6]])

        assert status.exit_code == 0, status.output
        assert f"mlflow    running  http://127.0.0.1:{command[9]}" in status.output
        assert stop.exit_code == 0, stop.output
        assert f"{stack.ports_file} is not the stack's saved ports" in caplog.text  # said, for the next start
        assert f"postgres  stopped  {command[7]}" in stop.output
        stack.ports_file.unlink()
        after = stack.status()
        assert not after.postgres_running and not after.mlflow_running


class HealthyStranger(BaseHTTPRequestHandler):
    """Another tracking server: it answers the health check as every one does."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server looks up)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.mark.slow
def test_a_tracking_port_taken_as_the_stack_starts_is_named_and_the_taker_is_not_reported_as_its_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two stacks started at once on one port both found it free; the second's server failed to bind, the first's
    # answered the second's health check, and the second was reported running (its MLFLOW_TRACKING_URI the first's).
    strangers: list[ThreadingHTTPServer] = []
    ensure_database = Stack._ensure_database

    def port_taken_meanwhile(self: Stack, port: int) -> None:
        ensure_database(self, port)
        stranger = ThreadingHTTPServer(("127.0.0.1", self.saved_ports().mlflow), HealthyStranger)
        threading.Thread(target=stranger.serve_forever, daemon=True).start()
        strangers.append(stranger)

    monkeypatch.setattr(Stack, "_ensure_database", port_taken_meanwhile)
    with stack_postgres_can_reach() as stack:
        command = start_command(stack)
        try:
            result = CliRunner().invoke(deploy_cli.app, command[3:])
        finally:
            for stranger in strangers:
                stranger.shutdown()
                stranger.server_close()
        assert strangers
        assert result.exit_code == 1, result.output
        assert (
            f"error: 127.0.0.1:{command[-1]}, the MLflow port, was taken by another process as this stack started: choose "
            f"another with --port (the MLflow log: {stack.mlflow_log})"
        ) in result.output
        assert "last lines of" not in result.output
        status = stack.status()
        assert not status.postgres_running and not status.mlflow_running
        assert not stack.ports_file.exists()


@pytest.mark.slow
def test_a_postgres_port_taken_as_the_stack_starts_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = socket.socket()
    start_postgres = Stack._start_postgres

    def port_taken_meanwhile(self: Stack, port: int) -> None:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        start_postgres(self, port)

    monkeypatch.setattr(Stack, "_start_postgres", port_taken_meanwhile)
    with taken, stack_postgres_can_reach() as stack:
        command = start_command(stack)
        result = CliRunner().invoke(deploy_cli.app, command[3:])
        assert result.exit_code == 1, result.output
        assert (
            f"error: 127.0.0.1:{command[7]}, the PostgreSQL port, was taken by another process as this stack started: "
            f"choose another with --postgres-port (the PostgreSQL log: {stack.postgres_log})"
        ) in result.output
        assert "last lines of" not in result.output  # before: pg_ctl's failure and 15 lines of its log
        assert not stack.status().postgres_running


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_start_interrupted_once_postgres_is_up_stops_what_it_started_and_keeps_the_saved_ports(stop: signal.Signals) -> None:
    # Ctrl-C while the tracking server started left both running under ports that status did not show; SIGTERM (a
    # process manager's stop) killed the command and left them running until 2026-12-05.
    with stack_postgres_can_reach() as stack:
        stack.data_dir.mkdir(parents=True)
        saved = '{"postgres": 5433, "mlflow": 5000}'
        stack.ports_file.write_text(saved)
        start = subprocess.Popen(
            start_command(stack), cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 120
        while not stack.pid_file.exists():
            assert start.poll() is None and time.monotonic() < deadline, start.stderr.read() if start.stderr else ""
            time.sleep(0.1)
        start.send_signal(stop)
        _, errors = start.communicate(timeout=120)

        assert start.returncode == (130 if stop == signal.SIGINT else 143)
        status = stack.status()
        assert not status.postgres_running and not status.mlflow_running
        assert stack.ports_file.read_text() == saved
        # It ended without a word on what it had done.
        said = "interrupted (Ctrl-C)" if stop == signal.SIGINT else "stopped by SIGTERM"
        assert errors.splitlines()[-1] == f"ERROR deploy: start {said}: {UNDONE}", errors


# A start stopped as it reads the status of the stack it has just started (its last step), made exact: the process
# sends itself Ctrl-C as Stack.status is first called after the tracking server has started.
SIGNALLED_LAST_STATUS = """
import os, runpy, signal
from deploy.stack import Stack

start_mlflow, status = Stack._start_mlflow, Stack.status

def started(self, *args, **kwargs):
    start_mlflow(self, *args, **kwargs)
    Stack.status = signalled

def signalled(self):
    Stack.status = status
    os.kill(os.getpid(), signal.SIGINT)
    return status(self)

Stack._start_mlflow = started
runpy.run_module("deploy", run_name="__main__", alter_sys=True)
"""


@pytest.mark.slow
def test_a_start_interrupted_in_its_last_step_stops_what_it_started_too() -> None:
    # Stack.start read the new stack's status after its cleanup's block: a Ctrl-C there left the stack running, and
    # the command that ended in exit code 130 without a word had in fact started it.
    with stack_postgres_can_reach() as stack:
        start = subprocess.run(
            [sys.executable, "-c", SIGNALLED_LAST_STATUS, *start_command(stack)[3:]],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
        )

        assert start.returncode == 130, start.stderr
        status = stack.status()
        assert not status.postgres_running and not status.mlflow_running
        assert not stack.ports_file.exists()
        assert start.stderr.splitlines()[-1] == f"ERROR deploy: start interrupted (Ctrl-C): {UNDONE}", start.stderr


@pytest.mark.slow
def test_a_missing_password_file_or_pg_version_is_named_and_the_password_is_never_replaced() -> None:
    # A missing postgres.password ended a start in a traceback once PostgreSQL was up; a cluster missing its
    # PG_VERSION had its password replaced by a new one before initdb refused the folder, so that the cluster, once
    # repaired, no longer opened with it.
    with stack_postgres_can_reach() as stack:
        command = start_command(stack)
        assert subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, timeout=300).returncode == 0
        stack.stop()
        password = stack.password_file.read_text()

        stack.password_file.unlink()
        result = CliRunner().invoke(deploy_cli.app, command[3:])
        assert result.exit_code == 1
        assert f"error: the PostgreSQL password file {stack.password_file} cannot be read (No such file or directory)" in result.output
        assert "Traceback" not in result.output
        status = stack.status()
        assert not status.postgres_running and not status.mlflow_running
        stack.password_file.write_text(password)

        version = stack.cluster / "PG_VERSION"
        kept = version.read_bytes()
        version.unlink()
        result = CliRunner().invoke(deploy_cli.app, command[3:])
        assert result.exit_code == 1
        assert f"error: {stack.cluster} is not empty but holds no PostgreSQL cluster (its PG_VERSION is missing)" in result.output
        assert stack.password_file.read_text() == password

        version.write_bytes(kept)
        again = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_a_postmaster_pid_naming_another_process_is_not_taken_for_postgres_nor_signalled() -> None:
    # What a crash or a reboot leaves: postmaster.pid names a number another process of PostgreSQL's user now holds.
    # pg_ctl asks only whether it is alive: status said "postgres running", start then failed to connect, and stop
    # sent the stranger PostgreSQL's shutdown signal.
    with stack_postgres_can_reach() as stack:
        command = start_command(stack)
        assert subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, timeout=300).returncode == 0
        lock = stack.cluster / "postmaster.pid"
        contents = lock.read_text().split("\n")
        stack.stop()
        user = POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None
        stranger = subprocess.Popen(["sleep", "120"], user=user, start_new_session=True)
        try:
            lock.write_text("\n".join([str(stranger.pid), *contents[1:]]))
            if user is not None:
                shutil.chown(lock, user, user)

            status = CliRunner().invoke(deploy_cli.app, ["status", "--data-dir", str(stack.data_dir)])
            stopped = CliRunner().invoke(deploy_cli.app, ["stop", "--data-dir", str(stack.data_dir)])
            assert "postgres  stopped" in status.output
            assert stopped.exit_code == 0, stopped.output
            assert stranger.poll() is None  # not signalled

            started = subprocess.run(command[:6], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
            assert started.returncode == 0, started.stderr
            assert f"removing {lock}: it names process {stranger.pid}, which is not this cluster's PostgreSQL" in started.stderr
            assert stack.status().postgres_running and stack.status().mlflow_running
            assert stranger.poll() is None
        finally:
            stranger.kill()
            stranger.wait()


@pytest.mark.slow
def test_a_data_folder_removed_under_a_running_stack_leaves_its_processes_named_and_stoppable() -> None:
    # status and stop said "the folder does not exist" while PostgreSQL and the tracking server ran on, and a start
    # called their ports "in use" by something else: nothing the command offered could stop them.
    with stack_postgres_can_reach() as stack:
        command = start_command(stack)
        assert subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, timeout=300).returncode == 0
        ports = stack.saved_ports()
        postmaster = int((stack.cluster / "postmaster.pid").read_text().split("\n", 1)[0])
        server = int(stack.pid_file.read_text())
        try:
            shutil.rmtree(stack.data_dir)
            folder = ["--data-dir", str(stack.data_dir)]

            status = CliRunner().invoke(deploy_cli.app, ["status", *folder])
            started = CliRunner().invoke(deploy_cli.app, ["start", *folder])
            stopped = CliRunner().invoke(deploy_cli.app, ["stop", *folder])

            running = f"PostgreSQL (pid {postmaster}) and the tracking server (pid {server})"
            assert status.exit_code == 1
            assert f"error: no stack in {stack.data_dir}: the folder does not exist, yet {running} started" in status.output
            assert started.exit_code == 1
            assert f"error: {running} started from {stack.data_dir} still run" in " ".join(started.output.split())
            assert stopped.exit_code == 0, stopped.output
            assert not psutil.pid_exists(postmaster) and not psutil.pid_exists(server)
            assert refuses(f"http://127.0.0.1:{ports.mlflow}/health")
            assert not stack.data_dir.exists()  # stop made nothing
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster, signal.SIGQUIT)


@pytest.mark.slow
def test_a_first_start_stopped_while_the_cluster_is_made_leaves_none_and_the_next_start_works() -> None:
    # initdb writes PG_VERSION first: a first start stopped during initdb left a half-made cluster that passed for
    # one, and every later start failed on it (PostgreSQL crash-looping on missing catalogs).
    with stack_postgres_can_reach() as stack:
        command = start_command(stack)
        start = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not (stack.cluster / "PG_VERSION").exists():
            assert start.poll() is None and time.monotonic() < deadline, start.stderr.read() if start.stderr else ""
            time.sleep(0.01)
        start.send_signal(signal.SIGTERM)
        _, errors = start.communicate(timeout=120)

        assert start.returncode == 143
        assert errors.splitlines()[-1] == f"ERROR deploy: start stopped by SIGTERM: {UNDONE}", errors
        again = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert stack.status().mlflow_running


def test_a_new_stack_is_not_made_in_a_folder_holding_other_files() -> None:
    # `--data-dir ""` (an unset variable) is the current folder: a start made its cluster, artifacts and logs among the
    # repository's files. (A folder PostgreSQL can reach, so that as root the refusal is this one.)
    with stack_postgres_can_reach() as stack:
        stack.data_dir.mkdir()
        (stack.data_dir / "README.md").write_text("a project")

        result = CliRunner().invoke(deploy_cli.app, start_command(stack)[3:])

        assert result.exit_code == 1
        assert (
            f"error: the data folder {stack.data_dir} holds no stack but other files (README.md): choose an empty"
            in result.output
        )
        assert sorted(path.name for path in stack.data_dir.iterdir()) == ["README.md"]


@pytest.mark.slow
def test_a_failed_start_whose_cleanup_fails_names_its_own_error_and_still_puts_back_the_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pg_ctl failing to stop PostgreSQL in the cleanup of a failed start replaced the start's error (the user was told
    # "pg_ctl failed", not why the start failed) and skipped the rest of the cleanup: the new ports stayed saved.
    with stack_postgres_can_reach() as stack:
        stack.data_dir.mkdir(parents=True)
        stack.artifacts.write_text("a file")  # the tracking server cannot start
        with monkeypatch.context() as environment:
            # pg_ctl's own setting: it gives up waiting for the shutdown at once, a real "server does not shut down".
            environment.setenv("PGCTLTIMEOUT", "0")
            result = CliRunner().invoke(deploy_cli.app, start_command(stack)[3:])

        assert result.exit_code == 1
        assert f"error: the artifacts folder {stack.artifacts} cannot be used: File exists" in result.output
        assert "cleaning up after the failed start, stopping PostgreSQL failed too: pg_ctl failed" in result.output
        assert "server does not shut down" in result.output
        assert "Traceback" not in result.output
        assert not stack.ports_file.exists()
        deadline = time.monotonic() + 60
        while stack.status().postgres_running:  # the fast shutdown pg_ctl asked for goes on without it
            assert time.monotonic() < deadline
            time.sleep(0.2)


@pytest.mark.slow
def test_a_stop_sent_sigterm_stops_postgres_too_then_exits_with_the_signals_code() -> None:
    # SIGTERM unwound `stop` wherever it stood: landing while the tracking server stopped, it left PostgreSQL running.
    with stack_postgres_can_reach() as stack:
        command = start_command(stack)
        assert subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, timeout=300).returncode == 0
        stop = subprocess.Popen(
            [sys.executable, "-m", "deploy", "stop", "--data-dir", str(stack.data_dir)],
            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # The stop holds the data folder's lock from its first step, stopping the tracking server, to its last.
        deadline = time.monotonic() + 120
        with (stack.data_dir / "stack.lock").open("a") as lock:
            while True:
                assert stop.poll() is None and time.monotonic() < deadline, stop.communicate()
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    break
                fcntl.flock(lock, fcntl.LOCK_UN)
                time.sleep(0.01)
        stop.send_signal(signal.SIGTERM)
        output, errors = stop.communicate(timeout=300)

        status = stack.status()
        assert not status.postgres_running and not status.mlflow_running
        assert stop.returncode == 143, errors
        assert errors.splitlines()[-1] == (
            f"ERROR deploy: stop stopped by SIGTERM once it had finished: the stack is stopped; runs, models and "
            f"artifacts stay in {stack.data_dir}"
        )
        assert "postgres  stopped" in output and "mlflow    stopped" in output
