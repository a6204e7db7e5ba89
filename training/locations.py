"""Where the project keeps its corpus, configs and MLflow store (the package is installed editable)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = PROJECT_ROOT / "seeds"
RAW_SEEDS_DIR = SEEDS_DIR / "raw"
SEGMENTS_PATH = SEEDS_DIR / "segments.jsonl"
LABELS_PATH = SEEDS_DIR / "labels.jsonl"
CONFIGS_DIR = PROJECT_ROOT / "configs"
MLRUNS_DIR = PROJECT_ROOT / "mlruns"
DEFAULT_TRACKING_URI = f"sqlite:///{MLRUNS_DIR / 'mlflow.db'}"
# The public benchmark datasets live beside the checkout and are never copied in.
DEFAULT_DATA_DIR = PROJECT_ROOT.parent / "shared" / "datasets"
