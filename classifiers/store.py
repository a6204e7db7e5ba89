"""Where models are tracked and registered, and what the registry calls them.

Training, evaluation and the server all pick the store here: `MLFLOW_TRACKING_URI` when set,
else the project's SQLite database in `mlruns/` (MLflow's plain file store is never used).
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlparse

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request, verify_rest_response
from requests import exceptions as http_errors
from requests.exceptions import RequestException
from urllib3.exceptions import HTTPError

from classifiers.errors import UserInputError
from classifiers.redaction import redact_text, redact_uri

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MLRUNS_DIR = PROJECT_ROOT / "mlruns"
DEFAULT_TRACKING_URI = f"sqlite:///{MLRUNS_DIR / 'mlflow.db'}"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
SQLITE_PREFIX = "sqlite:///"
HTTP_SCHEMES = ("http://", "https://")
# One try, answered or not within this time: MLflow's own retries would hold a command for minutes.
REACHABILITY_TIMEOUT_S = 10
# A store's writes take milliseconds: a lock held longer than this belongs to something stuck or exclusive.
LOCK_WAIT_S = 5

CHAMPION = "champion"
# models:/<name>@<alias> or models:/<name>/<version>: both resolve to one exact registered version (a logged model's
# models:/m-<id> names none).
REGISTERED_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")
DEFAULT_REGISTERED_NAMES = {"topic": "news-topic", "stance": "news-stance"}
# The registered models promotions hold as their locks (training.promotion): `<name>.promotion-lock`, no models.
LOCK_SUFFIX = ".promotion-lock"


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of a registry URI; exactly one of alias and version is set."""
    found = REGISTERED_MODEL_URI.match(uri)
    if found is None:
        raise ValueError(f"not a registry model URI: {uri!r}")
    return found["name"], found["alias"], found["version"]


def store_names_said(client: MlflowClient) -> str:
    """`this store has <names>` (its registered models, sorted, promotion locks left out), for an error about a name it
    lacks: a misspelt name is the likelier cause, and the list says which was meant."""
    names = sorted(model.name for model in client.search_registered_models() if not model.name.endswith(LOCK_SUFFIX))
    return f"this store has {', '.join(names)}" if names else "this store has no registered model"


def registered_version(client: MlflowClient, uri: str) -> ModelVersion:
    """The registered version a `models:/<name>@<alias>` or `models:/<name>/<version>` URI points at now."""
    name, alias, version = parse_registry_uri(uri)
    return client.get_model_version_by_alias(name, alias) if alias is not None else client.get_model_version(name, str(version))


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else the project's SQLite store in mlruns/."""
    return os.environ.get(TRACKING_URI_ENV) or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI, else None."""
    return Path(uri.removeprefix(SQLITE_PREFIX)) if uri.startswith(SQLITE_PREFIX) else None


class RegistryUnreachable(UserInputError):
    """The tracking server named by the settings does not answer, or cannot reach its database; or a SQLite store's
    file is missing or cannot be read."""

    def __init__(self, uri: str, reason: str) -> None:
        kind = "store" if sqlite_path(uri) is not None else "server"
        super().__init__(f"the MLflow tracking {kind} at {redact_uri(uri)} cannot be used: {reason}")
        self.reason = reason


def check_reachable(uri: str) -> None:
    """Raise RegistryUnreachable unless the store answers now: a tracking server at an http(s) URI a registry query,
    a SQLite store (whose file must exist) a read of its schema. Other database URIs are not checked.

    A registry search touches the server's backend database too, so a server whose PostgreSQL is
    down fails the check as well.
    """
    database = sqlite_path(uri)
    if database is not None:
        _check_readable(uri, database)
        return
    if not uri.startswith(HTTP_SCHEMES):
        return
    endpoint = "/api/2.0/mlflow/registered-models/search"
    try:
        response = http_request(
            get_default_host_creds(uri), endpoint, "GET", params={"max_results": 1}, max_retries=0, timeout=REACHABILITY_TIMEOUT_S
        )
        # An answer is not enough: a server that refuses this client (401, 403) refuses every later call too.
        verify_rest_response(response, endpoint)
    # MLflow reads its retry settings (MLFLOW_HTTP_REQUEST_*) when a request is made: a value it cannot parse fails here.
    except (MlflowException, RequestException, ValueError) as err:
        reason = _explained(redact_text(_first_line(err), uri))
        raise RegistryUnreachable(uri, reason) from err


def _check_readable(uri: str, database: Path) -> None:
    if not database.is_file():
        raise RegistryUnreachable(uri, f"its database file {database} does not exist")
    try:
        # Read-only, so that the check never creates the file; a file that is not a database fails at the first read.
        location = f"{database.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(location, uri=True, timeout=LOCK_WAIT_S)) as connection:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as err:
        raise RegistryUnreachable(uri, f"its database file {database} cannot be read: {err}") from err


def _explained(reason: str) -> str:
    # urllib3 words it "too many 503 error responses", MLflow "error code 503 != 200".
    if "503 error" in reason or "error code 503" in reason:
        return f"{reason} (a tracking server answers 503 while its backend database is down)"
    # http.client's words for an answer cut off when the server died while sending it.
    if reason.startswith("IncompleteRead("):
        return f"{reason} (the server closed the connection in the middle of its answer)"
    return reason


# What requests raises when the server is gone: refused or reset, cut off in its answer, silent, or 502-504 throughout.
LOST_SERVER_ERRORS = (http_errors.ConnectionError, http_errors.ChunkedEncodingError, http_errors.Timeout, http_errors.RetryError)


def lost_server_reason(err: BaseException) -> str | None:
    """Why an MLflow call failed if it is because the tracking server stopped answering (refused, reset, cut off in
    the middle of its answer, timed out, 502-504 after MLflow's retries): the message of the network error at the
    bottom; None for any other error, an answer from a server that is up (a 4xx, a 500) included."""
    link: BaseException | None = err
    # MLflow raises its own exception while handling the network error.
    while isinstance(link, MlflowException):
        link = link.__cause__ or link.__context__
    if not isinstance(link, LOST_SERVER_ERRORS):
        return None
    if isinstance(link, http_errors.RetryError) and not re.search(r"too many 50[234] error responses", str(link)):
        return None
    bottom: BaseException = link
    # requests' error wraps urllib3's, which wrap the socket's: the socket's is the reason, what lies below it
    # (whatever the process was handling when it made the call) is not.
    while isinstance(bottom, RequestException | HTTPError):
        below = bottom.__cause__ or bottom.__context__ or _carried(bottom)
        if below is None:
            break
        bottom = below
    return _explained(redact_text(_first_line(bottom), tracking_uri()))


def _carried(err: BaseException) -> BaseException | None:
    # urllib3 hands a reset connection on as an argument: ProtocolError("Connection aborted.", ConnectionResetError(...)).
    return next((arg for arg in reversed(err.args) if isinstance(arg, BaseException)), None)


class StoreUnusable(UserInputError):
    """A SQLite store that cannot be created or written: a read-only file or folder, a lock, not a database."""


def check_writable(uri: str) -> None:
    """Raise StoreUnusable unless a SQLite store at uri can be written now; other stores are not checked.

    A write transaction is begun and rolled back, so the store is left as it was. Commands check
    before they write anything: MLflow would meet the problem only at its first write, after the
    data is loaded, and log pages of SQLAlchemy traceback.
    """
    database = sqlite_path(uri)
    if database is None:
        return
    try:
        # isolation_level=None: the statements run as written, without the module's implicit transactions.
        with closing(sqlite3.connect(database, timeout=LOCK_WAIT_S, isolation_level=None)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                # Taking the write lock alone succeeds on a read-only file: only a change is refused.
                connection.execute("CREATE TABLE news_classify_write_check (id INTEGER)")
            finally:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
    except sqlite3.Error as err:
        raise StoreUnusable(f"the tracking store {uri} cannot be written: {err}") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# The schemes MLflow opens as a tracking and registry store, its file store aside; a database's driver (+psycopg2) aside.
STORE_SCHEMES = frozenset({"sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks", "databricks-uc", "uc"})
USE_INSTEAD = "use sqlite:///<folder>/mlflow.db, a tracking server's http(s):// address or a database URI (postgresql://...)"


def store_problem(uri: str) -> str | None:
    """Why MLflow cannot open uri as a store, worded to follow the URI; None when it can. MLflow itself fails only at
    the first call, with a traceback."""
    if uri in STORE_SCHEMES:  # "databricks": a whole URI without "://"
        return None
    scheme = urlparse(uri).scheme
    if scheme in ("", "file"):
        return f"is a plain folder (MLflow's file store), which this MLflow no longer accepts: {USE_INSTEAD}"
    if scheme.split("+")[0] not in STORE_SCHEMES:
        return f"has a scheme MLflow cannot open ({scheme}://): {USE_INSTEAD}"
    return None


def reads_the_store(model_uri: str) -> bool:
    """Whether loading model_uri reads the tracking store (a registered model or a run's), rather than a folder: a
    command that only loads such a model names a missing store (a mistyped path) instead of making it empty."""
    return model_uri.startswith(("models:/", "runs:/"))


def use_store(uri: str | None = None, *, writable: bool = False, create: bool = True) -> MlflowClient:
    """Point MLflow (tracking and registry) at the store and return a client for it.

    The store is asked once first (check_reachable), so a command fails in seconds with RegistryUnreachable
    instead of after MLflow's minutes of retries, before it has registered anything. With create, a SQLite store
    that does not exist yet is made first (folder and tables); without it, a missing one is RegistryUnreachable.
    With writable, a SQLite store must also take a write now (StoreUnusable otherwise).
    """
    uri = uri or tracking_uri()
    problem = store_problem(uri)
    if problem is not None:
        raise StoreUnusable(f"the tracking store {uri} {problem}")
    database = sqlite_path(uri)
    if database is not None and create:
        _make_folder(uri, database.parent)
        _create_tables_once(uri, database)
    if writable and create:
        check_writable(uri)
    check_reachable(uri)
    if writable and not create:
        # After the check that names a missing SQLite file: the write check would make it, empty.
        check_writable(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def made_when_used(uri: str | None = None) -> bool:
    """Whether use_store would make the store (with create): a SQLite store whose file does not exist yet, or is
    empty."""
    database = sqlite_path(uri or tracking_uri())
    return database is not None and not _has_bytes(database)


def _create_tables_once(uri: str, database: Path) -> None:
    """Create a new SQLite store's tables in one process at a time: MLflow's migrations, run by two processes on a
    new file at once (two trainings started together), fail and leave the file unusable for good."""
    # Every process passes the lock, even on a file that is no longer empty: the file has bytes as soon as the first
    # migration runs, and one that skipped the lock then would migrate the same tables at the same time.
    try:
        lock = database.with_name(f"{database.name}.lock").open("a")
    except OSError as err:
        if _has_bytes(database):
            return  # a store in a folder this process may only read: made already, nothing to create
        raise StoreUnusable(f"the tracking store {uri} cannot be created: {err.strerror} ({err.filename})") from err
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _has_bytes(database):
            return  # made, before or while this process waited
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)


def _has_bytes(database: Path) -> bool:
    return database.exists() and database.stat().st_size > 0


def _make_folder(uri: str, folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise StoreUnusable(f"the tracking store {uri} cannot be created: {folder} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreUnusable(f"the tracking store {uri} cannot be created: {err.strerror} ({err.filename})") from err


def train_defaults_command(uri: str) -> str:
    """The command that trains the default models into the store at uri (its password shown as ***)."""
    return training_command(uri, "train-defaults")


def mlflow_command(uri: str, arguments: str) -> str:
    """`mlflow <arguments>` run against the store at uri (its password shown as ***): MLflow's own command line knows
    nothing of this project's default store, so the URI is always given."""
    return f"{TRACKING_URI_ENV}={shlex.quote(redact_uri(uri))} mlflow {arguments}"


def training_command(uri: str, arguments: str) -> str:
    """`python -m training <arguments>` run against the store at uri (its password shown as ***)."""
    command = f"python -m training {arguments}"
    if uri == DEFAULT_TRACKING_URI:
        return command
    return f"{TRACKING_URI_ENV}={shlex.quote(redact_uri(uri))} {command}"
