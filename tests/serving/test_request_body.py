"""serving/request_body.py: the body read as strict UTF-8 JSON, its content type and charset, and at most
MAX_REPORTED_ERRORS errors from validating it. The same refusals through the app's endpoints: test_limits.py."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError

from serving.request_body import (
    MAX_REPORTED_ERRORS,
    declared_charset,
    decode_json,
    drop_surplus_unknown_keys,
    is_json_content_type,
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


def only_message(raw: bytes) -> str:
    with pytest.raises(RequestValidationError) as refused:
        decode_json(raw)
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
def test_a_body_that_is_not_strict_utf8_json_is_a_422_saying_why(raw: bytes, message: str) -> None:
    assert only_message(raw) == message


def test_strict_json_is_read_with_or_without_a_utf8_byte_order_mark() -> None:
    assert decode_json(b'{"items": [{"text": "x"}], "n": 1.5}') == {"items": [{"text": "x"}], "n": 1.5}
    assert decode_json('{"a": "\u00e9"}'.encode("utf-8-sig")) == {"a": "\u00e9"}


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
        validate(ClassifyRequest, data)

    errors = refused.value.errors()
    assert len(errors) == MAX_REPORTED_ERRORS + 1
    assert errors[0]["loc"] == ("body", "items", 0, "text")
    assert errors[-1] == {"type": "too_many_errors", "loc": ("body",), "msg": "5 more errors not shown"}


@pytest.mark.parametrize(("data", "kind"), [([], "an array"), ("x", "a string"), (None, "null"), (3, "a number")])
def test_a_body_that_is_not_an_object_is_named_by_its_json_type(data: object, kind: str) -> None:
    with pytest.raises(RequestValidationError) as refused:
        validate(ClassifyRequest, data)
    assert refused.value.errors() == [{"type": "model_type", "loc": ("body",), "msg": f"must be a JSON object, got {kind}"}]


def test_a_valid_body_becomes_the_model() -> None:
    assert validate(ClassifyRequest, {"items": [{"text": "x", "target": "Iran"}]}).items[0].target == "Iran"
