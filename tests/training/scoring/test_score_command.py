"""`python -m training score` (training/cli.py) through typer's runner."""

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from training.cli import app

runner = CliRunner()


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
    assert f"error: {source}: line 2: invalid JSON" in result.output
    assert "Traceback" not in result.output
    assert list(out_dir.iterdir()) == []
    result = runner.invoke(app, ["score", "--model-uri", "x", "--input", str(source), "--output", str(output), "--engine", "dask"])
    assert result.exit_code == 1
    assert "--engine must be one of local, spark, got 'dask'" in result.output
