"""training.locations: paths as docs and results files name them, and where the public datasets are read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from training import locations


def test_a_path_inside_the_project_is_shown_from_its_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(locations.CONFIGS_DIR)
    assert locations.shown(locations.CONFIGS_DIR / "topic" / "descriptions.yaml") == Path("configs/topic/descriptions.yaml")
    assert locations.shown(Path("stance") / ".." / "topic" / "descriptions.yaml") == Path("configs/topic/descriptions.yaml")


def test_a_path_outside_the_project_is_shown_whole(tmp_path: Path) -> None:
    assert locations.shown(tmp_path / "mine.yaml") == (tmp_path / "mine.yaml").resolve()


def test_the_public_datasets_beside_the_project_are_shown_as_the_docs_name_them() -> None:
    # As a run's `data.data_dir` param: it was this machine's whole path, so two checkouts' runs differed in it.
    assert locations.shown(locations.SHARED_DATA_DIR) == Path("../shared/datasets")
    assert locations.shown(locations.SHARED_DATA_DIR / "vast") == Path("../shared/datasets/vast")


def test_the_data_directory_news_data_dir_names_is_shown_by_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shown whole, two machines' runs of one config differed in their params and dataset names.
    data_dir = (tmp_path / "datasets").resolve()
    monkeypatch.setattr(locations, "DEFAULT_DATA_DIR", data_dir)
    assert locations.shown(data_dir) == Path("$NEWS_DATA_DIR")
    assert locations.shown(data_dir / "mine" / "topic.jsonl") == Path("$NEWS_DATA_DIR/mine/topic.jsonl")
    assert locations.shown(locations.SHARED_DATA_DIR / "vast") == Path("../shared/datasets/vast")
    assert locations.shown(tmp_path / "elsewhere.jsonl") == (tmp_path / "elsewhere.jsonl").resolve()


def test_news_data_dir_names_the_public_datasets_folder_from_where_it_was_set(tmp_path: Path) -> None:
    # A relative folder is read from the folder the command started in, as any path on the command line.
    config = locations.CONFIGS_DIR / "benchmarks" / "bbc_news" / "tfidf_svm.yaml"
    env = {**os.environ, "NEWS_DATA_DIR": "datasets", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/store/mlflow.db"}

    done = subprocess.run(
        [sys.executable, "-m", "training", "train", str(config)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )

    assert done.returncode == 1
    assert f"error: {tmp_path.resolve() / 'datasets' / 'bbc_news'} not found" in done.stderr
