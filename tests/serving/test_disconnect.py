"""A request whose client disconnects before its answer is ready: its work is cancelled, the server goes on."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from serving.app import create_app
from serving.disconnect import ANSWERED_BY_SERVER
from tests.serving.conftest import SettingsFactory
from tests.serving.test_metrics import scrape, value

ARTICLE = {"title": "t", "body": "Iran and Israel exchanged fire.\n\nMarkets fell.", "targets": ["Iran"]}
ITEMS = {"items": [{"text": "Troops crossed the border.", "target": "Iran"}, {"text": "Prices rose."}]}


async def sent_to_a_client_that_leaves(
    client: TestClient, path: str, body: bytes, sent_body: bytes | None = None, scope_extra: dict[str, object] | None = None
) -> list[Message]:
    """What the app sends for a request whose client disconnects after sending `sent_body` (the whole body when None;
    a part of it is a body cut short), as uvicorn tells it; `scope_extra` is what the protocol adds to the scope (the
    status of an answer it sent itself)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), **(scope_extra or {}),
    }
    cut = sent_body is not None
    messages = iter([{"type": "http.request", "body": body if sent_body is None else sent_body, "more_body": cut}])
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: Message) -> None:
        sent.append(message)

    await client.app(scope, receive, send)
    return sent


@pytest.mark.parametrize(("path", "body"), [("/v1/classify", ITEMS), ("/v1/articles", ARTICLE)])
def test_a_client_that_leaves_is_counted_apart_and_the_server_answers_the_next(
    fresh_client: TestClient, path: str, body: dict[str, object]
) -> None:
    sent = fresh_client.portal.call(sent_to_a_client_that_leaves, fresh_client, path, json.dumps(body).encode())  # type: ignore[union-attr]
    after = fresh_client.post(path, json=body)

    assert sent[0]["status"] == 499  # never reaches the client: it is gone
    assert after.status_code == 200
    metrics = scrape(fresh_client)
    assert value(metrics["http_requests"], "http_requests_total", handler=path, status="499") == 1
    # That its rows still queued never reach the model is tested where they are dropped, in the batcher:
    # tests/serving/test_batching.py, test_the_rows_of_a_request_cancelled_while_waiting_never_reach_the_model.


@pytest.mark.parametrize(
    ("scope_extra", "status"),
    [({}, "499"), ({ANSWERED_BY_SERVER: 408}, "408")],
    ids=["client left", "read timeout answered 408"],
)
def test_a_body_cut_short_is_counted_as_what_the_client_got_not_as_a_bad_request(
    store_uri: str, make_settings: SettingsFactory, scope_extra: dict[str, object], status: str
) -> None:
    # Both were counted as 400, which /metrics otherwise shows only for requests the client got wrong.
    with TestClient(create_app(make_settings(store_uri))) as client:
        body = json.dumps(ITEMS).encode()
        sent = client.portal.call(sent_to_a_client_that_leaves, client, "/v1/classify", body, body[:10], scope_extra)  # type: ignore[union-attr]
        metrics = scrape(client)

    assert sent[0]["status"] == int(status)  # never reaches the client: it is gone, or the protocol answered it
    counted = {
        sample.labels["status"]
        for sample in metrics["http_requests"]
        if sample.name == "http_requests_total" and sample.labels["handler"] == "/v1/classify"
    }
    assert counted == {status}
