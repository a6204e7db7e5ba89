"""benchmarks/bench_runtime_loao.py: each fold's model, fitted once, predicts its held-out rows under every runtime."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import pytest
import typer

from classifiers.encoder import RUNTIME_NAMES
from classifiers.encoder_settings import PRECISION_VARIABLE
from classifiers.families.descriptions import DescriptionsModel
from tests.benchmarks.conftest import alignments, table_lines
from training.config.resolve import load_config
from training.locations import CONFIGS_DIR, PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_runtime_loao  # noqa: E402
from bench_runtime_loao import held_out_predictions, kept_with, main, table  # noqa: E402


def test_every_held_out_row_is_predicted_by_a_model_loaded_under_each_runtime(
    tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    config = load_config(
        CONFIGS_DIR / "topic" / "descriptions.yaml",
        [f"model.encoder={tiny_encoder}", "evaluation.cv=holdout", "neighbour_weight=0.3"],
    )
    with caplog.at_level(logging.INFO, logger="classifiers.encoder"):
        y, predicted = held_out_predictions(config, ["torch", "onnxruntime", "onnxruntime-int8"])

    assert 0 < len(y) < 106  # the held-out articles' segments, not the whole seed corpus
    assert set(predicted) == {
        (r, reading) for r in ("torch", "onnxruntime", "onnxruntime-int8") for reading in ("article", "alone")
    }
    assert isinstance(config.model, DescriptionsModel)
    for values in predicted.values():
        assert len(values) == len(y) and set(values) <= set(config.model.descriptions)
    # ONNX Runtime float32 computes what PyTorch does to rounding: the same labels.
    assert list(predicted["onnxruntime", "alone"]) == list(predicted["torch", "alone"])
    loads = [record.getMessage() for record in caplog.records if record.getMessage().startswith("encoder ")]
    ran = [next(key for key, name in RUNTIME_NAMES.items() if message.endswith(f" with {name}")) for message in loads]
    assert ran == ["torch", "torch", "onnxruntime", "onnxruntime-int8"]  # the fold's training encoder, then one per load


def test_without_a_neighbour_weight_segments_are_read_alone_only(tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    config = load_config(CONFIGS_DIR / "topic" / "descriptions.yaml", [f"model.encoder={tiny_encoder}", "evaluation.cv=holdout"])
    y, predicted = held_out_predictions(config, ["torch"])

    assert list(predicted) == [("torch", "alone")]
    assert len(predicted["torch", "alone"]) == len(y) > 0


def test_an_unknown_runtime_is_refused_naming_it() -> None:
    with pytest.raises(typer.BadParameter, match="tensorrt: a runtime is one of torch, onnxruntime, onnxruntime-int8"):
        main(configs=None, runtime=["torch", "tensorrt"], write=False)


def test_the_table_has_a_row_per_config_runtime_and_reading() -> None:
    rows: list[dict[str, object]] = [
        {"config": "configs/topic/a.yaml", "runtime": runtime, "reading": "alone", "macro_f1": 0.5, "accuracy": 0.75,
         "f1": {"economy": 0.4, "conflict": 0.6}, "changed": changed, "rows": 20}
        for runtime, changed in (("torch", 0), ("onnxruntime-int8", 3))
    ]  # fmt: skip
    header, separator, *cells = table_lines(table(rows))
    assert header == ["config", "runtime", "segments read", "macro-F1", "accuracy", "per class F1", "labels changed"]
    assert alignments(separator) == ["left", "left", "left", "right", "right", "left", "right"]
    assert cells == [
        ["a.yaml", "torch", "alone", "0.5", "0.75", "economy 0.4, conflict 0.6", "0 of 20"],
        ["a.yaml", "onnxruntime-int8", "alone", "0.5", "0.75", "economy 0.4, conflict 0.6", "3 of 20"],
    ]


def test_new_figures_replace_only_those_of_their_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A run of one config replaced the whole file, and with it the defaults' figures that docs/serving.md cites.
    kept = tmp_path / "bench_runtime_loao.json"
    shutil.copy(bench_runtime_loao.RESULTS, kept)
    monkeypatch.setattr(bench_runtime_loao, "RESULTS", kept)
    before = json.loads(kept.read_text(encoding="utf-8"))
    ours = [{**row, "macro_f1": 0.1234} for row in before["rows"] if row["config"] == before["rows"][0]["config"]]
    merged = kept_with(ours, ["onnxruntime"])
    assert merged["rows"] == [*(row for row in before["rows"] if row["config"] != ours[0]["config"]), *ours]
    assert merged["runtimes"] == [*before["runtimes"], "onnxruntime"]
