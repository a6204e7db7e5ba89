"""Connection limits of `python -m serving`: request head size, read and keep-alive timeouts, concurrency.

The server tests talk raw HTTP over sockets to a real server process (without models: /health
answers without them), since HTTP client libraries neither stall halfway through a request nor
keep sending a head the server already refused.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from classifiers.store import PROJECT_ROOT
from serving import cli
from serving.http_protocol import INVALID_HTTP_DETAIL
from serving.settings import ServingSettings
from tests.conftest import free_port

STARTUP_TIMEOUT_S = 90.0
READ_TIMEOUT_S = 1.0
KEEP_ALIVE_S = 1.0
# Each refused request (431, 408, 400) holds its connection's slot for LINGER_S after its answer, and this module's
# tests refuse several within that time: with 8, a test's own request met the limit (CI, 2026-12-05).
MAX_CONCURRENCY = 16
HEAD_LIMIT = 32 * 1024  # the default
# Waits are bounded from below (a limit is not enforced early); from above only to catch a hang, since a
# shared machine can delay any answer by seconds. A connection whose limit is not enforced at all still fails:
# its socket read times out (Server.connect) or the answer is not the limit's.
HANG_S = 10.0


@dataclass(frozen=True)
class Server:
    """A `python -m serving` process with short timeouts and a low concurrency limit."""

    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=HANG_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def read_response(sock: socket.socket, buffer: bytearray) -> Response:
    """One response off the socket (by its Content-Length); what follows it stays in `buffer`."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {bytes(buffer)!r}"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        rest += chunk
    buffer[:] = rest[length:]
    return Response(int(status_line.split()[1]), headers, rest[:length])


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def get(path: str = "/health", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, empty_store_file: Path) -> Iterator[Server]:
    """One server for the module over an empty store, with a read timeout and a keep-alive timeout of 1 s."""
    folder = tmp_path_factory.mktemp("http-limits")
    shutil.copyfile(empty_store_file, folder / "mlflow.db")
    port, log = free_port(), folder / "server.log"
    env = {
        **os.environ,
        "NEWS_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "NEWS_REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
        "NEWS_KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE_S),
        "NEWS_MAX_CONCURRENCY": str(MAX_CONCURRENCY),
        "OMP_NUM_THREADS": "1",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = Server(port)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{running.base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@pytest.mark.slow
def test_a_head_over_the_limit_gets_431_and_the_server_keeps_serving(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(get(extra=f"X-Padding: {'a' * HEAD_LIMIT}\r\n"))
        answer = read_until_closed(sock)

    head, _, body = answer.partition(b"\r\n\r\n")
    # 431, not the read timeout's 408: the answer did not wait for the timeout.
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"connection: close" in head
    assert json.loads(body)["detail"] == f"the request line and headers are larger than the limit of {HEAD_LIMIT} bytes"
    assert httpx.get(f"{server.base}/health", timeout=HANG_S).status_code == 200


@pytest.mark.slow
def test_a_128_mb_header_is_cut_off_at_the_limit(server: Server) -> None:
    chunk, total = b"a" * 65536, 128 * 1024 * 1024
    sent = 0
    with server.connect() as sock:
        sock.sendall(get(extra="X-Huge: ")[:-2])  # the head goes on and on
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], HANG_S)
            if readable:
                break
            assert writable, "the server neither answered nor read"
            sent += sock.send(chunk)
        answer = read_until_closed(sock)
    health = httpx.get(f"{server.base}/health", timeout=HANG_S)

    assert answer.startswith(b"HTTP/1.1 431 ")
    # Answered and closed after the limit plus what the socket buffers hold, not after 128 MB.
    assert sent < 16 * 1024 * 1024
    assert health.status_code == 200  # the event loop is not stuck joining a huge header


@pytest.mark.slow
def test_a_head_of_exactly_the_limit_is_served_and_one_byte_more_gets_431(server: Server) -> None:
    def request(head_bytes: int) -> bytes:
        # A body and a second request in the same write: the limit must cut at the head's end, not the write's.
        start = b"POST /v1/classify HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\ncontent-length: 2\r\nX: "
        head = start + b"a" * (head_bytes - len(start) - 4) + b"\r\n\r\n"
        assert len(head) == head_bytes
        return head + b"{}" + get(extra="Connection: close\r\n")

    answers = []
    for size in (HEAD_LIMIT, HEAD_LIMIT + 1):
        with server.connect() as sock:
            sock.sendall(request(size))
            answers.append(read_until_closed(sock))

    assert answers[0].startswith(b"HTTP/1.1 422 ")  # the app read the body: no items
    assert answers[0].count(b"HTTP/1.1 200 OK") == 1  # and answered the request after it
    assert answers[1].startswith(b"HTTP/1.1 431 ")


@pytest.mark.slow
@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"POST /v1/classify HTTP/1.1\r\nHost: test\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/classify HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["request line", "content length", "chunk size"],
)
def test_a_request_that_is_not_http_gets_400_in_json_and_the_server_keeps_serving(
    server: Server, request_bytes: bytes
) -> None:
    with server.connect() as sock:
        sock.sendall(request_bytes)
        answer = read_response(sock, bytearray())
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.body) == {"detail": INVALID_HTTP_DETAIL}
    assert httpx.get(f"{server.base}/health", timeout=HANG_S).status_code == 200


@pytest.mark.slow
def test_garbage_behind_a_pipelined_request_never_gets_its_answer_taken_for_that_request(server: Server) -> None:
    # Sent in one write, the 400 would have been the only answer, and the client would have read it as the GET's.
    with server.connect() as sock:
        sock.sendall(get() + b"GARBAGE\r\n\r\n")
        received = read_until_closed(sock)
    assert not received or received.startswith(b"HTTP/1.1 200"), received[:200]
    assert b"HTTP/1.1 400" not in received


@pytest.mark.slow
def test_a_large_body_is_served(server: Server) -> None:
    # Arabic text, escaped by json.dumps to 6 bytes a character: over 1 MiB of body within the characters one request
    # may hold (NEWS_MAX_REQUEST_CHARS).
    items = [{"text": f"استؤنفت محادثات وقف إطلاق النار في القاهرة، الجولة {i}. " * 35} for i in range(256)]
    body = json.dumps({"items": items}).encode()

    response = httpx.post(f"{server.base}/v1/classify", content=body, headers={"content-type": "application/json"})

    assert len(body) > 1024 * 1024
    # The whole body was read and validated: what is missing is a model.
    assert response.status_code == 503, response.text
    assert "train-defaults" in response.json()["detail"]


@pytest.mark.slow
def test_a_head_that_never_ends_gets_408_after_the_read_timeout(server: Server) -> None:
    started = time.monotonic()  # before connecting: the server's read timeout runs from the connection
    with server.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        answer = read_until_closed(sock)
        elapsed = time.monotonic() - started

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert json.loads(body) == {"detail": "the request was not received within 1 s"}
    assert READ_TIMEOUT_S * 0.9 <= elapsed < HANG_S


@pytest.mark.slow
def test_a_body_that_never_ends_gets_408_and_the_app_lets_it_go(server: Server) -> None:
    started = time.monotonic()  # before connecting: the server's read timeout runs from the connection
    with server.connect() as sock:
        sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\n")
        sock.sendall(b'content-length: 1000\r\n\r\n{"items": [')
        answer = read_until_closed(sock)
        elapsed = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408 ")
    assert answer.count(b"HTTP/1.1") == 1  # the app's own answer is dropped
    assert READ_TIMEOUT_S * 0.9 <= elapsed < HANG_S
    assert httpx.get(f"{server.base}/health", timeout=HANG_S).status_code == 200


@pytest.mark.slow
def test_a_body_that_never_ends_is_counted_in_metrics_as_the_408_it_got(server: Server) -> None:
    before = requests_counted(server, "/v1/classify")
    with server.connect() as sock:
        sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\n")
        sock.sendall(b'content-length: 1000\r\n\r\n{"items": [')
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")

    after = requests_counted(server, "/v1/classify")

    # It was counted as a 400 (the app saw only a disconnect), as if the client had sent a malformed request.
    assert after.get("408", 0) == before.get("408", 0) + 1
    assert after.get("400", 0) == before.get("400", 0)


def requests_counted(server: Server, handler: str) -> dict[str, float]:
    """`http_requests_total` of an endpoint by status, as /metrics has it now."""
    text = httpx.get(f"{server.base}/metrics", timeout=HANG_S).text
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels.get("handler") == handler
    }


@pytest.mark.slow
def test_a_connection_that_sends_nothing_is_closed_after_the_read_timeout(server: Server) -> None:
    started = time.monotonic()  # before connecting: the server's read timeout runs from the connection
    with server.connect() as sock:
        answer = read_until_closed(sock)
        elapsed = time.monotonic() - started

    assert answer == b""  # closed quietly: there was no request to answer
    assert READ_TIMEOUT_S * 0.9 <= elapsed < HANG_S


@pytest.mark.slow
def test_keep_alive_and_pipelining_on_one_connection(server: Server) -> None:
    buffer = bytearray()
    with server.connect() as sock:
        sock.sendall(get())
        first = read_response(sock, buffer)
        sock.sendall(get())
        second = read_response(sock, buffer)
        # Before sending: the server's keep-alive timer starts once it has sent the last answer, which this process
        # may read only later (a test slow to be scheduled would see the connection idle for less than the timeout).
        idle_from = time.monotonic()
        sock.sendall(get() + get("/nowhere"))
        pipelined = [read_response(sock, buffer), read_response(sock, buffer)]
        rest = read_until_closed(sock)
        idle = time.monotonic() - idle_from

    assert [first.status, second.status] == [200, 200]
    assert "connection" not in first.headers  # kept open
    assert [response.status for response in pipelined] == [200, 404]
    assert rest == b""
    # uvicorn's own default of 5 s would pass this too: test_serve_gives_uvicorn_the_limits checks the setting reaches it.
    assert KEEP_ALIVE_S * 0.9 <= idle < HANG_S


@pytest.mark.slow
def test_connections_beyond_the_concurrency_limit_get_503_but_health_is_answered(server: Server) -> None:
    held: list[socket.socket] = []
    answers: list[Response] = []
    counted_before = requests_counted(server, "/v1/models")
    try:
        # Each connection stays open after its answer (keep-alive); connections still closing after
        # earlier tests count too, so the 503 may come before the limit's connection, never after it.
        while len(held) < MAX_CONCURRENCY and 503 not in [answer.status for answer in answers]:
            held.append(server.connect())
            held[-1].sendall(get("/v1/models"))
            answers.append(read_response(held[-1], bytearray()))
        # Over the limit still: a liveness probe must not see a busy server as a dead one.
        held.append(server.connect())
        held[-1].sendall(get("/health"))
        live = read_response(held[-1], bytearray())
    finally:
        for sock in held:
            sock.close()
    # The server frees a slot once it has seen the close; on a busy machine that can take a moment.
    deadline = time.monotonic() + 10
    while (after := httpx.get(f"{server.base}/health", timeout=5)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)

    statuses = [answer.status for answer in answers]
    assert statuses[-1] == 503
    assert (live.status, json.loads(live.body)) == (200, {"status": "ok"})
    assert set(statuses[:-1]) <= {200}
    assert after.status_code == 200
    # In the service's error shape, as every other answer (uvicorn's own is plain text).
    refusal = answers[-1]
    assert (refusal.headers["content-type"], refusal.headers["retry-after"]) == ("application/json", "1")
    assert json.loads(refusal.body) == {
        "detail": f"the server holds its limit of {MAX_CONCURRENCY} open connections and running requests; retry shortly"
    }
    # Counted by status as every other answer: the one sign of a saturated server was missing from /metrics.
    counted = requests_counted(server, "/v1/models")
    assert counted.get("503", 0) == counted_before.get("503", 0) + 1
    assert counted.get("200", 0) == counted_before.get("200", 0) + len(statuses) - 1


def test_defaults() -> None:
    settings = ServingSettings()

    assert settings.max_header_bytes == 32 * 1024
    assert settings.request_read_timeout_s == 10.0
    assert settings.keep_alive_timeout_s == 5.0
    assert settings.max_concurrency == 256


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_header_bytes", -1),
        ("max_header_bytes", 100),
        ("request_read_timeout_s", 0),
        ("request_read_timeout_s", -5),
        ("keep_alive_timeout_s", 0),
        ("keep_alive_timeout_s", -1),
        ("max_concurrency", 0),
        ("max_concurrency", -10),
    ],
)
def test_nonsense_limits_are_rejected(field: str, value: float, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"NEWS_{field.upper()}", str(value))

    with pytest.raises(ValidationError, match=field):
        ServingSettings()


@pytest.mark.usefixtures("store_uri")  # the server starts only on a store that exists
def test_serve_gives_uvicorn_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "NEWS_MAX_HEADER_BYTES": "8192",
        "NEWS_REQUEST_READ_TIMEOUT_S": "3",
        "NEWS_KEEP_ALIVE_TIMEOUT_S": "7.5",
        "NEWS_MAX_CONCURRENCY": "64",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # serve sets it; undone after the test
    monkeypatch.setenv("NEWS_PORT", "0")  # serve binds the port to check it is free
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **options: calls.append(options))

    cli.serve(host=None, port=None, workers=None)

    [options] = calls
    assert options["http"].keywords == {"max_header_bytes": 8192, "request_read_timeout_s": 3.0}
    assert options["ws"] == "none"
    assert (options["timeout_keep_alive"], options["limit_concurrency"]) == (7.5, 64)
