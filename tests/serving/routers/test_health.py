"""GET /health and GET /ready with both models loaded."""

from __future__ import annotations

import os
import socket

from fastapi.testclient import TestClient


def test_health_is_ok(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_health_and_ready_answer_head_as_probes_send_it(client: TestClient) -> None:
    for path in ("/health", "/ready"):
        get = client.get(path)
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""
        assert response.headers["content-type"] == get.headers["content-type"] == "application/json"
        assert response.headers["content-length"] == get.headers["content-length"] == str(len(get.content))


def test_ready_lists_name_version_and_run_of_each_model(client: TestClient) -> None:
    response = client.get("/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert [(model["task"], model["name"], model["version"]) for model in body["models"]] == [
        ("topic", "news-topic", "1"),
        ("stance", "news-stance", "1"),
    ]
    assert all(len(model["run_id"]) == 32 for model in body["models"])


def test_ready_names_the_answering_worker_and_the_registry_state(client: TestClient) -> None:
    body = client.get("/ready").json()

    assert body["worker"] == f"{socket.gethostname()}:{os.getpid()}"
    assert body["registry"]["reachable"] is True
    assert body["registry"]["problem"] is None
