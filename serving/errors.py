"""Exception handlers: 422 messages that name the item (415 for a body sent in a form not read), 404 naming the
endpoint, 413, 501 and 503 in JSON, 502 for a failed reload, 500 in JSON."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic_core import to_json
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from classifiers.store import RegistryUnreachable
from serving import request_id
from serving.disconnect import ANSWERED_BY_SERVER, ClientGone
from serving.model_holder import ReloadFailed
from serving.request_body import UnsupportedMediaType
from serving.snapshot import ModelUnavailable

logger = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499
NOT_SERVED = 501  # a request needing a task this server is configured without (NEWS_*_MODEL_URI empty)
OBJECT_EXPECTED = "Input should be a JSON object"
PYDANTIC_OBJECT_EXPECTED = "Input should be a valid dictionary or instance of "
# Characters of a rejected value, or of a key, that an error answer repeats.
ECHOED_CHARS = 200


def error_path(loc: Sequence[str | int]) -> str:
    """`("body", "items", 3, "text")` -> `items[3].text`; the request body itself is `body`."""
    parts = list(loc[1:]) if loc and loc[0] == "body" and len(loc) > 1 else list(loc)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _shortened(text: str) -> str:
    """The text, or its first ECHOED_CHARS characters and its length."""
    return text if len(text) <= ECHOED_CHARS else f"{text[:ECHOED_CHARS]}... ({len(text)} characters)"


def _too_long_to_echo(value: object) -> bool:
    """Whether a rejected value other than a string would take more than ECHOED_CHARS in the answer.

    Encoded only until it is over: this runs on the event loop, and an 8 MB object of 560,000 keys, encoded whole,
    held it 0.6 s, stalling every other request.
    """
    length = 0
    try:
        # iterencode yields json.dumps's text piece by piece (its pure-Python encoder), so it can stop early.
        for piece in json.JSONEncoder(default=repr).iterencode(value):
            length += len(piece)
            if length > ECHOED_CHARS:
                return True
    # Nested nearly as deep as the parser allows, a value is deeper than the stack left here.
    except RecursionError:
        return True
    return False


def _bounded(error: dict[str, Any]) -> dict[str, Any]:
    """The error with what it repeats of the request cut short: a key in its path, the rejected input. Echoed whole,
    an 8 MB value came back three times over (once per error about it)."""
    loc = tuple(_shortened(part) if isinstance(part, str) else part for part in error["loc"])
    bounded = {**error, "loc": loc}
    if "input" in error:
        value = error["input"]
        if isinstance(value, str):
            bounded["input"] = _shortened(value)
        elif _too_long_to_echo(value):
            # An object or array (the item a field is missing from, the whole body) or a number of thousands of digits
            # is named by the path instead.
            del bounded["input"]
    return bounded


def _explained(error: dict[str, Any]) -> dict[str, Any]:
    # A JSON syntax error is about the body as a whole, and its message says where.
    if error.get("type") == "json_invalid":
        return error
    # pydantic's "Input should be a valid dictionary or instance of ClassifyItem" names a class of this code.
    message = OBJECT_EXPECTED if error["msg"].startswith(PYDANTIC_OBJECT_EXPECTED) else error["msg"]
    return {**error, "msg": f"{error_path(error['loc'])}: {message}"}


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422 format, each message prefixed by the path of the field it is about, and at most ECHOED_CHARS
    of any text of the request repeated; 415 in the same format for a body's media type, charset or coding."""
    # The rejected input is echoed back and may be anything the request held: a \ud800 escape decodes to a lone
    # surrogate, which UTF-8 cannot carry.
    errors = jsonable_encoder(
        [_explained(_bounded(error)) for error in exc.errors()],
        custom_encoder={str: lambda text: text.encode("utf-8", "replace").decode("utf-8")},
    )
    content = to_json({"detail": errors}, inf_nan_mode="strings")
    if isinstance(exc, UnsupportedMediaType):
        # For a coding refused, the codings read, as RFC 9110 (12.5.3) asks: none but none at all.
        coded = any(error["type"] == "content_encoding" for error in exc.errors())
        headers = {"Accept-Encoding": "identity"} if coded else None
        return Response(content, status_code=415, media_type="application/json", headers=headers)
    return Response(content, status_code=422, media_type="application/json")


def body_too_large_message(max_body_bytes: int) -> str:
    """The 413 detail, naming the limit."""
    return f"the request body is larger than the limit of {max_body_bytes} bytes"


async def body_too_large(request: Request, exc: HTTPException) -> JSONResponse:
    """413 for a body found too large while it was read (a body sent without Content-Length)."""
    detail = body_too_large_message(request.app.state.settings.max_body_bytes)
    return JSONResponse(status_code=413, content={"detail": detail})


async def method_not_allowed(request: Request, exc: HTTPException) -> JSONResponse:
    """405 with HEAD in `Allow` wherever GET is: every GET endpoint answers HEAD through a route of its own
    (`serving.routers.answer_head_as_get`), which Starlette's `Allow`, taken from the first route of the path, leaves
    out."""
    headers = dict(exc.headers or {})
    allowed = [method.strip() for method in headers.get("Allow", "").split(",") if method.strip()]
    if "GET" in allowed:
        # In one order: Starlette joins some routes' methods (`/openapi.json`) from a set, which moves between starts.
        headers["Allow"] = ", ".join(["GET", "HEAD", *(method for method in allowed if method not in ("GET", "HEAD"))])
    # Said in the body too: a client's log shows the body, seldom the Allow header.
    taken = headers.get("Allow", "").replace(", ", " or ")
    detail = f"{request.method} is not allowed on {request.scope['path']}: it takes {taken}" if taken else exc.detail
    return JSONResponse(status_code=405, content={"detail": detail}, headers=headers)


async def not_found(request: Request, exc: HTTPException) -> JSONResponse:
    """404 naming the endpoint a path means where it only adds a trailing slash to one (`/v1/classify/`).

    Starlette redirected such a path (307) by default: curl and httpx do not follow a redirect unless told to (the
    caller got an empty answer), a client that does sends a POST's body a second time, to a URL built from the Host
    header, and every endpoint had two addresses. Each has one; the answer says which.
    """
    detail = exc.detail
    path = request.scope["path"]
    endpoint = path.rstrip("/")
    if endpoint and endpoint != path:
        without_slash = {**request.scope, "path": endpoint}
        if any(route.matches(without_slash)[0] is not Match.NONE for route in request.app.router.routes):
            sent = request.url.path
            endpoint_sent = sent.rstrip("/")
            detail = f"no endpoint at {_shortened(sent)}: the endpoint is {endpoint_sent}, without the trailing slash"
    return JSONResponse(status_code=404, content={"detail": detail}, headers=exc.headers)


class JsonBodyLimitMiddleware:
    """Starlette's RequestBodyLimitMiddleware, with its plain-text 413 answered in the JSON error shape.

    Starlette answers a declared Content-Length over the limit itself, in place of whatever the app
    sent, as `text/plain` "Content Too Large"; no exception handler sees that answer, so it is
    rewritten here on its way out.
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = RequestBodyLimitMiddleware(app, max_body_size=max_body_size)
        self.body = to_json({"detail": body_too_large_message(max_body_size)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass everything through except Starlette's plain-text 413, which becomes JSON."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rewriting = False

        async def send_json(message: Message) -> None:
            nonlocal rewriting
            if message["type"] == "http.response.start" and message["status"] == 413 and _plain_text(message):
                rewriting = True
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
                await send({"type": "http.response.start", "status": 413, "headers": headers})
            elif rewriting and message["type"] == "http.response.body":
                # Starlette's body ("Content Too Large") is dropped; ours goes with its last part.
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": self.body})
            else:
                await send(message)

        await self.app(scope, receive, send_json)


def _plain_text(start: Message) -> bool:
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/plain") for name, value in start.get("headers", [])
    )


async def model_unavailable(request: Request, exc: ModelUnavailable) -> JSONResponse:
    """503: a needed model is not loaded; the message says why (and how to train one). 501 for a task the server is
    configured without: no wait brings it, and clients' retry policies retry a 503 (urllib3's honours Retry-After on
    it), not a 501, "the server does not support the functionality required".

    With polling on, Retry-After is the poll interval: the soonest the model can appear without a manual reload.
    Without it, nothing will change by waiting, so no Retry-After invites clients to wait.
    """
    if exc.lasting:
        return JSONResponse(status_code=NOT_SERVED, content={"detail": str(exc)})
    headers = retry_after(request.app.state.settings.poll_seconds)
    return JSONResponse(status_code=503, content={"detail": str(exc)}, headers=headers)


def retry_after(poll_seconds: float) -> dict[str, str] | None:
    """The header of a 503 for a missing model: the poll interval in whole seconds, or none without polling."""
    return {"Retry-After": str(max(1, math.ceil(poll_seconds)))} if poll_seconds > 0 else None


async def reload_failed(request: Request, exc: ReloadFailed) -> JSONResponse:
    """502: a moved model could not be loaded; the previous snapshot is still served."""
    detail = f"reload failed; the previous models are still served: {exc}"
    return JSONResponse(status_code=502, content={"detail": detail, "failures": exc.failures})


async def registry_unreachable(request: Request, exc: RegistryUnreachable) -> JSONResponse:
    """503 for a reload while the registry is away: nothing changed, the loaded models still serve."""
    return JSONResponse(
        status_code=503, content={"detail": f"nothing was reloaded, the loaded models still serve: {exc}"}
    )


async def client_disconnected(request: Request, exc: ClientDisconnect) -> Response:
    """The client left (or was cut off by the read timeout) before its whole body arrived: nobody to answer.

    Never sent: the connection is gone. Its status is what /metrics counts: 499 for a client that left, as for one
    that leaves while its answer is prepared, or the status the protocol answered with itself (408 for a body not
    received in time). A 400 here counted a slow or vanished client as a malformed request.
    """
    logger.info("%s %s: the client disconnected before sending its whole body", request.method, request.url.path)
    # Handling it keeps a routine event out of the error log.
    return Response(status_code=request.scope.get(ANSWERED_BY_SERVER, CLIENT_CLOSED_REQUEST))


async def client_gone(request: Request, exc: ClientGone) -> Response:
    """The client left while its request waited on the model: its rows not yet predicted were dropped."""
    logger.info("%s %s: the client disconnected before its answer was ready", request.method, request.url.path)
    # Never sent; nginx's code for a client that closed its request, so /metrics counts these apart.
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """500 in the JSON error shape every other answer has, naming the request's ID, which the log line before the
    traceback (logged by Starlette after the answer is sent) names too."""
    answered = request_id.current() or "without an ID"
    logger.error("request %s, %s %s: internal error; its traceback follows", answered, request.method, request.url.path)
    detail = (
        f"internal error while answering {request.method} {request.url.path}; the server's log has the cause "
        f"(request {answered})"
    )
    # Answered from outside every middleware, so the one that adds the ID to other answers does not see this one.
    headers = {request_id.HEADER: answered} if request_id.current() else None
    return JSONResponse(status_code=500, content={"detail": detail}, headers=headers)


def add_exception_handlers(app: FastAPI) -> None:
    """Register this module's handlers on the app."""
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(404, not_found)  # type: ignore[arg-type]
    app.add_exception_handler(405, method_not_allowed)  # type: ignore[arg-type]
    app.add_exception_handler(413, body_too_large)  # type: ignore[arg-type]
    app.add_exception_handler(ModelUnavailable, model_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(ReloadFailed, reload_failed)  # type: ignore[arg-type]
    app.add_exception_handler(RegistryUnreachable, registry_unreachable)  # type: ignore[arg-type]
    app.add_exception_handler(ClientDisconnect, client_disconnected)  # type: ignore[arg-type]
    app.add_exception_handler(ClientGone, client_gone)  # type: ignore[arg-type]
    # Starlette answers any other exception from its outermost middleware, as plain text unless handled here.
    app.add_exception_handler(Exception, unexpected_error)
