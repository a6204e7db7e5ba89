"""Where models are tracked and registered, and what the registry calls them.

Training, evaluation and the server all pick the store here: `MLFLOW_TRACKING_URI` when set,
else the project's SQLite database in `mlruns/` (MLflow's plain file store is never used).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MLRUNS_DIR = PROJECT_ROOT / "mlruns"
DEFAULT_TRACKING_URI = f"sqlite:///{MLRUNS_DIR / 'mlflow.db'}"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
SQLITE_PREFIX = "sqlite:///"

CHAMPION = "champion"
DEFAULT_REGISTERED_NAMES = {"topic": "news-topic", "stance": "news-stance"}


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else the project's SQLite store in mlruns/."""
    return os.environ.get(TRACKING_URI_ENV) or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI, else None."""
    return Path(uri.removeprefix(SQLITE_PREFIX)) if uri.startswith(SQLITE_PREFIX) else None


def use_store(uri: str | None = None) -> MlflowClient:
    """Point MLflow (tracking and registry) at the store and return a client for it."""
    uri = uri or tracking_uri()
    database = sqlite_path(uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def train_defaults_command(uri: str) -> str:
    """The command that trains the default models into the store at uri."""
    command = "python -m training train-defaults"
    if uri == DEFAULT_TRACKING_URI:
        return command
    return f"{TRACKING_URI_ENV}={shlex.quote(uri)} {command}"
