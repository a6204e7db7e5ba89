"""A benchmark config end to end: a slice of the real FNC-1 training data, then `evaluate --dataset`."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from training import locations
from training.cli import app
from training.config.resolve import load_config
from training.evaluation.held_out import loaded_model, predict_labels
from training.labelled_data import benchmark_data_name
from training.locations import DEFAULT_DATA_DIR
from training.public_datasets.adapters import load_benchmark
from training.public_datasets.scorers import fnc_score, fnc_test_mix
from training.scoring.model import describe_model
from training.trainer import train

BODIES = "Body ID,articleBody\n1,A meteorite crashed near Managua. Officials confirmed it.\n2,Apple is in talks with HBO.\n"
STANCES = (
    "Headline,Body ID,Stance\n"
    "Meteorite hits Managua,1,agree\n"
    "HBO streaming deal,1,unrelated\n"
    "HBO streaming deal,2,discuss\n"
    "Meteorite hits Managua,2,unrelated\n"
)


@pytest.mark.slow
def test_fnc1_slice_trains_with_official_metrics_and_scores_a_test_split(store_uri: str, tmp_path: Path) -> None:
    if not DEFAULT_DATA_DIR.is_dir():
        pytest.skip(f"{DEFAULT_DATA_DIR}: ../shared/datasets not found")
    path = locations.CONFIGS_DIR / "benchmarks" / "fnc1" / "pair_features_lexical.yaml"
    # promote=always: a slice (data.limit) is not made champion by auto, and the test scores the champion.
    overrides = ["data.limit=12", "evaluation.n_splits=3", "model.max_iter=20", "model.svd_components=10", "promote=always"]
    result = train(load_config(path, overrides), config_path=path)
    assert result.primary_metric == "fnc_score"
    run = mlflow.get_run(result.run_id)
    # The logged figures are the official scorer's over the out-of-fold predictions the run logged.
    # log_table writes {"columns": [...], "data": [[...], ...]}.
    logged = mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="evaluation/predictions.json")
    table = json.loads(Path(logged).read_text(encoding="utf-8"))
    predictions = pd.DataFrame(table["data"], columns=table["columns"])
    gold, predicted = predictions["label"].tolist(), predictions["predicted"].tolist()
    assert run.data.metrics["fnc_score"] == pytest.approx(fnc_score(gold, predicted))
    # the dev figure comparable with the competition test, logged beside the official one
    mix = fnc_test_mix(gold, predicted)
    assert run.data.metrics["fnc_score_test_mix"] == pytest.approx(mix["fnc_score_test_mix"])
    assert run.data.metrics["macro_f1_test_mix"] == pytest.approx(mix["macro_f1_test_mix"])
    assert {"macro_f1", "train_seconds", "peak_rss_mb"} <= set(run.data.metrics)
    # The slice is named apart from the whole file's `fnc1-train`.
    assert run.inputs is not None
    assert run.inputs.dataset_inputs[0].dataset.name == benchmark_data_name("fnc1", "train", DEFAULT_DATA_DIR, 12)
    assert run.inputs.dataset_inputs[0].dataset.name.startswith("fnc1-train-limit12")

    # A directory in the official layout with the withheld split's file names.
    folder = tmp_path / "datasets" / "fnc1"
    folder.mkdir(parents=True)
    (folder / "competition_test_bodies.csv").write_text(BODIES, encoding="utf-8")
    (folder / "competition_test_stances.csv").write_text(STANCES, encoding="utf-8")
    outcome = CliRunner().invoke(
        app,
        ["evaluate", "--model-uri", "models:/fnc1-stance@champion", "--dataset", "fnc1",
         "--data-dir", str(tmp_path / "datasets"), "--split", "test"],
    )
    assert outcome.exit_code == 0, outcome.output
    metrics = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert metrics["n"] == 4
    # The champion's own labels for the 4 test pairs, scored by the official scorer.
    with loaded_model(describe_model("models:/fnc1-stance@champion")) as loaded:
        test = load_benchmark("fnc1", tmp_path / "datasets", "test", loaded.task)
        champion_labels = predict_labels(loaded.model, loaded.task, loaded.labels, test)
    assert metrics["fnc_score"] == pytest.approx(fnc_score(test["label"].tolist(), champion_labels))
    # per-class figures for the labels in the gold or the predictions; fnc's own macro-F1 covers all four
    assert set(metrics["per_class"]) == set(metrics["labels"]) <= {"agree", "disagree", "discuss", "unrelated"}


def test_evaluate_needs_exactly_one_data_source(store_uri: str) -> None:
    outcome = CliRunner().invoke(app, ["evaluate", "--model-uri", "models:/x@champion"])
    assert outcome.exit_code == 1
    assert "give exactly one of --data FILE.jsonl or --dataset NAME" in outcome.output
