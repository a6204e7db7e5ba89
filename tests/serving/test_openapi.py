"""The OpenAPI schema says what the server enforces, so generated clients and fuzzers match it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.schemas import NON_BLANK_PATTERN
from serving.settings import ServingSettings

SettingsFactory = Callable[..., ServingSettings]


@pytest.fixture
def schema(store_uri: str, make_settings: SettingsFactory) -> dict[str, Any]:
    with TestClient(create_app(make_settings(store_uri))) as client:
        return client.get("/openapi.json").json()


def body_schema(schema: dict[str, Any], path: str) -> dict[str, Any]:
    reference = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]


def test_the_classify_body_carries_this_servers_limits(schema: dict[str, Any], limits: dict[str, int]) -> None:
    body = body_schema(schema, "/v1/classify")
    item = schema["components"]["schemas"]["ClassifyItem"]["properties"]

    assert (body["properties"]["items"]["minItems"], body["properties"]["items"]["maxItems"]) == (
        1,
        limits["max_items"],
    )
    text = item["text"]
    assert (text["type"], text["minLength"], text["pattern"]) == ("string", 1, NON_BLANK_PATTERN)
    assert text["maxLength"] == limits["max_text_chars"]
    target = next(option for option in item["target"]["anyOf"] if option.get("type") == "string")
    assert (target["minLength"], target["maxLength"]) == (1, limits["max_target_chars"])


def test_the_article_body_carries_this_servers_limits(schema: dict[str, Any], limits: dict[str, int]) -> None:
    article = body_schema(schema, "/v1/articles")["properties"]

    assert article["title"]["maxLength"] == limits["max_text_chars"]
    assert (article["body"]["minLength"], article["body"]["maxLength"]) == (1, limits["max_article_chars"])
    assert article["targets"]["maxItems"] == limits["max_targets"]
    assert article["targets"]["uniqueItems"] is True
    assert article["targets"]["items"]["maxLength"] == limits["max_target_chars"]


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles"])
def test_422_is_documented_for_the_bodies(schema: dict[str, Any], path: str) -> None:
    assert "422" in schema["paths"][path]["post"]["responses"]


def test_metrics_are_documented_as_text(schema: dict[str, Any]) -> None:
    assert list(schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


@pytest.mark.parametrize(
    "text",
    ["\u001e", "\x85 ", "\ufeff", " \u3000\t", "\u200b", "\u0000\u0000", "\u00ad\u200d\u2060", "\u200e\x7f", "\ufe0f\u034f", "\u2800\u3164"],
)
def test_what_python_or_ecma_call_whitespace_and_invisible_characters_are_blank_for_both(text: str) -> None:
    # Schemathesis generated "\u001e": blank to Python's str.isspace, a character to ECMA's \s.
    assert re.search(NON_BLANK_PATTERN, text) is None


@pytest.mark.parametrize("text", ["a", "\u200bIran", "\u05d0", "\u0627\u0644", "\U0001f600", "\u00e9", "\u2764\ufe0f"])
def test_text_with_one_visible_character_is_not_blank(text: str) -> None:
    assert re.search(NON_BLANK_PATTERN, text) is not None
