import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.cli import app
from training.errors import UserInputError
from training.evaluate import evaluate_file


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_evaluate_prints_metrics_json_on_the_last_line(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(
        tmp_path / "held_out.jsonl",
        [
            {"text": "Israeli warplanes struck targets in southern Lebanon overnight.", "label": "conflict"},
            {"text": "The foreign ministers met in Cairo to discuss a ceasefire proposal.", "label": "diplomacy"},
            {"text": "Parliament approved the new electoral law after a heated debate.", "label": "domestic_politics"},
        ],
    )
    result = CliRunner().invoke(app, ["evaluate", "--model-uri", "models:/news-topic@champion", "--data", str(data)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(metrics) == {"accuracy", "macro_f1", "per_class", "n"}
    assert metrics["n"] == 3
    assert set(metrics["per_class"]) == {"conflict", "diplomacy", "domestic_politics", "economy", "humanitarian"}
    assert 0.0 <= metrics["accuracy"] <= 1.0


def test_stance_evaluation_needs_targets(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(tmp_path / "s.jsonl", [{"text": "Iran praised the attack.", "label": "favor"}])
    with pytest.raises(UserInputError, match=r"s.jsonl:1: missing field\(s\) target"):
        evaluate_file("models:/news-stance@champion", data)
    write(data, [{"text": "Iran praised the attack.", "target": "Iran", "label": "favor"}])
    assert evaluate_file("models:/news-stance@champion", data)["n"] == 1


def test_unknown_labels_are_listed(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(
        tmp_path / "d.jsonl",
        [{"text": "a", "label": "sport"}, {"text": "b", "label": "conflict"}, {"text": "c", "label": "weather"}],
    )
    result = CliRunner().invoke(app, ["evaluate", "--model-uri", "models:/news-topic@champion", "--data", str(data)])
    assert result.exit_code == 1
    assert "labels the model does not know: sport, weather" in result.output


def test_unknown_model_is_a_clear_error(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(tmp_path / "d.jsonl", [{"text": "a", "label": "conflict"}])
    with pytest.raises(UserInputError, match="cannot load model 'models:/nope@champion'"):
        evaluate_file("models:/nope@champion", data)
