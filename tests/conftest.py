"""Shared fixtures: MLflow always points at a temporary store, never at the repo's mlruns/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest


def _point_mlflow_at(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own empty store unless it asks for another one."""
    _point_mlflow_at(f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}", monkeypatch)


@pytest.fixture
def store_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """An empty SQLite store for this test."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    _point_mlflow_at(uri, monkeypatch)
    return uri


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store holding the default topic and stance models (version 1, champion), trained once per session."""
    from training.defaults import train_defaults

    uri = f"sqlite:///{tmp_path_factory.mktemp('trained') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        _point_mlflow_at(uri, patch)
        # The default stance model also learns from VAST; tests train on the seed corpus alone.
        train_defaults(overrides=["extra_training=[]"])
    yield uri


@pytest.fixture
def trained_store_uri(trained_store: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point this test at the session's store of trained default models (read it, do not change it)."""
    _point_mlflow_at(trained_store, monkeypatch)
    return trained_store


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised two-layer BERT with the packaged model's tokenizer: fast transformer tests."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from classifiers.config import PACKAGED_ENCODER
    from classifiers.encoder import resolve_encoder

    folder = tmp_path_factory.mktemp("tiny-encoder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder(PACKAGED_ENCODER), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
