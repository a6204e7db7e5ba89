"""Serving fixtures: an app over the session's trained default models, with small limits to test against."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from classifiers import store
from classifiers.interface import Predictor
from serving.app import create_app
from serving.settings import ServingSettings
from serving.snapshot import LoadedModel, Task

ADMIN_KEY = "test-admin-key-0123456789"
# Small limits, so the limit tests need small bodies; the defaults are checked in test_settings.
LIMITS: dict[str, Any] = {
    "max_items": 8,
    "max_text_chars": 500,
    "max_request_chars": 900,
    "max_target_chars": 40,
    "max_targets": 3,
    "max_article_chars": 3000,
    "max_body_bytes": 20_000,
}


def serving_settings(tracking_uri: str, **overrides: Any) -> ServingSettings:
    """Settings for a test app: the given store, the admin key and the small limits.

    A `poll_seconds` under a second, which a server refuses (NEWS_POLL_SECONDS), is set after validation: the
    polling tests would otherwise wait seconds per poll.
    """
    poll_seconds = overrides.pop("poll_seconds", None)
    settings = ServingSettings(tracking_uri=tracking_uri, **{"admin_api_key": ADMIN_KEY, **LIMITS, **overrides})
    return settings if poll_seconds is None else settings.model_copy(update={"poll_seconds": poll_seconds})


SettingsFactory = Callable[..., ServingSettings]


@pytest.fixture(scope="session")
def empty_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The database file of an empty store (its tables and Default experiment made), made once: a server never makes a
    store, so each test's file is a copy of this one."""
    database = tmp_path_factory.mktemp("empty-store") / "mlflow.db"
    store.use_store(f"sqlite:///{database}")
    return database


@pytest.fixture
def store_uri(store_uri: str, empty_store_file: Path) -> str:
    """The test's empty SQLite store, made: a server opens a store but never creates one (training does)."""
    database = store.sqlite_path(store_uri)
    assert database is not None
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(empty_store_file, database)
    return store_uri


@pytest.fixture
def make_settings() -> SettingsFactory:
    """`make_settings(tracking_uri, **overrides)`: settings with the admin key and the small limits."""
    return serving_settings


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}


@pytest.fixture
def limits() -> dict[str, Any]:
    return dict(LIMITS)


@pytest.fixture(scope="session")
def client(trained_store: str) -> Iterator[TestClient]:
    """A running app (lifespan done) over the trained default models; shared, so do not reload it."""
    with TestClient(create_app(serving_settings(trained_store))) as test_client:
        yield test_client


@pytest.fixture
def fresh_client(trained_store: str) -> Iterator[TestClient]:
    """An app of its own (own metrics registry) over the trained default models."""
    with TestClient(create_app(serving_settings(trained_store))) as test_client:
        yield test_client


class KeywordModel(Predictor):
    """A model without a store, for the serving modules' own tests: a row's probability is 0.7 for the first of its
    labels its text names and shared by the others; the same for every label where the text names none."""

    family = "keyword"

    def __init__(self, task: str, labels: Sequence[str], neighbour_weight: float = 0.0) -> None:
        super().__init__(task)
        self.labels = list(labels)
        self.neighbour_weight = neighbour_weight
        # The frame of each call, to count model calls and see what they were given.
        self.calls: list[pd.DataFrame] = []

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        self.calls.append(inputs)
        count = len(self.labels)
        rows = []
        for text in inputs["text"]:
            named = [label for label in self.labels if label in text.lower()]
            rows.append([(0.7 if label == named[0] else 0.3 / (count - 1)) if named else 1 / count for label in self.labels])
        return np.array(rows).reshape(len(inputs), count)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> Predictor:
        raise NotImplementedError("a keyword model is never saved")


def loaded_model(task: Task, labels: Sequence[str], neighbour_weight: float = 0.0, version: str = "1") -> LoadedModel:
    """A KeywordModel as the server holds a loaded version (news-<task> at `version`)."""
    return LoadedModel(
        task=task,
        name=f"news-{task}",
        version=version,
        run_id=None,
        configured_uri=f"models:/news-{task}@champion",
        labels=tuple(labels),
        family=KeywordModel.family,
        metrics={"macro_f1": 0.5},
        loaded_at=datetime(2026, 1, 1, tzinfo=UTC),
        classifier=KeywordModel(task, labels, neighbour_weight),
    )
