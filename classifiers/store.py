"""Where models are tracked and registered, and what the registry calls them.

Training, evaluation and the server all pick the store here: `MLFLOW_TRACKING_URI` when set,
else the project's SQLite database in `mlruns/` (MLflow's plain file store is never used).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request
from requests.exceptions import RequestException

from classifiers.errors import UserInputError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MLRUNS_DIR = PROJECT_ROOT / "mlruns"
DEFAULT_TRACKING_URI = f"sqlite:///{MLRUNS_DIR / 'mlflow.db'}"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
SQLITE_PREFIX = "sqlite:///"
HTTP_SCHEMES = ("http://", "https://")
# One try, answered or not within this time: MLflow's own retries would hold a command for minutes.
REACHABILITY_TIMEOUT_S = 10

CHAMPION = "champion"
DEFAULT_REGISTERED_NAMES = {"topic": "news-topic", "stance": "news-stance"}


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else the project's SQLite store in mlruns/."""
    return os.environ.get(TRACKING_URI_ENV) or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI, else None."""
    return Path(uri.removeprefix(SQLITE_PREFIX)) if uri.startswith(SQLITE_PREFIX) else None


class RegistryUnreachable(UserInputError):
    """The tracking server named by the settings does not answer, or cannot reach its database."""


def check_reachable(uri: str) -> None:
    """Raise RegistryUnreachable unless a tracking server at an http(s) URI answers a registry query now.

    A registry search touches the server's backend database too, so a server whose PostgreSQL is
    down fails the check as well. Local stores (SQLite) are not checked.
    """
    if not uri.startswith(HTTP_SCHEMES):
        return
    try:
        http_request(
            get_default_host_creds(uri),
            "/api/2.0/mlflow/registered-models/search",
            "GET",
            params={"max_results": 1},
            max_retries=0,
            timeout=REACHABILITY_TIMEOUT_S,
        )
    except (MlflowException, RequestException) as err:
        raise RegistryUnreachable(f"the MLflow tracking server at {uri} cannot be used: {_first_line(err)}") from err


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def use_store(uri: str | None = None) -> MlflowClient:
    """Point MLflow (tracking and registry) at the store and return a client for it.

    A tracking server is asked once first, so a command fails in seconds with RegistryUnreachable
    instead of after MLflow's minutes of retries, before it has created or registered anything.
    """
    uri = uri or tracking_uri()
    check_reachable(uri)
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
