"""The app factory and lifespan: a server without models still starts and says how to train them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from classifiers.encoder import MeanPooledEncoder
from classifiers.encoder_settings import PRECISION_VARIABLE, ROWS_VARIABLE, RUNTIME_VARIABLE
from classifiers.store import LOCK_SUFFIX
from serving.app import app_from_environment, create_app
from serving.settings import ServingSettings
from tests.conftest import free_port
from tests.serving.conftest import ADMIN_KEY
from training import locations
from training.config.resolve import load_config
from training.trainer import train

SettingsFactory = Callable[..., ServingSettings]

# a TF-IDF topic model: trains in seconds
FAST_TOPIC_CONFIG = locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"


def test_without_models_the_server_starts_and_answers_503_with_the_train_command(
    store_uri: str, make_settings: SettingsFactory
) -> None:
    with TestClient(create_app(make_settings(store_uri))) as client:
        health = client.get("/health")
        ready = client.get("/ready")
        probe = client.head("/ready")
        classify = client.post("/v1/classify", json={"items": [{"text": "Some news."}]})
        article = client.post("/v1/articles", json={"title": "t", "body": "Some news."})
        models = client.get("/v1/models").json()

    assert health.status_code == 200
    assert probe.status_code == 503
    for response in (ready, classify, article):
        assert response.status_code == 503
        # without polling, waiting changes nothing: no Retry-After invites it
        assert "retry-after" not in response.headers
        # the advice trains into the store this server reads, not the default one
        assert f"`MLFLOW_TRACKING_URI={store_uri} python -m training train-defaults`" in response.json()["detail"]
    assert "models:/news-topic@champion" in ready.json()["detail"]
    assert "models:/news-stance@champion" in ready.json()["detail"]
    # A 200's fields beside the reason: the registry answered, so the cause is the store's content, not its reach.
    assert ready.json()["status"] == "not_ready"
    assert ready.json()["models"] == []
    assert ready.json()["registry"]["reachable"] is True
    assert ready.json()["worker"].endswith(f":{os.getpid()}")
    assert models["models"] == []
    assert [entry["task"] for entry in models["unavailable"]] == ["topic", "stance"]


def test_with_polling_a_missing_model_answers_retry_after_the_poll_interval(
    store_uri: str, make_settings: SettingsFactory
) -> None:
    with TestClient(create_app(make_settings(store_uri, poll_seconds=2.5))) as client:
        answers = [client.get("/ready"), client.post("/v1/classify", json={"items": [{"text": "Some news."}]})]

    for answer in answers:
        assert answer.status_code == 503
        # the soonest the poller can find a model, in whole seconds as HTTP counts them
        assert answer.headers["retry-after"] == "3"


def test_a_name_that_is_not_registered_is_told_apart_from_an_untrained_default(
    store_uri: str, make_settings: SettingsFactory
) -> None:
    MlflowClient(tracking_uri=store_uri).create_registered_model("my-topic")
    # A promotion's lock left by a killed promoter is no model to name.
    MlflowClient(tracking_uri=store_uri).create_registered_model(f"my-topic{LOCK_SUFFIX}")
    settings = make_settings(store_uri, topic_model_uri="models:/my-topci@champion")
    with TestClient(create_app(settings)) as client:
        detail = client.get("/ready").json()["detail"]

    # train-defaults would never make my-topci: the likelier cause is the misspelt name
    assert "no model at models:/my-topci@champion" in detail
    assert "train a config with `registered_model: my-topci`, or name a registered model (this store has my-topic)" in detail
    assert "models:/news-stance@champion" in detail and "train-defaults" in detail  # the default name keeps its advice


@pytest.mark.parametrize(
    ("uri", "advice"),
    [
        ("models:/news-topic@champion", "news-topic has version(s) 1, 2, none of them champion: make one champion with "
         "`MLFLOW_TRACKING_URI={store} python -m training promote --name news-topic --version 2`"),
        ("models:/news-topic@staging", "news-topic has version(s) 1, 2, none of them staging: set the alias in the MLflow UI"),
        ("models:/news-topic/7", "news-topic has version(s) 1, 2"),
    ],
    ids=["champion removed", "other alias", "missing version"],
)
def test_a_registered_name_without_the_alias_or_version_is_told_what_it_has(
    store_uri: str, make_settings: SettingsFactory, tmp_path: Path, uri: str, advice: str
) -> None:
    # A champion alias deleted by hand: train-defaults would only add a third version; promoting one is the fix.
    client = MlflowClient(tracking_uri=store_uri)
    client.create_registered_model("news-topic")
    for _ in range(2):
        client.create_model_version("news-topic", source=str(tmp_path))
    with TestClient(create_app(make_settings(store_uri, topic_model_uri=uri))) as app_client:
        detail = app_client.get("/ready").json()["detail"]

    topic_problem = detail.split("; stance: ")[0]
    assert f"no model at {uri}" in topic_problem
    assert advice.format(store=store_uri) in topic_problem
    assert "train-defaults" not in topic_problem


def test_bad_input_is_still_422_without_models(store_uri: str, make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(store_uri))) as client:
        response = client.post("/v1/classify", json={"items": [{"text": " "}]})

    assert response.status_code == 422


def test_an_unusable_store_does_not_keep_the_server_from_starting(
    tmp_path: Path, make_settings: SettingsFactory
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's folder should be")

    with TestClient(create_app(make_settings(f"sqlite:///{blocker / 'mlflow.db'}"))) as client:
        ready = client.get("/ready")

    assert ready.status_code == 503
    assert "cannot be read" in ready.json()["detail"]


def test_a_server_over_a_missing_store_never_creates_it(tmp_path: Path, make_settings: SettingsFactory) -> None:
    database = tmp_path / "typo" / "mlflow.db"

    with TestClient(create_app(make_settings(f"sqlite:///{database}"))) as client:
        ready = client.get("/ready")
        reload = client.post("/v1/models/reload", headers={"X-API-Key": ADMIN_KEY})

    assert ready.status_code == 503
    assert f"its database file {database} does not exist" in ready.json()["detail"]
    assert reload.status_code == 503
    assert reload.json()["detail"].startswith("nothing was reloaded")
    assert not (tmp_path / "typo").exists()


def test_openapi_documents_the_versioned_api(store_uri: str, make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(store_uri))) as client:
        schema = client.get("/openapi.json").json()
        docs = client.get("/docs")

    assert docs.status_code == 200
    assert {"/v1/classify", "/v1/articles", "/v1/models", "/v1/models/reload", "/health", "/ready", "/metrics"} <= set(
        schema["paths"]
    )
    assert "ClassifyRequest" in schema["components"]["schemas"]


def test_every_get_endpoint_answers_head_with_the_gets_status_and_no_body(
    store_uri: str, make_settings: SettingsFactory
) -> None:
    # Without models, so /ready's 503 is answered to HEAD as well; the docs pages are not in the schema.
    with TestClient(create_app(make_settings(store_uri))) as client:
        schema = client.get("/openapi.json").json()
        paths = [path for path, operations in schema["paths"].items() if "get" in operations] + ["/docs", "/redoc"]
        answers = {path: (client.get(path).status_code, client.head(path)) for path in paths}

    assert {"/health", "/ready", "/v1/models", "/metrics"} <= set(paths)
    for path, (get_status, head) in answers.items():
        assert (path, head.status_code) == (path, get_status)
        assert (path, head.content) == (path, b"")
    assert answers["/ready"][0] == 503
    # HEAD is no operation of its own in the schema (it would repeat the GET's operation id).
    assert not [path for path, operations in schema["paths"].items() if "head" in operations]


def test_a_model_trained_after_startup_is_served_after_a_reload(
    store_uri: str, make_settings: SettingsFactory, admin_headers: dict[str, str]
) -> None:
    with TestClient(create_app(make_settings(store_uri))) as client:
        assert client.post("/v1/classify", json={"items": [{"text": "Some news."}]}).status_code == 503
        train(load_config(FAST_TOPIC_CONFIG))
        reload = client.post("/v1/models/reload", headers=admin_headers)
        classify = client.post("/v1/classify", json={"items": [{"text": "Some news."}]})
        with_target = client.post("/v1/classify", json={"items": [{"text": "Some news.", "target": "Iran"}]})
        ready = client.get("/ready")

    assert reload.status_code == 200
    assert reload.json()["models"] == [
        {"task": "topic", "name": "news-topic", "version": "1", "previous_version": None}
    ]
    assert classify.status_code == 200
    # No stance model yet: a target cannot be served, and the server is not ready.
    assert with_target.status_code == ready.status_code == 503
    assert "news-stance" in with_target.json()["detail"]


def test_a_password_in_the_tracking_uri_is_never_shown(
    make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens there: every answer explains the missing models, quoting the store.
    uri = f"http://mlflow-user:hunter2-secret@127.0.0.1:{free_port()}"
    with TestClient(create_app(make_settings(uri, poll_seconds=0))) as client:
        answers = [
            client.get("/ready"),
            client.get("/v1/models"),
            client.post("/v1/classify", json={"items": [{"text": "Oil prices fell."}]}),
            client.post("/v1/models/reload", headers={"X-API-Key": ADMIN_KEY}),
        ]

    assert [answer.status_code for answer in answers] == [503, 200, 503, 503]
    for answer in answers:
        assert "hunter2-secret" not in answer.text
        assert "mlflow-user:***@127.0.0.1" in answer.text
    assert "hunter2-secret" not in caplog.text


def _served_encoders(trained_store_uri: str, make_settings: SettingsFactory, **settings: str) -> list[MeanPooledEncoder]:
    """The topic and stance models' encoders after a server with these settings answered one request."""
    app = create_app(make_settings(trained_store_uri, **settings))
    with TestClient(app) as client:
        answer = client.post("/v1/classify", json={"items": [{"text": "Oil prices fell sharply.", "target": "Iran"}]})
        snapshot = app.state.model_holder.current
    assert answer.status_code == 200
    return [snapshot.require(task).classifier.encoder for task in ("topic", "stance")]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_the_encoders_compute_in_the_precision_the_settings_name(
    trained_store_uri: str, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch, precision: str
) -> None:
    # The lifespan exports the setting for the encoders to read; monkeypatch puts the variable back afterwards.
    monkeypatch.setenv(PRECISION_VARIABLE, "auto")
    encoders = _served_encoders(trained_store_uri, make_settings, encoder_precision=precision)
    assert [encoder.dtype for encoder in encoders] == [getattr(torch, precision)] * 2


@pytest.mark.parametrize(("setting", "rows"), [("3", 3), ("auto", None)])
def test_the_encoders_take_the_rows_per_call_the_settings_name(
    trained_store_uri: str, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch, setting: str, rows: int | None
) -> None:
    monkeypatch.setenv(ROWS_VARIABLE, "1")
    monkeypatch.setenv(RUNTIME_VARIABLE, "auto")  # the lifespan exports "torch": put back afterwards
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    encoders = _served_encoders(trained_store_uri, make_settings, encoder_rows_per_call=setting, encoder_runtime="torch")
    assert [encoder.rows_per_call for encoder in encoders] == [rows or min(encoder.batch_size, 8) for encoder in encoders]


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime", "onnxruntime-int8"])
def test_the_encoders_run_on_the_runtime_the_settings_name_and_answer_alike(
    trained_store_uri: str, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    monkeypatch.setenv(RUNTIME_VARIABLE, "auto")
    monkeypatch.setenv(ROWS_VARIABLE, "1")
    monkeypatch.setenv(PRECISION_VARIABLE, "auto")  # the lifespan exports "float32": put back afterwards
    app = create_app(
        make_settings(trained_store_uri, encoder_runtime=runtime, encoder_precision="float32", encoder_rows_per_call="auto")
    )
    items = [
        {"text": "Oil prices fell sharply after the ceasefire.", "target": "Iran"},
        {"text": "Aid reached Gaza.", "target": "Israel"},
    ]
    with TestClient(app) as client:
        answer = client.post("/v1/classify", json={"items": items})
        snapshot = app.state.model_holder.current
    assert answer.status_code == 200
    encoders = [snapshot.require(task).classifier.encoder for task in ("topic", "stance")]
    assert [encoder.runtime for encoder in encoders] == [runtime] * 2
    if runtime != "torch":
        assert [encoder.rows_per_call for encoder in encoders] == [4, 4]
        # Both models embed through one exported graph.
        assert encoders[0]._session is encoders[1]._session is not None
    torch_app = create_app(make_settings(trained_store_uri, encoder_runtime="torch", encoder_precision="float32"))
    with TestClient(torch_app) as client:
        reference = client.post("/v1/classify", json={"items": items}).json()
    # int8 weights move the embeddings a little (cosine about 0.99 for the packaged encoder), hence the probabilities.
    tolerance = 0.1 if runtime == "onnxruntime-int8" else 1e-4
    for got, expected in zip(answer.json()["results"], reference["results"], strict=True):
        for task in ("topic", "stance"):
            assert got[task]["label"] == expected[task]["label"]
            assert got[task]["probabilities"] == pytest.approx(expected[task]["probabilities"], abs=tolerance)


def test_the_factory_warns_of_each_news_variable_nothing_reads(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NEWS_PROT", "9000")
    monkeypatch.setenv("NEWS_PORT", "9000")
    monkeypatch.setenv("NEWS_MAX_ITEM", "10")

    with caplog.at_level("WARNING", logger="serving.app"):
        app = app_from_environment()

    assert app.state.settings.port == 9000
    assert [record.getMessage() for record in caplog.records if record.name == "serving.app"] == [
        "NEWS_MAX_ITEM is set but is not a setting: nothing reads it; did you mean NEWS_MAX_ITEMS?",
        "NEWS_PROT is set but is not a setting: nothing reads it; did you mean NEWS_PORT?",
    ]
    assert "9000" not in caplog.text  # never a value: it could be a secret


def test_the_factory_is_quiet_when_every_news_variable_is_a_setting(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NEWS_PORT", "9000")
    monkeypatch.setenv("NEWS_DATA_DIR", "/nowhere")  # training's, not the server's: known all the same

    with caplog.at_level("WARNING", logger="serving.app"):
        app_from_environment()

    assert [record for record in caplog.records if record.name == "serving.app"] == []
