"""Where the project keeps its corpus and configs (the package is installed editable)."""

from __future__ import annotations

from pathlib import Path

from classifiers.store import PROJECT_ROOT

SEEDS_DIR = PROJECT_ROOT / "seeds"
RAW_SEEDS_DIR = SEEDS_DIR / "raw"
SEGMENTS_PATH = SEEDS_DIR / "segments.jsonl"
LABELS_PATH = SEEDS_DIR / "labels.jsonl"
CONFIGS_DIR = PROJECT_ROOT / "configs"
# The public benchmark datasets live beside the checkout and are never copied in.
DEFAULT_DATA_DIR = PROJECT_ROOT.parent / "shared" / "datasets"


def shown(path: Path) -> Path:
    """The path as docs and results files show it: from the project root when it lies inside it."""
    path = path.resolve()
    return path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
