"""benchmarks/*.py: a user's mistake ends in one `error:` line and exit code 1, before anything is trained or written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.errors import UserInputError
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from bench_training import SUITES, measure  # noqa: E402
from user_errors import folder_to_make  # noqa: E402

BENCHMARKS = PROJECT_ROOT / "benchmarks"


@pytest.mark.parametrize(
    ("script", "arguments", "error"),
    [
        (
            "bench_training.py",
            ["seeds", "configs/topic/tfidf_logreg.yml"],
            "error: config file {root}/configs/topic/tfidf_logreg.yml not found",
        ),
        (
            "bench_training.py",
            ["public", "configs/topic/tfidf_logreg.yaml"],
            "error: configs/topic/tfidf_logreg.yaml: not in the public suite's tables",
        ),
        (
            "semeval_near_duplicates.py",
            ["{root}/configs/benchmarks/semeval2016/ensemble.yaml", "nope.yaml"],
            "error: config file nope.yaml not found",
        ),
        ("bench_runtime_loao.py", ["--no-write", "nope.yaml"], "error: config file nope.yaml not found"),
        ("bench_transfer.py", ["--only", "topic", "--data-dir", "{tmp}", "--no-write"], "error: {tmp}/bbc_news not found"),
        ("bench_neighbours.py", ["--no-write", "--data-dir", "{tmp}"], "error: {tmp}/bbc_news not found"),
        # Named, not made: a mistyped store became an empty one, said to hold no such model.
        (
            "probe_stance.py",
            ["models:/no-such-model@champion", "--store", "sqlite:///{tmp}/mlflow.db"],
            "error: the MLflow tracking store at sqlite:///{tmp}/mlflow.db cannot be used: its database file "
            "{tmp}/mlflow.db does not exist",
        ),
        ("fnc1_dev_gap.py", ["--table", "--out", "{tmp}/none.json"], "error: results file {tmp}/none.json not found"),
        # Checked before the fits: a results file that cannot be written lost every figure after them.
        (
            "fnc1_dev_gap.py",
            ["--out", "{tmp}/a-file/gap.json", "--data-dir", "{tmp}"],
            "error: results file {tmp}/a-file/gap.json cannot be written: {tmp}/a-file is not a folder",
        ),
        # The writer makes no folder (training.atomic_files): a missing one found only after the fits lost them.
        (
            "fnc1_dev_gap.py",
            ["--out", "{tmp}/missing/gap.json", "--data-dir", "{tmp}"],
            "error: results file {tmp}/missing/gap.json cannot be written: folder {tmp}/missing does not exist",
        ),
        ("fnc1_dev_gap.py", ["--scratch", "{tmp}/a-file/s", "--data-dir", "{tmp}"], "error: scratch folder {tmp}/a-file/s cannot be made"),
        (
            "bench_training.py",
            ["seeds", "configs/topic/tfidf_svm.yaml", "--no-write", "--store", "{tmp}/a-file/store"],
            "error: store folder {tmp}/a-file/store cannot be made",
        ),
        (
            "semeval_near_duplicates.py",
            ["{root}/configs/benchmarks/vast/tfidf_svm.yaml"],
            "error: {root}/configs/benchmarks/vast/tfidf_svm.yaml: trains on benchmark vast; this check is for semeval2016",
        ),
        (
            "vast_dev_splits.py",
            ["{root}/configs/topic/tfidf_svm.yaml"],
            "error: {root}/configs/topic/tfidf_svm.yaml: trains on seeds data; this check is for vast configs",
        ),
    ],
)
def test_a_mistake_is_one_line(script: str, arguments: list[str], error: str, tmp_path: Path) -> None:
    results_before = {path: path.read_bytes() for path in (BENCHMARKS / "results").iterdir()}
    filled = [argument.format(tmp=tmp_path, root=PROJECT_ROOT) for argument in arguments]
    (tmp_path / "a-file").write_text("a file where a folder would go", encoding="utf-8")

    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *filled],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/store.db"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(error.format(tmp=tmp_path, root=PROJECT_ROOT)), done.stderr
    assert "Traceback" not in done.stderr
    assert {path: path.read_bytes() for path in (BENCHMARKS / "results").iterdir()} == results_before


def test_a_config_the_trainer_refuses_is_reported_in_its_words(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("task: topic\nmodel: {family: tfidf, C: -1}\n", encoding="utf-8")

    refusal = r"bad.yaml: invalid config\n  model\.C: Input should be greater than 0 \(got -1\)$"
    with pytest.raises(UserInputError, match=refusal):
        measure(config, f"sqlite:///{tmp_path}/mlflow.db", SUITES["seeds"].metrics)


def test_a_folder_to_make_is_checked_without_being_made(tmp_path: Path) -> None:
    assert folder_to_make(tmp_path / "new" / "deeper", "scratch folder") == tmp_path / "new" / "deeper"
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a-file").write_text("a file where a folder would go", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"scratch folder .*a-file/s cannot be made: .*a-file is not a folder"):
        folder_to_make(tmp_path / "a-file" / "s", "scratch folder")


@pytest.mark.parametrize(
    ("script", "arguments", "error"),
    [
        # A topic model answered its topics, scored 0 of 10 as if it were a stance model that got all wrong.
        ("probe_stance.py", ["models:/news-topic@champion"], "is a topic model: the probe asks a stance model"),
        # Read with no target, a stance model failed in a KeyError.
        ("bench_neighbours.py", ["--no-write", "--model", "models:/news-stance@champion"], "is a stance model"),
    ],
)
def test_a_model_of_the_other_task_is_refused_in_one_line(
    tfidf_store_uri: str, script: str, arguments: list[str], error: str
) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments, "--store", tfidf_store_uri],
        capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ") and error in done.stderr
