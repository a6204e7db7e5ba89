"""Settings from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from classifiers import store
from classifiers.store import parse_registry_uri
from serving.settings import (
    MIN_ADMIN_KEY_CHARS,
    OTHER_VARIABLES,
    ServingSettings,
    known_variables,
    unknown_variables,
)

ROOT = Path(__file__).resolve().parents[2]


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    settings = ServingSettings()

    assert settings.tracking_uri == store.DEFAULT_TRACKING_URI
    assert (settings.topic_model_uri, settings.stance_model_uri) == (
        "models:/news-topic@champion",
        "models:/news-stance@champion",
    )
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert (settings.max_items, settings.max_text_chars, settings.max_request_chars) == (256, 20_000, 512_000)
    assert settings.admin_api_key is None
    assert settings.poll_seconds == 0


def test_news_variables_and_mlflow_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///from-mlflow.db")
    monkeypatch.setenv("NEWS_MAX_ITEMS", "10")
    monkeypatch.setenv("NEWS_ADMIN_API_KEY", "s3cret-s3cret-s3cret")
    monkeypatch.setenv("NEWS_TOPIC_MODEL_URI", "models:/my-topic/3")

    settings = ServingSettings()

    assert settings.tracking_uri == "sqlite:///from-mlflow.db"
    assert settings.max_items == 10
    assert settings.admin_api_key is not None and settings.admin_api_key.get_secret_value() == "s3cret-s3cret-s3cret"
    assert "s3cret-s3cret-s3cret" not in repr(settings)
    assert parse_registry_uri(settings.topic_model_uri) == ("my-topic", None, "3")

    monkeypatch.setenv("NEWS_TRACKING_URI", "sqlite:///from-news.db")
    assert ServingSettings().tracking_uri == "sqlite:///from-news.db"


@pytest.mark.parametrize(("value", "expected"), [(None, "auto"), ("auto", "auto"), ("8", 8), (" AUTO ", "auto"), ("", "auto")])
def test_encoder_rows_per_call_is_auto_or_a_positive_number(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str | int
) -> None:
    if value is None:
        monkeypatch.delenv("NEWS_ENCODER_ROWS_PER_CALL", raising=False)
    else:
        monkeypatch.setenv("NEWS_ENCODER_ROWS_PER_CALL", value)
    assert ServingSettings().encoder_rows_per_call == expected


def test_the_encoder_variables_are_read_as_the_encoder_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # The server refused `BFloat16` at start, which the encoder of a model it loads (and `mlflow models serve`) takes.
    monkeypatch.setenv("NEWS_ENCODER_PRECISION", "BFloat16")
    monkeypatch.setenv("NEWS_ENCODER_RUNTIME", " Torch ")

    settings = ServingSettings()

    assert (settings.encoder_precision, settings.encoder_runtime) == ("bfloat16", "torch")


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_bad_encoder_rows_per_call_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NEWS_ENCODER_ROWS_PER_CALL", value)
    with pytest.raises(ValidationError, match="encoder_rows_per_call"):
        ServingSettings()


@pytest.mark.parametrize("variable", ["NEWS_REQUEST_READ_TIMEOUT_S", "NEWS_KEEP_ALIVE_TIMEOUT_S"])
@pytest.mark.parametrize("value", ["inf", "nan"])
def test_a_timeout_that_never_ends_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("NEWS_").lower()):
        ServingSettings()


@pytest.mark.parametrize("uri", ["runs:/abc/model", "models:/news-topic", "models:/a/b/c", "/tmp/model"])
def test_model_uri_must_name_a_registered_version_or_alias(uri: str) -> None:
    with pytest.raises(ValidationError, match="models:/<name>@<alias>"):
        ServingSettings(topic_model_uri=uri)


def test_an_empty_model_uri_leaves_its_task_out_but_not_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_STANCE_MODEL_URI", "")
    assert ServingSettings().served_tasks == ("topic",)
    monkeypatch.setenv("NEWS_TOPIC_MODEL_URI", " ")
    with pytest.raises(ValidationError, match="NEWS_TOPIC_MODEL_URI and NEWS_STANCE_MODEL_URI are both empty"):
        ServingSettings()


@pytest.mark.parametrize(("uri", "reason"), [("foo://bar", "has a scheme MLflow cannot open"), ("./mlruns", "is a plain folder")])
def test_a_store_mlflow_cannot_open_stops_the_server_at_start(monkeypatch: pytest.MonkeyPatch, uri: str, reason: str) -> None:
    # Else it started and answered 503 for good.
    monkeypatch.setenv("NEWS_TRACKING_URI", uri)
    with pytest.raises(ValidationError, match=f"NEWS_TRACKING_URI\n  Value error, the store {reason}"):
        ServingSettings()


@pytest.mark.parametrize("variable", ["MLFLOW_TRACKING_URI", "NEWS_TRACKING_URI"])
def test_a_blank_tracking_uri_means_the_projects_store(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    monkeypatch.setenv(variable, "")

    assert ServingSettings().tracking_uri == store.DEFAULT_TRACKING_URI


def test_a_blank_news_tracking_uri_leaves_mlflows_in_force(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # As when it is unset, and as training reads it: the server and the commands use one store.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("NEWS_TRACKING_URI", " ")

    assert ServingSettings().tracking_uri == uri


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_admin_key_disables_admin_endpoints(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("NEWS_ADMIN_API_KEY", blank)

    assert ServingSettings().admin_api_key is None


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("k", "too weak"),
        ("change-me", "too weak"),
        ("x" * (MIN_ADMIN_KEY_CHARS - 1), "too weak"),
        ("schlüssel-schlüssel-schlüssel", "printable ASCII"),
        ("a key with spaces in it", "printable ASCII"),
    ],
)
def test_weak_or_unsendable_admin_keys_are_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch, key: str, reason: str
) -> None:
    monkeypatch.setenv("NEWS_ADMIN_API_KEY", key)

    with pytest.raises(ValidationError, match=reason) as raised:
        ServingSettings()
    # The error goes to the log: it must not carry the key.
    assert "input_value" not in str(raised.value)


def test_encoder_runtime_is_auto_torch_onnxruntime_or_its_int8_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWS_ENCODER_RUNTIME", raising=False)
    assert ServingSettings().encoder_runtime == "auto"
    monkeypatch.setenv("NEWS_ENCODER_RUNTIME", "onnxruntime")
    assert ServingSettings().encoder_runtime == "onnxruntime"
    monkeypatch.setenv("NEWS_ENCODER_RUNTIME", "onnxruntime-int8")
    assert ServingSettings().encoder_runtime == "onnxruntime-int8"
    monkeypatch.setenv("NEWS_ENCODER_RUNTIME", "tensorrt")
    with pytest.raises(ValidationError, match="encoder_runtime"):
        ServingSettings()


def test_a_news_variable_nothing_reads_is_named_with_the_setting_it_is_closest_to() -> None:
    environ = {
        "NEWS_PROT": "9000",
        "news_workres": "2",
        "NEWS_XYZZY_PLUGH": "1",
        "NEWS_PORT": "9000",
        "news_workers": "2",  # pydantic-settings reads the server's variables in any case
        "NEWS_TRACKING_URI": "sqlite:///a.db",
        "NEWS_ONNX_CACHE": "/tmp/onnx",
        "NEWS_DATA_DIR": "/data",
        "news_onnx_cache": "/tmp/onnx",  # read by its exact name only: nothing reads this one
        "MLFLOW_TRACKING_URI": "sqlite:///b.db",
        "NEWSROOM": "x",
    }

    assert unknown_variables(environ) == {
        "NEWS_PROT": "NEWS_PORT",
        "NEWS_XYZZY_PLUGH": None,
        "news_onnx_cache": "NEWS_ONNX_CACHE",
        "news_workres": "NEWS_WORKERS",
    }


def test_the_known_variables_are_all_those_the_project_reads() -> None:
    # Names only (`NEWS_MAX_*` in prose is a family, not a variable).
    read = {
        name
        for package in ("classifiers", "serving", "training", "deploy", "benchmarks")
        for path in (ROOT / package).rglob("*.py")
        for name in re.findall(r"\bNEWS_[A-Z0-9_]+", path.read_text(encoding="utf-8"))
        if not name.endswith("_")
    }

    assert read - known_variables() == set()  # a new variable is listed, so its users are not warned about it
    assert OTHER_VARIABLES - read == set()  # and one the project no longer reads is dropped
    assert {"NEWS_PORT", "NEWS_TRACKING_URI", "NEWS_MAX_ARTICLE_CHARS", "NEWS_ONNX_CACHE", "NEWS_DATA_DIR"} <= known_variables()
