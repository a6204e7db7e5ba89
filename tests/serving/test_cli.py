"""`python -m serving` as a real process, classifying over HTTP on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from uvicorn.importer import import_from_string

from serving import cli
from tests.conftest import answers, free_port, refuses
from training import locations

STARTUP_TIMEOUT_S = 90.0


def wait_until_answering(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait until the server answers 200 at the URL; fail with its log if it exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not answers(url):
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)


def stop(server: subprocess.Popen[bytes]) -> int:
    """Stop the server as Ctrl+C does; its exit code."""
    server.send_signal(signal.SIGINT)
    return server.wait(timeout=30)


@contextmanager
def serving_process(options: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m serving` with the options, its output in the log file; stopped as Ctrl+C does when the block ends,
    its exit code then in `returncode`."""
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "serving", *options],
            cwd=locations.PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield server
        finally:
            stop(server)


@pytest.mark.slow
def test_python_m_serving_classifies_over_http(trained_store: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "NEWS_TRACKING_URI": trained_store, "NEWS_ADMIN_API_KEY": "cli-test-admin-key-0123456789"}
    base = f"http://127.0.0.1:{port}"
    with serving_process(["--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "server.log") as server:
        wait_until_answering(server, f"{base}/ready", tmp_path / "server.log")

        response = httpx.post(
            f"{base}/v1/classify",
            json={
                "items": [{"text": "Israeli jets struck Hezbollah positions in southern Lebanon.", "target": "Israel"}]
            },
            timeout=10,
        )
        metrics = httpx.get(f"{base}/metrics", timeout=10).text

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


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        # The URI it refuses is shown: it names no secret.
        ({"NEWS_TOPIC_MODEL_URI": "runs:/abc/model"}, "NEWS_TOPIC_MODEL_URI: Value error, expected models:/<name>@<alias> or models:/<name>/<version>, got 'runs:/abc/model'"),
        # A rule over two settings is said as it is, not under a made-up "NEWS_" name.
        ({"NEWS_TOPIC_MODEL_URI": "", "NEWS_STANCE_MODEL_URI": ""}, "NEWS_TOPIC_MODEL_URI and NEWS_STANCE_MODEL_URI are both empty"),
        # 100 polls of the registry a second, per worker.
        ({"NEWS_POLL_SECONDS": "0.01"}, "NEWS_POLL_SECONDS: Value error, must be 0 (off) or at least 1 s"),
        ({"NEWS_POLL_SECONDS": "inf"}, "NEWS_POLL_SECONDS: Input should be a finite number"),
        # Every request would be 413.
        (
            {"NEWS_MAX_BODY_BYTES": "100"},
            "NEWS_MAX_BODY_BYTES is 100: a body that small cannot hold one text of NEWS_MAX_ARTICLE_CHARS (200000) "
            "characters written as JSON (up to 6 bytes each); set it to at least 1201024",
        ),
        # Every text of the longest length allowed would be refused.
        (
            {"NEWS_MAX_REQUEST_CHARS": "1000"},
            "NEWS_MAX_REQUEST_CHARS is 1000: a request that small cannot hold one text of NEWS_MAX_TEXT_CHARS (20000) "
            "characters; set it to at least 20000",
        ),
        # Raising the text limit alone: the request limit it meets is the default, not a value the user set.
        (
            {"NEWS_MAX_TEXT_CHARS": "600000", "NEWS_MAX_BODY_BYTES": "3601024"},
            "NEWS_MAX_REQUEST_CHARS is 512000 (the default): a request that small cannot hold one text of "
            "NEWS_MAX_TEXT_CHARS (600000) characters; set it to at least 600000",
        ),
    ],
    ids=["one-setting", "two-settings", "poll-too-often", "poll-never", "body-too-small", "request-too-small", "request-default-too-small"],
)
def test_invalid_settings_exit_with_a_message(monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], message: str) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(cli.app, [])

    assert result.exit_code == 2
    assert f"error: invalid settings: {message}" in result.output


def test_a_bad_setting_is_named_as_the_variable_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_PORT", "eighty")
    monkeypatch.setenv("NEWS_ADMIN_API_KEY", "short-secret")

    result = CliRunner().invoke(cli.app, [])

    assert result.exit_code == 2
    assert "NEWS_PORT: Input should be a valid integer" in result.output
    assert "NEWS_ADMIN_API_KEY: Value error, is too weak" in result.output
    assert "eighty" not in result.output and "short-secret" not in result.output


# A worker process's logging as `python -m serving` configures it; then a line from the model code's package.
LOG_FROM_A_MODEL = """
import logging.config, sys
from serving.cli import logging_config
logging.config.dictConfig(logging_config(sys.argv[1]))
logging.getLogger("classifiers.encoder").info("encoder loaded")
logging.getLogger("classifiers.onnx_encoder").warning("cannot reach %s", sys.argv[1])
from asgi_correlation_id.context import correlation_id
correlation_id.set("req-42")
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", "/v1/classify", "1.1", 200)
"""


def test_the_model_codes_log_lines_reach_the_servers_log_with_the_secret_masked_and_access_lines_name_the_request() -> None:
    uri = "postgresql://news:hunter2-secret@db.internal/mlflow"
    done = subprocess.run(
        [sys.executable, "-c", LOG_FROM_A_MODEL, uri], cwd=locations.PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    assert "INFO:     encoder loaded" in done.stderr
    assert "WARNING:  cannot reach postgresql://news:***@db.internal/mlflow" in done.stderr
    assert "hunter2-secret" not in done.stderr
    assert '"POST /v1/classify HTTP/1.1" 200 OK request req-42' in done.stdout


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_port_option_out_of_range_is_refused_before_anything_loads(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    # uvicorn itself would bind 99999 as 99999 mod 65536, and fail on -1 only after loading the models.
    started = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))

    result = CliRunner().invoke(cli.app, ["--port", port])

    assert result.exit_code == 2
    assert "invalid settings: --port: Input should be" in result.output
    assert started == []


@pytest.mark.usefixtures("store_uri")  # the server starts only on a store that exists
def test_options_override_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_PORT", "1")
    monkeypatch.setenv("NEWS_HOST", "127.0.0.2")
    port = free_port()
    started = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))

    result = CliRunner().invoke(cli.app, ["--port", str(port)])

    assert result.exit_code == 0, result.output
    assert (started[0]["host"], started[0]["port"], started[0]["workers"]) == ("127.0.0.2", port, 1)


@pytest.mark.usefixtures("store_uri")  # the server starts only on a store that exists
def test_the_apps_settings_take_the_options_over_the_bad_variables_they_override(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn's factory builds each worker's settings again, from the environment: it must see the options there.
    monkeypatch.setenv("NEWS_PORT", "abc")
    monkeypatch.setenv("NEWS_WORKERS", "abc")
    monkeypatch.setenv("NEWS_HOST", "")
    monkeypatch.setenv("NEWS_MAX_ITEMS", "7")
    port = free_port()
    settings = []

    def run(target: str, **kwargs: object) -> None:
        settings.append(import_from_string(target)().state.settings)

    monkeypatch.setattr(cli.uvicorn, "run", run)

    result = CliRunner().invoke(cli.app, ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"])

    assert result.exit_code == 0, result.output
    assert (settings[0].host, settings[0].port, settings[0].workers) == ("127.0.0.1", port, 1)
    assert settings[0].max_items == 7  # a variable no option overrides still counts
    assert (os.environ["NEWS_PORT"], os.environ["NEWS_WORKERS"], os.environ["NEWS_HOST"]) == ("abc", "abc", "")


@pytest.mark.slow
def test_a_bad_variable_stops_the_server_in_one_line_unless_its_option_overrides_it(store_uri: str, tmp_path: Path) -> None:
    env = {**os.environ, "NEWS_TRACKING_URI": store_uri, "NEWS_PORT": "abc", "NEWS_WORKERS": "abc"}
    port = free_port()

    refused = subprocess.run(
        [sys.executable, "-m", "serving"], cwd=locations.PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    log_path = tmp_path / "server.log"
    # Two workers: each is a process of its own that builds its app from the environment it inherits.
    with serving_process(["--host", "127.0.0.1", "--port", str(port), "--workers", "2"], env, log_path) as server:
        wait_until_answering(server, f"http://127.0.0.1:{port}/health", log_path)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while log_path.read_text().count("Application startup complete") < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
    code = server.returncode

    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr == (
        "error: invalid settings: NEWS_PORT: Input should be a valid integer, unable to parse string as an integer; "
        "NEWS_WORKERS: Input should be a valid integer, unable to parse string as an integer\n"
    )
    text = log_path.read_text()
    assert text.count("Application startup complete") == 2, text
    assert "Traceback" not in text and "ValidationError" not in text
    assert code == 0, text


@pytest.mark.slow
def test_workers_end_when_their_supervisor_is_killed(store_uri: str, tmp_path: Path) -> None:
    # They went on serving the port, so the replica could not be started again until each was found and killed.
    port = free_port()
    env = {**os.environ, "NEWS_TRACKING_URI": store_uri}
    log_path = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "serving", "--port", str(port), "--workers", "2"],
            cwd=locations.PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until_answering(server, f"{base}/health", log_path)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while log_path.read_text().count("Application startup complete") < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
        server.kill()  # the supervisor alone
        server.wait()

        # Gone means the port refuses connections: a worker slow to answer under load still holds it.
        deadline = time.monotonic() + 30
        while not refuses(f"{base}/health") and time.monotonic() < deadline:
            time.sleep(0.3)
        assert refuses(f"{base}/health"), log_path.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


@pytest.mark.slow
def test_sigterm_shuts_a_running_server_down_as_uvicorn_does(store_uri: str, tmp_path: Path) -> None:
    # `python -m serving` says a SIGTERM before its server starts with a handler of its own (serving.early_stop). Left
    # in place, uvicorn put it back after its shutdown and raised SIGTERM into it again: the command ended in "stopped by
    # SIGTERM before its server started" and exit code 143.
    port = free_port()
    env = {**os.environ, "NEWS_TRACKING_URI": store_uri, "NEWS_POLL_SECONDS": "0"}
    log_path = tmp_path / "server.log"
    with serving_process(["--port", str(port)], env, log_path) as server:
        wait_until_answering(server, f"http://127.0.0.1:{port}/health", log_path)
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)

    text = log_path.read_text()
    assert "Application shutdown complete" in text and "before its server started" not in text, text
    assert code == -signal.SIGTERM  # uvicorn raises the signal again once it has shut down, as the default action ends it


@pytest.mark.slow
def test_the_start_log_warns_of_a_misspelt_variable_naming_the_right_one(store_uri: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "NEWS_TRACKING_URI": store_uri, "NEWS_PROT": "9000", "NEWS_POLL_SECONDS": "0"}
    log_path = tmp_path / "server.log"
    with serving_process(["--port", str(port)], env, log_path) as server:
        wait_until_answering(server, f"http://127.0.0.1:{port}/health", log_path)
    code = server.returncode

    warnings = [line for line in log_path.read_text().splitlines() if "is not a setting" in line]
    assert warnings == ["WARNING:  NEWS_PROT is set but is not a setting: nothing reads it; did you mean NEWS_PORT?"]
    assert code == 0  # a warning, never a reason to stop


def test_a_missing_sqlite_store_is_refused_naming_the_file_and_nothing_is_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    database = tmp_path / "nonexistent" / "mlflow.db"
    monkeypatch.setenv("NEWS_TRACKING_URI", f"sqlite:///{database}")
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: pytest.fail("uvicorn started"))

    result = CliRunner().invoke(cli.app, ["--port", "0"])

    assert result.exit_code == 2
    assert f"error: the tracking store {database} does not exist" in result.output
    assert "python -m training train-defaults" in result.output
    assert not database.parent.exists()


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
    # Set, then removed: monkeypatch then puts back the value before the test (a plain delenv of a variable that is not
    # set records nothing, and the "2" share_cores sets stayed in this process for every later test and subprocess).
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    monkeypatch.delenv("OMP_NUM_THREADS")
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
