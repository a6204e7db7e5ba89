"""`python -m training score` (training/cli.py) through typer's runner."""

import json
import os
import signal
import subprocess
import sys
import time
import typing
from pathlib import Path

import mlflow.artifacts
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from training.cli import app, score
from training.locations import PROJECT_ROOT
from training.scoring import Engine, local_engine

runner = CliRunner()
TOPIC = "models:/news-topic@champion"


def test_score_writes_the_output_and_exits_0(trained_store_uri: str, jsonl_input: Path, out_dir: Path) -> None:
    output = out_dir / "scores.parquet"
    result = runner.invoke(
        app, ["score", "--model-uri", "models:/news-topic@champion", "--input", str(jsonl_input), "--output", str(output), "--chunk-rows", "5"]
    )
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(output)
    assert len(written) == 12
    assert {"row_id", "text", "label", "score", "proba_conflict"} <= set(written.columns)


def test_bad_input_prints_the_message_and_exits_1(trained_store_uri: str, inputs_dir: Path, out_dir: Path) -> None:
    source = inputs_dir / "news.jsonl"
    source.write_text(json.dumps({"text": "a"}) + "\n{not json\n", encoding="utf-8")
    output = out_dir / "scores.parquet"
    result = runner.invoke(app, ["score", "--model-uri", "models:/news-topic@champion", "--input", str(source), "--output", str(output)])
    # the project's user errors (training/cli.py `_user_errors`) exit 1 with a one-line message, no traceback
    assert result.exit_code == 1
    assert f"error: {source}:2: invalid JSON" in result.output
    assert "Traceback" not in result.output
    assert list(out_dir.iterdir()) == []
    result = runner.invoke(app, ["score", "--model-uri", "x", "--input", str(source), "--output", str(output), "--engine", "dask"])
    assert result.exit_code == 2  # typer's usage error, before anything is read
    assert "'dask' is not one of 'local', 'spark'" in " ".join(result.output.replace("│", " ").split())
    # said rather than ignored: a master is for Spark
    result = runner.invoke(app, ["score", "--model-uri", "x", "--input", str(source), "--output", str(output), "--master", "local[2]"])
    assert result.exit_code == 1
    assert "--master goes with --engine spark (the local engine scores in this process)" in result.output


def test_the_engine_choices_are_the_scoring_engines() -> None:
    # The command names its choices in a Literal (its `--help` imports nothing of the scoring package).
    hint = typing.get_type_hints(score, include_extras=True)["engine"]
    assert set(typing.get_args(typing.get_args(hint)[0])) == {engine.value for engine in Engine}


def test_a_folder_without_a_model_is_named_in_one_line(store_uri: str, jsonl_input: Path, out_dir: Path, tmp_path: Path) -> None:
    output = out_dir / "scores.parquet"
    result = runner.invoke(app, ["score", "--model-uri", str(tmp_path / "none"), "--input", str(jsonl_input), "--output", str(output)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot load model '{tmp_path / 'none'}': Could not find an \"MLmodel\" configuration file at \"{tmp_path / 'none'}\""
    )
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-uri"])
def test_a_model_folder_scores_beside_another_store_and_makes_no_store(
    trained_store_uri: str, jsonl_input: Path, out_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_uri: bool
) -> None:
    folder = Path(mlflow.artifacts.download_artifacts("models:/news-topic@champion", dst_path=str(tmp_path / "model")))
    elsewhere = tmp_path / "elsewhere" / "mlflow.db"
    elsewhere.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere}")
    output = out_dir / "scores.parquet"

    result = runner.invoke(
        app, ["score", "--model-uri", folder.as_uri() if as_uri else str(folder), "--input", str(jsonl_input), "--output", str(output)]
    )

    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(output)) == 12
    assert not elsewhere.exists()


@pytest.mark.parametrize("path", ["/model", ""], ids=["before-2026-12-07", "root"])
def test_a_runs_uri_naming_no_model_of_its_run_gives_the_uris_of_those_it_logged(
    trained_store_uri: str, jsonl_input: Path, out_dir: Path, path: str
) -> None:
    client = MlflowClient()
    champion = client.get_model_version_by_alias("news-topic", "champion")
    assert champion.source is not None
    name = client.get_logged_model(champion.source.removeprefix("models:/")).name
    uri = f"runs:/{champion.run_id}{path}"

    result = runner.invoke(app, ["score", "--model-uri", uri, "--input", str(jsonl_input), "--output", str(out_dir / "s.parquet")])

    # MLflow's words were "Failed to download artifacts from path 'MLmodel', please ensure that the path is correct."
    assert result.exit_code == 1
    where = "'model'" if path else "at its root"
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot load model '{uri}': run {champion.run_id} logged no model {where}: give runs:/{champion.run_id}/{name}"
    )


def score_the_champions_run(temp_root: Path, jsonl_input: Path, out_dir: Path) -> None:
    """Score through the champion's runs:/ URI, then check that every row was written and no copy was left."""
    client = MlflowClient()
    champion = client.get_model_version_by_alias("news-topic", "champion")
    assert champion.source is not None
    # The logged model's name (its config's), which a runs:/ URI names.
    name = client.get_logged_model(champion.source.removeprefix("models:/")).name
    output = out_dir / "scores.parquet"
    uri = f"runs:/{champion.run_id}/{name}"
    result = runner.invoke(app, ["score", "--model-uri", uri, "--input", str(jsonl_input), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(output)) == 12
    assert sorted(temp_root.iterdir()) == []


def test_a_runs_uri_of_a_store_on_this_machine_leaves_no_copy_behind(
    trained_store_uri: str, temp_root: Path, jsonl_input: Path, out_dir: Path
) -> None:
    # MLflow's runs repository copies the model into a new temporary folder at every load, a local store's too.
    score_the_champions_run(temp_root, jsonl_input, out_dir)


@pytest.mark.xdist_group("tracking_stack")  # the session's tracking stack lives on one worker
def test_score_reads_a_runs_uri_from_a_tracking_server(stack_uri: str, temp_root: Path, jsonl_input: Path, out_dir: Path) -> None:
    # The run's own artifact folder does not hold a logged model's files: MLflow's runs repository finds them.
    score_the_champions_run(temp_root, jsonl_input, out_dir)


@pytest.mark.xdist_group("tracking_stack")  # the session's tracking stack lives on one worker
def test_score_leaves_no_copy_of_a_tracking_servers_model_behind_whether_it_succeeds_or_fails(
    stack_uri: str, temp_root: Path, jsonl_input: Path, inputs_dir: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stack's server proxies its artifacts, so MLflow downloads the model (from a SQLite store it loads in place).
    seen: list[list[str]] = []
    predict = local_engine.predict_table

    def predict_watched(*args: object) -> object:
        seen.append(sorted(path.name for path in temp_root.iterdir()))
        return predict(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(local_engine, "predict_table", predict_watched)
    output = out_dir / "scores.parquet"
    arguments = ["score", "--model-uri", TOPIC, "--input", str(jsonl_input), "--output", str(output), "--chunk-rows", "5"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(output)) == 12
    after_success = sorted(temp_root.iterdir())
    # A bad line is found after the model's MLmodel file was read (its task says which fields it needs).
    broken = inputs_dir / "broken.jsonl"
    broken.write_text(json.dumps({"text": "Talks resumed."}) + "\n{not json\n", encoding="utf-8")
    arguments = ["score", "--model-uri", TOPIC, "--input", str(broken), "--output", str(out_dir / "broken.parquet")]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 1
    assert ":2: invalid JSON" in result.output

    assert after_success == []
    assert sorted(temp_root.iterdir()) == []
    # The copy was there while the model predicted (three chunks): it goes when the last is scored, not once loaded.
    assert len(seen) == 3 and all(len(names) == 1 and names[0].startswith("news-model-") for names in seen), seen
    assert not [entry for entry in sys.path if entry.startswith(str(temp_root))]


@pytest.mark.xdist_group("tracking_stack")
def test_score_stopped_by_sigterm_while_predicting_leaves_no_copy_of_the_model_behind(
    stack_uri: str, temp_root: Path, inputs_dir: Path, out_dir: Path, news_rows: list[dict[str, object]]
) -> None:
    source = inputs_dir / "many.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in news_rows * 200), encoding="utf-8")
    # The command's temporary folders go to TMPDIR, the fixture's folder (the store is the stack, from the environment).
    scoring = subprocess.Popen(
        [sys.executable, "-m", "training", "score", "--model-uri", TOPIC, "--input", str(source),
         "--output", str(out_dir / "scores.parquet"), "--chunk-rows", "1"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        # The staged output appears with the first chunk's predictions: the model is loaded and at work.
        while not any(path.name.startswith(".scores.parquet.") for path in out_dir.iterdir()):
            assert scoring.poll() is None and time.monotonic() < deadline, "scoring ended before its first chunk was written"
            time.sleep(0.05)
        in_use = sorted(path.name for path in temp_root.iterdir())
        scoring.send_signal(signal.SIGTERM)
        _, stderr = scoring.communicate(timeout=60)
    finally:
        scoring.kill()

    assert scoring.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    assert stderr.strip().splitlines()[-1].endswith(" ERROR training: score stopped by SIGTERM: no output written"), stderr[-3000:]
    assert len(in_use) == 1 and in_use[0].startswith("news-model-"), in_use
    assert sorted(temp_root.iterdir()) == []
    assert sorted(out_dir.iterdir()) == []
