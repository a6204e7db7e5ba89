"""Train configs end to end, one process each, and write their figures into the docs.

Each config runs as `python -m training train CONFIG` in its own process against a temporary
MLflow store (cross-validation, final fit, logging, registration), so the figures are what a
user sees: wall time, the process's peak RSS, the logged metrics and the registered model's size.

    python benchmarks/bench_training.py seeds      # the seed-corpus configs -> docs/training.md
    python benchmarks/bench_training.py public     # the public benchmarks  -> docs/benchmarks.md
    python benchmarks/bench_training.py public configs/benchmarks/bbc_news/tfidf_svm.yaml
"""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import mlflow
import torch
import typer
from doc_markers import write_between_markers

from training import locations
from training.config.resolve import load_config

logger = logging.getLogger("benchmarks.training")
DOCS = locations.PROJECT_ROOT / "docs"


@dataclass(frozen=True)
class Suite:
    doc: Path
    configs: list[Path]
    metrics: list[str]


SUITES = {
    "seeds": Suite(
        DOCS / "training.md",
        [
            locations.CONFIGS_DIR / task / f"{name}.yaml"
            for task, names in {
                "topic": ("tfidf_logreg", "tfidf_svm", "minilm_frozen", "minilm_finetune", "descriptions"),
                "stance": (
                    "tfidf_logreg", "tfidf_svm", "minilm_frozen", "minilm_finetune", "minilm_separate", "minilm_separate_vast"
                ),
            }.items()
            for name in names
        ],
        ["macro_f1", "accuracy"],
    ),
    "public": Suite(
        DOCS / "benchmarks.md",
        sorted((locations.CONFIGS_DIR / "benchmarks").rglob("*.yaml")),
        ["fnc_score", "semeval_f_avg", "vast_macro_f1", "accuracy", "macro_f1"],
    ),
}


def _shown(path: Path) -> Path:
    """The path as the docs show it: relative to the repository when it lies inside it."""
    return path.relative_to(locations.PROJECT_ROOT) if path.is_relative_to(locations.PROJECT_ROOT) else path


def _accelerator() -> str:
    """The GPU(s) torch sees, which the training children use too, or 'no GPU'."""
    if not torch.cuda.is_available():
        return "no GPU"
    return f"{torch.cuda.device_count()} GPU ({torch.cuda.get_device_name(0)})"


def _size_mb(path: Path) -> float:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / 2**20


def measure(config: Path, store: str) -> dict[str, object]:
    """Train one config (an absolute path) in a child process and collect its figures."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "training", "train", str(config)],
            cwd=locations.PROJECT_ROOT,
            env={**os.environ, "MLFLOW_TRACKING_URI": store},
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        # wait4 reports the resource usage of exactly this child, peak RSS included.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise RuntimeError(f"{config} failed:\n{errors.read()[-3000:]}")
    parsed = load_config(config)
    mlflow.set_tracking_uri(store)
    client = mlflow.MlflowClient()
    # The newest version is the one this config just registered. Its run holds the figures: for a sweep that is
    # the best child, which need not be the newest run.
    version = max(client.search_model_versions(f"name='{parsed.registered_model}'"), key=lambda found: int(found.version))
    run = client.get_run(version.run_id)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{parsed.registered_model}/{version.version}", dst_path=scratch))
        size = _size_mb(model_dir)
    return {
        "config": config,
        "seconds": seconds,
        "peak_mb": usage.ru_maxrss / 1024,
        "size_mb": size,
        "metrics": run.data.metrics,
        "primary": parsed.evaluation.primary_metric,
        "cv": parsed.evaluation.cv,
    }


def _metric(row: dict[str, object], name: str) -> str:
    value = row["metrics"].get(name)  # type: ignore[union-attr]
    return "" if value is None else f"{value:.2f}" if name in ("fnc_score", "semeval_f_avg") else f"{value:.3f}"


def table(rows: list[dict[str, object]], metrics: list[str]) -> str:
    """Markdown table of the rows, only with metric columns that some row has."""
    shown = [name for name in metrics if any(name in row["metrics"] for row in rows)]  # type: ignore[operator]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores ({platform.machine()}), {_accelerator()}, "
        f"Python {platform.python_version()}.",
        "",
        "| config | evaluation | " + " | ".join(shown) + " | train time (s) | peak RSS (MB) | model size (MB) |",
        "|---|---|" + "---|" * len(shown) + "---|---|---|",
    ]
    for row in rows:
        cells = [_metric(row, name) for name in shown]
        lines.append(
            f"| `{_shown(row['config'])}` | {row['cv']} | " + " | ".join(cells)
            + f" | {row['seconds']:.0f} | {row['peak_mb']:.0f} | {row['size_mb']:.1f} |"
        )
    return "\n".join(lines)


def main(
    suite: Annotated[str, typer.Argument(help="seeds or public.")],
    configs: Annotated[
        list[Path] | None, typer.Argument(help="Only these configs, relative to the repository (default: the whole suite).")
    ] = None,
    write_doc: Annotated[bool, typer.Option(help="Write the tables into the suite's doc.")] = True,
) -> None:
    """Train each config of the suite and write its table(s)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if suite not in SUITES:
        raise typer.BadParameter(f"suite must be one of {', '.join(SUITES)}")
    chosen = SUITES[suite]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-training-") as scratch:
        store = f"sqlite:///{scratch}/mlflow.db"
        # Absolute paths, so the script runs from any directory and the tables can compare them with the suite's.
        for path in [(locations.PROJECT_ROOT / config).resolve() for config in configs] if configs else chosen.configs:
            logger.info("training %s", _shown(path))
            rows.append(measure(path, store))
            logger.info("%s: %.0f s, %.0f MB", _shown(path), rows[-1]["seconds"], rows[-1]["peak_mb"])
    # One table per folder of configs (per task on the seed corpus, per benchmark for the public data).
    for folder in dict.fromkeys(row["config"].parent for row in rows):  # type: ignore[union-attr]
        measured = [row for row in rows if row["config"].parent == folder]  # type: ignore[union-attr]
        text = table(measured, chosen.metrics)
        sys.stdout.write(f"\n{_shown(folder)}\n{text}\n")
        # A table is rewritten only when every config of its folder was measured, never with rows missing.
        complete = {row["config"] for row in measured} >= {path for path in chosen.configs if path.parent == folder}
        if write_doc and complete:
            write_between_markers(chosen.doc, f"bench:{folder.name}", text)


if __name__ == "__main__":
    typer.run(main)
