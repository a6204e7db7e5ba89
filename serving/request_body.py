"""Request bodies read by the service itself, so one hostile body cannot stall the others.

FastAPI would parse and validate a body on the event loop, every item of it, before any limit is
looked at: a 3 MB body of a million `{}` items took 25 s and 2.4 GB. Here the JSON is parsed in a
worker thread when it is large (by a parser that lets the GIL go), list lengths are checked before
any item is validated, and at most MAX_REPORTED_ERRORS errors are reported.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
# Undocumented, but the json module's own fallback since Python 2.6; the stubs leave it out.
from json.scanner import py_make_scanner  # type: ignore[attr-defined]
from typing import Any, TypeVar, get_args, get_origin

import anyio.to_thread
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

# Parsing a smaller body takes well under a millisecond: cheaper than the hop to a thread.
INLINE_PARSE_BYTES = 64 * 1024
MAX_REPORTED_ERRORS = 20
# The charsets whose bodies UTF-8 reads as sent (UTF-8's spellings, and ASCII, a subset), case-folded; compared as
# text, since a lookup in Python's codecs would import whatever encoding module a client names.
UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})

Model = TypeVar("Model", bound=BaseModel)
Parsed = TypeVar("Parsed")


class UnsupportedMediaType(RequestValidationError):
    """A body refused for how it is sent (its Content-Type, charset or Content-Encoding), not for what it holds:
    answered 415 (RFC 9110, 15.5.16) in the 422's format, so a client tells "send it differently" from "fix a field"."""


def body_error(kind: str, message: str, *loc: str | int) -> dict[str, Any]:
    """One error in FastAPI's 422 format, about the body or a field of it (no input echoed back)."""
    return {"type": kind, "loc": ("body", *loc), "msg": message}


def is_json_content_type(content_type: str | None) -> bool:
    """True for the media types read as JSON: application/json and application/*+json."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    main_type, _, subtype = media_type.partition("/")
    return main_type == "application" and (subtype == "json" or subtype.endswith("+json"))


def declared_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type, unquoted; None where it names none."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def _no_constant(name: str) -> float:
    """Refuse NaN, Infinity and -Infinity, which Python's parser takes and JSON does not have."""
    raise ValueError(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    """A JSON integer; refused, in the service's words, past the digits Python converts (a guard against quadratic-time
    parsing), whose own error told HTTP clients to call sys.set_int_max_str_digits()."""
    digits, limit = len(text.lstrip("-")), sys.get_int_max_str_digits()
    if limit and digits > limit:
        raise ValueError(f"a number of {digits} digits; at most {limit} are read")
    return int(text)


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent as a float; refused where it overflows to infinity (1e999)."""
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 40 else f"{text[:40]}..."
        raise ValueError(f"the number {shown} is too large for a float")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members as a dict; refused where a key repeats, whose earlier value Python would drop unseen, or
    holds a lone surrogate."""
    for key, _ in pairs:
        # A `\ud800` escape in a key decodes to a lone surrogate, which pydantic reported as the object itself not
        # being "a valid string". isascii() is O(1), so only non-ASCII keys are encoded to be checked.
        if not key.isascii():
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"the key {json.dumps(key[:40])} is not valid Unicode (it contains a lone surrogate)") from None
    # Built member by member in Python, not by dict(pairs): in a worker thread, that one C call over an object of
    # 560,000 members held the GIL, and so the event loop, 80 ms.
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {json.dumps(key[:40])} appears twice in one object")
        found[key] = value
    return found


class _YieldingDecoder(json.JSONDecoder):
    """The standard decoder with its structure walked in Python (strings and numbers are still read in C), so that a
    worker thread parsing a large body gives the GIL back to the event loop every few milliseconds.

    The C scanner reads an array or object in one call that never lets go of the GIL: in a worker thread it held the
    event loop, and every other request, up to 1.4 s for an 8 MB body of 2.8 million `[]`. Walked in Python the loop
    waits at most a switch interval (5 ms) at a time, or a garbage collection pass; a body of millions of values
    takes its own request longer to parse (1.8 s for those `[]`), a body of a few hundred items no longer.
    """

    def __init__(self, **hooks: Any) -> None:
        super().__init__(**hooks)
        # The pure-Python scanner, which the json module falls back on where its C extension is missing.
        self.scan_once = py_make_scanner(self)


def decode_json(raw: bytes, *, yielding: bool = False) -> object:
    """The parsed body, or a 422 saying why it is not strict JSON (bad syntax, bytes, nesting, number, NaN or
    Infinity, a key repeated in one object: Python's parser would take the last value and say nothing) or not
    UTF-8. `yielding` parses it so that other threads run meanwhile (the same value, the same errors; for a worker
    thread)."""
    # Python's parser guesses UTF-16 and UTF-32 from a body's first bytes and reads them: this server reads UTF-8
    # only (RFC 8259; a body declaring another charset is refused), so such a body is refused for its encoding too.
    # A UTF-8 byte order mark is let through, as RFC 8259 allows.
    encoding = json.detect_encoding(raw)
    if encoding not in ("utf-8", "utf-8-sig"):
        message = f"the body is not UTF-8 (its first bytes look like {encoding.upper()}); this server reads UTF-8 JSON only"
        raise UnsupportedMediaType([body_error("json_charset", message)])
    try:
        return json.loads(
            raw,
            cls=_YieldingDecoder if yielding else None,
            parse_constant=_no_constant,
            parse_float=_finite,
            parse_int=_integer,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as err:
        message = f"body is not valid JSON at character {err.pos}: {err.msg}"
        raise RequestValidationError([body_error("json_invalid", message)]) from err
    except UnicodeDecodeError as err:
        message = f"body is not valid JSON: byte {err.start} is not UTF-8 ({err.reason})"
        raise RequestValidationError([body_error("json_invalid", message)]) from err
    except RecursionError as err:
        raise RequestValidationError([body_error("json_invalid", "body is not valid JSON: nested too deeply")]) from err
    # The hooks above refuse numbers, constants and repeated keys.
    except ValueError as err:
        raise RequestValidationError([body_error("json_invalid", f"body is not valid JSON: {err}")]) from err


def _json_type(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _list_item_model(annotation: object) -> type[BaseModel] | None:
    """The model of a `list[Model]` field's items; None for any other field."""
    if get_origin(annotation) is not list:
        return None
    (item,) = get_args(annotation) or (None,)
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def drop_surplus_unknown_keys(model: type[BaseModel], data: dict[str, Any]) -> int:
    """Remove, in place, the keys the model (or the model of a `list[Model]` field's items) does not define beyond
    the first MAX_REPORTED_ERRORS of them, and return how many were removed.

    Each unknown key is an error, and pydantic builds every error of a failed validation at once, holding the GIL:
    an 8 MB body of one item with 500,000 unknown keys took 1.2 s to list errors of which 20 are shown, and stalled
    every other request meanwhile. The keys kept are still refused by validation, so the request fails as before.
    """
    kept, dropped = 0, 0
    objects: list[tuple[type[BaseModel], dict[str, Any]]] = []
    for name, field in model.model_fields.items():
        item_model, values = _list_item_model(field.annotation), data.get(name)
        if item_model is not None and isinstance(values, list):
            objects += [(item_model, value) for value in values if isinstance(value, dict)]
    # The request's own unknown keys last, as pydantic reports them after its fields' errors.
    objects.append((model, data))
    for object_model, value in objects:
        unknown = [key for key in value if key not in object_model.model_fields]
        surplus = unknown[max(0, MAX_REPORTED_ERRORS - kept) :]
        for key in surplus:
            del value[key]
        kept, dropped = kept + len(unknown) - len(surplus), dropped + len(surplus)
    return dropped


def validate(model: type[Model], data: object, context: dict[str, Any]) -> Model:
    """`data` as the model, validated with `context` (the server's length limits: serving.schemas), or a 422 with at
    most MAX_REPORTED_ERRORS of its errors (the parsed body may be changed)."""
    if not isinstance(data, dict):
        raise RequestValidationError([body_error("model_type", f"must be a JSON object, got {_json_type(data)}")])
    dropped = drop_surplus_unknown_keys(model, data)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as err:
        errors: list[dict[str, Any]] = [
            _located(error) for error in err.errors(include_url=False)[:MAX_REPORTED_ERRORS]
        ]
        # The unknown keys dropped before validation are errors all the same.
        raise RequestValidationError(reported(errors, err.error_count() + dropped)) from err


def _located(error: Any) -> dict[str, Any]:
    """A pydantic error about the body, its path from the body down; a length error without the text it refuses (its
    message gives the length: 200 characters of a 20,000-character text only make it harder to read)."""
    located = {**error, "loc": ("body", *error["loc"])}
    if error["type"] == "string_too_long":
        located.pop("input", None)
        located.pop("ctx", None)
    return located


def reported(errors: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first MAX_REPORTED_ERRORS of a request's errors, then one saying how many more there were (`count` in all,
    where `errors` may list only the first of them): a 422 stays small however many items are at fault."""
    hidden = count - MAX_REPORTED_ERRORS
    shown = errors[:MAX_REPORTED_ERRORS]
    return [*shown, body_error("too_many_errors", f"{hidden} more errors not shown")] if hidden > 0 else shown


async def read_json_body(request: Request, check: Callable[[object], Parsed]) -> Parsed:
    """The body parsed as JSON and passed through `check` (which validates it), off the event loop when large."""
    content_types = request.headers.getlist("content-type")
    if len(content_types) > 1:
        # A field of one value (RFC 9110, 8.3): which of them the sender meant cannot be known, and reading the first
        # alone let a body declared Latin-1 by the second be read as UTF-8.
        message = f"{len(content_types)} Content-Type headers were sent; send one: `Content-Type: application/json`"
        raise UnsupportedMediaType([body_error("json_content_type", message)])
    content_type = content_types[0] if content_types else None
    if not is_json_content_type(content_type):
        # `curl -d` sends a form: the fault is the header, whatever the body holds.
        sent = f"`Content-Type: {content_type}`" if content_type else "no Content-Type header"
        message = f"must be JSON sent with `Content-Type: application/json` (got {sent})"
        raise UnsupportedMediaType([body_error("json_content_type", message)])
    charset = declared_charset(content_type)
    if charset is not None and charset.lower() not in UTF8_CHARSETS:
        # Read as UTF-8 regardless, a Latin-1 body is reported as bytes that are not UTF-8 (or misread, where its bytes
        # happen to be valid UTF-8) and a UTF-16 one is taken, as Python's parser guesses UTF-16 and UTF-32: the
        # declared charset is the fault to name, whatever the bytes are.
        shown = charset if len(charset) <= 40 else f"{charset[:40]}..."
        message = f"the body is declared as charset {shown}; this server reads UTF-8 JSON only"
        raise UnsupportedMediaType([body_error("json_charset", message)])
    # Every Content-Encoding header counts: HTTP reads repeated ones as one list (RFC 9110, 5.3), and the first alone
    # let `identity` followed by `gzip` through. An empty header or element names no coding, as `identity` does.
    declared = ", ".join(value.strip() for value in request.headers.getlist("content-encoding") if value.strip())
    codings = [coding.strip().lower() for coding in declared.split(",")]
    if any(coding not in ("", "identity") for coding in codings):
        # Read as it is, a gzip body would be reported as bytes that are not UTF-8.
        message = f"`Content-Encoding: {declared.lower()}` is not supported: send the body uncompressed"
        raise UnsupportedMediaType([body_error("content_encoding", message)])
    raw = await request.body()

    if len(raw) <= INLINE_PARSE_BYTES:
        return check(decode_json(raw))
    return await anyio.to_thread.run_sync(lambda: check(decode_json(raw, yielding=True)))
