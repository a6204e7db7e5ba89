"""GET /v1/models and the admin key of POST /v1/models/reload."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from classifiers.families.descriptions import DescriptionsModel
from classifiers.families.frozen_encoder import FrozenEncoderModel
from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import ADMIN_KEY
from training.config.resolve import load_config
from training.defaults import DEFAULT_CONFIGS

SettingsFactory = Callable[..., ServingSettings]


def test_models_lists_labels_metrics_and_the_exact_version(client: TestClient, trained_store: str) -> None:
    body = client.get("/v1/models").json()

    assert body["unavailable"] == []
    topic, stance = body["models"]
    assert (topic["task"], topic["configured_uri"], topic["uri"]) == (
        "topic",
        "models:/news-topic@champion",
        "models:/news-topic/1",
    )
    assert topic["labels"] == ["conflict", "diplomacy", "domestic_politics", "economy", "humanitarian"]
    assert stance["labels"] == ["against", "favor", "none"]
    assert (topic["family"], stance["family"]) == tuple(load_config(DEFAULT_CONFIGS[task]).model.family for task in ("topic", "stance"))
    expected_weight = load_config(DEFAULT_CONFIGS["topic"]).neighbour_weight
    assert (topic["neighbour_weight"], stance["neighbour_weight"]) == (expected_weight, 0)
    assert topic["neighbour_weight"] > 0
    # How each reads a long text, as its config says: the topic default whole (in windows), the stance default cut.
    for model in (topic, stance):
        config = load_config(DEFAULT_CONFIGS[model["task"]]).model
        assert isinstance(config, DescriptionsModel | FrozenEncoderModel)  # the defaults' families
        expected = "whole" if config.long_texts == "windows" else "truncated"
        assert (model["long_texts"], model["max_length"]) == (expected, config.max_length)
    assert (topic["long_texts"], stance["long_texts"]) == ("whole", "truncated")
    run = MlflowClient(tracking_uri=trained_store).get_run(topic["run_id"])
    assert topic["metrics"] == {"macro_f1": run.data.metrics["macro_f1"], "accuracy": run.data.metrics["accuracy"]}


def test_models_answers_head_with_the_status_and_headers_of_get(client: TestClient) -> None:
    get = client.get("/v1/models")
    response = client.head("/v1/models")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == get.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == get.headers["content-length"] == str(len(get.content))


def test_reload_answers_no_head(client: TestClient) -> None:
    # HEAD is GET without the body; the POST endpoint has no GET to answer it as.
    response = client.head("/v1/models/reload")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_a_405_names_head_beside_get(client: TestClient) -> None:
    response = client.delete("/v1/models")

    assert response.status_code == 405
    assert response.json() == {"detail": "DELETE is not allowed on /v1/models: it takes GET or HEAD"}
    assert response.headers["allow"] == "GET, HEAD"


def test_reload_without_a_key_is_401(client: TestClient) -> None:
    response = client.post("/v1/models/reload")

    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]


def test_reload_with_a_wrong_key_is_403(client: TestClient) -> None:
    response = client.post("/v1/models/reload", headers={"X-API-Key": "not-the-key"})

    assert response.status_code == 403
    assert response.json()["detail"] == "wrong X-API-Key"


def test_reload_takes_the_key_with_whitespace_around_it(client: TestClient) -> None:
    # Whitespace around a header value is not part of it (RFC 9110); a client that pads it still sends the key.
    response = client.post("/v1/models/reload", headers={"X-API-Key": f"\t{ADMIN_KEY} "})

    assert response.status_code == 200, response.text


def test_a_reload_with_a_body_is_refused_as_a_choice_it_does_not_make(client: TestClient) -> None:
    # {"task": "topic"} was answered 200 with every task reloaded: the caller thought it had chosen one.
    response = client.post("/v1/models/reload", headers={"X-API-Key": ADMIN_KEY}, json={"task": "topic"})

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"type": "body_not_taken", "loc": ["body"], "msg": "body: a reload takes none: it re-resolves every task's model URI"}
    ]
    # Without a key, the key is what it is told first.
    assert client.post("/v1/models/reload", json={"task": "topic"}).status_code == 401


def test_reload_with_a_blank_key_is_401(client: TestClient) -> None:
    response = client.post("/v1/models/reload", headers={"X-API-Key": "   "})

    assert response.status_code == 401


def test_reload_is_403_for_everyone_when_no_admin_key_is_configured(
    store_uri: str, make_settings: SettingsFactory
) -> None:
    with TestClient(create_app(make_settings(store_uri, admin_api_key=None))) as client:
        response = client.post("/v1/models/reload", headers={"X-API-Key": "anything"})

    assert response.status_code == 403
    assert "NEWS_ADMIN_API_KEY" in response.json()["detail"]


def test_reload_with_the_key_and_nothing_moved_changes_nothing(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post("/v1/models/reload", headers=admin_headers)

    assert response.status_code == 200
    assert response.json() == {
        "changed": False,
        "models": [
            {"task": "topic", "name": "news-topic", "version": "1", "previous_version": "1"},
            {"task": "stance", "name": "news-stance", "version": "1", "previous_version": "1"},
        ],
        "unavailable": [],
        # One worker and no broadcast file (the CLI gives one to servers with several workers).
        "workers_notified": False,
    }
