"""`training evaluate --experiment`: an evaluation kept as an MLflow run beside the training runs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Run, ViewType
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from training.cli import app
from training.labelled_data import frame_digest

TOPIC_ROWS = [
    ("Israeli warplanes struck targets in southern Lebanon overnight.", "conflict", "a1"),
    ("Rockets hit a military base near the border, the army said.", "conflict", "a1"),
    ("The foreign ministers met in Cairo to discuss a ceasefire proposal.", "diplomacy", "a2"),
    ("Envoys from Qatar and Egypt will carry the draft agreement to both sides next week.", "diplomacy", "a2"),
    ("Parliament approved the new electoral law after a heated debate.", "domestic_politics", "a3"),
]


@pytest.fixture
def writable_trained_store(trained_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A copy of the session's store of trained default models that this test may write into (the models' artifacts
    stay where the session's store keeps them, and are only read)."""
    copy = tmp_path / "store" / "mlflow.db"
    copy.parent.mkdir()
    shutil.copyfile(trained_store.removeprefix("sqlite:///"), copy)
    uri = f"sqlite:///{copy}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


@pytest.fixture
def held_out(tmp_path: Path) -> Path:
    path = tmp_path / "held_out.jsonl"
    rows = [{"text": text, "label": label, "article": article} for text, label, article in TOPIC_ROWS]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def evaluate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["evaluate", "--model-uri", "models:/news-topic@champion", *args])
    return result.exit_code, result.stdout, result.stderr


def all_runs(client: MlflowClient) -> list[Run]:
    experiments = [experiment.experiment_id for experiment in client.search_experiments(view_type=ViewType.ALL)]
    return client.search_runs(experiments, run_view_type=ViewType.ALL)


def test_an_evaluation_is_recorded_as_a_run_with_the_training_runs_metric_names(
    writable_trained_store: str, held_out: Path
) -> None:
    code, stdout, stderr = evaluate("--data", str(held_out), "--group-column", "article", "--experiment", "held-out")
    assert code == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["run"]["experiment"] == "held-out"

    client = MlflowClient()
    run = client.get_run(result["run"]["run_id"])
    assert run.info.status == "FINISHED"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "held-out"
    # Shown by the UI as the training experiments are, on the runs table.
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    champion = client.get_model_version_by_alias("news-topic", "champion")
    assert run.info.run_name == f"news-topic v{champion.version} on {held_out.resolve()}"
    assert run.data.tags["evaluated_model_name"] == "news-topic"
    assert run.data.tags["evaluated_model_version"] == str(champion.version)
    assert run.data.tags["evaluated_model_run_id"] == champion.run_id
    assert run.data.params == {
        "model_uri": "models:/news-topic@champion",
        "data": str(held_out.resolve()),
        "group_column": "article",
        "interval_resamples": "article",
        "trained_on": str(result["trained_on"]),
    }
    # The printed figures, under the names the training run logs, so the two compare in the UI.
    metrics = run.data.metrics
    training_metrics = client.get_run(champion.run_id).data.metrics
    assert {"accuracy", "macro_f1", "f1_conflict", "recall_diplomacy", "macro_f1_ci_low"} <= set(training_metrics) & set(metrics)
    assert metrics["accuracy"] == pytest.approx(result["accuracy"])
    assert metrics["macro_f1"] == pytest.approx(result["macro_f1"])
    assert [metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"]] == pytest.approx(result["macro_f1_interval"])
    for label, f1 in result["per_class"].items():
        assert metrics[f"f1_{label}"] == pytest.approx(f1)
    # Labels of the model that neither the data nor the predictions show have no figure, as in the printed JSON: a
    # zero would read as the model failing at them.
    unshown = set(champion.tags["labels"].split(",")) - set(result["labels"])
    assert unshown and not {f"f1_{label}" for label in unshown} & set(metrics)

    assert run.inputs is not None
    (evaluated,) = run.inputs.dataset_inputs
    assert [tag.value for tag in evaluated.tags] == ["evaluation"]
    rows = pd.DataFrame({"text": [t for t, _, _ in TOPIC_ROWS], "label": [label for _, label, _ in TOPIC_ROWS]})
    assert (evaluated.dataset.name, evaluated.dataset.digest) == (str(held_out.resolve()), frame_digest(rows))

    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "evaluation")}
    assert artifacts == {"evaluation/result.json", "evaluation/confusion_matrix.png", "evaluation/classification_report.txt"}
    kept = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/evaluation/result.json")
    assert kept == {key: value for key, value in result.items() if key != "run"}

    # The model's own page lists the figures by the data they were measured on.
    assert champion.source is not None
    model = client.get_logged_model(champion.source.removeprefix("models:/"))
    assert model.metrics is not None
    attached = {metric.key: metric for metric in model.metrics if metric.run_id == run.info.run_id}
    assert attached["macro_f1"].value == pytest.approx(result["macro_f1"])
    assert attached["macro_f1"].dataset_name == str(held_out.resolve())


def test_a_benchmark_evaluation_records_its_official_metrics_and_label_map(
    writable_trained_store: str, tmp_path: Path
) -> None:
    folder = tmp_path / "semeval2016_task6"
    folder.mkdir()
    tweets = [
        ("Atheism", "God is the answer to everything, pray every day #SemST", "AGAINST"),
        ("Climate Change is a Real Concern", "We must act now on emissions before it is too late #SemST", "FAVOR"),
        ("Atheism", "Went to the beach with my dog today #SemST", "NONE"),
    ]
    (folder / "semeval2016-task6-trainingdata.txt").write_bytes(b"ID\tTarget\tTweet\tStance\r\n" + b"".join(
        f"{k}\t{target}\t{tweet}\t{label}\r\n".encode("latin-1") for k, (target, tweet, label) in enumerate(tweets)
    ))
    mapping = ["--label-map", "FAVOR=favor", "--label-map", "AGAINST=against", "--label-map", "NONE=none"]
    result = CliRunner().invoke(app, [
        "evaluate", "--model-uri", "models:/news-stance@champion", "--dataset", "semeval2016", "--data-dir", str(tmp_path),
        *mapping, "--experiment", "benchmarks",
    ])
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])

    run = MlflowClient().get_run(printed["run"]["run_id"])
    assert run.data.metrics["semeval_f_avg"] == pytest.approx(printed["semeval_f_avg"])
    assert run.data.params["dataset"] == "semeval2016"
    assert run.data.params["split"] == "train"
    assert run.data.params["label_map.FAVOR"] == "favor"
    assert run.data.params["trained_on"] == "0"  # tweets no seed row copies
    # The folder is named: another copy of the split (a withheld one) is other data.
    assert run.inputs is not None
    assert run.inputs.dataset_inputs[0].dataset.name == f"semeval2016-train ({tmp_path.resolve()})"
    assert run.info.run_name.endswith(f" on semeval2016-train ({tmp_path.resolve()})")


def test_without_the_option_evaluate_writes_nothing(writable_trained_store: str, held_out: Path) -> None:
    client = MlflowClient()
    before = {run.info.run_id for run in all_runs(client)}
    code, stdout, stderr = evaluate("--data", str(held_out))
    assert code == 0, stderr
    assert "run" not in json.loads(stdout.strip().splitlines()[-1])
    assert {run.info.run_id for run in all_runs(client)} == before


def test_a_deleted_experiment_is_refused_and_nothing_is_recorded(writable_trained_store: str, held_out: Path) -> None:
    client = MlflowClient()
    client.delete_experiment(client.create_experiment("old-evaluations"))
    before = {run.info.run_id for run in all_runs(client)}
    code, _, stderr = evaluate("--data", str(held_out), "--experiment", "old-evaluations")
    assert code == 1
    assert "error: --experiment: experiment 'old-evaluations' is deleted; restore it" in stderr
    assert {run.info.run_id for run in all_runs(client)} == before


def test_a_data_path_that_is_not_utf8_is_refused_before_anything_is_scored(writable_trained_store: str, held_out: Path) -> None:
    latin1 = Path(os.fsdecode(bytes(held_out.parent) + b"/caf\xe9.jsonl"))
    shutil.copyfile(held_out, latin1)
    client = MlflowClient()
    before = {run.info.run_id for run in all_runs(client)}
    code, _, stderr = evaluate("--data", str(latin1), "--experiment", "latin1")
    # It scored the whole file, then failed in MLflow's words with the experiment made and left empty.
    assert code == 1
    assert "its path is not UTF-8 (byte 0xe9), which an MLflow run cannot record: rename it" in stderr
    assert {run.info.run_id for run in all_runs(client)} == before
    assert client.get_experiment_by_name("latin1") is None


def test_an_empty_experiment_name_is_refused(writable_trained_store: str, held_out: Path) -> None:
    code, _, stderr = evaluate("--data", str(held_out), "--experiment", " ")
    assert code == 1
    assert "error: --experiment: the experiment name is empty" in stderr


def test_a_store_that_cannot_be_written_is_refused_before_anything_is_scored(
    writable_trained_store: str, held_out: Path
) -> None:
    # Another process writing (a training's long transaction): reads go on, a write waits and gives up.
    holder = sqlite3.connect(writable_trained_store.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, _, stderr = evaluate("--data", str(held_out), "--experiment", "held-out")
        read_only = evaluate("--data", str(held_out))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1
    assert stderr.strip() == f"error: the tracking store {writable_trained_store} cannot be written: database is locked"
    # Scoring alone only reads the store.
    assert read_only[0] == 0, read_only[2]


def test_a_run_that_cannot_be_written_whole_ends_failed_and_says_so(
    writable_trained_store: str, held_out: Path, tmp_path: Path
) -> None:
    # Artifacts cannot go where the experiment keeps them: a file stands in the folder's place.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file", encoding="utf-8")
    client = MlflowClient()
    client.create_experiment("held-out", artifact_location=str(blocked))
    code, stdout, stderr = evaluate("--data", str(held_out), "--experiment", "held-out")
    assert code == 1
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: the evaluation could not be recorded in experiment 'held-out': ")
    experiment = client.get_experiment_by_name("held-out")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert last.endswith(f"; its run {run.info.run_id} ends FAILED")
    assert run.info.status == "FAILED"
    assert run.data.tags["error"]
    assert "Traceback" not in stderr
    assert '"macro_f1"' not in stdout
