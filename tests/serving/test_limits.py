"""Bad input: 422 naming the item and the reason, 413 for an oversized body, never a 500."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from serving.app import create_app
from serving.request_body import MAX_REPORTED_ERRORS
from serving.schemas import ArticleRequest, ClassifyItem, ClassifyRequest
from serving.settings import ServingSettings

SettingsFactory = Callable[..., ServingSettings]


def only_error(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    errors = response.json()["detail"]
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\n\t \u00a0", "\x00", "\u200b\u200d", "\ufe0f\u034f", "\u2800\u3164", "\u202e\u2066", "\U000e0041", "\u0301"],
)
def test_empty_or_whitespace_text_names_the_item(client: TestClient, text: str) -> None:
    items = [{"text": "Fine text."}] * 3 + [{"text": text}]

    error = only_error(client.post("/v1/classify", json={"items": items}))

    assert error["loc"] == ["body", "items", 3, "text"]
    assert error["msg"] == "items[3].text: must not be empty or whitespace"


def test_blank_target_is_rejected_too(client: TestClient) -> None:
    error = only_error(client.post("/v1/classify", json={"items": [{"text": "Fine.", "target": " "}]}))

    assert error["msg"] == "items[0].target: must not be empty or whitespace"


def test_too_many_items(client: TestClient, limits: dict[str, int]) -> None:
    items = [{"text": "Some news."}] * (limits["max_items"] + 1)

    error = only_error(client.post("/v1/classify", json={"items": items}))

    assert error["loc"] == ["body", "items"]
    assert error["msg"] == f"items: at most {limits['max_items']} items per request, got {limits['max_items'] + 1}"


def test_texts_over_the_request_budget_are_refused_before_any_model_runs(client: TestClient, limits: dict[str, int]) -> None:
    # Each text within its own limit; together over the request's (long texts are read whole, so this bounds the work).
    share = limits["max_request_chars"] // 2
    within = {"items": [{"text": "a" * share}, {"text": "b" * share}]}
    over = {"items": [{"text": "a" * share}, {"text": "b" * share}, {"text": "c"}]}

    assert client.post("/v1/classify", json=within).status_code == 200
    error = only_error(client.post("/v1/classify", json=over))

    assert error["loc"] == ["body", "items"]
    assert error["msg"] == (
        f"items: the texts hold {2 * share + 1} characters in all; a request may hold at most "
        f"{limits['max_request_chars']} (send the items in several requests)"
    )


def test_no_items(client: TestClient) -> None:
    error = only_error(client.post("/v1/classify", json={"items": []}))

    assert error["loc"] == ["body", "items"]
    assert error["msg"].startswith("items: List should have at least 1 item")


def test_too_long_text_target_and_document_name_each_item(client: TestClient, limits: dict[str, int]) -> None:
    long_text = "word " * (limits["max_text_chars"] // 5) + "x"
    items = [
        {"text": "ok"},
        {"text": long_text},
        {"text": "ok", "target": "t" * (limits["max_target_chars"] + 1)},
        {"text": "ok", "document": "d" * (limits["max_target_chars"] + 1)},
    ]

    response = client.post("/v1/classify", json={"items": items})

    assert response.status_code == 422
    text_limit, target_limit = limits["max_text_chars"], limits["max_target_chars"]
    assert [error["msg"] for error in response.json()["detail"]] == [
        f"items[1].text: must be at most {text_limit} characters, got {len(long_text)}",
        f"items[2].target: must be at most {target_limit} characters, got {target_limit + 1}",
        f"items[3].document: must be at most {target_limit} characters, got {target_limit + 1}",
    ]


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles"])
def test_a_too_long_text_is_named_in_the_same_answer_as_the_requests_other_faults(
    client: TestClient, limits: dict[str, int], path: str
) -> None:
    long_text = "a" * (limits["max_text_chars"] + 1)
    if path == "/v1/classify":
        body: dict[str, Any] = {"items": [{"text": long_text}, {"text": "ok", "lang": "en"}]}
        expected = [f"items[0].text: must be at most {limits['max_text_chars']} characters, got {len(long_text)}",
                    "items[1].lang: Extra inputs are not permitted"]
    else:
        body = {"title": long_text, "body": "Talks resumed.", "targets": [""]}
        expected = [f"title: must be at most {limits['max_text_chars']} characters, got {len(long_text)}",
                    "targets[0]: must not be empty or whitespace"]

    response = client.post(path, json=body)

    # The lengths were checked after the rest: a client mended the other fault and was then told of the length.
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [error["msg"] for error in errors] == expected
    # The message gives the length; the refused text is not repeated.
    assert "input" not in errors[0] and "ctx" not in errors[0]


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        ({"items": [{"text": 42}]}, ["body", "items", 0, "text"], "items[0].text: Input should be a valid string"),
        (
            {"items": [{"text": "a", "target": ["x"]}]},
            ["body", "items", 0, "target"],
            "items[0].target: Input should be a valid string",
        ),
        ({"items": "text"}, ["body", "items"], "items: Input should be a valid list"),
        (
            {"items": [{"text": "a", "lang": "en"}]},
            ["body", "items", 0, "lang"],
            "items[0].lang: Extra inputs are not permitted",
        ),
        ({"items": [{"text": "a"}], "model": "x"}, ["body", "model"], "model: Extra inputs are not permitted"),
        ({"items": [{}]}, ["body", "items", 0, "text"], "items[0].text: Field required"),
        ([{"text": "a"}], ["body"], "body: must be a JSON object, got an array"),
        ("news", ["body"], "body: must be a JSON object, got a string"),
    ],
)
def test_wrong_types_and_unknown_fields(client: TestClient, body: Any, loc: list[Any], message: str) -> None:
    error = only_error(client.post("/v1/classify", json=body))

    assert error["loc"] == loc
    assert error["msg"] == message


def test_malformed_json_says_where(client: TestClient) -> None:
    response = client.post("/v1/classify", content=b'{"items": [', headers={"content-type": "application/json"})

    error = only_error(response)
    assert error["msg"].startswith("body is not valid JSON at character 11")


def oversized_body(limits: dict[str, int]) -> bytes:
    # Each text is within the text limit; only the body as a whole is too large.
    items = [{"text": "x" * 400}] * (limits["max_body_bytes"] // 400 + 1)
    return json.dumps({"items": items}).encode()


def in_parts(raw: bytes) -> Iterator[bytes]:
    """A body sent in chunks, without Content-Length: found too large only while it is read."""
    yield from (raw[start : start + 1000] for start in range(0, len(raw), 1000))


def assert_json_413(response: Any, limits: dict[str, int]) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "detail": f"the request body is larger than the limit of {limits['max_body_bytes']} bytes"
    }


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles", "/v1/models/reload", "/no-such-path"])
def test_a_declared_body_over_the_size_limit_is_413_in_json(
    client: TestClient, limits: dict[str, int], path: str
) -> None:
    # Starlette answers 413 for any request whose Content-Length is over the limit, read or not.
    response = client.post(path, content=oversized_body(limits), headers={"content-type": "application/json"})

    assert_json_413(response, limits)


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles"])
def test_a_chunked_body_over_the_size_limit_is_413_in_json(
    client: TestClient, limits: dict[str, int], path: str
) -> None:
    response = client.post(path, content=in_parts(oversized_body(limits)), headers={"content-type": "application/json"})

    assert "content-length" not in response.request.headers
    assert_json_413(response, limits)


def test_a_repeated_article_target_is_named(client: TestClient) -> None:
    body = {"title": "t", "body": "Text.", "targets": ["Iran", "Israel", "Iran"]}

    error = only_error(client.post("/v1/articles", json=body))

    assert error["loc"] == ["body", "targets"]
    assert error["msg"] == "targets: target 'Iran' is given twice"


@pytest.mark.parametrize("repeat", ["iran", " Iran", "IRAN"])
def test_a_target_repeated_in_other_case_or_spacing_is_named_with_its_first_spelling(
    client: TestClient, repeat: str
) -> None:
    # Targets are looked up regardless of case and spacing: the two would get the same answer twice.
    body = {"title": "t", "body": "Text.", "targets": ["Iran", "Israel", repeat]}

    error = only_error(client.post("/v1/articles", json=body))

    assert error["msg"] == f"targets: target '{repeat}' is given twice (as 'Iran')"


def test_targets_that_find_different_mentions_are_not_repeats(client: TestClient) -> None:
    # An all-caps name is matched in its case: "US" is not in "Let us go", "us" is.
    body = {"title": "t", "body": "Let us go, the envoy said.", "targets": ["US", "us"]}

    response = client.post("/v1/articles", json=body)

    assert response.status_code == 200, response.text
    stances = response.json()["summary"]["stances"]
    assert [(stance["target"], stance["mentioned"]) for stance in stances] == [("US", False), ("us", True)]


def test_a_value_nested_nearly_as_deep_as_the_parser_allows_is_refused_without_a_crash(
    store_uri: str, make_settings: SettingsFactory
) -> None:
    # Over 64 KiB, so parsed in a worker thread, by the Python scanner (two frames a level: it stops near 490 levels);
    # echoing the nested value back once overflowed the stack (a 500).
    nested = "[" * 480 + "]" * 480
    raw = f'{{"items": [{{"text": "{"p" * 70_000}"}}, {{"text": {nested}}}]}}'.encode()
    with TestClient(create_app(make_settings(store_uri, max_body_bytes=4 * 1024 * 1024))) as app_client:
        response = app_client.post("/v1/classify", content=raw, headers={"content-type": "application/json"})

    assert response.status_code == 422
    too_long, error = response.json()["detail"]
    assert too_long["msg"].startswith("items[0].text: must be at most ")
    assert error["msg"].startswith("items[1].text: ") and "input" not in error


@pytest.mark.parametrize(
    ("content_type", "got"),
    [
        ("application/x-www-form-urlencoded", "`Content-Type: application/x-www-form-urlencoded`"),
        ("text/plain", "`Content-Type: text/plain`"),
        ("text/plain; charset=utf-8", "`Content-Type: text/plain; charset=utf-8`"),
        (None, "no Content-Type header"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles"])
def test_a_body_without_a_json_content_type_is_told_to_send_json(
    client: TestClient, path: str, content_type: str | None, got: str
) -> None:
    # What `curl -d '{...}'` sends: a JSON body, labelled as a form.
    headers = {"content-type": content_type} if content_type else {}
    body = {"items": [{"text": "Some news."}]} if path == "/v1/classify" else {"title": "t", "body": "Text."}
    raw = json.dumps(body).encode()

    error = only_error(client.post(path, content=raw, headers=headers), 415)

    assert error["loc"] == ["body"]
    assert error["msg"] == f"body: must be JSON sent with `Content-Type: application/json` (got {got})"


def test_a_form_posted_body_is_told_to_send_json(client: TestClient) -> None:
    response = client.post("/v1/classify", data={"items": "Some news."})
    error = only_error(response, 415)
    # Accept-Encoding answers a refused content coding; the coding is not the fault here.
    assert "accept-encoding" not in response.headers

    assert error["msg"] == (
        "body: must be JSON sent with `Content-Type: application/json` "
        "(got `Content-Type: application/x-www-form-urlencoded`)"
    )


def test_article_limits(client: TestClient, limits: dict[str, int]) -> None:
    targets = [f"target {index}" for index in range(limits["max_targets"])]
    body = {
        "title": "t" * (limits["max_text_chars"] + 1),
        "body": "b" * (limits["max_article_chars"] + 1),
        "targets": targets,
    }

    response = client.post("/v1/articles", json=body)

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "title"], ["body", "body"]]


def test_article_title_over_the_text_limit(client: TestClient, limits: dict[str, int]) -> None:
    title = "t" * (limits["max_text_chars"] + 1)

    error = only_error(client.post("/v1/articles", json={"title": title, "body": "Text."}))

    assert error["loc"] == ["body", "title"]
    assert error["msg"] == f"title: must be at most {limits['max_text_chars']} characters, got {len(title)}"


def test_article_with_too_many_segments(client: TestClient, limits: dict[str, int]) -> None:
    body = "\n".join(f"Paragraph number {index} ends here." for index in range(limits["max_items"] + 1))

    error = only_error(client.post("/v1/articles", json={"title": "t", "body": body}))

    most = limits["max_items"]
    assert error["msg"] == f"body: splits into {most + 1} segments; at most {most} are classified per request"


def test_an_article_naming_its_targets_more_often_than_the_item_limit_is_refused_before_any_model_runs(
    client: TestClient, limits: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = ["Iran", "Israel", "Hamas"]
    paragraph = "Iran, Israel and Hamas sent envoys to the talks in Cairo on Monday."
    # One segment more than fits: each names every target.
    count = limits["max_items"] // len(targets) + 1
    body = "\n".join([paragraph] * count)

    async def predict(*args: object) -> None:
        raise AssertionError("a model ran before the limit was checked")

    monkeypatch.setattr(client.app.state.batcher, "predict", predict)  # type: ignore[attr-defined]

    error = only_error(client.post("/v1/articles", json={"title": "t", "body": body, "targets": targets}))

    pairs, most = count * len(targets), limits["max_items"]
    assert error["type"] == "too_many_stance_pairs"
    assert error["msg"] == (
        f"targets: the {count} segments name the 3 targets {pairs} times; at most {most} (segment, target) pairs are "
        "classified per request"
    )


def test_an_article_with_as_many_pairs_as_the_item_limit_is_classified(client: TestClient, limits: dict[str, int]) -> None:
    paragraph = "Iran and Israel sent envoys to the talks in Cairo on Monday."
    body = "\n".join([paragraph] * (limits["max_items"] // 2))

    response = client.post("/v1/articles", json={"title": "t", "body": body, "targets": ["Iran", "Israel"]})

    assert response.status_code == 200, response.text
    assert sum(len(segment["stances"]) for segment in response.json()["segments"]) == limits["max_items"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"title": "t", "body": " \n\n "}, ["body", "body"]),
        # Nothing visible in any paragraph: refused as blank, not an article of no segments.
        ({"title": "t", "body": "\u0000\n\n\u200b\n\u2800"}, ["body", "body"]),
        ({"title": "t", "body": "Text.", "targets": ["Iran", "Iran"]}, ["body", "targets"]),
        ({"title": "t", "body": "Text.", "targets": ["Iran", ""]}, ["body", "targets", 1]),
        ({"body": "Text."}, ["body", "title"]),
        ({"title": "t", "body": "Text.", "target": "Iran"}, ["body", "target"]),
    ],
)
def test_bad_articles(client: TestClient, body: dict[str, Any], loc: list[Any]) -> None:
    assert only_error(client.post("/v1/articles", json=body))["loc"] == loc


ODD_BUT_VALID = [
    "a\x00b",
    "🙂🙂🙂",
    "!!!",
    "<script>alert(1)</script>",
    "a",
    "ق" * 400,
    "line one\r\nline two\rline three",
    "Ünïcödé  accents — and ‘quotes’",
]


@pytest.mark.parametrize("text", ODD_BUT_VALID)
def test_odd_texts_and_targets_are_classified(client: TestClient, text: str) -> None:
    """TestClient re-raises any server error, so these also prove no such input gives a 500."""
    response = client.post("/v1/classify", json={"items": [{"text": text, "target": text[:40]}]})

    assert response.status_code == 200
    assert response.json()["results"][0]["stance"]["target"] == text[:40]


@pytest.mark.parametrize("text", ODD_BUT_VALID)
def test_odd_articles_are_summarised(client: TestClient, text: str) -> None:
    response = client.post("/v1/articles", json={"title": text, "body": text, "targets": [text[:40]]})

    assert response.status_code == 200
    assert response.json()["summary"]["segments"] >= 1


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b"{}",
        b'"items"',
        b"1e999",
        b'{"items": null}',
        b'{"items": [null]}',
        # Not UTF-8 and no byte order mark (\xff\xfe is UTF-16's: a 415).
        b"\xff\xfd",
        b'{"items": [{"text": "a"}]',
    ],
)
def test_garbage_bodies_are_422(client: TestClient, raw: bytes) -> None:
    for path in ("/v1/classify", "/v1/articles"):
        response = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 422, (path, raw, response.text)
        assert all(error["msg"] for error in response.json()["detail"])


def test_bodies_not_labelled_json_are_415(client: TestClient) -> None:
    for content_type, raw in [
        ("text/plain", b"hello"),
        ("application/octet-stream", b"\xff\xfe\x00"),
        ("application/x-www-form-urlencoded", b"items=1"),
    ]:
        response = client.post("/v1/classify", content=raw, headers={"content-type": content_type})
        assert response.status_code == 415, (content_type, response.text)


@pytest.mark.parametrize(
    ("path", "raw", "loc"),
    [
        ("/v1/classify", rb'{"items": [{"text": "\ud800 hello"}]}', ["body", "items", 0, "text"]),
        ("/v1/classify", rb'{"items": [{"text": "ok", "target": "\udfff"}]}', ["body", "items", 0, "target"]),
        ("/v1/articles", rb'{"title": "\ud800", "body": "Israel struck."}', ["body", "title"]),
        ("/v1/articles", rb'{"title": "t", "body": "ok", "targets": ["\ud83d"]}', ["body", "targets", 0]),
    ],
)
def test_lone_surrogates_are_422(client: TestClient, path: str, raw: bytes, loc: list[Any]) -> None:
    error = only_error(client.post(path, content=raw, headers={"content-type": "application/json"}))

    assert error["loc"] == loc
    assert error["msg"].endswith("must be valid Unicode (it contains a lone surrogate)")


def test_a_lone_surrogate_in_an_unknown_field_is_echoed_safely(client: TestClient) -> None:
    raw = rb'{"items": [{"text": "ok", "note": "\ud800"}]}'

    error = only_error(client.post("/v1/classify", content=raw, headers={"content-type": "application/json"}))

    assert error["msg"] == "items[0].note: Extra inputs are not permitted"
    assert error["input"] == "?"


def test_the_413_is_documented_with_the_error_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    for path in ("/v1/classify", "/v1/articles"):
        schema = paths[path]["post"]["responses"]["413"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}


def test_a_million_empty_items_are_refused_by_their_count_alone(store_uri: str, make_settings: SettingsFactory) -> None:
    # The reproduction, under the default limits: 3 MB of `{}` items once took 25 s, 2.4 GB and
    # answered a 110 MB list of a million "Field required" errors.
    raw = b'{"items":[' + b",".join([b"{}"] * 1_000_000) + b"]}"
    # No models needed: the body is refused before any would be used.
    settings = make_settings(store_uri, max_items=256, max_body_bytes=8 * 1024 * 1024)

    with TestClient(create_app(settings)) as app_client:
        response = app_client.post("/v1/classify", content=raw, headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "too_many_items",
                "loc": ["body", "items"],
                "msg": "items: at most 256 items per request, got 1000000",
            }
        ]
    }


def test_too_many_targets_are_refused_before_the_article_is_validated(
    client: TestClient, limits: dict[str, int]
) -> None:
    body = {"title": 7, "body": "", "targets": ["t"] * (limits["max_targets"] + 1)}

    error = only_error(client.post("/v1/articles", json=body))

    assert error["msg"] == f"targets: at most {limits['max_targets']} targets, got {limits['max_targets'] + 1}"


def test_at_most_twenty_errors_are_reported(client: TestClient, limits: dict[str, int]) -> None:
    # Each item has three faults: no text, and two unknown fields.
    items = [{"a": 1, "b": 2}] * limits["max_items"]

    response = client.post("/v1/classify", json={"items": items})

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert len(errors) == MAX_REPORTED_ERRORS + 1
    assert errors[-1]["msg"] == f"body: {3 * limits['max_items'] - MAX_REPORTED_ERRORS} more errors not shown"


def test_at_most_twenty_length_errors_are_reported(client: TestClient, limits: dict[str, int]) -> None:
    # Each item's text, target and document name are too long: the 768 errors made a 100 KB answer.
    long_name = "t" * (limits["max_target_chars"] + 1)
    item = {"text": "a" * (limits["max_text_chars"] + 1), "target": long_name, "document": long_name}

    response = client.post("/v1/classify", json={"items": [item] * limits["max_items"]})

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert len(errors) == MAX_REPORTED_ERRORS + 1
    assert errors[0]["loc"] == ["body", "items", 0, "text"]
    assert errors[-1]["msg"] == f"body: {3 * limits['max_items'] - MAX_REPORTED_ERRORS} more errors not shown"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b'{"items": [{"text": "caf\xe9"}]}',
            "body is not valid JSON: byte 24 is not UTF-8 (invalid continuation byte)",
        ),
        (b"\xff", "body is not valid JSON: byte 0 is not UTF-8 (invalid start byte)"),
        (b"[" * 1_000_000 + b"]" * 1_000_000, "body is not valid JSON: nested too deeply"),
        # Python's own message told HTTP clients to call sys.set_int_max_str_digits().
        (b'{"items": -' + b"9" * 5000 + b"}", "body is not valid JSON: a number of 5000 digits; at most 4300 are read"),
        # Python's parser takes these, strict JSON does not: a client library would never send them.
        (b'{"items": [{"text": "Talks resumed.", "weight": NaN}]}', "body is not valid JSON: NaN is not a JSON number"),
        (b'{"items": -Infinity}', "body is not valid JSON: -Infinity is not a JSON number"),
        (b'{"items": 1e999}', "body is not valid JSON: the number 1e999 is too large for a float"),
        # The last value would win unseen: two texts in one item, one of them never classified.
        (
            b'{"items": [{"text": "Talks resumed.", "text": "Rockets hit the base."}]}',
            'body is not valid JSON: the key "text" appears twice in one object',
        ),
    ],
    ids=["latin-1 byte", "lone 0xff", "million-deep nesting", "5,000-digit integer", "NaN", "Infinity", "1e999", "repeated key"],
)
def test_bodies_json_cannot_read_are_422_naming_why(
    store_uri: str, make_settings: SettingsFactory, raw: bytes, message: str
) -> None:
    # These were 400 "There was an error parsing the body", where the docs promise 422.
    with TestClient(create_app(make_settings(store_uri, max_body_bytes=4 * 1024 * 1024))) as app_client:
        response = app_client.post("/v1/classify", content=raw, headers={"content-type": "application/json"})

    error = only_error(response)
    assert error["type"] == "json_invalid"
    assert error["msg"].startswith(message)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"items": [{"text": "Talks resumed.", "k" * 2_000_000: 1}]}, "items[0]."),
        ({"items": "x" * 2_000_000}, "items"),
        ({"items": [{"target": "Iran", "document": "d" * 100, "x" * 300: "y" * 1_000_000}]}, "items[0]."),
    ],
    ids=["unknown key", "wrong type", "missing field"],
)
def test_an_error_repeats_at_most_a_few_hundred_characters_of_the_request(
    store_uri: str, make_settings: SettingsFactory, body: dict[str, Any], path: str
) -> None:
    # Echoed whole, a 2 MB key came back twice in a 4 MB answer, and an 8 MB value three times over.
    with TestClient(create_app(make_settings(store_uri, max_body_bytes=4 * 1024 * 1024))) as app_client:
        response = app_client.post("/v1/classify", json=body)

    assert response.status_code == 422
    assert len(response.content) < 4000, response.content[:4000]
    for error in response.json()["detail"]:
        assert error["msg"].startswith(path)
        long_parts = [part for part in error["loc"] if isinstance(part, str) and len(part) > 200]
        assert all(part.endswith(" characters)") for part in long_parts)
        if isinstance(error.get("input"), str):
            assert error["input"].endswith(" characters)") and len(error["input"]) < 300


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles"])
def test_a_compressed_body_is_told_to_come_uncompressed(client: TestClient, path: str) -> None:
    body = gzip.compress(json.dumps({"items": [{"text": "Talks resumed."}]}).encode())
    headers = {"content-type": "application/json", "content-encoding": "gzip"}

    response = client.post(path, content=body, headers=headers)
    error = only_error(response, 415)

    # Read as it was, the body was "not valid JSON: byte 1 is not UTF-8"; a 422 told the client to mend a field.
    assert error["msg"] == "body: `Content-Encoding: gzip` is not supported: send the body uncompressed"
    # RFC 9110 12.5.3: a 415 for a content coding says which codings are read.
    assert response.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize(
    ("charset", "encoding"),
    [("latin-1", "latin-1"), ("ISO-8859-1", "latin-1"), ("utf-16", "utf-16"), ('"windows-1252"', "cp1252")],
)
@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles"])
def test_a_body_declared_in_another_charset_is_told_only_utf8_is_read(
    client: TestClient, path: str, charset: str, encoding: str
) -> None:
    text = "Café owners protested in Zürich."
    body = {"items": [{"text": text}]} if path == "/v1/classify" else {"title": "t", "body": text}
    headers = {"content-type": f"application/json; charset={charset}"}

    raw = json.dumps(body, ensure_ascii=False).encode(encoding)

    error = only_error(client.post(path, content=raw, headers=headers), 415)

    # Before, the Latin-1 body was "not valid JSON: byte 28 is not UTF-8" and the UTF-16 one was read as JSON.
    assert error["type"] == "json_charset"
    assert error["loc"] == ["body"]
    shown = charset.strip('"')
    assert error["msg"] == f"body: the body is declared as charset {shown}; this server reads UTF-8 JSON only"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "application/json; charset=UTF-8",
        "application/json;charset=utf8",
        'application/json; charset="utf-8"',
        "application/json",
    ],
)
@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles"])
def test_a_body_declared_as_utf8_or_undeclared_is_read(client: TestClient, path: str, content_type: str) -> None:
    text = "Café owners protested in Zürich."
    body = {"items": [{"text": text}]} if path == "/v1/classify" else {"title": "t", "body": text}

    raw = json.dumps(body, ensure_ascii=False).encode()

    response = client.post(path, content=raw, headers={"content-type": content_type})

    assert response.status_code == 200, response.text
    if path == "/v1/classify":
        assert len(response.json()["results"]) == 1
    else:
        # Read as UTF-8: the accented letters come back as sent.
        assert [segment["text"] for segment in response.json()["segments"]] == [text]


@pytest.mark.parametrize("charset", ["us-ascii", "ASCII"])
def test_a_body_declared_as_ascii_is_read_as_utf8_reads_it(client: TestClient, charset: str) -> None:
    # ASCII is a subset of UTF-8; json.dumps escapes the accented letters, so the body is ASCII as declared.
    text = "Café owners protested in Zürich."
    raw = json.dumps({"title": "t", "body": text}).encode("ascii")

    response = client.post("/v1/articles", content=raw, headers={"content-type": f"application/json; charset={charset}"})

    assert response.status_code == 200, response.text
    assert [segment["text"] for segment in response.json()["segments"]] == [text]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles"])
def test_a_body_in_utf16_or_utf32_without_a_charset_is_told_only_utf8_is_read(
    store_uri: str, make_settings: SettingsFactory, path: str, encoding: str
) -> None:
    body = {"items": [{"text": "Talks resumed."}]} if path == "/v1/classify" else {"title": "t", "body": "Talks resumed."}
    raw = json.dumps(body).encode(encoding)

    with TestClient(create_app(make_settings(store_uri))) as app_client:
        error = only_error(app_client.post(path, content=raw, headers={"content-type": "application/json"}), 415)

    # Python's parser guessed the encoding and read the body (200), where the same body declared as charset=utf-16 is
    # refused and the docs say only UTF-8 is read.
    assert error["type"] == "json_charset"
    assert error["loc"] == ["body"]
    assert error["msg"].startswith(f"body: the body is not UTF-8 (its first bytes look like {encoding.split('-')[0].upper()}")
    assert error["msg"].endswith("this server reads UTF-8 JSON only")


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/articles"])
def test_a_utf8_body_with_a_byte_order_mark_is_read(client: TestClient, path: str) -> None:
    # RFC 8259 lets a parser ignore a UTF-8 BOM.
    body = {"items": [{"text": "Talks resumed."}]} if path == "/v1/classify" else {"title": "t", "body": "Talks resumed."}
    raw = b"\xef\xbb\xbf" + json.dumps(body).encode()

    response = client.post(path, content=raw, headers={"content-type": "application/json"})

    assert response.status_code == 200, response.text
    answered = response.json()
    assert len(answered["results"]) == 1 if path == "/v1/classify" else answered["summary"]["segments"] == 1


@pytest.mark.parametrize(
    ("headers", "shown"),
    [
        ([("content-encoding", "identity"), ("content-encoding", "gzip")], "identity, gzip"),
        ([("content-encoding", "gzip"), ("content-encoding", "identity")], "gzip, identity"),
        ([("content-encoding", "identity, br")], "identity, br"),
        ([("content-encoding", " GZIP ")], "gzip"),
    ],
    ids=["identity then gzip", "gzip then identity", "a list in one header", "spaced capitals"],
)
def test_every_content_encoding_header_is_read(
    store_uri: str, make_settings: SettingsFactory, headers: list[tuple[str, str]], shown: str
) -> None:
    body = gzip.compress(json.dumps({"items": [{"text": "Talks resumed."}]}).encode())

    with TestClient(create_app(make_settings(store_uri))) as app_client:
        error = only_error(
            app_client.post("/v1/classify", content=body, headers=[("content-type", "application/json"), *headers]), 415
        )

    # With `identity` first, only that header was read: the gzip body was "not valid JSON: byte 1 is not UTF-8".
    assert error["type"] == "content_encoding"
    assert error["msg"] == f"body: `Content-Encoding: {shown}` is not supported: send the body uncompressed"


@pytest.mark.parametrize(
    "second", ["text/plain", "application/json; charset=latin-1", "application/json"], ids=["form", "latin-1", "same"]
)
def test_a_second_content_type_header_is_refused(store_uri: str, make_settings: SettingsFactory, second: str) -> None:
    headers = [("content-type", "application/json"), ("content-type", second)]

    with TestClient(create_app(make_settings(store_uri))) as app_client:
        error = only_error(app_client.post("/v1/classify", content=b'{"items": [{"text": "T"}]}', headers=headers), 415)

    # Only the first was read: the body went on as UTF-8 JSON whatever the second said.
    assert error["type"] == "json_content_type"
    assert error["msg"] == "body: 2 Content-Type headers were sent; send one: `Content-Type: application/json`"


@pytest.mark.parametrize("values", [["identity"], ["identity", "identity"], [""], ["identity, "]])
def test_identity_or_empty_content_encodings_are_read(client: TestClient, values: list[str]) -> None:
    headers = [("content-type", "application/json"), *(("content-encoding", value) for value in values)]

    response = client.post("/v1/classify", json={"items": [{"text": "Talks resumed."}]}, headers=headers)

    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    ("path", "model", "body"),
    [
        (
            "/v1/classify",
            ClassifyRequest,
            {"items": [{"text": "Talks resumed.", **{f"k{i}": 1 for i in range(3000)}}, {"text": "Prices rose.", "z": 1}]},
        ),
        ("/v1/articles", ArticleRequest, {"title": "t", "body": "Talks resumed.", **{f"k{i}": 1 for i in range(3001)}}),
    ],
    ids=["classify items", "article"],
)
def test_unknown_keys_beyond_the_reported_errors_are_not_validated_one_by_one(
    store_uri: str,
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    model: type[BaseModel],
    body: dict[str, Any],
) -> None:
    # pydantic builds every error at once, holding the GIL: one 8 MB body of 500,000 unknown keys took 1.2 s to list
    # 500,000 errors of which 20 are shown, and /health waited as long.
    seen: list[int] = []
    validate_model = model.model_validate

    def counting(data: dict[str, Any], context: dict[str, Any] | None = None) -> BaseModel:
        objects = [data, *(item for item in data.get("items", []) if isinstance(item, dict))]
        seen.append(sum(len(set(value) - set(type_of.model_fields)) for value, type_of in _typed(objects, model)))
        return validate_model(data, context=context)

    monkeypatch.setattr(model, "model_validate", counting)
    with TestClient(create_app(make_settings(store_uri, max_body_bytes=1024 * 1024))) as app_client:
        response = app_client.post(path, json=body)

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert len(errors) == MAX_REPORTED_ERRORS + 1
    assert all(error["type"] == "extra_forbidden" for error in errors[:-1])
    # Every unknown key is still counted: 3,001 in all, 20 of them shown.
    assert errors[-1]["msg"] == f"body: {3001 - MAX_REPORTED_ERRORS} more errors not shown"
    assert seen == [MAX_REPORTED_ERRORS]


def _typed(objects: list[dict[str, Any]], model: type[BaseModel]) -> list[tuple[dict[str, Any], type[BaseModel]]]:
    """The request object with its model, and each item with the item model."""
    return [(objects[0], model), *((item, ClassifyItem) for item in objects[1:])]


@pytest.mark.parametrize(
    ("path", "raw", "key"),
    [
        ("/v1/classify", rb'{"items": [{"text": "ok", "\ud800": 1}]}', r"\ud800"),
        ("/v1/classify", rb'{"items": [{"text": "ok"}], "caf\u00e9\udfff": 1}', r"caf\u00e9\udfff"),
        ("/v1/articles", rb'{"title": "t", "body": "ok", "x": {"\ud83d": 1}}', r"\ud83d"),
    ],
)
def test_a_lone_surrogate_in_a_key_is_named_as_such(
    store_uri: str, make_settings: SettingsFactory, path: str, raw: bytes, key: str
) -> None:
    with TestClient(create_app(make_settings(store_uri))) as app_client:
        error = only_error(app_client.post(path, content=raw, headers={"content-type": "application/json"}))

    # The first was "items[0]: Input should be a valid string, unable to parse raw data as a unicode string".
    assert error["type"] == "json_invalid"
    assert error["msg"] == f'body is not valid JSON: the key "{key}" is not valid Unicode (it contains a lone surrogate)'


def smallest_body_limit(make_settings: SettingsFactory, uri: str) -> int:
    """The smallest NEWS_MAX_BODY_BYTES the settings take beside the other limits."""
    low, high = 1, 10**9
    while low < high:
        middle = (low + high) // 2
        try:
            make_settings(uri, max_body_bytes=middle)
        except ValidationError:
            low = middle + 1
        else:
            high = middle
    return low


def test_the_smallest_body_limit_the_settings_take_holds_the_longest_texts_as_json_writes_them(
    trained_store: str, make_settings: SettingsFactory, limits: dict[str, Any]
) -> None:
    # The rule counted characters as bytes: a longest text of "é", which json.dumps writes as \u00e9, got 413.
    smallest = smallest_body_limit(make_settings, trained_store)
    article = {"title": "Téhéran", "body": "é" * limits["max_article_chars"], "targets": ["Iran"]}
    items = {"items": [{"text": "é" * limits["max_text_chars"], "target": "Iran"}]}
    headers = {"Content-Type": "application/json"}
    with TestClient(create_app(make_settings(trained_store, max_body_bytes=smallest))) as client:
        answers = [client.post(path, content=json.dumps(body), headers=headers) for path, body in (("/v1/articles", article), ("/v1/classify", items))]

    assert len(json.dumps(article)) > limits["max_article_chars"] * 5  # six bytes a character, as sent
    assert [answer.status_code for answer in answers] == [200, 200], [answer.text[:200] for answer in answers]
