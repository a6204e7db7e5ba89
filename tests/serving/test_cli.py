"""`python -m serving` as a real process, classifying over HTTP on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from serving import cli
from training import locations

STARTUP_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_python_m_serving_classifies_over_http(trained_store: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "NEWS_TRACKING_URI": trained_store, "NEWS_ADMIN_API_KEY": "cli-test-admin-key-0123456789"}
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "serving", "--host", "127.0.0.1", "--port", str(port)],
        cwd=locations.PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)

        response = httpx.post(
            f"{base}/v1/classify",
            json={
                "items": [{"text": "Israeli jets struck Hezbollah positions in southern Lebanon.", "target": "Israel"}]
            },
            timeout=10,
        )
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        log.close()

    assert response.status_code == 200
    body = response.json()
    assert body["models"] == {
        "topic": {"name": "news-topic", "version": "1"},
        "stance": {"name": "news-stance", "version": "1"},
    }
    assert body["results"][0]["topic"]["label"] == "conflict"
    assert body["results"][0]["stance"]["target"] == "Israel"
    assert 'http_requests_total{handler="/v1/classify",method="POST",status="200"} 1.0' in metrics
    assert server.returncode == 0
    assert "Application shutdown complete" in (tmp_path / "server.log").read_text()


def test_invalid_settings_exit_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_TOPIC_MODEL_URI", "runs:/abc/model")

    result = CliRunner().invoke(cli.app, [])

    assert result.exit_code == 2
    assert "invalid settings: NEWS_TOPIC_MODEL_URI: Value error, expected models:/<name>@<alias>" in result.output
    assert "runs:/abc" in result.output  # the URI it refuses, which names no secret


def test_a_bad_setting_is_named_as_the_variable_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_PORT", "eighty")
    monkeypatch.setenv("NEWS_ADMIN_API_KEY", "short-secret")

    result = CliRunner().invoke(cli.app, [])

    assert result.exit_code == 2
    assert "NEWS_PORT: Input should be a valid integer" in result.output
    assert "NEWS_ADMIN_API_KEY: Value error, is too weak" in result.output
    assert "eighty" not in result.output and "short-secret" not in result.output


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_port_option_out_of_range_is_refused_before_anything_loads(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    # uvicorn itself would bind 99999 as 99999 mod 65536, and fail on -1 only after loading the models.
    started = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))

    result = CliRunner().invoke(cli.app, ["--port", port])

    assert result.exit_code == 2
    assert "invalid settings: --port: Input should be" in result.output
    assert started == []


def test_options_override_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_PORT", "1")
    monkeypatch.setenv("NEWS_HOST", "127.0.0.2")
    port = free_port()
    started = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))

    result = CliRunner().invoke(cli.app, ["--port", str(port)])

    assert result.exit_code == 0, result.output
    assert (started[0]["host"], started[0]["port"], started[0]["workers"]) == ("127.0.0.2", port, 1)


def test_a_port_in_use_is_refused_before_the_models_load(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn binds only after the lifespan has loaded both models, a wait of seconds to minutes.
    started = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = CliRunner().invoke(cli.app, ["--host", "127.0.0.1", "--port", str(port)])

    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use (set another with --port or NEWS_PORT)"
    )
    assert started == []


def test_an_address_the_machine_does_not_have_names_the_host_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: pytest.fail("uvicorn started"))

    result = CliRunner().invoke(cli.app, ["--host", "192.0.2.1", "--port", "0"])  # TEST-NET-1, assigned to no one

    assert result.exit_code == 1
    assert "error: cannot listen on 192.0.2.1:0: cannot assign requested address (set another with --host or NEWS_HOST)" in result.output


def test_several_workers_get_a_broadcast_file_for_the_servers_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWS_RELOAD_BROADCAST_FILE", raising=False)
    settings = cli.ServingSettings()

    with cli.reload_broadcast(settings, workers=2):
        file = Path(os.environ["NEWS_RELOAD_BROADCAST_FILE"])
        folder_existed = file.parent.is_dir()
    with cli.reload_broadcast(settings, workers=1):
        single = os.environ.get("NEWS_RELOAD_BROADCAST_FILE")

    assert folder_existed
    assert not file.parent.exists()
    assert "NEWS_RELOAD_BROADCAST_FILE" not in os.environ
    assert single is None


def test_a_configured_broadcast_file_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWS_RELOAD_BROADCAST_FILE", str(tmp_path / "mine"))

    with cli.reload_broadcast(cli.ServingSettings(), workers=4):
        during = os.environ["NEWS_RELOAD_BROADCAST_FILE"]

    assert during == str(tmp_path / "mine")


def test_several_workers_share_the_cores_as_torch_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)

    cli.share_cores(1)
    single = os.environ.get("OMP_NUM_THREADS")
    cli.share_cores(4)
    shared = os.environ.get("OMP_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    cli.share_cores(4)

    assert single is None
    assert shared == "2"
    assert os.environ["OMP_NUM_THREADS"] == "3"  # a value the user set wins
