"""Train configs end to end, one process each, and write their figures into the docs.

Each config runs as `python -m training train CONFIG` in its own process against a temporary
MLflow store (cross-validation, final fit, logging, registration), so the figures are what a
user sees: wall time, the process's peak RSS, the logged metrics and the registered model's size.

    python benchmarks/bench_training.py seeds      # the seed-corpus configs -> docs/training.md
    python benchmarks/bench_training.py public     # the public benchmarks  -> docs/benchmarks.md
    python benchmarks/bench_training.py public configs/benchmarks/bbc_news/tfidf_svm.yaml
    python benchmarks/bench_training.py seeds configs/topic/descriptions.yaml configs/topic/setfit.yaml --store /tmp/bench

`--store FOLDER` keeps the runs' MLflow store (SQLite, artifacts beside it) to compare them in the UI:
`MLFLOW_TRACKING_URI=sqlite:///FOLDER/mlflow.db python -m training ui` (its links open the runs tables).

Each measured config's figures are kept in `benchmarks/results/bench_training.json` (replacing that
config's earlier row), and a folder's table is written from the rows kept there. So slow configs can
be measured one at a time; a config of the folder with no row yet is named under its table.
`--no-write` prints the tables (the new figures beside the kept ones) and changes no file.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import mlflow
import torch
import typer
from doc_markers import write_between_markers
from machine import cpu_description
from markdown_tables import markdown_table
from user_errors import run_script, writable_folder

from classifiers.encoder import precision_name
from classifiers.errors import UserInputError
from training import locations
from training.atomic_files import write_texts_atomically
from training.config.resolve import load_config

logger = logging.getLogger("benchmarks.training")
DOCS = locations.PROJECT_ROOT / "docs"
RESULTS = locations.PROJECT_ROOT / "benchmarks" / "results" / "bench_training.json"


@dataclass(frozen=True)
class Suite:
    doc: Path
    configs: list[Path]
    metrics: list[str]
    # How the metric columns are headed: every public-benchmark figure here comes from training data only.
    column_suffix: str = ""


SUITES = {
    "seeds": Suite(
        DOCS / "training.md",
        [
            locations.CONFIGS_DIR / task / f"{name}.yaml"
            for task, names in {
                "topic": ("tfidf_logreg", "tfidf_svm", "minilm_frozen", "minilm_finetune", "descriptions", "descriptions_written", "setfit"),
                "stance": (
                    "tfidf_logreg", "tfidf_svm", "minilm_frozen", "minilm_finetune", "minilm_separate", "minilm_separate_vast",
                    "minilm_separate_vast_fnc1", "minilm_described", "minilm_described_written", "minilm_masked_written",
                ),
            }.items()
            for name in names
        ],
        # macro_f1_ci_*: the 95% interval of macro_f1 from resampling articles (training.evaluation.metrics).
        ["macro_f1", "macro_f1_ci_low", "macro_f1_ci_high", "accuracy"],
    ),
    "public": Suite(
        DOCS / "benchmarks.md",
        sorted((locations.CONFIGS_DIR / "benchmarks").rglob("*.yaml")),
        # The *_test_mix figures are FNC-1 dev figures reweighted to the competition test's class mix.
        [
            "fnc_score", "fnc_score_test_mix", "semeval_f_avg", "vast_macro_f1", "accuracy", "macro_f1", "macro_f1_ci_low",
            "macro_f1_ci_high", "macro_f1_test_mix",
        ],
        " (dev)",
    ),
}


def _accelerator() -> str:
    """The GPU(s) torch sees, which the training children use too, or 'no GPU'."""
    if not torch.cuda.is_available():
        return "no GPU"
    return f"{torch.cuda.device_count()} GPU ({torch.cuda.get_device_name(0)})"


def _size_mb(path: Path) -> float:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / 2**20


def _stop(child: subprocess.Popen[bytes]) -> None:
    """End a training as SIGTERM does (its run ends FAILED), killing it if it has not ended within a minute."""
    child.terminate()
    try:
        child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def measure(config: Path, store: str, metrics: list[str]) -> dict[str, object]:
    """Train one config (an absolute path) in a child process and collect its figures (the named metrics)."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "training", "train", str(config)],
            cwd=locations.PROJECT_ROOT,
            # A relative NEWS_DATA_DIR names a folder from here, not from the child's working folder.
            # The registry too: one named elsewhere (MLFLOW_REGISTRY_URI) would take the version the figures are read from.
            env={
                **os.environ,
                "MLFLOW_TRACKING_URI": store,
                "MLFLOW_REGISTRY_URI": store,
                "NEWS_DATA_DIR": str(locations.DEFAULT_DATA_DIR),
            },
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            # wait4 reports the resource usage of exactly this child, peak RSS included.
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:
            _stop(child)  # this script was stopped: the training must not go on without it
            raise
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            told = errors.read()
            # The trainer ends a user's mistake (a config not found, a wrong value) in one `error: ...` paragraph.
            said = re.search(r"^error: (.*)\Z", told, re.MULTILINE | re.DOTALL)
            if said:
                raise UserInputError(said.group(1).rstrip())
            raise RuntimeError(f"{config} failed:\n{told[-3000:]}")
    parsed = load_config(config)
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    client = mlflow.MlflowClient()
    # The newest version is the one this config just registered. Its run holds the figures: for a sweep that is
    # the best child, which need not be the newest run.
    version = max(client.search_model_versions(f"name='{parsed.registered_model}'"), key=lambda found: int(found.version))
    assert version.run_id is not None, "a version this run of training registered"
    run = client.get_run(version.run_id)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{parsed.registered_model}/{version.version}", dst_path=scratch))
        size = _size_mb(model_dir)
    return {
        "config": str(locations.shown(config)),
        # The children inherit this process's environment, so their encoders compute in the same precision.
        "measured": f"{time.strftime('%Y-%m-%d')}, {cpu_description()}, {_accelerator()}, "
        f"Python {platform.python_version()}, encoder {precision_name()}",
        "seconds": seconds,
        "peak_mb": usage.ru_maxrss / 1024,
        "size_mb": size,
        # The table's metrics and each class's F1 (`f1_<label>`).
        "metrics": {name: value for name, value in run.data.metrics.items() if name in metrics or _is_class_f1(name)},
        "cv": parsed.evaluation.cv,
    }


def kept_rows() -> dict[str, dict[str, object]]:
    """The figures kept so far, by config path as the docs show it."""
    return json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}


def _metric(row: dict[str, Any], name: str) -> str:
    value = row["metrics"].get(name)
    return "" if value is None else f"{value:.2f}" if name.startswith(("fnc_score", "semeval_f_avg")) else f"{value:.3f}"


def _is_class_f1(name: str) -> bool:
    """A class's pooled F1 (`f1_<label>`), not its mean or spread over folds."""
    return name.startswith("f1_") and not name.endswith(("_cv_mean", "_cv_std"))


def _per_class(row: dict[str, Any]) -> str:
    found = {name.removeprefix("f1_"): value for name, value in row["metrics"].items() if _is_class_f1(name)}
    return ", ".join(f"{label} {value:.2f}" for label, value in sorted(found.items()))


def _not_measured(missing: list[str]) -> str:
    return "Not measured yet in this layout: " + ", ".join(f"`{config}`" for config in missing) + "."


def table(rows: list[dict[str, object]], metrics: list[str], missing: list[str], suffix: str = "") -> str:
    """Markdown table of the rows, only with metric columns that some row has; `missing` configs named below it.

    Rows measured on different occasions are numbered, each number naming its occasion under the table.
    """
    if not rows:
        return _not_measured(missing)
    shown = [name for name in metrics if any(name in row["metrics"] for row in rows)]  # type: ignore[operator]
    per_class = any(_per_class(row) for row in rows)
    occasions = list(dict.fromkeys(str(row["measured"]) for row in rows))
    headers = [
        "config",
        "evaluation",
        *(f"{name}{suffix}" for name in shown),
        *([f"per class F1{suffix}"] if per_class else []),
        "train time (s)",
        "peak RSS (MB)",
        "model size (MB)",
    ]
    cells = []
    for row in rows:
        mark = f" ({occasions.index(str(row['measured'])) + 1})" if len(occasions) > 1 else ""
        cells.append(
            [
                f"`{row['config']}`{mark}",
                row["cv"],
                *(_metric(row, name) for name in shown),
                *([_per_class(row)] if per_class else []),
                f"{row['seconds']:.0f}",
                f"{row['peak_mb']:.0f}",
                f"{row['size_mb']:.1f}",
            ]
        )
    # Every column left-aligned, numbers included, as the docs' tables of these figures are.
    lines = [markdown_table(headers, cells, ["left"] * len(headers)), ""]
    if len(occasions) == 1:
        lines.append(f"Measured {occasions[0]}.")
    else:
        lines.extend(f"({number}) Measured {when}." for number, when in enumerate(occasions, start=1))
    if missing:
        lines.append(_not_measured(missing))
    return "\n".join(lines)


def main(
    suite: Annotated[str, typer.Argument(help="seeds or public.")],
    configs: Annotated[
        list[Path] | None, typer.Argument(help="Only these configs, relative to the repository (default: the whole suite).")
    ] = None,
    write: Annotated[
        bool,
        typer.Option(
            help="Keep the figures in benchmarks/results/bench_training.json and write the tables into the suite's doc; "
            "--no-write only prints them, changing no file of the repository."
        ),
    ] = True,
    train: Annotated[bool, typer.Option(help="Train the configs; --no-train rewrites the tables from the kept figures.")] = True,
    store: Annotated[
        Path | None,
        typer.Option(help="Keep the MLflow store of the runs in this folder (to compare them in the UI); default: a temporary one."),
    ] = None,
) -> None:
    """Train each config of the suite and write its table(s)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if suite not in SUITES:
        raise typer.BadParameter(f"suite must be one of {', '.join(SUITES)}")
    chosen = SUITES[suite]
    paths = [(locations.PROJECT_ROOT / config).resolve() for config in configs] if configs else chosen.configs
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise UserInputError(f"config file {', '.join(missing)} not found")
    # Figures are tabled per suite: a config of another suite would be trained and then shown nowhere.
    foreign = [str(locations.shown(path)) for path in paths if path not in chosen.configs]
    if foreign:
        raise UserInputError(
            f"{', '.join(foreign)}: not in the {suite} suite's tables (SUITES in {locations.shown(Path(__file__))}); "
            "`python -m training train CONFIG` logs any config's figures to MLflow"
        )
    kept = kept_rows()
    with tempfile.TemporaryDirectory(prefix="bench-training-") as scratch:
        folder = writable_folder(store.resolve(), "store folder") if store else Path(scratch)
        uri = f"sqlite:///{folder}/mlflow.db"
        for path in paths if train else []:
            logger.info("training %s", locations.shown(path))
            row = measure(path, uri, chosen.metrics)
            logger.info("%s: %.0f s, %.0f MB", locations.shown(path), row["seconds"], row["peak_mb"])
            # Kept at once, so a later config that fails or is stopped does not take this one's figures with it.
            kept[str(locations.shown(path))] = row
            if write:
                write_texts_atomically({RESULTS: json.dumps(kept, indent=2, sort_keys=True) + "\n"})
    # One table per folder of configs (per task on the seed corpus, per benchmark for the public data).
    for folder in dict.fromkeys(path.parent for path in paths):
        in_folder = [str(locations.shown(path)) for path in chosen.configs if path.parent == folder]
        text = table(
            [kept[config] for config in in_folder if config in kept],
            chosen.metrics,
            [config for config in in_folder if config not in kept],
            chosen.column_suffix,
        )
        sys.stdout.write(f"\n{locations.shown(folder)}\n{text}\n")
        if write:
            write_between_markers(chosen.doc, f"bench:{folder.name}", text)

if __name__ == "__main__":
    run_script(main)
