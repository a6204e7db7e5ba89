"""Paths in 422 messages; the JSON answer to an unexpected error."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.errors import ECHOED_CHARS, error_path, validation_error
from tests.serving.conftest import SettingsFactory


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "items", 3, "text"), "items[3].text"),
        (("body", "targets", 0), "targets[0]"),
        (("body",), "body"),
        (("body", "title"), "title"),
        (("header", "x-api-key"), "header.x-api-key"),
    ],
)
def test_error_path(loc: tuple[str | int, ...], path: str) -> None:
    assert error_path(loc) == path


def _list_error(rejected: object) -> dict[str, object]:
    return {"type": "list_type", "loc": ("body", "items"), "msg": "Input should be a valid list", "input": rejected}


class _Unencodable:
    """A value json.dumps cannot encode: reaching it means the echo check read past what it needed."""

    def __repr__(self) -> str:
        raise AssertionError("the whole rejected value was encoded")


def test_a_rejected_value_is_encoded_only_until_it_is_too_long_to_echo() -> None:
    # The 422 handler runs on the event loop: encoding a rejected 8 MB object whole, to learn that it is longer than
    # the few hundred characters echoed, held the loop 0.6 s while every other request waited.
    exc = RequestValidationError([_list_error(["x" * ECHOED_CHARS, _Unencodable()])])

    response = asyncio.run(validation_error(None, exc))  # type: ignore[arg-type]

    # Named by its path, not echoed, as before.
    assert json.loads(bytes(response.body))["detail"] == [
        {"type": "list_type", "loc": ["body", "items"], "msg": "items: Input should be a valid list"}
    ]


def test_a_short_rejected_value_is_echoed() -> None:
    exc = RequestValidationError([_list_error({"a": [1, 2.5]})])

    response = asyncio.run(validation_error(None, exc))  # type: ignore[arg-type]

    assert json.loads(bytes(response.body))["detail"][0]["input"] == {"a": [1, 2.5]}


@pytest.mark.parametrize("item", [5, "Talks resumed.", [1], None])
def test_an_item_that_is_no_object_is_named_so_not_by_a_class_of_the_code(
    store_uri: str, make_settings: SettingsFactory, item: object
) -> None:
    with TestClient(create_app(make_settings(store_uri))) as client:
        response = client.post("/v1/classify", json={"items": [{"text": "Talks resumed."}, item]})

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    # Not "Input should be a valid dictionary or instance of ClassifyItem".
    assert error["msg"] == "items[1]: Input should be a JSON object"


def test_an_unexpected_error_is_answered_as_json_and_the_server_keeps_serving(
    trained_store: str, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import serving.batching

    real_predict = serving.batching.predict_rows
    monkeypatch.setattr(serving.batching, "predict_rows", _broken_predict)
    item = {"items": [{"text": "Israeli jets struck targets in southern Lebanon overnight."}]}
    # raise_server_exceptions=False: what a client sees, not the exception the test client would re-raise.
    with TestClient(create_app(make_settings(trained_store)), raise_server_exceptions=False) as client:
        response = client.post("/v1/classify", json=item, headers={"X-Request-ID": "req-500"})
        monkeypatch.setattr(serving.batching, "predict_rows", real_predict)
        after = client.post("/v1/classify", json=item)

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"].startswith("internal error while answering POST /v1/classify")
    # Answered outside the middleware that adds the ID to other answers: the caller can still quote it, and the log
    # line before the traceback names it.
    assert response.json()["detail"].endswith("(request req-500)")
    assert response.headers["x-request-id"] == "req-500"
    assert "request req-500, POST /v1/classify: internal error" in caplog.text
    assert after.status_code == 200


def _broken_predict(*args: object) -> None:
    raise RuntimeError("a bug in the prediction code")


def test_every_endpoint_with_a_trailing_slash_is_a_404_naming_it(
    store_uri: str, make_settings: SettingsFactory
) -> None:
    # Starlette answered 307 to the path without the slash: curl does not follow it, and a client that does sends a
    # POST's body again, to a URL made from the Host header.
    with TestClient(create_app(make_settings(store_uri))) as client:
        # The schema's operations and the pages outside it; every GET endpoint answers HEAD too.
        paths = client.get("/openapi.json").json()["paths"]
        operations = [(method.upper(), path) for path, item in paths.items() for method in item]
        gets = [path for method, path in operations if method == "GET"] + ["/openapi.json", "/docs", "/redoc"]
        endpoints = [*operations, *[(method, path) for path in gets for method in ("GET", "HEAD")]]
        assert ("POST", "/v1/classify") in endpoints and ("HEAD", "/health") in endpoints
        answers = {
            (method, path): client.request(method, f"{path}/", follow_redirects=False) for method, path in endpoints
        }
        unknown = client.get("/v1/nothing/")

    for (method, path), answer in answers.items():
        assert answer.status_code == 404, (method, path)
        if method != "HEAD":
            message = f"no endpoint at {path}/: the endpoint is {path}, without the trailing slash"
            assert answer.json() == {"detail": message}
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})


@pytest.mark.parametrize("allow", ["GET", "HEAD, GET", "GET, HEAD"])
def test_a_405_lists_get_then_head_whatever_order_starlette_gave(allow: str) -> None:
    # Starlette joins a route's methods from a set (`/openapi.json`, `/docs`): their order moved from one start to
    # the next, where docs/serving.md and every other GET endpoint say `Allow: GET, HEAD`.
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    from serving.errors import method_not_allowed

    request = Request({"type": "http", "method": "POST", "path": "/openapi.json", "headers": []})
    response = asyncio.run(method_not_allowed(request, HTTPException(405, headers={"Allow": allow})))
    assert response.headers["allow"] == "GET, HEAD"
    assert json.loads(bytes(response.body)) == {"detail": "POST is not allowed on /openapi.json: it takes GET or HEAD"}
