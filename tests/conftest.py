"""Shared fixtures: MLflow always points at a temporary store, never at the repo's mlruns/."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import mlflow
import mlflow.store.db.utils
import pytest
import sqlalchemy
from filelock import FileLock
from threadpoolctl import threadpool_limits

from classifiers.store import MLRUNS_DIR, PROJECT_ROOT
from deploy.stack import Stack


def pytest_configure(config: pytest.Config) -> None:
    """Each pytest-xdist worker gets its share of the cores as BLAS, OpenMP and torch threads (an OMP_NUM_THREADS
    the user set wins), as `python -m serving --workers N` gives its workers.

    Two workers on two cores, each with a thread per core, spent much of their time waiting on each other's threads:
    tests/training/test_trainer.py took 185 s rather than 104 s. The commands and servers tests start inherit it.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers is None:  # one process (-n 0): the libraries' own default, a thread per core
        return
    threads = os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(workers))))
    # numpy's BLAS is already loaded (mlflow imports it); torch, loaded later, reads the variable (as do the libraries,
    # which ignore a value that is not a count).
    if threads.isdigit():
        threadpool_limits(int(threads))


def batching_tolerance() -> float:
    """How far the scores of one row may differ when it was embedded in a different batch.

    Batch composition changes the padding and so the order of the encoder's sums: about 1e-7 in
    float32, up to about 1e-3 of an embedding in bfloat16 (the default on CPUs with AMX or AVX512-BF16;
    NEWS_ENCODER_PRECISION). A head with large weights turns that into more: the default stance model trained on
    the seeds alone, as here (C 100 over 1,921 features of 208 rows, two embeddings of each text), moved a score by
    6e-3 between Spark's batches and the local engine's.
    """
    import torch

    from classifiers.encoder import encoder_dtype

    return 1e-5 if encoder_dtype(torch.device("cpu")) == torch.float32 else 2e-2


def _point_mlflow_at(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary folder of this test run that every pytest-xdist worker sees (their own folders share it as parent)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _files_under(folder: Path) -> dict[Path, tuple[int, int]]:
    """Every regular file under the folder with its (size, mtime_ns), so a rewritten file shows as well as a new one."""
    files = {}
    for path in folder.rglob("*"):
        try:
            status = path.stat()
        except FileNotFoundError:  # removed between the listing and the stat: it is not there
            continue
        if stat.S_ISREG(status.st_mode):
            files[path] = (status.st_size, status.st_mtime_ns)
    return files


@pytest.fixture(scope="session", autouse=True)
def _repo_store_untouched() -> Iterator[None]:
    """No test writes into the repo's mlruns/ (a store's Default experiment keeps artifacts under the current
    directory unless told otherwise; opening mlruns/mlflow.db may migrate it): the session ends with the files it
    started with, each of the same size and modification time."""
    before = _files_under(MLRUNS_DIR)
    yield
    after = _files_under(MLRUNS_DIR)

    def named(paths: set[Path]) -> list[str]:
        return sorted(str(path.relative_to(PROJECT_ROOT)) for path in paths)

    problems = {
        "added": named(set(after) - set(before)),
        "removed": named(set(before) - set(after)),
        "changed": named({path for path in set(before) & set(after) if before[path] != after[path]}),
    }
    found = {kind: paths for kind, paths in problems.items() if paths}
    assert not found, "tests touched the repo's mlruns/: " + "; ".join(
        f"{kind} {len(paths)} file(s), e.g. {paths[:3]}" for kind, paths in found.items()
    )


@pytest.fixture(scope="session", autouse=True)
def _temporary_files_of_the_run() -> Iterator[Path]:
    """Every temporary file of the test run, made in this process or in the commands and servers it starts, goes in one
    folder removed at the end: a command a test kills (SIGKILL) cannot remove its own, and each run left a few in /tmp
    (a killed training's config.yaml, a killed server's broadcast folder)."""
    root = Path(tempfile.mkdtemp(prefix="news-tests-"))
    # PostgreSQL runs as its own system user when the tests run as root, and must enter the stack's folder made in here.
    root.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(root))
        patch.setenv("TMPDIR", str(root))
        yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _new_sqlite_stores_get_tables_migrated_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A new SQLite store made in this process gets its tables copied from an empty one MLflow migrated once.

    MLflow runs its schema migrations on every new store, about a second each, and the tests make hundreds. The copy
    is those migrations' result: MLflow then adds the Default experiment as it would. Commands and servers the tests
    start in their own processes still migrate the stores they make.
    """
    migrated = tmp_path_factory.mktemp("migrated-tables") / "mlflow.db"
    initialize_tables = mlflow.store.db.utils._initialize_tables
    engine = sqlalchemy.create_engine(f"sqlite:///{migrated}")
    with warnings.catch_warnings():
        # An old migration of MLflow's queries with a loader strategy SQLAlchemy deprecates: not this project's to mend.
        warnings.simplefilter("ignore", sqlalchemy.exc.SADeprecationWarning)
        initialize_tables(engine)
    engine.dispose()

    def copy_migrated_tables(engine: sqlalchemy.engine.Engine) -> None:
        database = engine.url.database
        if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
            initialize_tables(engine)
            return
        with contextlib.closing(sqlite3.connect(migrated)) as source, contextlib.closing(sqlite3.connect(database)) as target:
            source.backup(target)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mlflow.store.db.utils, "_initialize_tables", copy_migrated_tables)
        yield


@pytest.fixture(scope="session", autouse=True)
def _onnx_graphs_in_a_temporary_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Exported encoder graphs are kept for the test run (its servers and commands too), never in the user's cache.

    One cache for all workers: each graph is written whole under its final name (classifiers.onnx_encoder), so a
    worker reads what another exported instead of exporting it again.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEWS_ONNX_CACHE", str(_run_folder(tmp_path_factory) / "onnx-cache"))
        yield


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own empty store unless it asks for another one."""
    _point_mlflow_at(f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}", monkeypatch)


@pytest.fixture
def store_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """An empty SQLite store for this test."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    _point_mlflow_at(uri, monkeypatch)
    return uri


def store_of_the_run(tmp_path_factory: pytest.TempPathFactory, name: str, fill: Callable[[], object]) -> str:
    """The URI of a store `fill` trained into once per test run (MLflow pointed at it while it runs).

    Under pytest-xdist the first worker that needs it trains it while the others wait on the lock: training is
    CPU-bound, so two workers training side by side would each take twice as long for the same store.
    """
    folder = _run_folder(tmp_path_factory) / name
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    finished = folder / "finished"
    with FileLock(f"{folder}.lock"):
        if not finished.is_file():
            # A worker whose training failed leaves a partial store: the next one starts again from nothing.
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            with pytest.MonkeyPatch.context() as patch:
                _point_mlflow_at(uri, patch)
                fill()
            finished.touch()
    return uri


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store holding the default topic and stance models (version 1, champion), trained once per test run."""
    from training.defaults import train_defaults

    # The default stance model also learns from VAST and FNC-1; tests train on the seed corpus alone.
    return store_of_the_run(tmp_path_factory, "trained", lambda: train_defaults(overrides=["extra_training=[]"]))


@pytest.fixture
def trained_store_uri(trained_store: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point this test at the session's store of trained default models (read it, do not change it)."""
    _point_mlflow_at(trained_store, monkeypatch)
    return trained_store


def _train_tfidf_champions() -> None:
    from training.config.resolve import load_config
    from training.trainer import train

    # The topic model reads a segment beside its neighbours, as the default does, so documents are scored whole.
    train(load_config(PROJECT_ROOT / "configs" / "topic" / "tfidf_svm.yaml", ["neighbour_weight=0.3"]))
    train(load_config(PROJECT_ROOT / "configs" / "stance" / "tfidf_svm.yaml", ["promote=auto"]))


@pytest.fixture(scope="session")
def tfidf_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store whose champions news-topic and news-stance are TF-IDF models (version 1), trained once per test run.

    The Spark engine's Python workers load the model afresh in every scoring: the default models' encoder took them
    about 7 s of imports and weights each time, these a fraction of it.
    """
    return store_of_the_run(tmp_path_factory, "tfidf", _train_tfidf_champions)


@pytest.fixture
def tfidf_store_uri(tfidf_store: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point this test at the run's store of TF-IDF champions (read it, do not change it)."""
    _point_mlflow_at(tfidf_store, monkeypatch)
    return tfidf_store


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt where it lands, as Python's own handler does (a pytest-xdist worker's handler
    takes it for the run's end and stops the worker)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised two-layer BERT with the packaged model's tokenizer: fast transformer tests."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from classifiers.config import PACKAGED_ENCODER
    from classifiers.encoder import resolve_encoder

    folder = tmp_path_factory.mktemp("tiny-encoder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder(PACKAGED_ENCODER), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    # Seeded: random weights drawn afresh each run made the figures tests compare differ from run to run (a long
    # text's whole and truncated embeddings came out 0.99904 alike once, past a test's 0.999).
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@dataclass(frozen=True)
class RunningStack:
    """A PostgreSQL-backed tracking server started by `python -m deploy start` for the test session."""

    stack: Stack
    uri: str

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `python -m deploy ARGS --data-dir <this stack's folder>`."""
        return subprocess.run(
            [sys.executable, "-m", "deploy", *args, "--data-dir", str(self.stack.data_dir)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )


PORT_LEDGER_VARIABLE = "TESTS_PORT_LEDGER"  # not NEWS_: the server warns of every NEWS_ variable it does not read
_ports_handed_out: set[int] = set()  # without a ledger (outside a pytest session)


def _ephemeral_ports() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts and that binds it later.

    Between now and then another xdist worker could take it, so a port is handed out once per test run (a ledger
    file all workers share), and it is drawn below the kernel's ephemeral range, whose ports the kernel gives out
    itself to any socket bound to port 0 or connecting (a client's connection, Spark's driver, the other worker's
    servers).
    """
    ephemeral = _ephemeral_ports()
    candidates = range(20000, ephemeral.start) if ephemeral.start > 21000 else None
    ledger = os.environ.get(PORT_LEDGER_VARIABLE)
    with FileLock(f"{ledger}.lock") if ledger else contextlib.nullcontext():
        taken = {int(line) for line in Path(ledger).read_text().split()} if ledger and Path(ledger).exists() else _ports_handed_out
        for _ in range(1000):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", random.SystemRandom().choice(candidates) if candidates else 0))
                except OSError:  # in use
                    continue
                port = int(sock.getsockname()[1])
            if port not in taken:
                break
        else:
            raise RuntimeError("no free loopback port found in 1000 tries")
        _ports_handed_out.add(port)
        if ledger:
            with Path(ledger).open("a") as out:
                out.write(f"{port}\n")
    return port


@pytest.fixture(scope="session", autouse=True)
def _port_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The file in which free_port notes the ports it handed out, shared by every xdist worker of the run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PORT_LEDGER_VARIABLE, str(_run_folder(tmp_path_factory) / "ports-handed-out"))
        yield


def answers(url: str) -> bool:
    """Whether a server answers a GET of url with 200 within 2 s.

    False also when a server is there but slow (a loaded machine): to check that one is still there, use answers_within;
    to check that one is gone, refuses.
    """
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def answers_within(url: str, seconds: float) -> bool:
    """Whether a server answers a GET of url with 200 within `seconds`, asking again while it does not."""
    deadline = time.monotonic() + seconds
    while not answers(url):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.3)
    return True


def refuses(url: str) -> bool:
    """Whether nothing listens on url's address any more: a connection to it is refused. A process that still holds
    the port, however slow to answer or hung, is not taken for one that is gone."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=10):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:  # timed out: something holds the port
        return False


@pytest.fixture(scope="session")
def tracking_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A real PostgreSQL cluster and `mlflow server` on free loopback ports, in a temporary folder."""
    # Not under pytest's private temporary folder: PostgreSQL runs as its own system user when the
    # tests run as root, and must be able to reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix="news-stack-"))
    folder.chmod(0o755)
    running = RunningStack(Stack(folder / "data"), "")
    started = running.cli("start", "--postgres-port", str(free_port()), "--port", str(free_port()))
    assert started.returncode == 0, started.stderr
    running = RunningStack(running.stack, running.stack.status().tracking_uri)
    yield running
    running.cli("stop")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_models(tracking_stack: RunningStack) -> str:
    """The stack's registry holding TF-IDF topic and stance models (version 1, champion): fast to train and load."""
    from training.config.resolve import load_config
    from training.trainer import train

    with pytest.MonkeyPatch.context() as patch:
        _point_mlflow_at(tracking_stack.uri, patch)
        for config in ("configs/topic/tfidf_logreg.yaml", "configs/stance/tfidf_svm.yaml"):
            train(load_config(PROJECT_ROOT / config, ["promote=auto"]))
    return tracking_stack.uri


@pytest.fixture
def stack_uri(stack_models: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point this test at the session's tracking server (its models are version 1 champions when it starts)."""
    _point_mlflow_at(stack_models, monkeypatch)
    return stack_models
