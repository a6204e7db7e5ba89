"""Exception handlers: 422 messages that name the item, 503 without a model, 502 for a failed reload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic_core import to_json

from serving.model_holder import ReloadFailed
from serving.snapshot import ModelUnavailable


def error_path(loc: Sequence[str | int]) -> str:
    """`("body", "items", 3, "text")` -> `items[3].text`; the request body itself is `body`."""
    parts = list(loc[1:]) if loc and loc[0] == "body" and len(loc) > 1 else list(loc)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _explained(error: dict[str, Any]) -> dict[str, Any]:
    if error.get("type") == "json_invalid":
        # The location of a JSON syntax error is a character offset, not a field.
        reason = error.get("ctx", {}).get("error", "invalid JSON")
        return {**error, "msg": f"body is not valid JSON at character {error['loc'][-1]}: {reason}"}
    return {**error, "msg": f"{error_path(error['loc'])}: {error['msg']}"}


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422 format, with each message prefixed by the path of the field it is about."""
    # The rejected input is echoed back and may be anything the request held: 1e999 parses to infinity,
    # which strict JSON cannot carry (pydantic writes it as a string), a non-JSON body arrives as bytes
    # that need not be UTF-8, and a \ud800 escape decodes to a lone surrogate.
    errors = jsonable_encoder(
        [_explained(error) for error in exc.errors()],
        custom_encoder={
            bytes: lambda raw: raw.decode("utf-8", "replace"),
            str: lambda text: text.encode("utf-8", "replace").decode("utf-8"),
        },
    )
    return Response(to_json({"detail": errors}, inf_nan_mode="strings"), status_code=422, media_type="application/json")


async def model_unavailable(request: Request, exc: ModelUnavailable) -> JSONResponse:
    """503: a needed model is not loaded; the message says why (and how to train one)."""
    return JSONResponse(status_code=503, content={"detail": str(exc)})


async def reload_failed(request: Request, exc: ReloadFailed) -> JSONResponse:
    """502: a moved model could not be loaded; the previous snapshot is still served."""
    detail = f"reload failed; the previous models are still served: {exc}"
    return JSONResponse(status_code=502, content={"detail": detail, "failures": exc.failures})


def add_exception_handlers(app: FastAPI) -> None:
    """Register this module's handlers on the app."""
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(ModelUnavailable, model_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(ReloadFailed, reload_failed)  # type: ignore[arg-type]
