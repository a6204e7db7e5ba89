"""The OpenAPI schema says what the server enforces, so generated clients and fuzzers match it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from classifiers.blank_text import NON_BLANK_PATTERN
from serving.app import create_app
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
    assert body["properties"]["items"]["description"] == (
        f"At most {limits['max_items']} items, whose texts hold at most {limits['max_request_chars']} characters "
        "together (NEWS_MAX_REQUEST_CHARS)."
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


def response_schemas(schema: dict[str, Any]) -> set[str]:
    """The component schemas that some answer's JSON refers to, directly or through another."""
    components = schema["components"]["schemas"]
    pending = [
        content["schema"]
        for operations in schema["paths"].values()
        for operation in operations.values()
        for response in operation["responses"].values()
        for media, content in response.get("content", {}).items()
        if media == "application/json"
    ]
    found: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and (name := reference.rsplit("/", 1)[-1]) not in found:
                found.add(name)
                pending.append(components[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def test_every_field_of_an_answer_is_required(schema: dict[str, Any]) -> None:
    # The server sends every field of an answer, null ones included (`stance: null`); a field the schema leaves out of
    # `required` becomes an optional property in generated clients, which then test for its absence as well as null.
    components = schema["components"]["schemas"]
    names = response_schemas(schema)

    assert {"ClassifyResponse", "ItemResult", "ModelsUsed", "Ready", "ModelStatus", "ModelInfo"} <= names
    not_required = {
        name: sorted(set(components[name]["properties"]) - set(components[name].get("required", [])))
        for name in sorted(names)
    }
    assert {name: fields for name, fields in not_required.items() if fields} == {}


@pytest.mark.parametrize(("path", "method"), [("/v1/classify", "post"), ("/v1/articles", "post"), ("/ready", "get")])
def test_the_503_for_a_missing_model_documents_retry_after(schema: dict[str, Any], path: str, method: str) -> None:
    # With polling on, the 503 says when to try again; a client generated from the schema sees the header only here.
    header = schema["paths"][path][method]["responses"]["503"]["headers"]["Retry-After"]

    assert header["schema"] == {"type": "integer", "minimum": 1}
    assert "NEWS_POLL_SECONDS" in header["description"]



@pytest.mark.parametrize(("path", "model"), [("/v1/classify", "ClassifyItem"), ("/v1/articles", "ArticleRequest")])
def test_the_fields_examples_make_a_request_the_server_answers(client: TestClient, path: str, model: str) -> None:
    # What a client trying the endpoint from /docs, or a generated client's sample, sends first.
    properties = client.get("/openapi.json").json()["components"]["schemas"][model]["properties"]
    example = {name: field["examples"][0] for name, field in properties.items()}

    response = client.post(path, json={"items": [example]} if model == "ClassifyItem" else example)

    assert response.status_code == 200, response.text
    if model == "ArticleRequest":
        assert [stance["mentioned"] for stance in response.json()["summary"]["stances"]] == [True, True]


def test_every_request_and_answer_says_what_it_is(schema: dict[str, Any]) -> None:
    # /docs listed the bodies by class name alone: a generated client's types had no documentation either.
    components = schema["components"]["schemas"]
    assert len(components) > 20 and not [name for name, body in components.items() if not body.get("description")]
    assert components["ClassifyItem"]["description"].startswith("A text to classify by topic")
