"""How much does the encoder's runtime at prediction time move the seed leave-one-article-out figures?

Training embeds in PyTorch; a server may run the trained model's encoder on ONNX Runtime, in float32 or with int8
weights (`NEWS_ENCODER_RUNTIME`). Each fold's model is fitted once, as the trainer's cross-validation fits it, saved,
and loaded back once per runtime, as a server loads a registered model, to predict its held-out article: the figures
of the runtimes differ by the runtime alone, not by a refit's solver rounding (docs/training.md). Everything computes
in float32 (`NEWS_ENCODER_PRECISION=float32`, which ONNX Runtime needs). Segments are scored alone (`/v1/classify`)
and, where the config has a neighbour weight, also read beside their neighbours (`/v1/articles`).

    python benchmarks/bench_runtime_loao.py                      # both defaults, torch against onnxruntime-int8
    python benchmarks/bench_runtime_loao.py configs/topic/descriptions_written.yaml --runtime torch --runtime onnxruntime
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any
from unittest.mock import patch

import numpy as np
import typer
from markdown_tables import markdown_table
from user_errors import run_script

from classifiers.document_context import mix_neighbours
from classifiers.encoder import RUNTIME_NAMES
from classifiers.encoder_settings import PRECISION_VARIABLE, RUNTIME_VARIABLE
from classifiers.interface import load_predictor
from training import locations
from training.atomic_files import write_texts_atomically
from training.config.resolve import load_config
from training.config.schema import ExperimentConfig
from training.defaults import DEFAULT_CONFIGS
from training.evaluation.cross_validation import group_splits
from training.evaluation.metrics import classification_metrics
from training.labelled_data import load_labelled_data
from training.trainer import model_factory

logger = logging.getLogger("benchmarks.bench_runtime_loao")
RESULTS = Path(__file__).parent / "results" / "bench_runtime_loao.json"


def held_out_predictions(
    config: ExperimentConfig, runtimes: Sequence[str]
) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray]]:
    """The seed labels, and each (runtime, reading)'s held-out predictions of every seed row over the config's folds
    (reading "alone", and "article" where the config has a neighbour weight: without one the two are the same)."""
    data = load_labelled_data(config.data, config.task, config.extra_training)
    splits = group_splits(config.evaluation, data.frame["group"], config.seed, data.frame.get("target"))
    factory = model_factory(config)
    y = data.frame["label"].to_numpy()
    readings = ("article", "alone") if config.neighbour_weight else ("alone",)
    predicted = {(runtime, reading): np.full(len(y), None, dtype=object) for runtime in runtimes for reading in readings}
    tested = np.zeros(len(y), dtype=bool)
    for number, (train, test) in enumerate(splits, start=1):
        fitted = factory()
        fitted.fit(*data.training_side(train))
        inputs, articles = data.inputs.iloc[test], data.frame["group"].iloc[test]
        with tempfile.TemporaryDirectory(prefix="fold-model-") as folder:
            fitted.save(Path(folder))
            for runtime in runtimes:
                # The encoder reads the variable as it loads, as in a server started with it.
                with patch.dict(os.environ, {RUNTIME_VARIABLE: runtime}):
                    served = load_predictor(Path(folder))
                labels = np.asarray(served.labels, dtype=object)
                alone = served.predict_proba(inputs)
                predicted[runtime, "alone"][test] = labels[alone.argmax(axis=1)]
                if "article" in readings:
                    in_articles = mix_neighbours(alone, served.neighbour_weight, articles)
                    predicted[runtime, "article"][test] = labels[in_articles.argmax(axis=1)]
        tested[test] = True
        logger.info("fold %d of %d: %d held-out rows", number, len(splits), len(test))
    return y[tested], {key: values[tested] for key, values in predicted.items()}


def figures(config_path: Path, config: ExperimentConfig, runtimes: Sequence[str]) -> list[dict[str, object]]:
    """Macro-F1, accuracy, per-class F1 and the labels that differ from the first runtime's, per runtime and reading."""
    y, predicted = held_out_predictions(config, runtimes)
    labels = sorted(set(y))
    rows = []
    for (runtime, reading), values in predicted.items():
        metrics = classification_metrics(y, values, labels)
        rows.append(
            {
                "config": str(locations.shown(config_path)),
                "runtime": runtime,
                "reading": reading,
                "macro_f1": round(metrics["macro_f1"], 3),
                "accuracy": round(metrics["accuracy"], 3),
                "f1": {label: round(metrics[f"f1_{label}"], 2) for label in labels},
                "changed": int((values != predicted[runtimes[0], reading]).sum()),
                "rows": len(y),
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the figures' rows: the config's file name, then the figures per runtime and reading."""
    cells = []
    for row in rows:
        per_class = ", ".join(f"{label} {value}" for label, value in row["f1"].items())
        cells.append(
            [
                Path(str(row["config"])).name,
                row["runtime"],
                row["reading"],
                row["macro_f1"],
                row["accuracy"],
                per_class,
                f"{row['changed']} of {row['rows']}",
            ]
        )
    headers = ["config", "runtime", "segments read", "macro-F1", "accuracy", "per class F1", "labels changed"]
    return markdown_table(headers, cells, ["left", "left", "left", "right", "right", "left", "right"])


def main(
    configs: Annotated[list[Path] | None, typer.Argument(help="Experiment configs (default: the two defaults).")] = None,
    runtime: Annotated[
        list[str] | None, typer.Option(help="NEWS_ENCODER_RUNTIME values to compare (default: torch onnxruntime-int8).")
    ] = None,
    write: Annotated[
        bool,
        typer.Option(help=f"Keep the figures in {RESULTS.name}, in place of those kept of the same configs (others stay)."),
    ] = True,
) -> None:
    """Print a table of held-out seed figures per config, runtime and reading."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runtimes = runtime or ["torch", "onnxruntime-int8"]
    unknown = [name for name in runtimes if name not in RUNTIME_NAMES]
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: a runtime is one of {', '.join(RUNTIME_NAMES)}")
    os.environ[PRECISION_VARIABLE] = "float32"
    # All read before the first trains, so a config not found or invalid is reported at once.
    chosen = [(path, load_config(path)) for path in configs or list(DEFAULT_CONFIGS.values())]
    rows = [row for path, config in chosen for row in figures(path, config, runtimes)]
    typer.echo(table(rows))
    if write:
        write_texts_atomically({RESULTS: json.dumps(kept_with(rows, runtimes), indent=2) + "\n"})


def kept_with(rows: list[dict[str, object]], runtimes: Sequence[str]) -> dict[str, object]:
    """The kept figures with these rows in place of those of their configs: a run of one config replaced the file,
    and with it the figures of the defaults that docs/serving.md cites."""
    kept = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {"runtimes": [], "rows": []}
    measured = {row["config"] for row in rows}
    others = [row for row in kept["rows"] if row["config"] not in measured]
    return {"runtimes": list(dict.fromkeys([*kept["runtimes"], *runtimes])), "rows": [*others, *rows]}


if __name__ == "__main__":
    run_script(main)
