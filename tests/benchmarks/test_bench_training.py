"""benchmarks/bench_training.py: the table of kept figures, with its occasions and the configs not measured yet; a
stopped run leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import typer
from typer.testing import CliRunner

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_training  # noqa: E402
from bench_training import table  # noqa: E402


def _row(config: str, measured: str, metrics: dict[str, float]) -> dict[str, object]:
    return {
        "config": config,
        "measured": measured,
        "cv": "loao",
        "metrics": metrics,
        "seconds": 61.6,
        "peak_mb": 1200.4,
        "size_mb": 87.46,
    }


def test_the_table_shows_the_metrics_some_row_has_and_numbers_each_occasion() -> None:
    rows = [
        _row("configs/topic/a.yaml", "2026-01-01", {"macro_f1": 0.81234, "f1_economy": 0.7, "f1_conflict": 0.9}),
        _row("configs/topic/b.yaml", "2026-01-02", {"macro_f1": 0.5, "fnc_score": 75.126}),
    ]
    text = table(rows, ["macro_f1", "fnc_score", "accuracy"], ["configs/topic/c.yaml"], " (dev)")
    header, separator, *cells = table_lines(text)
    assert header == [
        "config", "evaluation", "macro_f1 (dev)", "fnc_score (dev)", "per class F1 (dev)",
        "train time (s)", "peak RSS (MB)", "model size (MB)",
    ]  # fmt: skip
    assert alignments(separator) == ["left"] * 8
    assert cells == [
        ["`configs/topic/a.yaml` (1)", "loao", "0.812", "", "conflict 0.90, economy 0.70", "62", "1200", "87.5"],
        ["`configs/topic/b.yaml` (2)", "loao", "0.500", "75.13", "", "62", "1200", "87.5"],
    ]
    assert text.split("\n")[4:] == [
        "",
        "(1) Measured 2026-01-01.",
        "(2) Measured 2026-01-02.",
        "Not measured yet in this layout: `configs/topic/c.yaml`.",
    ]


def test_rows_of_one_occasion_are_not_numbered() -> None:
    text = table([_row("configs/topic/a.yaml", "2026-01-01", {"macro_f1": 0.5})], ["macro_f1"], [])
    assert table_lines(text)[2][0] == "`configs/topic/a.yaml`"
    assert text.endswith("|\n\nMeasured 2026-01-01.")


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(child) for child in found.split()]


def test_sigterm_stops_the_training_it_started_and_removes_its_temporary_store(tmp_path: Path) -> None:
    results = PROJECT_ROOT / "benchmarks" / "results" / "bench_training.json"
    before = results.read_bytes()
    bench = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "benchmarks" / "bench_training.py"), "seeds", "configs/topic/tfidf_svm.yaml", "--no-write"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (training := children_of(bench.pid)):
            assert bench.poll() is None and time.monotonic() < deadline, bench.communicate()[1]
            time.sleep(0.1)
        bench.send_signal(signal.SIGTERM)  # to the script alone, as a scheduler stops a job
        _, stderr = bench.communicate(timeout=120)
    finally:
        bench.kill()

    assert bench.returncode == 128 + signal.SIGTERM, stderr
    assert not any(Path(f"/proc/{pid}").exists() for pid in training)  # the training did not go on alone
    assert list(tmp_path.glob("bench-training-*")) == []
    assert results.read_bytes() == before


def test_a_measurement_trains_the_config_and_reads_its_figures_from_the_version_it_registered(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = PROJECT_ROOT / "configs" / "topic" / "tfidf_svm.yaml"
    row = bench_training.measure(config, store, ["macro_f1", "accuracy"])
    assert row["config"] == "configs/topic/tfidf_svm.yaml" and row["cv"] == "leave_one_group_out"
    metrics = row["metrics"]
    assert isinstance(metrics, dict)
    # The named metrics and each class's F1, nothing else the run logged (its cost, its folds' spread).
    client = mlflow.MlflowClient(store)
    (version,) = client.search_model_versions("name='news-topic'")
    run = client.get_run(str(version.run_id))
    assert set(metrics) == {"macro_f1", "accuracy", *(f"f1_{label}" for label in version.tags["labels"].split(","))}
    assert metrics["macro_f1"] == run.data.metrics["macro_f1"] and "f1_economy" in metrics
    assert 0 < float(str(row["size_mb"])) < 50 and float(str(row["peak_mb"])) > 100 and float(str(row["seconds"])) > 0


def test_no_write_prints_the_new_figures_and_changes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    measured = _row("configs/topic/tfidf_svm.yaml", "2026-12-05", {"macro_f1": 0.4242})
    # The measurement itself (a training in a child process) is the test above's.
    monkeypatch.setattr(bench_training, "measure", lambda config, store, metrics: measured)
    kept = tmp_path / "bench_training.json"
    monkeypatch.setattr(bench_training, "RESULTS", kept)
    doc = bench_training.SUITES["seeds"].doc
    before = doc.read_bytes()

    app = typer.Typer()
    app.command()(bench_training.main)  # as run_script runs it: its one command
    result = CliRunner().invoke(app, ["seeds", "configs/topic/tfidf_svm.yaml", "--no-write"])

    assert result.exit_code == 0, result.output
    assert "0.424" in result.output  # the new figure, in the printed table
    assert not kept.exists() and doc.read_bytes() == before
