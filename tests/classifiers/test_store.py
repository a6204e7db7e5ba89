"""Picking the store, and failing fast when a tracking server does not answer."""

from __future__ import annotations

import fcntl
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from classifiers import store
from classifiers.store import PROJECT_ROOT


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def retries_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any retry MLflow made would come at once and be counted, instead of after its back-off of minutes."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")


@contextmanager
def serving(server: socketserver.TCPServer) -> Iterator[str]:
    """The server answering on loopback in a thread while the block runs; yields its http:// address."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("retries_at_once")
def test_an_unreachable_tracking_server_fails_naming_it() -> None:
    uri = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(store.RegistryUnreachable, match=f"the MLflow tracking server at {uri} cannot be used"):
        store.use_store(uri)


# What a server that cannot serve does: hang up without a word, or answer 503 (MLflow retries both).
HANG_UP = b""
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class CountingServer(socketserver.TCPServer):
    """A loopback server that counts the connections it accepts and answers each with `answer`, then closes it."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.connections = 0
        super().__init__(("127.0.0.1", 0), CountingHandler)


class CountingHandler(socketserver.BaseRequestHandler):
    server: CountingServer

    def handle(self) -> None:
        self.server.connections += 1  # before the close the client reacts to
        self.request.recv(65536)  # the request, so the close is no reset of unread bytes
        self.request.sendall(self.server.answer)


@pytest.mark.usefixtures("retries_at_once")
@pytest.mark.parametrize("answer", [HANG_UP, UNAVAILABLE], ids=["hangs-up", "answers-503"])
def test_a_tracking_server_that_cannot_serve_is_asked_once(answer: bytes) -> None:
    server = CountingServer(answer)
    with serving(server) as uri:
        with pytest.raises(store.RegistryUnreachable, match=f"the MLflow tracking server at {uri} cannot be used"):
            store.use_store(uri)

    assert server.connections == 1  # one try, not MLflow's retries


def test_a_sqlite_store_is_created_where_it_is_named(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "mlflow.db"

    client = store.use_store(f"sqlite:///{database}")

    assert client.search_experiments()  # the Default experiment of a new store
    assert database.exists()


def test_a_locked_sqlite_store_is_refused_for_writing_naming_it(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    uri = f"sqlite:///{database}"
    store.use_store(uri)
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(store.StoreUnusable) as err:
            store.use_store(uri, writable=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert str(err.value) == f"the tracking store {uri} cannot be written: database is locked"


def test_a_file_that_is_not_a_database_is_refused_for_writing(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    database.write_text("notes, not a database\n" * 100, encoding="utf-8")
    uri = f"sqlite:///{database}"
    with pytest.raises(store.StoreUnusable) as err:
        store.use_store(uri, writable=True)
    assert str(err.value) == f"the tracking store {uri} cannot be written: file is not a database"


def test_a_store_whose_folder_cannot_be_made_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("a file where the store's folder would go", encoding="utf-8")
    uri = f"sqlite:///{tmp_path / 'notes' / 'mlflow.db'}"
    with pytest.raises(store.StoreUnusable) as err:
        store.use_store(uri)
    assert str(err.value) == f"the tracking store {uri} cannot be created: {tmp_path / 'notes'} is not a folder"


class Refusing(BaseHTTPRequestHandler):
    """A server in front of the registry that turns this client away, as an auth proxy or MLflow's host check does."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server looks up)
        body = b"Invalid Host header - possible DNS rebinding attack detected"
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


def test_a_tracking_server_that_refuses_the_client_fails_at_once_naming_the_answer() -> None:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Refusing)) as uri:
        with pytest.raises(store.RegistryUnreachable, match=rf"{uri} cannot be used: .*403.*Invalid Host header"):
            store.use_store(uri)


@pytest.mark.parametrize("uri", ["./mlruns", "file:///tmp/mlruns"])
def test_a_file_store_is_refused_with_what_to_use_instead(uri: str) -> None:
    refusal = rf"the tracking store {uri} is a plain folder \(MLflow's file store\).*use sqlite:///"
    with pytest.raises(store.StoreUnusable, match=refusal):
        store.use_store(uri)


@pytest.mark.parametrize("uri", ["foo://bar", "postgres://user@host/db", "s3://bucket/mlruns"])
def test_a_scheme_mlflow_cannot_open_is_refused_naming_it(uri: str) -> None:
    # MLflow met it only at the first call, with a traceback.
    scheme = uri.split("://")[0]
    with pytest.raises(store.StoreUnusable, match=rf"the tracking store {uri} has a scheme MLflow cannot open \({scheme}://\)"):
        store.use_store(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "sqlite:///x.db", "postgresql://u@h/db", "postgresql+psycopg2://u@h/db", "mysql+pymysql://u@h/db",
        "https://t.example", "databricks", "databricks-uc", "databricks://profile",
    ],
)
def test_the_schemes_mlflow_opens_are_not_refused_by_their_scheme(uri: str) -> None:
    assert store.store_problem(uri) is None


def test_a_retry_setting_mlflow_cannot_read_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.1")  # MLflow takes whole seconds only
    with pytest.raises(store.RegistryUnreachable, match="Failed to convert '0.1' for MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"):
        store.use_store("http://127.0.0.1:9")


def test_processes_opening_a_new_store_together_all_find_it_usable(tmp_path: Path) -> None:
    # Two trainings started at once on a fresh store: MLflow's table migrations, run by both, broke the file for good.
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    opener = (
        "import sys; from classifiers import store; client = store.use_store(sys.argv[1], writable=True); "
        "client.search_experiments(max_results=1); client.search_registered_models(max_results=1)"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", opener, uri], cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, errors


def test_a_process_opening_a_store_being_made_waits_for_its_maker(tmp_path: Path) -> None:
    # The maker's file has bytes from its first migration on; a process that took that for "made" migrated beside it.
    database = tmp_path / "mlflow.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE being_made (id INTEGER)")
    opener = (
        "import sys; from classifiers import store; print('imported', flush=True); store.use_store(sys.argv[1])"
    )
    with (tmp_path / "mlflow.db.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        process = subprocess.Popen(
            [sys.executable, "-c", opener, f"sqlite:///{database}"],
            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert process.stdout is not None and process.stdout.readline() == "imported\n"
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(timeout=8)  # once imported, far longer than an open that skips the lock and migrates
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors


def test_a_made_store_whose_lock_cannot_be_opened_is_still_read(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store.use_store(uri).create_experiment("made")
    (tmp_path / "mlflow.db.lock").unlink()
    (tmp_path / "mlflow.db.lock").mkdir()  # as a folder only readable would refuse it, even to root

    assert [e.name for e in store.use_store(uri).search_experiments()] == ["made", "Default"]


def test_a_new_store_whose_lock_cannot_be_opened_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "mlflow.db.lock").mkdir()
    with pytest.raises(store.StoreUnusable, match=r"cannot be created: Is a directory \(.*mlflow\.db\.lock\)"):
        store.use_store(f"sqlite:///{tmp_path / 'mlflow.db'}")


class Answering(BaseHTTPRequestHandler):
    """A server that is up and answers every request with the status in its class attribute."""

    status = 500

    def do_GET(self) -> None:  # noqa: N802 (the name http.server looks up)
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


class CutOff(BaseHTTPRequestHandler):
    """A server that dies while answering: it promises a body and closes the connection before sending it."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server looks up)
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


class Unanswered(BaseHTTPRequestHandler):
    """A server that dies before answering: it reads the request and closes the connection."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server looks up)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


def failed_call(uri: str) -> BaseException:
    """What an MLflow client call to the tracking server at uri raised."""
    with pytest.raises(Exception) as raised:
        MlflowClient(tracking_uri=uri).get_run("0" * 32)
    return raised.value


@pytest.mark.usefixtures("retries_at_once")
def test_a_call_to_a_server_that_is_gone_is_told_from_other_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    refused = failed_call(f"http://127.0.0.1:{closed_port()}")
    assert store.lost_server_reason(refused) == "[Errno 111] Connection refused"

    # The training's own error being handled when the call was made is not the reason.
    try:
        raise OSError(28, "No space left on device")
    except OSError:
        while_handling = failed_call(f"http://127.0.0.1:{closed_port()}")
    assert store.lost_server_reason(while_handling) == "[Errno 111] Connection refused"

    # Nor is an error that is not the call's, raised while a connection error was being handled.
    try:
        raise refused
    except Exception:
        empty: dict[str, str] = {}
        with pytest.raises(KeyError) as unrelated:
            empty["key"]
    assert store.lost_server_reason(unrelated.value) is None


@pytest.mark.usefixtures("retries_at_once")
@pytest.mark.parametrize(("status", "lost"), [(503, True), (502, True), (500, False), (429, False), (404, False)])
def test_a_server_that_answers_is_gone_only_when_it_says_it_cannot_serve(
    monkeypatch: pytest.MonkeyPatch, status: int, lost: bool
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    handler = type("Answering", (Answering,), {"status": status})
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as uri:
        reason = store.lost_server_reason(failed_call(uri))
    assert (reason is not None) == lost, reason
    if lost:
        assert f"too many {status} error responses" in str(reason)


def test_an_answer_cut_off_in_the_middle_is_a_lost_server_and_says_so() -> None:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), CutOff)) as uri:
        reason = store.lost_server_reason(failed_call(uri))
    assert reason == (
        "IncompleteRead(0 bytes read, 100 more expected) (the server closed the connection in the middle of its answer)"
    )


@pytest.mark.usefixtures("retries_at_once")
def test_a_request_closed_unanswered_is_a_lost_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Unanswered)) as uri:
        reason = store.lost_server_reason(failed_call(uri))
    assert reason == "Remote end closed connection without response"


def test_a_missing_sqlite_store_is_unreachable_without_create_and_nothing_is_made(tmp_path: Path) -> None:
    database = tmp_path / "typo" / "mlflow.db"
    uri = f"sqlite:///{database}"

    with pytest.raises(store.RegistryUnreachable) as err:
        store.use_store(uri, create=False)

    assert str(err.value) == f"the MLflow tracking store at {uri} cannot be used: its database file {database} does not exist"
    assert not (tmp_path / "typo").exists()


def test_a_sqlite_file_that_is_not_a_database_is_unreachable(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    database.write_text("notes, not a database\n" * 100, encoding="utf-8")

    with pytest.raises(store.RegistryUnreachable, match=f"its database file {database} cannot be read: file is not a database"):
        store.check_reachable(f"sqlite:///{database}")


def test_an_existing_sqlite_store_is_reachable_and_opened_without_create(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store.use_store(uri).create_experiment("made")

    store.check_reachable(uri)
    assert "made" in [experiment.name for experiment in store.use_store(uri, create=False).search_experiments()]


def test_only_a_sqlite_store_not_made_yet_is_made_when_used(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    assert store.made_when_used(f"sqlite:///{database}")
    database.touch()  # an empty file: use_store makes its tables
    assert store.made_when_used(f"sqlite:///{database}")
    store.use_store(f"sqlite:///{database}")
    assert not store.made_when_used(f"sqlite:///{database}")
    assert not store.made_when_used(f"http://127.0.0.1:{closed_port()}")
