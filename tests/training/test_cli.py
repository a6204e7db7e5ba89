import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import psutil
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from classifiers.store import PROJECT_ROOT, use_store
from tests.conftest import free_port
from training import locations, trainer
from training.cli import app
from training.promotion import champion_version

runner = CliRunner()
TOPIC_CONFIG = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"


def test_train_with_overrides_registers_a_model(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    result = runner.invoke(app, ["train", str(path), "model.C=3.0", "registered_model=cli-topic"])
    assert result.exit_code == 0, result.output
    (version,) = MlflowClient().search_model_versions("name='cli-topic'")
    assert version.run_id is not None
    assert MlflowClient().get_run(version.run_id).data.params["model.C"] == "3.0"


def test_a_config_that_never_promotes_says_how_to_serve_its_version(store_uri: str, caplog: pytest.LogCaptureFixture) -> None:
    path = locations.CONFIGS_DIR / "stance" / "tfidf_svm.yaml"  # promote: never, as every stance config but the default
    with caplog.at_level(logging.INFO, logger="training"):
        result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 0, result.output
    assert champion_version(MlflowClient(), "news-stance") is None  # not even as a name's first version
    assert (
        "not made champion (promote: never); to serve it: python -m training promote --name news-stance --version 1 "
        "(add --force where it does not beat the champion)"
    ) in caplog.messages


def test_the_promote_command_it_gives_for_a_name_with_spaces_pastes_into_a_shell(
    store_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "my data (v2).jsonl"
    rows = [{"text": f"troops shelled the town {n}", "label": "conflict"} for n in range(4)]
    rows += [{"text": f"ministers met for talks {n}", "label": "diplomacy"} for n in range(4)]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    with caplog.at_level(logging.INFO, logger="training"):
        result = runner.invoke(app, ["train", str(path), "data.source=jsonl", f"data.path={data}", "promote=never"])
    assert result.exit_code == 0, result.output
    (hint,) = [message for message in caplog.messages if "to serve it:" in message]
    command = hint.split("to serve it: ", 1)[1].split(" (add --force", 1)[0]
    # It read `--name topic-my data (v2)`, which bash splits and refuses.
    assert shlex.split(command) == ["python", "-m", "training", "promote", "--name", "topic-my data (v2)", "--version", "1"]
    (version,) = MlflowClient().search_model_versions("name='topic-my data (v2)'")
    assert "--name 'topic-my data (v2)' --version 1 makes it champion" in (version.description or "")


def test_a_quick_run_says_why_it_was_not_made_champion(store_uri: str, caplog: pytest.LogCaptureFixture) -> None:
    if not locations.DEFAULT_DATA_DIR.is_dir():
        pytest.skip(f"{locations.DEFAULT_DATA_DIR}: ../shared/datasets not found (benchmark configs read it)")
    path = locations.CONFIGS_DIR / "benchmarks" / "semeval2016" / "tfidf_svm.yaml"  # promote: auto
    with caplog.at_level(logging.INFO, logger="training"):
        result = runner.invoke(app, ["train", str(path), "data.limit=12", "evaluation.n_splits=3"])
    assert result.exit_code == 0, result.output
    # Not "(promote: never)": the config says auto, and the slice is what kept it from competing.
    assert (
        "not made champion (trained on part of the data (data.limit=12), a quick run); to serve it: python -m training "
        "promote --name semeval-stance --version 1 (add --force where it does not beat the champion)"
    ) in caplog.messages


def test_config_error_names_the_key_and_starts_no_run(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    result = runner.invoke(app, ["train", str(path), "model.learning_rate=0.1"])
    assert result.exit_code == 1
    assert "model.learning_rate: Extra inputs are not permitted" in result.output
    assert mlflow.search_runs(search_all_experiments=True, output_format="list") == []


# Quick stand-ins for the default configs where what is tested is train-defaults' choices, not what the defaults learn
# (the session's `trained_store` trains the real ones): the MiniLM defaults took these three tests about 120 s. The
# topic stand-in differs from TOPIC_CONFIG, which the tests train as the experiment the default meets, and beats it.
STAND_IN_TOPIC = locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"
STAND_IN_TOPIC_SHOWN = "configs/topic/tfidf_svm.yaml"


@pytest.fixture
def stand_in_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from training import defaults

    monkeypatch.setitem(defaults.DEFAULT_CONFIGS, "topic", STAND_IN_TOPIC)
    monkeypatch.setitem(defaults.DEFAULT_CONFIGS, "stance", locations.CONFIGS_DIR / "stance" / "tfidf_logreg.yaml")


@pytest.mark.usefixtures("stand_in_defaults")
def test_train_defaults_trains_what_has_no_champion_and_retrain_replaces_the_champions(store_uri: str) -> None:
    # The stance stand-in says `promote: never`; the defaults say auto.
    as_defaults = "promote=auto"
    assert runner.invoke(app, ["train-defaults", as_defaults]).exit_code == 0
    client = MlflowClient()
    assert {m.name for m in client.search_registered_models()} == {"news-topic", "news-stance"}
    assert runner.invoke(app, ["train-defaults", as_defaults]).exit_code == 0
    assert len(client.search_model_versions("name='news-topic'")) == 1
    assert len(client.search_model_versions("name='news-stance'")) == 1

    # Retrained on the same data, the new versions tie with the old; they become champion all the same, since the
    # old may be a model this version of the project cannot load.
    assert runner.invoke(app, ["train-defaults", "--retrain"]).exit_code == 0
    for name in ("news-topic", "news-stance"):
        champion = client.get_model_version_by_alias(name, "champion")
        assert str(champion.version) == "2"
        assert champion.tags["promotion_reason"].startswith("forced (promote: always) although")


@pytest.mark.usefixtures("stand_in_defaults")
def test_train_defaults_lets_the_default_compete_with_a_champion_an_experiment_took_on_an_empty_store(
    store_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    # An experiment trained first (promote: auto) takes the empty name, however it scores.
    experiment = runner.invoke(app, ["train", str(TOPIC_CONFIG)])
    assert experiment.exit_code == 0
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("news-topic", "champion").version) == "1"

    caplog.set_level(logging.INFO, logger="training.defaults")
    assert runner.invoke(app, ["train-defaults"]).exit_code == 0
    assert f"news-topic's champion (version 1) was not trained from {STAND_IN_TOPIC_SHOWN}" in caplog.text
    champion = client.get_model_version_by_alias("news-topic", "champion")
    assert str(champion.version) == "2" and champion.run_id is not None
    assert client.get_run(champion.run_id).data.tags["config_path"] == STAND_IN_TOPIC_SHOWN
    assert champion.tags["promotion_reason"].startswith("macro_f1 ")

    # Once it has competed, the default is not trained again, whichever version won; the command says which is served.
    assert runner.invoke(app, ["promote", "--name", "news-topic", "--version", "1", "--force"]).exit_code == 0
    caplog.clear()
    assert runner.invoke(app, ["train-defaults"]).exit_code == 0
    assert len(client.search_model_versions("name='news-topic'")) == 2
    assert (
        "news-topic already has a champion (version 1, trained from configs/topic/tfidf_logreg.yaml); not retraining the "
        "default topic model (train-defaults --retrain trains it again and makes it champion)"
    ) in caplog.text


@pytest.mark.usefixtures("stand_in_defaults")
def test_a_default_trained_by_hand_without_promotion_has_not_competed(store_uri: str) -> None:
    assert runner.invoke(app, ["train", str(TOPIC_CONFIG)]).exit_code == 0
    assert runner.invoke(app, ["train", str(STAND_IN_TOPIC), "promote=never"]).exit_code == 0
    assert runner.invoke(app, ["train-defaults"]).exit_code == 0
    client = MlflowClient()
    assert len(client.search_model_versions("name='news-topic'")) == 3
    assert str(client.get_model_version_by_alias("news-topic", "champion").version) == "3"


def test_train_defaults_names_an_override_only_one_config_lacks_before_training_any(store_uri: str) -> None:
    # head_weight is a key of the topic default's family, not of the stance default's.
    result = runner.invoke(app, ["train-defaults", "model.head_weight=0.5"])
    assert result.exit_code == 1
    assert "minilm_masked_written.yaml with model.head_weight=0.5: invalid config" in result.output
    assert "model.head_weight: Extra inputs are not permitted" in result.output
    assert mlflow.search_runs(search_all_experiments=True, output_format="list") == []
    assert MlflowClient().search_registered_models() == []


def test_train_defaults_refuses_a_bad_override_before_it_makes_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "new" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    result = runner.invoke(app, ["train-defaults", "model.C=high"])
    assert result.exit_code == 1 and "model.C=high: invalid config" in result.output, result.output
    assert not missing.parent.exists()


def test_train_refuses_bad_data_before_it_makes_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The store was made (folder, tables, lock file) before the data was read.
    missing = tmp_path / "new" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    result = runner.invoke(app, ["train", str(TOPIC_CONFIG), "data.source=jsonl", f"data.path={tmp_path / 'missing.jsonl'}"])
    assert result.exit_code == 1 and f"data file {tmp_path / 'missing.jsonl'} not found" in result.output, result.output
    assert not missing.parent.exists()


def test_train_asks_an_unreachable_tracking_server_before_it_reads_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setattr(trainer, "load_labelled_data", _interrupted)  # not reached
    result = runner.invoke(app, ["train", str(TOPIC_CONFIG)])
    assert result.exit_code == 1, result.output
    assert f"the MLflow tracking server at {uri}" in result.output


def test_train_defaults_checks_every_model_s_data_before_training_any(store_uri: str, tmp_path: Path) -> None:
    # The stance default's public corpora are read from NEWS_DATA_DIR; the topic default needs none of them.
    nowhere = tmp_path / "nowhere"
    result = subprocess.run(
        [sys.executable, "-m", "training", "train-defaults"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": store_uri, "NEWS_DATA_DIR": str(nowhere), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {nowhere / 'vast'} not found"), result.stderr
    assert mlflow.search_runs(search_all_experiments=True, output_format="list") == []
    assert MlflowClient().search_registered_models() == []


def test_train_defaults_reads_every_model_s_data_before_it_makes_a_store(tmp_path: Path) -> None:
    # The store was made (folder, tables, lock file) to look for champions before the stance data was found missing.
    missing = tmp_path / "new" / "mlflow.db"
    nowhere = tmp_path / "nowhere"
    result = subprocess.run(
        [sys.executable, "-m", "training", "train-defaults"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{missing}", "NEWS_DATA_DIR": str(nowhere), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {nowhere / 'vast'} not found"), result.stderr
    assert not missing.parent.exists()


@pytest.mark.slow
def test_ui_serves_the_store_it_is_pointed_at(store_uri: str) -> None:
    use_store(store_uri)  # made by training; the UI names a missing one
    port = free_port()
    ui = subprocess.Popen(
        [sys.executable, "-m", "training", "ui", "--port", str(port)],
        env={**os.environ, "MLFLOW_TRACKING_URI": store_uri},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # mlflow ui starts workers: stop the whole group
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search?max_results=5", timeout=2)
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert ui.poll() is None and time.monotonic() < deadline, "the MLflow UI did not start"
            time.sleep(0.5)
        assert [e["name"] for e in response.json()["experiments"]] == ["Default"]
        # MLflow's GenAI job runner (eight processes classic training never uses) is off.
        started = [" ".join(child.cmdline()) for child in psutil.Process(ui.pid).children(recursive=True)]
        assert started and not [command for command in started if "mlflow.server.jobs" in command], started
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)


def test_ui_on_a_port_in_use_fails_in_one_line_before_printing_links(store_uri: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = runner.invoke(app, ["ui", "--port", str(port)])

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: the MLflow UI cannot listen on 127.0.0.1:{port}: address already in use (set another with --port)"
    )
    assert "experiments" not in result.output


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_ui_on_a_port_outside_1_to_65535_is_refused_in_one_line(store_uri: str, port: str) -> None:
    # The bind that checks the port raised OverflowError in a traceback; port 0 would print links to port 0.
    result = runner.invoke(app, ["ui", "--port", port])
    assert result.exit_code == 2
    shown = " ".join(result.output.replace("│", " ").split())
    assert re.search(r"Invalid value for '--port': Input should be (less than or equal to 65535|greater than or equal to 1)", shown)
    assert not isinstance(result.exception, OverflowError)


@pytest.mark.parametrize(
    "command",
    [
        ["promote", "--name", "news-topic"],
        ["fail-runs", "0123456789abcdef0123456789abcdef"],
        ["evaluate", "--model-uri", "models:/news-topic@champion", "--data", "held_out.jsonl"],
        ["evaluate", "--model-uri", "runs:/0123456789abcdef0123456789abcdef/model", "--dataset", "bbc_news"],
        ["score", "--model-uri", "models:/news-topic@champion", "--input", "news.jsonl", "--output", "out.parquet"],
    ],
    ids=lambda command: f"{command[0]}-{command[2].split(':')[0]}" if len(command) > 2 else command[0],
)
@pytest.mark.parametrize("where", ["mistyped/mlflow.db", "mistyped.db"])
def test_a_command_that_only_reads_or_changes_what_the_store_holds_does_not_create_a_mistyped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], where: str
) -> None:
    # A typo in MLFLOW_TRACKING_URI made a new empty store, then "no registered model named ...: train one first".
    missing = tmp_path / where
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    assert f"its database file {missing} does not exist" in result.output
    assert not missing.exists() and not missing.with_name(f"{missing.name}.lock").exists()
    assert missing.parent == tmp_path or not missing.parent.exists()


def test_ui_does_not_create_a_mistyped_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A typo in MLFLOW_TRACKING_URI made a new empty store, and the UI over it showed no experiment.
    missing = tmp_path / "mistyped" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    started: list[tuple[object, ...]] = []
    monkeypatch.setattr(os, "execvp", lambda *args: started.append(args))  # the UI never replaces the test's process
    result = runner.invoke(app, ["ui", "--port", str(free_port())])
    assert result.exit_code == 1, result.output
    assert f"its database file {missing} does not exist" in result.output
    assert started == [] and not missing.parent.exists()


def in_subprocess(uri: str, home: Path, *argv: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python ARGV` (a command of the project, or a script that runs one) on the store at uri, as a real process."""
    return subprocess.run(
        [*(prefix or []), sys.executable, *argv],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "HOME": str(home), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def train_in_subprocess(uri: str, home: Path, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m training train` on the TF-IDF topic config into the store at uri, as a real command."""
    return in_subprocess(uri, home, "-m", "training", "train", str(TOPIC_CONFIG), prefix=prefix)


def assert_nothing_written(uri: str) -> None:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert [experiment.name for experiment in client.search_experiments()] == ["Default"]
    assert client.search_registered_models() == []


def sweep_in_subprocess(uri: str, home: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`python -m training train` of a 24-run sweep into the store at uri: it keeps a run open long enough to be
    stopped, or to lose its server, in the middle of it."""
    sweep = "sweep.model.C=[" + ", ".join(str(2**power) for power in range(-12, 12)) + "]"
    return subprocess.Popen(
        [sys.executable, "-m", "training", "train", str(TOPIC_CONFIG), sweep],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "HOME": str(home), "OMP_NUM_THREADS": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_a_running_run(training: subprocess.Popen[str], client: MlflowClient) -> None:
    deadline = time.monotonic() + 120
    while not client.search_runs([e.experiment_id for e in client.search_experiments()], "attributes.status = 'RUNNING'"):
        assert training.poll() is None and time.monotonic() < deadline, training.communicate()[1]
        time.sleep(0.2)


def test_sigterm_ends_the_running_training_failed_and_registers_nothing(store_uri: str, tmp_path: Path) -> None:
    # The tables are made before the training starts: this plain client would otherwise migrate them beside it.
    client = MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)
    training = sweep_in_subprocess(store_uri, tmp_path)
    try:
        wait_for_a_running_run(training, client)
        training.send_signal(signal.SIGTERM)
        _, stderr = training.communicate(timeout=120)
    finally:
        training.kill()

    assert training.returncode == 128 + signal.SIGTERM, stderr
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert runs and {run.info.status for run in runs} == {"FAILED"}
    # The last line names them: the child it was in (unless it came between two), then the sweep's parent (a line
    # saying only "error: stopped by SIGTERM (a run it had started ends FAILED, ...)" came after it).
    assert re.search(
        r"training stopped by SIGTERM: (run \w+ \(tfidf_logreg \(model\.C=[^)]+\)\) marked FAILED; )?run \w+ \(tfidf_logreg-sweep\) "
        r"marked FAILED; nothing it trained stays registered$",
        stderr.strip().splitlines()[-1],
    ), stderr
    assert "Stopped: stopped by SIGTERM" in {run.data.tags.get("error") for run in runs}
    assert client.search_registered_models() == []


# What a call to a killed server meets: a kept-alive connection is reset, a new one refused, a request closed unanswered,
# an answer being sent cut off.
GONE = r"(\[Errno (111\] Connection refused|104\] Connection reset by peer)|Remote end closed connection without response|IncompleteRead\(\d+ bytes read, \d+ more expected\) \(the server closed the connection in the middle of its answer\))"


@dataclass(frozen=True)
class LoopbackServer:
    """`mlflow server` on a free loopback port with a SQLite store of its own."""

    process: subprocess.Popen[bytes]
    uri: str
    database: str

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # the server starts workers: the whole group
        self.process.wait(timeout=30)

    def runs_left_running(self) -> list[str]:
        """The runs its store holds as RUNNING, read from the store's file."""
        client = MlflowClient(tracking_uri=self.database)
        experiments = [experiment.experiment_id for experiment in client.search_experiments()]
        return [run.info.run_id for run in client.search_runs(experiments, "attributes.status = 'RUNNING'")]


@pytest.fixture
def loopback_server(tmp_path: Path) -> Iterator[LoopbackServer]:
    with loopback_server_in(tmp_path) as server:
        yield server


@contextmanager
def loopback_server_in(folder: Path) -> Iterator[LoopbackServer]:
    """A started `mlflow server` keeping its store and artifacts in folder; killed when the block ends."""
    database, port = f"sqlite:///{folder / 'server.db'}", free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", database, "--default-artifact-root", str(folder / "artifacts")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = LoopbackServer(process, f"http://127.0.0.1:{port}", database)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{server.uri}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the MLflow server did not start"
            time.sleep(0.5)
        yield server
    finally:
        if process.poll() is None:
            server.kill()


def sweep_losing_its_server(server: LoopbackServer, home: Path, retries: dict[str, str]) -> subprocess.Popen[str]:
    """A sweep training into the server, which is killed once a run is open; the training goes on running."""
    training = sweep_in_subprocess(server.uri, home, retries)
    try:
        wait_for_a_running_run(training, MlflowClient(tracking_uri=server.uri, registry_uri=server.uri))
        server.kill()
    except BaseException:
        training.kill()
        raise
    return training


@pytest.mark.slow
def test_a_tracking_server_lost_during_training_ends_it_in_one_line_naming_the_runs_left_and_how_to_end_them(
    loopback_server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = loopback_server.uri
    # Two retries a call, 1 s and 2 s apart: MLflow's default (7, doubling) would take minutes for each call.
    retries = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
    training = sweep_losing_its_server(loopback_server, tmp_path, retries)
    try:
        _, stderr = training.communicate(timeout=180)
    finally:
        training.kill()

    assert training.returncode == 1, stderr
    last = stderr.strip().splitlines()[-1]
    assert re.match(rf"error: the MLflow tracking server at {uri} stopped answering: {GONE}; run", last), stderr
    assert "could not be marked FAILED and show" in last
    left = loopback_server.runs_left_running()
    assert left and all(run_id in last for run_id in left)
    # At most the call that met the lost server waited out its retries (none if the server died in the middle of its
    # answer); tagging and ending the runs did not wait them out again, each.
    assert stderr.count("Retrying (Retry(") <= 2, stderr

    # The command the message gives ends them, run on the server's own store (as it would be once the server is back).
    command = re.search(r"`python -m training (fail-runs [0-9a-f ]+)` marks", last)
    assert command is not None, last
    monkeypatch.setenv("MLFLOW_TRACKING_URI", loopback_server.database)
    result = runner.invoke(app, command[1].split())
    assert result.exit_code == 0, result.output
    assert loopback_server.runs_left_running() == []
    ended = MlflowClient(tracking_uri=loopback_server.database)
    assert all(ended.get_run(run_id).info.status == "FAILED" for run_id in left)


@pytest.mark.slow
def test_a_training_stopped_while_its_tracking_server_is_gone_names_the_runs_left_and_keeps_the_signal_code(
    tmp_path: Path,
) -> None:
    # Five retries a call, 1, 2, 4, 8 and 16 s apart: a training hanging on its lost server, which its user stops.
    retries = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
    # A server killed in the middle of an answer fails that call at once, with no retry to hang in: tried again then.
    for attempt in range(3):
        folder = tmp_path / f"attempt-{attempt}"
        folder.mkdir()
        with loopback_server_in(folder) as server:
            training = sweep_losing_its_server(server, folder, retries)
            stderr: list[str] = []
            reader = threading.Thread(target=lambda: stderr.extend(training.stderr or ()), daemon=True)
            reader.start()
            try:
                while not any("Retrying (Retry(" in line for line in stderr) and training.poll() is None:
                    time.sleep(0.05)
                if training.poll() is not None:
                    continue
                training.send_signal(signal.SIGTERM)
                training.wait(timeout=120)
            finally:
                training.kill()
                reader.join(timeout=30)
            output = "".join(stderr)
            assert training.returncode == 128 + signal.SIGTERM, output
            last = output.strip().splitlines()[-1]
            assert re.match(
                rf"error: stopped by SIGTERM; the MLflow tracking server at {server.uri} stopped answering: {GONE}; run", last
            ), output
            left = server.runs_left_running()
            assert left and all(run_id in last for run_id in left)
            # At most the one call the stop interrupted retried; the tag and the runs' ends did not wait out retries each.
            assert output.count("Retrying (Retry(") <= 5, output
            return
    pytest.fail("in three tries the training never hung on its lost server: each call failed at once")


@pytest.mark.slow
def test_a_tracking_server_lost_during_promotion_ends_the_command_in_one_line(
    loopback_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", loopback_server.uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    auto_promote = trainer._auto_promote

    def server_lost_first(*args: Any, **kwargs: Any) -> Any:
        loopback_server.kill()
        return auto_promote(*args, **kwargs)

    monkeypatch.setattr(trainer, "_auto_promote", server_lost_first)
    result = runner.invoke(app, ["train", str(TOPIC_CONFIG)])

    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"error: the MLflow tracking server at {loopback_server.uri} stopped answering: {GONE}", last), last
    # Its run had ended FINISHED before the server went: nothing is left RUNNING.
    assert loopback_server.runs_left_running() == []


def test_training_into_a_read_only_store_fails_in_one_line_naming_it(store_uri: str, tmp_path: Path) -> None:
    prefix = []
    if os.geteuid() == 0:
        # File modes do not stop root's capabilities: the command runs as root without any.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root, and setpriv (util-linux) is not there to drop root's capabilities")
        prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]
    MlflowClient().search_experiments()  # creates the store
    database = Path(store_uri.removeprefix("sqlite:///"))
    database.chmod(0o444)
    database.parent.chmod(0o555)
    try:
        result = train_in_subprocess(store_uri, tmp_path, prefix)
    finally:
        database.parent.chmod(0o755)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) < 5, result.stderr
    assert lines[-1] == f"error: the tracking store {store_uri} cannot be written: attempt to write a readonly database"
    assert_nothing_written(store_uri)


def test_training_into_a_locked_store_fails_in_one_line_naming_it(store_uri: str, tmp_path: Path) -> None:
    MlflowClient().search_experiments()  # creates the store
    holder = sqlite3.connect(store_uri.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as another process in the middle of a write would
    try:
        result = train_in_subprocess(store_uri, tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) < 5, result.stderr
    assert lines[-1] == f"error: the tracking store {store_uri} cannot be written: database is locked"
    assert_nothing_written(store_uri)


def test_label_counts_writes_the_tables_and_a_bad_label_leaves_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "COUNTS.md"
    written = runner.invoke(app, ["label-counts", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_text(encoding="utf-8") == (locations.SEEDS_DIR / "LABEL_COUNTS.md").read_text(encoding="utf-8")

    labels = tmp_path / "labels.jsonl"
    lines = locations.LABELS_PATH.read_text(encoding="utf-8").splitlines()
    labels.write_text("\n".join([lines[0].replace('"topic": "', '"topic": "sport'), *lines[1:]]) + "\n", encoding="utf-8")
    refused = runner.invoke(app, ["label-counts", "--labels", str(labels), "--out", str(out)])
    assert refused.exit_code == 1
    assert f"{labels}:1: topic: Input should be" in refused.output and "(got 'sportconflict')" in refused.output
    assert out.read_text(encoding="utf-8") == (locations.SEEDS_DIR / "LABEL_COUNTS.md").read_text(encoding="utf-8")


def test_label_counts_refuses_to_write_over_its_inputs_or_into_a_folder(tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    shutil.copy(locations.LABELS_PATH, labels)
    over = runner.invoke(app, ["label-counts", "--labels", str(labels), "--out", str(labels)])
    assert over.exit_code == 1 and f"error: --out {labels} is an input of the count" in over.output
    assert labels.read_bytes() == locations.LABELS_PATH.read_bytes()
    folder = runner.invoke(app, ["label-counts", "--out", str(tmp_path)])
    assert folder.exit_code == 1 and f"error: cannot write {tmp_path}: it is a folder" in folder.output
    unwritable = runner.invoke(app, ["label-counts", "--out", "/proc/counts.md"])
    assert unwritable.exit_code == 1 and "error: cannot write /proc/counts.md: " in unwritable.output
    missing = runner.invoke(app, ["label-counts", "--out", str(tmp_path / "missing" / "COUNTS.md")])
    assert missing.exit_code == 1
    assert f"error: cannot write {tmp_path / 'missing' / 'COUNTS.md'}: folder {tmp_path / 'missing'} does not exist" in missing.output
    assert not (tmp_path / "missing").exists()
    data = tmp_path / "scores.parquet"
    data.write_bytes(b"PAR1")
    replaced = runner.invoke(app, ["label-counts", "--out", str(data)])
    assert replaced.exit_code == 1
    assert f"error: --out {data} is a file that is not Markdown (.parquet): give a .md path" in replaced.output
    assert data.read_bytes() == b"PAR1"
    # Another corpus's counts written over the seed corpus's, by the default --out.
    committed = (locations.SEEDS_DIR / "LABEL_COUNTS.md").read_bytes()
    other = runner.invoke(app, ["label-counts", "--labels", str(labels)])
    assert other.exit_code == 1
    assert "error: --out seeds/LABEL_COUNTS.md holds the seed corpus's counts: give other files' counts an --out of their own" in other.output
    assert (locations.SEEDS_DIR / "LABEL_COUNTS.md").read_bytes() == committed


def test_evaluate_help_names_the_default_data_directory() -> None:
    # Rich reads "[default: ...]" in a help string as markup and drops it: the default must survive the rendering.
    result = runner.invoke(app, ["evaluate", "--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert result.exit_code == 0, result.output
    assert f"the folder holding the benchmark folders (default: {locations.DEFAULT_DATA_DIR})" in result.output


def test_train_defaults_help_says_when_it_trains_and_what_retrain_sets() -> None:
    # It said "where no champion exists yet": a champion trained from another config is competed with once too.
    result = runner.invoke(app, ["train-defaults", "--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert result.exit_code == 0, result.output
    assert "or where the champion was trained from another config and no default version has competed with it" in result.output
    assert "(promote: always; a promote override is refused beside it)" in result.output


def test_a_data_file_that_cannot_be_read_is_named_in_one_line(store_uri: str, tmp_path: Path) -> None:
    # The command line's own paths are checked by the parser; the files a config or a folder names are opened later.
    prefix = []
    if os.geteuid() == 0:
        # File modes do not stop root's capabilities: the command runs as root without any.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root, and setpriv (util-linux) is not there to drop root's capabilities")
        prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]
    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "Troops crossed the border.", "label": "conflict"}\n', encoding="utf-8")
    data.chmod(0o000)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(next(locations.RAW_SEEDS_DIR.glob("*.txt")), raw / "seed.txt")
    (raw / "seed.txt").chmod(0o000)
    commands = {
        data: ["train", str(TOPIC_CONFIG), "data.source=jsonl", f"data.path={data}"],
        raw / "seed.txt": ["ingest", "--raw-dir", str(raw), "--out-dir", str(tmp_path / "out")],
    }
    for unreadable, command in commands.items():
        result = subprocess.run(
            [*prefix, sys.executable, "-m", "training", *command],
            cwd=PROJECT_ROOT,
            env={**os.environ, "MLFLOW_TRACKING_URI": store_uri, "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1] == f"error: {unreadable}: Permission denied"
    assert_nothing_written(store_uri)
    assert not (tmp_path / "out").exists()


def _not_a_model(tmp_path: Path) -> Path:
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")  # no model_type: transformers cannot read it
    return folder


@pytest.mark.parametrize(
    ("command", "key"),
    [
        (["train", str(locations.CONFIGS_DIR / "topic" / "minilm_frozen.yaml")], "model.encoder"),
        (["train", str(TOPIC_CONFIG), "model={family: frozen_encoder}", "sweep.model.encoder=[all-MiniLM-L6-v2, ENCODER]"], "model.encoder"),
        (["train", str(locations.CONFIGS_DIR / "benchmarks" / "semeval2016" / "ensemble.yaml")], "model.members.1.encoder"),
        (["train-defaults", "extra_training=[]"], "model.encoder"),
    ],
    ids=["train", "sweep", "ensemble-member", "train-defaults"],
)
@pytest.mark.parametrize("folder", ["missing", "not-a-model"])
def test_a_bad_encoder_is_refused_before_the_store_is_touched(
    store_uri: str, tmp_path: Path, command: list[str], key: str, folder: str
) -> None:
    encoder = tmp_path / "missing" if folder == "missing" else _not_a_model(tmp_path)
    if "sweep" not in command[-1]:
        command = [*command, f"{key}={encoder}"]
    result = runner.invoke(app, [part.replace("ENCODER", str(encoder)) for part in command])
    assert result.exit_code == 1, result.output
    # Named by the override that gave it (the last one), not as if the config file held it.
    given = command[-1].replace("ENCODER", str(encoder))
    assert f"with {given}: {key}: encoder '{encoder}'" in result.output or f", {given}: {key}: encoder '{encoder}'" in result.output
    assert "Traceback" not in result.output
    # Refused before the store was made: no run, no experiment, no file.
    assert not Path(store_uri.removeprefix("sqlite:///")).exists()


def _interrupted(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt  # Ctrl-C, where it lands in the step


def _stop_line(caplog: pytest.LogCaptureFixture) -> str:
    (line,) = [record.getMessage() for record in caplog.records if record.getMessage().startswith("training interrupted")]
    return line


def _runs() -> list[mlflow.entities.Run]:
    return mlflow.search_runs(search_all_experiments=True, output_format="list", order_by=["attributes.start_time"])


@pytest.mark.parametrize("step", ["_evaluate", "_auto_promote"])
def test_ctrl_c_in_a_training_ends_it_in_one_line_naming_the_run_marked_failed(
    store_uri: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    monkeypatch.setattr(trainer, step, _interrupted)
    with caplog.at_level(logging.INFO, logger="training"):
        result = runner.invoke(app, ["train", str(TOPIC_CONFIG)])
    assert result.exit_code == 130, result.output
    (run,) = _runs()
    assert (run.info.status, run.data.tags["error"]) == ("FAILED", "stopped by SIGINT (Ctrl-C)")
    # In promotion the run had ended FINISHED with its version registered: both are undone, and said so.
    deleted = "news-topic version 1, which it had registered, deleted; " if step == "_auto_promote" else ""
    assert _stop_line(caplog) == (
        f"training interrupted (Ctrl-C): {deleted}run {run.info.run_id} (tfidf_logreg) marked FAILED; nothing it trained "
        "stays registered"
    )
    assert MlflowClient().search_registered_models() == []


def test_ctrl_c_in_a_sweep_names_the_child_and_the_parent(
    store_uri: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluate = trainer._evaluate
    calls: list[int] = []

    def second_interrupted(*args: Any, **kwargs: Any) -> dict[str, float]:
        calls.append(1)
        if len(calls) == 2:
            _interrupted()
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(trainer, "_evaluate", second_interrupted)
    with caplog.at_level(logging.INFO, logger="training"):
        result = runner.invoke(app, ["train", str(TOPIC_CONFIG), "sweep.model.C=[1, 2, 3]"])
    assert result.exit_code == 130, result.output
    parent, first, second = _runs()
    assert [run.info.status for run in (parent, first, second)] == ["FAILED", "FINISHED", "FAILED"]
    assert _stop_line(caplog) == (
        f"training interrupted (Ctrl-C): run {second.info.run_id} (tfidf_logreg (model.C=2)) marked FAILED; run "
        f"{parent.info.run_id} (tfidf_logreg-sweep) marked FAILED; nothing it trained stays registered"
    )
    assert MlflowClient().search_registered_models() == []


def test_ctrl_c_before_the_run_started_says_so(
    store_uri: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trainer, "load_labelled_data", _interrupted)  # reading the data
    with caplog.at_level(logging.INFO, logger="training"):
        result = runner.invoke(app, ["train", str(TOPIC_CONFIG)])
    assert result.exit_code == 130, result.output
    assert _stop_line(caplog) == "training interrupted (Ctrl-C) before its run started: no run of it recorded, nothing registered"
    assert _runs() == []


@pytest.mark.parametrize("command", ["train", "train-defaults"])
def test_ctrl_c_after_a_training_ended_says_its_version_stays_registered(
    store_uri: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from training import cli, defaults

    monkeypatch.setitem(defaults.DEFAULT_CONFIGS, "topic", TOPIC_CONFIG)
    monkeypatch.setitem(defaults.DEFAULT_CONFIGS, "stance", locations.CONFIGS_DIR / "stance" / "tfidf_logreg.yaml")
    # Ctrl-C while the report of a training that ended whole is written: its run FINISHED, its version registered.
    monkeypatch.setattr(cli, "_report", _interrupted)
    arguments = ["train", str(TOPIC_CONFIG)] if command == "train" else ["train-defaults", "extra_training=[]"]
    with caplog.at_level(logging.INFO, logger="training"):
        result = runner.invoke(app, arguments)
    assert result.exit_code == 130, result.output
    (run,) = _runs()
    assert run.info.status == "FINISHED"
    # Not "before its run started: no run of it recorded, nothing registered".
    assert _stop_line(caplog) == (
        f"training interrupted (Ctrl-C) after it ended: news-topic version 1 (run {run.info.run_id}) stays registered, "
        "as champion"
    )
    assert str(MlflowClient().get_model_version_by_alias("news-topic", "champion").version) == "1"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_while_the_process_exits_after_its_report_leaves_the_commands_exit_code(
    store_uri: str, tmp_path: Path, stop: signal.Signals
) -> None:
    # Python's teardown after a training (about 2 s: torch, MLflow) put back each signal's default action: a stop there
    # ended the process with 130 or 143 and no word, the version registered and champion, read by `train && ...` as a
    # failed training.
    training = subprocess.Popen(
        [sys.executable, "-m", "training", "train", str(TOPIC_CONFIG)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": store_uri, "HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert training.stderr is not None
        lines: list[str] = []
        while not (lines and "INFO training: promotion: " in lines[-1]):
            line = training.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        time.sleep(0.5)  # past the command's last line, into the process's exit (about 2 s)
        training.send_signal(stop)
        _, rest = training.communicate(timeout=60)
    finally:
        training.kill()

    assert training.returncode == 0, "".join(lines) + rest
    assert str(MlflowClient(tracking_uri=store_uri).get_model_version_by_alias("news-topic", "champion").version) == "1"


@pytest.mark.parametrize("sweep", [[], ["sweep.model.C=[1, 2]"]])
def test_ctrl_c_as_the_trainer_returns_a_promoted_version_undoes_it_and_says_so(
    store_uri: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, sweep: list[str]
) -> None:
    why_not_tried = trainer._why_not_tried
    calls: list[int] = []

    def second_interrupted(config: Any) -> str | None:
        # Its first call is the promotion's; its second makes the result, the version promoted and (a sweep's
        # parent run aside) every run ended FINISHED.
        calls.append(1)
        if len(calls) == 2:
            _interrupted()
        return why_not_tried(config)

    monkeypatch.setattr(trainer, "_why_not_tried", second_interrupted)
    with caplog.at_level(logging.INFO, logger="training"):
        result = runner.invoke(app, ["train", str(TOPIC_CONFIG), *sweep])
    assert result.exit_code == 130, result.output
    # Was "before its run started" (one run), or the sweep's parent marked FAILED with "nothing it trained stays
    # registered" beside a registered champion.
    line = _stop_line(caplog)
    assert "news-topic version 1, which it had registered, deleted" in line
    named = [run for run in _runs() if run.info.run_id in line]
    assert named and {run.info.status for run in named} == {"FAILED"}
    assert MlflowClient().search_registered_models() == []


# Ctrl-C pressed as one of MLflow's client calls returns, made exact: the call, when one of its arguments is the one
# given, sends the process SIGINT from MLflow's module, where the handler waits for the call to return.
SIGNALLED_CALL = """
import runpy, sys
from mlflow.tracking import MlflowClient

method, argument = sys.argv.pop(1), sys.argv.pop(1)
namespace = {"__name__": "mlflow.tracking.client", "real": getattr(MlflowClient, method), "argument": argument}
exec(
    "import os, signal\\n"
    "def signalled(self, *args, **kwargs):\\n"
    "    result = real(self, *args, **kwargs)\\n"
    "    if argument in map(str, args):\\n"
    "        os.kill(os.getpid(), signal.SIGINT)\\n"
    "    return result\\n",
    namespace,
)
setattr(MlflowClient, method, namespace["signalled"])
runpy.run_module("training", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    ("method", "argument", "champion_before", "sweep"),
    [
        # The promotion's last call: the lock's removal.
        ("delete_registered_model", "news-topic.promotion-lock", False, []),
        # The alias's move, followed by the replaced champion's notes and the lock's removal.
        ("set_registered_model_alias", "champion", True, []),
        # After the promotion, a sweep's parent run records the version and ends.
        ("set_tag", "registered_version", False, ["sweep.model.C=[1, 2]"]),
    ],
    ids=["lock-release", "alias", "sweep-parent"],
)
def test_ctrl_c_in_the_last_calls_of_a_training_undoes_it_in_one_line(
    store_uri: str, tmp_path: Path, method: str, argument: str, champion_before: bool, sweep: list[str]
) -> None:
    client = MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)
    if champion_before:
        first = runner.invoke(app, ["train", str(TOPIC_CONFIG)])  # version 1, champion; the SVM beats it
        assert first.exit_code == 0, first.output
    config = TOPIC_CONFIG.with_name("tfidf_svm.yaml") if champion_before else TOPIC_CONFIG
    result = signalled_command(store_uri, tmp_path, SIGNALLED_CALL, method, argument, "train", str(config), *sweep)
    # It ended after its report in Click's bare "Aborted!" (exit code 1), its version registered and champion.
    assert result.returncode == 130, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "training interrupted (Ctrl-C): news-topic version " in last, result.stderr
    assert last.endswith("marked FAILED; nothing it trained stays registered"), result.stderr
    runs = client.search_runs([experiment.experiment_id for experiment in client.search_experiments()])
    trained = [run for run in runs if run.info.run_id in last]
    assert len(trained) == 1 + bool(sweep) and {run.info.status for run in trained} == {"FAILED"}
    # Nothing half done: the name as it was before, its lock removed.
    versions = client.search_model_versions("name='news-topic'")
    assert [str(version.version) for version in versions] == (["1"] if champion_before else [])
    if champion_before:
        assert str(client.get_model_version_by_alias("news-topic", "champion").version) == "1"
    assert [model.name for model in client.search_registered_models()] == (["news-topic"] if champion_before else [])


def test_ctrl_c_in_the_second_default_model_reports_the_first_as_registered(
    store_uri: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training import defaults

    # Quick stand-ins for the default configs: what is tested is the command's report, not their models.
    monkeypatch.setitem(defaults.DEFAULT_CONFIGS, "topic", TOPIC_CONFIG)
    monkeypatch.setitem(defaults.DEFAULT_CONFIGS, "stance", locations.CONFIGS_DIR / "stance" / "tfidf_logreg.yaml")
    evaluate = trainer._evaluate

    def stance_interrupted(factory: Any, data: Any, config: Any, memory: Any) -> dict[str, float]:
        if config.task == "stance":
            _interrupted()
        return evaluate(factory, data, config, memory)

    monkeypatch.setattr(trainer, "_evaluate", stance_interrupted)
    with caplog.at_level(logging.INFO, logger="training"):
        result = runner.invoke(app, ["train-defaults", "extra_training=[]"])
    assert result.exit_code == 130, result.output
    topic, stance = _runs()
    messages = [record.getMessage() for record in caplog.records]
    # The topic model finished whole before the stop: it is said as soon as it is registered, and it stays.
    registered = f"news-topic version 1 registered (run {topic.info.run_id}): macro_f1 = "
    assert any(message.startswith(registered) for message in messages)
    assert _stop_line(caplog) == (
        f"training interrupted (Ctrl-C): run {stance.info.run_id} (tfidf_logreg (extra_training=[])) marked FAILED; nothing it trained "
        "stays registered"
    )
    assert [model.name for model in MlflowClient().search_registered_models()] == ["news-topic"]


# Ctrl-C or SIGTERM pressed as a function of the project is called (its `call`th call), made exact: the function,
# replaced in its module, first sends the process the signal, which lands in the caller's code.
SIGNALLED_FUNCTION = """
import importlib, os, runpy, sys

module, name = importlib.import_module(sys.argv.pop(1)), sys.argv.pop(1)
signum, call = int(sys.argv.pop(1)), int(sys.argv.pop(1))
real, calls = getattr(module, name), []

def signalled(*args, **kwargs):
    calls.append(1)
    if len(calls) == call:
        os.kill(os.getpid(), signum)
    return real(*args, **kwargs)

setattr(module, name, signalled)
runpy.run_module("training", run_name="__main__", alter_sys=True)
"""


# Ctrl-C pressed as contextlib hands the block of a @contextmanager (named by its generator function) over to it, made
# exact by a profile hook: the handler meets the signal in contextlib's code, the generator just yielded.
SIGNALLED_HANDOVER = """
import contextlib, os, runpy, signal, sys

name = sys.argv.pop(1)
enter, sent = contextlib._GeneratorContextManager.__enter__.__code__, []

def profile(frame, event, arg):
    if not sent and event == "c_return" and arg is next and frame.f_code is enter:
        if frame.f_locals["self"].gen.gi_code.co_name == name:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)

# Imported before the hook is set, which slows every call after it (the test took 17.5 s, 12.7 s so).
import mlflow, training.cli, training.evaluation.held_out, training.evaluation.recording
sys.setprofile(profile)
runpy.run_module("training", run_name="__main__", alter_sys=True)
"""


def signalled_command(uri: str, home: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m training ARGS` run by one of the scripts above, which sends it a signal, on the store at uri."""
    return in_subprocess(uri, home, "-c", script, *args)


def stop_line(result: subprocess.CompletedProcess[str], signum: int) -> str:
    """The command's last line, which must say what the stop left; no traceback before it."""
    assert result.returncode == 128 + signum, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("script", "pressed", "signum", "left", "champion"),
    [
        # A stop in the writes waits for them: the alias moved.
        (SIGNALLED_CALL, ["set_registered_model_alias", "champion"], signal.SIGINT,
         "promote interrupted (Ctrl-C): news-topic version 2 is now champion (replacing version 1)", "2"),
        # While the candidate is judged against the champion, before any write.
        (SIGNALLED_FUNCTION, ["training.promotion", "_judge_against", str(int(signal.SIGTERM)), "1"], signal.SIGTERM,
         "promote stopped by SIGTERM: news-topic version 2 was not made champion; champion stays version 1", "1"),
    ],
    ids=["alias", "judging"],
)
def test_a_stopped_promote_says_whether_the_version_became_champion(
    store_uri: str, tmp_path: Path, script: str, pressed: list[str], signum: int, left: str, champion: str
) -> None:
    for overrides in ([], ["promote=never"]):
        trained = runner.invoke(app, ["train", str(TOPIC_CONFIG), *overrides])
        assert trained.exit_code == 0, trained.output
    promote = ["promote", "--name", "news-topic", "--version", "2", "--force"]
    result = signalled_command(store_uri, tmp_path, script, *pressed, *promote)
    # It ended without a word (Ctrl-C) or in "error: stopped by SIGTERM (a run it had started ends FAILED, ...)".
    assert stop_line(result, signum).endswith(f" ERROR training: {left}"), result.stderr
    client = MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)
    assert str(client.get_model_version_by_alias("news-topic", "champion").version) == champion
    assert [model.name for model in client.search_registered_models()] == ["news-topic"]  # the lock removed


@pytest.fixture
def held_out(tmp_path: Path) -> Path:
    path = tmp_path / "held_out.jsonl"
    rows = [
        {"text": "Israeli warplanes struck targets in southern Lebanon overnight.", "label": "conflict"},
        {"text": "The foreign ministers met in Cairo to discuss a ceasefire proposal.", "label": "diplomacy"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("where", ["starting", "logging", "ending"])
def test_a_stopped_evaluation_leaves_its_run_failed_or_finished_and_says_which(
    store_uri: str, tmp_path: Path, held_out: Path, where: str
) -> None:
    trained = runner.invoke(app, ["train", str(TOPIC_CONFIG)])
    assert trained.exit_code == 0, trained.output
    pressed = {
        # As MLflow has started the run, before the block that records it: it ended FAILED as "GeneratorExit", after a
        # closing line that said no run was recorded.
        "starting": [SIGNALLED_HANDOVER, "tracked_run"],
        "logging": [SIGNALLED_FUNCTION, "training.evaluation.recording", "_log", str(int(signal.SIGINT)), "1"],
        "ending": [SIGNALLED_CALL, "set_terminated", "FINISHED"],  # as the finished run is ended
    }[where]
    evaluate = ["evaluate", "--model-uri", "models:/news-topic/1", "--data", str(held_out), "--experiment", "held-out"]
    result = signalled_command(store_uri, tmp_path, *pressed, *evaluate)
    line = stop_line(result, signal.SIGINT)
    client = MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)
    (experiment,) = [found for found in client.search_experiments() if found.name == "held-out"]
    (run,) = client.search_runs([experiment.experiment_id])
    if where != "ending":
        assert (run.info.status, run.data.tags["error"]) == ("FAILED", "stopped by SIGINT (Ctrl-C)")
        assert line.endswith(
            f"evaluate interrupted (Ctrl-C): run {run.info.run_id} (news-topic v1 on {held_out}) marked FAILED; "
            "no metrics printed"
        ), result.stderr
        assert result.stdout == ""
    else:
        # It ended in "Aborted!" and exit code 1, the stop raised once the command had returned.
        assert run.info.status == "FINISHED"
        assert line.endswith(
            f"evaluate interrupted (Ctrl-C) after it ended: run {run.info.run_id} of experiment 'held-out' stays recorded"
        ), result.stderr


def test_a_stopped_score_says_no_output_was_written(store_uri: str, tmp_path: Path, held_out: Path) -> None:
    trained = runner.invoke(app, ["train", str(TOPIC_CONFIG)])
    assert trained.exit_code == 0, trained.output
    news = tmp_path / "news.jsonl"
    news.write_text(held_out.read_text(encoding="utf-8").replace('"label"', '"gold"'), encoding="utf-8")
    output = tmp_path / "scores.parquet"
    score = ["score", "--model-uri", "models:/news-topic/1", "--input", str(news), "--output", str(output)]
    scored = runner.invoke(app, score)
    assert scored.exit_code == 0, scored.output
    previous = output.read_bytes()
    pressed = ["training.scoring.local_engine", "predict_table", str(int(signal.SIGTERM)), "1"]
    result = signalled_command(store_uri, tmp_path, SIGNALLED_FUNCTION, *pressed, *score)
    # The last line was "error: stopped by SIGTERM (a run it had started ends FAILED, an output ... is removed)".
    assert stop_line(result, signal.SIGTERM).endswith(
        f"score stopped by SIGTERM: no output written, {output} left as it was"
    ), result.stderr
    assert output.read_bytes() == previous
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []


def test_a_stopped_fail_runs_names_the_runs_it_ended_and_those_it_left(store_uri: str, tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)
    experiment = client.create_experiment("abandoned", artifact_location=(tmp_path / "artifacts").as_uri())
    first, second = (client.create_run(experiment).info.run_id for _ in range(2))
    result = signalled_command(
        store_uri, tmp_path, SIGNALLED_FUNCTION, "training.abandoned_runs", "_fail", str(int(signal.SIGINT)), "2",
        "fail-runs", first, second,
    )
    assert stop_line(result, signal.SIGINT).endswith(
        f"fail-runs interrupted (Ctrl-C): run {first} marked FAILED; run {second} left RUNNING"
    ), result.stderr
    assert [client.get_run(run_id).info.status for run_id in (first, second)] == ["FAILED", "RUNNING"]


@pytest.mark.parametrize(
    ("command", "pressed", "left", "written"),
    [
        (["validate-labels"], ["training.corpus.labels", "validate_labels"], ": its check not finished (it writes nothing)", []),
        (["config-keys"], ["training.config.reference", "render"], ": it writes nothing", []),
        (["ui"], ["classifiers.listening", "listen_problem"], ": no UI started", []),
        # While the tables are counted, and while they are moved into place (which the stop waits for).
        (["label-counts", "--out", "{out}/COUNTS.md"], ["training.corpus.label_counts", "label_counts"],
         ": no output written, {out}/COUNTS.md left as it was", []),
        (["label-counts", "--out", "{out}/COUNTS.md"], ["os", "replace"],
         " after it ended: {out}/COUNTS.md written", ["COUNTS.md"]),
        (["ingest", "--out-dir", "{out}"], ["training.corpus.seed_files", "build_corpus"],
         ": no output written, {out}/segments.jsonl and {out}/articles.jsonl left as they were", []),
        (["ingest", "--out-dir", "{out}"], ["os", "replace"],
         " after it ended: {out}/segments.jsonl and {out}/articles.jsonl written", ["articles.jsonl", "segments.jsonl"]),
    ],
    ids=["validate-labels", "config-keys", "ui", "label-counts-counting", "label-counts-moving", "ingest-parsing",
         "ingest-moving"],
)
def test_every_other_command_ends_a_stop_in_one_line_saying_what_it_left(
    store_uri: str, tmp_path: Path, command: list[str], pressed: list[str], left: str, written: list[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    outputs = ("COUNTS.md", "articles.jsonl", "segments.jsonl")
    for name in outputs:
        (out / name).write_text("earlier\n", encoding="utf-8")
    arguments = [argument.format(out=out) for argument in command]
    result = signalled_command(store_uri, tmp_path, SIGNALLED_FUNCTION, *pressed, str(int(signal.SIGINT)), "1", *arguments)
    # It ended without a word.
    assert stop_line(result, signal.SIGINT).endswith(
        f" ERROR training: {command[0]} interrupted (Ctrl-C){left.format(out=out)}"
    ), result.stderr
    assert [name for name in outputs if (out / name).read_text(encoding="utf-8") != "earlier\n"] == written
