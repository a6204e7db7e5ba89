"""Picking the store, and failing fast when a tracking server does not answer."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from classifiers import store


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_tracking_server_fails_at_once_naming_it() -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()

    with pytest.raises(store.RegistryUnreachable, match=f"the MLflow tracking server at {uri} cannot be used"):
        store.use_store(uri)

    assert time.monotonic() - started < 10  # one try, not MLflow's minutes of retries


def test_a_sqlite_store_is_created_where_it_is_named(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "mlflow.db"

    client = store.use_store(f"sqlite:///{database}")

    assert client.search_experiments()  # the Default experiment of a new store
    assert database.exists()
