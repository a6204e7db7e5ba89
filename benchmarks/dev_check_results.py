"""The results file and table of a per-config dev check (semeval_near_duplicates.py, vast_dev_splits.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from markdown_tables import aligned, markdown_table

from classifiers.errors import UserInputError
from training import locations
from training.atomic_files import write_texts_atomically
from training.config.resolve import load_config
from training.config.schema import BenchmarkData, ExperimentConfig

# None: a figure that could not be had (no row left to score), `n/a` in the table.
Row = dict[str, float | int | None]
NOT_AVAILABLE = "n/a"


def config_key(path: Path) -> str:
    """A config's name in the results file: its path from the project root where it lies inside it."""
    return str(locations.shown(path))


def benchmark_configs(paths: list[Path], benchmark: str) -> list[tuple[Path, ExperimentConfig]]:
    """Each config, read and checked to train on the named benchmark before anything trains: the check is made for
    that dataset's labels and groups (UserInputError naming the config that is not)."""
    chosen = [(path, load_config(path)) for path in paths]
    for path, config in chosen:
        data = config.data
        if not (isinstance(data, BenchmarkData) and data.name == benchmark):
            reads = f"benchmark {data.name}" if isinstance(data, BenchmarkData) else f"{data.source} data"
            raise UserInputError(f"{path}: trains on {reads}; this check is for {benchmark} configs")
    return chosen


def load_results(path: Path) -> dict[str, Row]:
    """The rows kept so far (a config measured again replaces its row)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def save_results(path: Path, results: dict[str, Row]) -> None:
    """Write the results file, one config per key, whole or not at all (a stop part-way would leave JSON that no later
    run could read)."""
    write_texts_atomically({path: json.dumps(results, indent=2) + "\n"})


def markdown(results: Mapping[str, Mapping[str, float | int | None]], columns: dict[str, str]) -> str:
    """One row per config; `columns` maps each heading to the key of its figure."""
    rows = [
        [f"`{name}`", *(NOT_AVAILABLE if row[key] is None else row[key] for key in columns.values())]
        for name, row in results.items()
    ]
    return markdown_table(["config", *columns], rows, aligned(("left", 1), ("right", len(columns))))
