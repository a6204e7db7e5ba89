"""uvicorn's httptools protocol with a size limit on request heads and a time limit on reading requests.

uvicorn's `HttpToolsProtocol` reads a request head of any size (httptools joins a header value
chunk by chunk, by concatenation: a 128 MB header held the event loop for seconds) and waits for
the rest of a started request for ever; its `timeout_keep_alive` only runs between requests.
"""

from __future__ import annotations

import asyncio
import json
import logging
from asyncio import TimerHandle
from functools import partial
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn._types import ASGI3Application
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from serving.disconnect import ANSWERED_BY_SERVER

logger = logging.getLogger(__name__)

# After an error answer the connection stays half-closed this long before it closes: closing a
# socket that still holds unread request bytes resets the connection, and a reset that reaches the
# client before it read the answer destroys the answer.
LINGER_S = 2.0
# Answered even over the concurrency limit.
LIVENESS_PATH = "/health"
# The scope key under which the protocol marks a request over the concurrency limit (its value: the limit).
OVER_CONCURRENCY_LIMIT = "news.over_concurrency_limit"
INVALID_HTTP_DETAIL = (
    "the request is not valid HTTP/1.1: its request line, a header (Content-Length, Transfer-Encoding) or a chunk "
    "size could not be parsed"
)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that answers 431 to an oversized request head and 408 to a request sent too slowly, and
    answers a request it cannot parse, or one over the concurrency limit (except /health's), in JSON.

    Neither request reaches the app. WebSocket upgrades hand the connection to another protocol,
    outside these limits: run uvicorn with `ws="none"`.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        max_header_bytes: int,
        request_read_timeout_s: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_header_bytes = max_header_bytes
        self.request_read_timeout_s = request_read_timeout_s
        # Bytes of the current request head (request line and headers) read so far; None while a body is read.
        self._head_bytes: int | None = 0
        self._request_begun = False
        self._read_timer: TimerHandle | None = None
        self._linger_timer: TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A client that connects and sends nothing holds a connection as long as one stalling mid-request.
        self._start_read_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data:
            if self._head_bytes is None:
                # A request pipelined behind this body in the same read is counted from the next read on:
                # its head can pass the limit by the rest of this read, which is bounded by the read size.
                piece, data = data, b""
            else:
                # httptools buffers a head until it is complete: it gets no more than the limit allows.
                allowance = self.max_header_bytes - self._head_bytes
                piece, data = data[:allowance], data[allowance:]
                self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
            if self._head_bytes is not None and self._head_bytes >= self.max_header_bytes:
                # The head is not complete at the limit, so it is longer than the limit.
                limit = self.max_header_bytes
                logger.warning("%s: request head over %d bytes: 431", self._peer(), limit)
                self._end(431, f"the request line and headers are larger than the limit of {limit} bytes")
                return

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        if self._read_timer is None:
            self._start_read_timer()

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_bytes = 0
        self._request_begun = False
        self._cancel_read_timer()
        super().on_message_complete()

    def timeout_keep_alive_handler(self) -> None:
        # The next request began arriving before the previous answer was complete: its read timeout applies.
        if not self._request_begun:
            super().timeout_keep_alive_handler()

    def _start_read_timer(self) -> None:
        self._read_timer = self.loop.call_later(self.request_read_timeout_s, self._read_timed_out)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # The server stopped reading (an unread body, a pipelined request waiting its turn): not the client's delay.
            self._start_read_timer()
            return
        if not self._request_begun:
            # Nothing of a request arrived: close quietly, as an idle keep-alive connection closes.
            self.transport.close()
            return
        logger.warning("%s: request not received within %g s: 408", self._peer(), self.request_read_timeout_s)
        self._end(408, f"the request was not received within {self.request_read_timeout_s:g} s")

    def _end(self, status: int, detail: str) -> None:
        """Answer `status` unless an answer to an earlier request is still being sent, then close."""
        self._cancel_read_timer()
        cycle = self.cycle
        if self._head_bytes is not None:
            # The current request has no cycle yet; self.cycle is the previous request's.
            answerable = cycle is None or cycle.response_complete
        else:
            # An empty pipeline means this request's app task runs, so nothing before it is unanswered.
            answerable = not cycle.response_started and not self.pipeline
        if not answerable:
            # A second answer would be mixed into the one on its way.
            self.transport.close()
            return
        if self._head_bytes is None:
            # The app waits for this body: it gets a disconnect, and anything it still sends is dropped. The status
            # is left in the scope, so /metrics counts the request as what the client was answered.
            cycle.scope[ANSWERED_BY_SERVER] = status  # type: ignore[literal-required]  # a key of ours, not the ASGI spec's
            cycle.disconnected = True
            cycle.message_event.set()
        self.flow.pause_reading()
        self.transport.write(self._error_response(status, detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger_timer = self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        # uvicorn runs its own plain-text 503 app for a request over the concurrency limit: ours answers in JSON.
        # The liveness probe is let through: a 503 there would get a merely busy server restarted. /health costs
        # nothing; /ready still answers 503, which takes a saturated server out of the rotation until it has room.
        if app is service_unavailable:
            assert self.limit_concurrency is not None, "uvicorn hands out service_unavailable only under a limit"
            if cycle.scope["path"] != self.root_path + LIVENESS_PATH:
                # Answered by the app's outermost layers (ConcurrencyLimitAnswer) without reading the body: /metrics
                # counted every answer but these, the one sign that the server is saturated.
                cycle.scope[OVER_CONCURRENCY_LIMIT] = self.limit_concurrency  # type: ignore[literal-required]  # a key of ours
            app = self.app
        super()._start_asgi_task(cycle, app)

    def send_400_response(self, msg: str) -> None:
        """A request httptools cannot parse (request line, headers, Content-Length, chunk sizes) gets the service's
        JSON error shape, not uvicorn's plain text, as the limits' answers do: not while an earlier request's answer
        is due on the connection (the client would take the 400 for it), and closing after a linger."""
        self._end(400, INVALID_HTTP_DETAIL)

    def _error_response(self, status: int, detail: str) -> bytes:
        # The service's error format (`{"detail": ...}`), written directly: the app never saw this request.
        body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body), b"connection: close\r\n"]
        return b"".join([*head, b"\r\n", body])

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "unknown client"


class ConcurrencyLimitAnswer:
    """ASGI middleware: the 503 for a request the protocol marked as over the concurrency limit, in the service's
    error shape (the connection closes); others go on to the app. Placed inside the metrics' middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = scope.get(OVER_CONCURRENCY_LIMIT)
        if limit is None:
            await self.app(scope, receive, send)
            return
        detail = f"the server holds its limit of {limit} open connections and running requests; retry shortly"
        answer = JSONResponse({"detail": detail}, status_code=503, headers={"connection": "close", "retry-after": "1"})
        await answer(scope, receive, send)


def limited_httptools(max_header_bytes: int, request_read_timeout_s: float) -> partial[LimitedHttpToolsProtocol]:
    """uvicorn's `http=` protocol with these limits (a partial of a module-level class: it pickles for workers)."""
    return partial(
        LimitedHttpToolsProtocol, max_header_bytes=max_header_bytes, request_read_timeout_s=request_read_timeout_s
    )
