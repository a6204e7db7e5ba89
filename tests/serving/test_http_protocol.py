"""serving/http_protocol.py: the limited httptools protocol driven directly, bytes in and bytes out over a fake
transport. The same limits on a real `python -m serving` process over sockets: test_http_limits.py."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from serving.http_protocol import INVALID_HTTP_DETAIL, LimitedHttpToolsProtocol, limited_httptools

HEAD_LIMIT = 256
READ_TIMEOUT_S = 0.05


class FakeTransport(asyncio.Transport):
    """What a connection's socket was sent, and whether it was half-closed (EOF written) or closed (`closed_early`: by
    the protocol itself, before the connection was lost)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = b""
        self.eof = False
        self.closed = False
        self.closed_early = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent += bytes(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


Exchange = tuple[FakeTransport, list[str]]


def exchange(*chunks: bytes, wait_s: float = 0.0) -> Exchange:
    """Send the chunks on a new connection, wait, and give back the transport and the paths the app was called for."""
    called: list[str] = []

    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]) -> None:
        called.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def run() -> FakeTransport:
        config = Config(app=app, ws="none", log_config=None)
        config.load()
        protocol = LimitedHttpToolsProtocol(
            config, ServerState(), {}, asyncio.get_running_loop(), max_header_bytes=HEAD_LIMIT,
            request_read_timeout_s=READ_TIMEOUT_S,
        )
        transport = FakeTransport()
        protocol.connection_made(transport)
        for chunk in chunks:
            protocol.data_received(chunk)
        await asyncio.sleep(wait_s or 0.01)
        transport.closed_early = transport.closed
        protocol.connection_lost(None)
        return transport

    return asyncio.run(run()), called


def status_and_detail(sent: bytes) -> tuple[bytes, str]:
    head, _, body = sent.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head and b"connection: close" in head
    return head.split(b"\r\n", 1)[0], json.loads(body)["detail"]


def test_a_request_within_the_limits_reaches_the_app() -> None:
    transport, called = exchange(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")

    assert called == ["/health"]
    assert transport.sent.startswith(b"HTTP/1.1 200 OK\r\n") and transport.sent.endswith(b"ok")


def test_a_head_over_the_limit_gets_431_in_json_and_never_reaches_the_app() -> None:
    # Sent in pieces, as a client streams a long header: the limit counts the whole head, not one read.
    transport, called = exchange(b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-Long: " + b"a" * 150, b"a" * 150 + b"\r\n\r\n")

    assert called == []
    assert status_and_detail(transport.sent) == (
        b"HTTP/1.1 431 Request Header Fields Too Large",
        f"the request line and headers are larger than the limit of {HEAD_LIMIT} bytes",
    )
    # Half-closed, so that the client reads the answer before the connection goes.
    assert (transport.eof, transport.closed_early) == (True, False)


def test_a_request_that_is_not_http_gets_400_in_json() -> None:
    transport, called = exchange(b"GET / HTTP/1.1\r\nContent-Length: many\r\n\r\n")

    assert called == []
    assert status_and_detail(transport.sent) == (b"HTTP/1.1 400 Bad Request", INVALID_HTTP_DETAIL)


def test_a_request_that_stalls_gets_408_and_a_connection_that_sends_nothing_is_closed_quietly() -> None:
    stalled, called = exchange(b"GET / HTTP/1.1\r\nHost: x\r\n", wait_s=10 * READ_TIMEOUT_S)

    assert called == []
    assert status_and_detail(stalled.sent) == (
        b"HTTP/1.1 408 Request Timeout",
        f"the request was not received within {READ_TIMEOUT_S:g} s",
    )

    idle, _ = exchange(wait_s=10 * READ_TIMEOUT_S)
    assert (idle.sent, idle.closed_early) == (b"", True)


def test_the_protocol_pickles_for_worker_processes() -> None:
    protocol = pickle.loads(pickle.dumps(limited_httptools(4096, 2.5)))

    assert protocol.func is LimitedHttpToolsProtocol
    assert protocol.keywords == {"max_header_bytes": 4096, "request_read_timeout_s": 2.5}
