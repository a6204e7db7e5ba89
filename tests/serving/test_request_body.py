"""serving/request_body.py: the body read as strict UTF-8 JSON, its content type and charset, and at most
MAX_REPORTED_ERRORS errors from validating it. The same refusals through the app's endpoints: test_limits.py."""

from __future__ import annotations

import asyncio
import json
import json.decoder
import sys
import threading
from types import FrameType
from typing import Any

import pytest
from fastapi import Request
from fastapi.exceptions import RequestValidationError

from serving import request_body
from serving.request_body import (
    INLINE_PARSE_BYTES,
    MAX_REPORTED_ERRORS,
    UnsupportedMediaType,
    declared_charset,
    decode_json,
    drop_surplus_unknown_keys,
    is_json_content_type,
    read_json_body,
    validate,
)
from serving.schemas import ClassifyRequest


@pytest.mark.parametrize(
    ("content_type", "json"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/problem+json", True),
        (None, False),
        ("text/json", False),
        ("application/jsonl", False),
        ("application/x-www-form-urlencoded", False),
    ],
)
def test_json_is_application_json_or_a_json_suffix(content_type: str | None, json: bool) -> None:
    assert is_json_content_type(content_type) is json


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("application/json", None),
        ("application/json; charset=utf-8", "utf-8"),
        ('application/json;CHARSET="ISO-8859-1"', "ISO-8859-1"),
        ("application/json; charset=", None),
        ("application/json; boundary=x", None),
    ],
)
def test_the_declared_charset_is_read_unquoted(content_type: str, charset: str | None) -> None:
    assert declared_charset(content_type) == charset


def only_message(raw: bytes, yielding: bool = False) -> str:
    with pytest.raises(RequestValidationError) as refused:
        decode_json(raw, yielding=yielding)
    [error] = refused.value.errors()
    return error["msg"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"items": [}', "body is not valid JSON at character 11: Expecting value"),
        (b'{"a": 1, "a": 2}', 'body is not valid JSON: the key "a" appears twice in one object'),
        (b'{"a": NaN}', "body is not valid JSON: NaN is not a JSON number"),
        (b'{"a": 1e999}', "body is not valid JSON: the number 1e999 is too large for a float"),
        (b'{"\\ud800": 1}', 'body is not valid JSON: the key "\\ud800" is not valid Unicode (it contains a lone surrogate)'),
        (b'{"a": "\xff"}', "body is not valid JSON: byte 7 is not UTF-8 (invalid start byte)"),
        ('{"a": 1}'.encode("utf-16"), "the body is not UTF-8 (its first bytes look like UTF-16); this server reads UTF-8 JSON only"),
    ],
    ids=["syntax", "repeated key", "NaN", "overflow", "lone surrogate key", "not UTF-8", "UTF-16"],
)
@pytest.mark.parametrize("yielding", [False, True], ids=["inline", "yielding"])
def test_a_body_that_is_not_strict_utf8_json_is_a_422_saying_why(raw: bytes, message: str, yielding: bool) -> None:
    assert only_message(raw, yielding) == message


@pytest.mark.parametrize("yielding", [False, True], ids=["inline", "yielding"])
def test_a_body_in_another_encoding_is_refused_for_its_media_type_and_bad_json_for_its_content(yielding: bool) -> None:
    # The first is answered 415 (send it differently), the second 422 (mend what it holds).
    with pytest.raises(UnsupportedMediaType):
        decode_json('{"a": 1}'.encode("utf-32"), yielding=yielding)
    with pytest.raises(RequestValidationError) as refused:
        decode_json(b'{"a": "\xff"}', yielding=yielding)
    assert not isinstance(refused.value, UnsupportedMediaType)


@pytest.mark.parametrize("yielding", [False, True], ids=["inline", "yielding"])
def test_strict_json_is_read_with_or_without_a_utf8_byte_order_mark(yielding: bool) -> None:
    body = b'{"items": [{"text": "x", "n": [1, -0, 2.5e3, true, null]}], "n": 1.5}'
    assert decode_json(body, yielding=yielding) == {"items": [{"text": "x", "n": [1, 0, 2500.0, True, None]}], "n": 1.5}
    assert decode_json('{"a": "\u00e9"}'.encode("utf-8-sig"), yielding=yielding) == {"a": "\u00e9"}


def test_a_yielding_parse_walks_the_body_in_python_code_where_the_gil_can_pass_to_the_event_loop() -> None:
    # The C parser reads an array in one call that keeps the GIL: in a worker thread, an 8 MB body of 2.8 million
    # `[]` still held the event loop 1.4 s. Python code checks, between its instructions, whether another thread
    # (the event loop) asks for the GIL.
    body = b"[" + b",".join([b"[]"] * 1000) + b"]"
    calls: list[str] = []

    def count(frame: FrameType, event: str, _: object) -> None:
        if event == "call" and frame.f_code.co_filename == json.decoder.__file__:
            calls.append(frame.f_code.co_name)

    sys.setprofile(count)
    try:
        decode_json(body, yielding=True)
    finally:
        sys.setprofile(None)

    assert calls.count("JSONArray") == 1001


def test_a_large_body_is_parsed_and_checked_in_a_worker_thread_a_small_one_on_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[tuple[int, int, bool]] = []

    def recording_decode_json(raw: bytes, *, yielding: bool = False) -> object:
        parsed.append((len(raw), threading.get_ident(), yielding))
        return decode_json(raw, yielding=yielding)

    monkeypatch.setattr(request_body, "decode_json", recording_decode_json)
    small = json.dumps({"items": [{"text": "Talks resumed."}]}).encode()
    large = json.dumps({"items": [{"text": "Talks resumed." + " " * INLINE_PARSE_BYTES}]}).encode()

    async def read(raw: bytes) -> tuple[object, int]:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": raw, "more_body": False}

        scope = {"type": "http", "method": "POST", "headers": [(b"content-type", b"application/json")]}
        return await read_json_body(Request(scope, receive), lambda data: data), threading.get_ident()

    (small_data, loop_thread), (large_data, _) = asyncio.run(read(small)), asyncio.run(read(large))

    assert small_data == json.loads(small) and large_data == json.loads(large)
    [(_, small_thread, small_yielding), (_, large_thread, large_yielding)] = parsed
    assert (small_thread, small_yielding) == (loop_thread, False)
    assert large_thread != loop_thread and large_yielding


def test_unknown_keys_beyond_the_reported_errors_are_dropped_items_first() -> None:
    data: dict[str, Any] = {
        "items": [{"text": "x", **{f"i{n}": n for n in range(15)}}, {"text": "y", **{f"j{n}": n for n in range(15)}}],
        **{f"k{n}": n for n in range(3)},
    }

    assert drop_surplus_unknown_keys(ClassifyRequest, data) == 15 + 15 + 3 - MAX_REPORTED_ERRORS
    # The first item keeps all 15, the second 5, the request none: its own come last, as pydantic reports them.
    assert [len(item) - 1 for item in data["items"]] == [15, 5]
    assert list(data) == ["items"]


def test_validation_reports_at_most_twenty_errors_and_counts_the_rest() -> None:
    data = {"items": [{"text": " "}] * 25}

    with pytest.raises(RequestValidationError) as refused:
        validate(ClassifyRequest, data, {})

    errors = refused.value.errors()
    assert len(errors) == MAX_REPORTED_ERRORS + 1
    assert errors[0]["loc"] == ("body", "items", 0, "text")
    assert errors[-1] == {"type": "too_many_errors", "loc": ("body",), "msg": "5 more errors not shown"}


@pytest.mark.parametrize(("data", "kind"), [([], "an array"), ("x", "a string"), (None, "null"), (3, "a number")])
def test_a_body_that_is_not_an_object_is_named_by_its_json_type(data: object, kind: str) -> None:
    with pytest.raises(RequestValidationError) as refused:
        validate(ClassifyRequest, data, {})
    assert refused.value.errors() == [{"type": "model_type", "loc": ("body",), "msg": f"must be a JSON object, got {kind}"}]


def test_a_valid_body_becomes_the_model() -> None:
    assert validate(ClassifyRequest, {"items": [{"text": "x", "target": "Iran"}]}, {}).items[0].target == "Iran"
