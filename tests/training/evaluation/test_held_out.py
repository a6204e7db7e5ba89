import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import f1_score
from typer.testing import CliRunner

from classifiers.errors import UserInputError
from training.cli import app
from training.evaluation.held_out import evaluate_file, load_model, predict_labels
from training.evaluation.metrics import summary_metrics


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
    assert set(metrics) == {"accuracy", "macro_f1", "per_class", "labels", "n", "macro_f1_interval", "interval_resamples"}
    assert metrics["n"] == 3
    assert metrics["interval_resamples"] == "rows"
    low, high = metrics["macro_f1_interval"]
    assert 0 <= low <= metrics["macro_f1"] <= high <= 1
    rows = pd.read_json(data, lines=True)
    gold = rows["label"].tolist()
    predicted = predict_labels(*load_model("models:/news-topic@champion"), rows)
    used = sorted({*gold, *predicted})
    assert metrics["labels"] == used
    assert set(metrics["per_class"]) == set(used)
    assert metrics["accuracy"] == pytest.approx(sum(g == p for g, p in zip(gold, predicted)) / 3)
    assert metrics["macro_f1"] == pytest.approx(f1_score(gold, predicted, labels=used, average="macro"))


TOPIC_ROWS = [
    ("Israeli warplanes struck targets in southern Lebanon overnight.", "conflict"),
    ("Rockets hit a military base near the border, the army said.", "conflict"),
    ("The foreign ministers met in Cairo to discuss a ceasefire proposal.", "diplomacy"),
    ("Parliament approved the new electoral law after a heated debate.", "domestic_politics"),
]


def test_the_interval_resamples_the_articles_a_group_column_names(trained_store_uri: str, tmp_path: Path) -> None:
    rows = [{"text": text, "label": label, "article": f"a{k % 2}"} for k, (text, label) in enumerate(TOPIC_ROWS * 3)]
    data = write(tmp_path / "grouped.jsonl", rows)
    by_row = evaluate_file("models:/news-topic@champion", data)
    result = CliRunner().invoke(
        app, ["evaluate", "--model-uri", "models:/news-topic@champion", "--data", str(data), "--group-column", "article"]
    )
    assert result.exit_code == 0, result.output
    by_article = json.loads(result.stdout.strip().splitlines()[-1])
    assert (by_row["interval_resamples"], by_article["interval_resamples"]) == ("rows", "article")
    assert by_article["macro_f1"] == by_row["macro_f1"]
    for metrics in (by_row, by_article):
        low, high = metrics["macro_f1_interval"]
        assert low <= metrics["macro_f1"] <= high
    one_article = write(tmp_path / "one.jsonl", [{**row, "article": "a0"} for row in rows])
    assert evaluate_file("models:/news-topic@champion", one_article, "article")["macro_f1_interval"] is None


def test_a_group_column_missing_from_a_line_is_named(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(tmp_path / "g.jsonl", [{"text": "a", "label": "conflict", "article": "x"}, {"text": "b", "label": "conflict"}])
    with pytest.raises(UserInputError, match=r"g.jsonl:2: missing field\(s\) article"):
        evaluate_file("models:/news-topic@champion", data, "article")


def test_a_group_column_needs_a_data_file() -> None:
    result = CliRunner().invoke(
        app, ["evaluate", "--model-uri", "models:/news-topic@champion", "--dataset", "vast", "--group-column", "topic"]
    )
    assert result.exit_code == 1
    assert "--group-column goes with --data" in result.output


def test_macro_f1_averages_over_the_labels_present() -> None:
    gold = ["conflict", "diplomacy", "conflict"]
    metrics = summary_metrics(gold, gold, ["conflict", "diplomacy", "economy"])
    # a perfect prediction is 1.0 even though the model also knows `economy`, absent from the file
    assert metrics["macro_f1"] == 1.0
    assert metrics["labels"] == ["conflict", "diplomacy"]
    wrong = summary_metrics(["conflict", "conflict"], ["conflict", "economy"], ["conflict", "diplomacy", "economy"])
    assert wrong["labels"] == ["conflict", "economy"]
    assert wrong["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)


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
