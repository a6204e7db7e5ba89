"""Where the project keeps its corpus and configs (the package is installed editable)."""

from __future__ import annotations

import os
from pathlib import Path

from classifiers.store import PROJECT_ROOT

SEEDS_DIR = PROJECT_ROOT / "seeds"
RAW_SEEDS_DIR = SEEDS_DIR / "raw"
SEGMENTS_PATH = SEEDS_DIR / "segments.jsonl"
LABELS_PATH = SEEDS_DIR / "labels.jsonl"
CONFIGS_DIR = PROJECT_ROOT / "configs"
# The public benchmark datasets live outside the checkout (by default beside it) and are never copied in.
# Resolved once, so child processes started from another folder read the same one.
SHARED_DATA_DIR = (PROJECT_ROOT.parent / "shared" / "datasets").resolve()
# How it is named in params and dataset names: each checkout has its own beside it.
SHARED_DATA_SHOWN = Path("..") / "shared" / "datasets"
DEFAULT_DATA_DIR = Path(os.environ.get("NEWS_DATA_DIR") or SHARED_DATA_DIR).resolve()


# How the data directory NEWS_DATA_DIR names is shown: each machine may set its own (a shell expands it).
DATA_DIR_SHOWN = Path("$NEWS_DATA_DIR")


def shown(path: Path) -> Path:
    """The path as docs, params and results files show it: from the project root when it lies inside it or in the
    public datasets' folder beside it (`../shared/datasets`, as the docs name it: where another checkout has its own),
    or in the data directory NEWS_DATA_DIR names (`$NEWS_DATA_DIR/...`: where another machine has its own)."""
    path = path.resolve()
    if path.is_relative_to(PROJECT_ROOT):
        return path.relative_to(PROJECT_ROOT)
    if path.is_relative_to(SHARED_DATA_DIR):
        return SHARED_DATA_SHOWN / path.relative_to(SHARED_DATA_DIR)
    if path.is_relative_to(DEFAULT_DATA_DIR):
        return DATA_DIR_SHOWN / path.relative_to(DEFAULT_DATA_DIR)
    return path
