"""The adapters on the real published training files beside the checkout (skipped where they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config.resolve import load_config
from training.config.schema import BenchmarkData
from training.defaults import DEFAULT_CONFIGS
from training.labelled_data import load_labelled_data
from training.locations import DEFAULT_DATA_DIR
from training.public_datasets.adapters import BENCHMARKS, load_benchmark
from training.public_datasets.scorers import official_metrics


@pytest.fixture(scope="module")
def data_dir() -> Path:
    if not DEFAULT_DATA_DIR.is_dir():
        pytest.skip(f"{DEFAULT_DATA_DIR}: ../shared/datasets not found")
    return DEFAULT_DATA_DIR


def test_fnc1_training_file(data_dir: Path) -> None:
    frame = load_benchmark("fnc1", data_dir, "train", "stance")
    assert len(frame) == 49_972
    # 191 news stories (components of the headline-body graph of related pairs); unrelated pairs join two
    stories = frame["group"].str.split("|")
    assert stories.explode().nunique() == 191
    assert ((stories.map(len) == 1) == (frame["label"] != "unrelated")).all()
    assert frame["label"].value_counts().to_dict() == {
        "unrelated": 36_545, "discuss": 8_909, "agree": 3_678, "disagree": 840
    }


def test_semeval_training_file(data_dir: Path) -> None:
    frame = load_benchmark("semeval2016", data_dir, "train", "stance")
    # 2,814 rows, as the organisers published them
    assert len(frame) == 2_814
    assert frame["group"].is_unique
    assert frame["label"].value_counts().to_dict() == {"AGAINST": 1_342, "NONE": 741, "FAVOR": 731}
    assert sorted(frame["target"].unique()) == [
        "Atheism",
        "Climate Change is a Real Concern",
        "Feminist Movement",
        "Hillary Clinton",
        "Legalization of Abortion",
    ]
    assert frame["text"].str.len().max() <= 150  # tweets, not several rows run together


def test_bbc_articles(data_dir: Path) -> None:
    frame = load_benchmark("bbc_news", data_dir, "all", "topic")
    assert len(frame) == 1_783
    assert frame["label"].value_counts().to_dict() == {
        "business": 414, "sport": 410, "politics": 338, "tech": 318, "entertainment": 303
    }
    # the one latin-1 article reads its pound sign as written
    assert "a £15.8m signing" in frame.loc[frame["group"] == "sport/199", "text"].item()


def test_vast_training_file(data_dir: Path) -> None:
    frame = load_benchmark("vast", data_dir, "train", "stance")
    assert len(frame) == 13_477
    assert frame["target"].nunique() == 4_641  # topics (topic_str)
    # 37 of them spelt two ways ("homeschooling", "home schooling"): one group each, so a split holds out both
    assert frame["group"].nunique() == 4_604
    assert frame["label"].value_counts().to_dict() == {"con": 5_595, "pro": 5_327, "neutral": 2_555}
    # every topic of the training file is, by definition, seen in training
    assert set(frame["subset"]) == {"few_shot"}
    # the 11 rows whose post the copy lost read the tokens of `text` instead: no row is left without text
    assert (frame["text"].str.strip() != "").all()
    assert frame["text"].str.startswith("@caren fellow debater").sum() == 11


def test_vast_slice_trains_on_text_target_label_group(data_dir: Path) -> None:
    config = BenchmarkData(source="benchmark", name="vast", data_dir=data_dir, limit=40)
    data = load_labelled_data(config, "stance")
    assert data.frame.columns.tolist() == ["text", "target", "label", "group"]
    assert data.frame["group"].nunique() == 40
    assert data.labels == ["con", "neutral", "pro"]
    frame = load_benchmark("vast", data_dir, None, "stance", limit=40)
    assert frame[["text", "target", "label", "group"]].equals(data.frame)
    # Scored with its subsets, the training file has only few-shot rows to report.
    metrics = official_metrics("vast", frame["label"].tolist(), frame["label"].tolist(), frame["subset"].tolist())
    assert metrics == {"vast_macro_f1": 1.0, "vast_macro_f1_few_shot": 1.0}


def test_a_limited_slice_holds_every_class(data_dir: Path) -> None:
    for name, benchmark in BENCHMARKS.items():
        split = next(iter(benchmark.splits))
        frame = load_benchmark(name, data_dir, split, benchmark.task, limit=60)
        # a group names the units it draws on (FNC-1: one or two news stories); the limit counts units
        assert frame["group"].str.split("|").explode().nunique() == 60
        assert set(frame["label"]) == set(benchmark.labels)


def test_the_default_stance_configs_sources_load_under_its_labels_from_any_folder(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the written pairs' path is relative to the config file, not to where the command runs
    monkeypatch.chdir(tmp_path)
    config = load_config(DEFAULT_CONFIGS["stance"])
    data = load_labelled_data(config.data, "stance", config.extra_training)
    vast, fnc1, written = data.extra
    assert vast.frame["label"].value_counts().to_dict() == {"against": 5_595, "favor": 5_327, "none": 2_555}
    # FNC-1's unrelated pairs are left out: 13,427 related pairs of a headline and a news body
    assert fnc1.frame["label"].value_counts().to_dict() == {"none": 8_909, "favor": 3_678, "against": 840}
    # and the pairs written from the guideline, each weighing as a seed row
    assert written.frame["label"].value_counts().to_dict() == {"none": 225, "against": 215, "favor": 195}
    assert (vast.weight, fnc1.weight, written.weight) == (0.1, 0.1, 1.0)
    # the evaluated rows stay the seed corpus alone
    assert data.name == "seeds" and len(data.frame) == 208
