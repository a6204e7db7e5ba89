"""Load test: our service against `mlflow models serve` of the same registered topic model.

    python benchmarks/bench_serving.py [--store URI | --train] [--duration 20] [--clients 16] [--workers 1]

Starts both servers on free loopback ports, sends the same load to each (CLIENTS concurrent
clients with single-item, topic-only requests for DURATION seconds, then a 256-item batch
several times), measures our server's RSS after warm-up, prints a Markdown table and writes it
into docs/serving.md between the benchmark markers, so the figures in the doc come from a run.

The load generator is aiohttp (installed with mlflow): on 2 cores it shares the machine with the
server under test, and httpx's client costs about 2 ms of CPU per request against aiohttp's
0.25 ms, which would starve whichever server is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import aiohttp
import psutil
import typer
from doc_markers import write_between_markers
from machine import cpu_description
from markdown_tables import aligned, markdown_table
from prometheus_client.parser import text_string_to_metric_families
from user_errors import run_script

from classifiers import store as model_store
from classifiers.encoder import RUNTIME_NAMES, encoder_dtype, encoder_runtime, precision_name
from classifiers.errors import UserInputError
from classifiers.store import CHAMPION, DEFAULT_REGISTERED_NAMES
from training import locations
from training.promotion import champion_version

logger = logging.getLogger("benchmarks.serving")

# The table goes into the serving doc and the README's performance section.
DOCS = (locations.PROJECT_ROOT / "docs" / "serving.md", locations.PROJECT_ROOT / "README.md")
MARKER = "bench:serving"
TOPIC_MODEL = DEFAULT_REGISTERED_NAMES["topic"]
STARTUP_TIMEOUT_S = 180.0
BATCH_SIZE = 256
WARMUP_S = 3.0
JSON = {"content-type": "application/json"}

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@dataclass(frozen=True)
class Server:
    """A server under test: how to reach it and how to phrase a request for it."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    path: str
    ready_path: str

    def body(self, texts: list[str], target: str | None = None) -> bytes:
        """The request for topic-only texts (with `target`, our API also classifies stance)."""
        if self.path == "/invocations":
            return json.dumps({"dataframe_split": {"columns": ["text"], "data": [[text] for text in texts]}}).encode()
        return json.dumps(
            {"items": [{"text": text, "target": target} if target else {"text": text} for text in texts]}
        ).encode()


@dataclass(frozen=True)
class LoadResult:
    """The measured part of a load run (warm-up excluded), and the server's RSS right after the warm-up."""

    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    client_cpu_seconds: float
    server_cpu_seconds: float
    rss_mb: float

    @property
    def throughput(self) -> float:
        """Requests per second, errors included."""
        return self.requests / self.seconds

    def percentile(self, q: int) -> float:
        """The q-th percentile latency of the successful requests, in ms."""
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True)
class Measurement:
    """One server's row of the table."""

    server: str
    load: LoadResult
    batch_ms: list[float]


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample_texts(rounds: int = 200) -> list[str]:
    """Real segments of the seed corpus, each made new `rounds` times (a counter appended), so requests vary
    like real traffic and no text repeats: the servers' embedding caches cannot flatter the figures."""
    lines = locations.SEGMENTS_PATH.read_text(encoding="utf-8").splitlines()
    segments = [json.loads(line)["text"] for line in lines if line.strip()]
    return [f"{text} [{number}]" for number in range(rounds) for text in segments]


def in_process_ceiling(uri: str, texts: list[str], batch: int = 16) -> list[str]:
    """Rows/s of the topic champion called in this process, no HTTP: the most a server could answer."""
    from classifiers.contract import score_columns
    from classifiers.pyfunc import load_pyfunc

    model_store.use_store(uri)
    classifier = load_pyfunc(f"models:/{TOPIC_MODEL}@{CHAMPION}").unwrap_python_model().classifier
    labels = tuple(classifier.labels)
    score_columns(classifier, labels, {"text": texts[:batch]})  # warm-up

    def rate(chunks: list[list[str]]) -> float:
        started = time.perf_counter()
        rows = sum(len(score_columns(classifier, labels, {"text": chunk})) for chunk in chunks)
        return rows / (time.perf_counter() - started)

    # Texts not used by the warm-up nor by each other, like the load's.
    single = rate([[text] for text in texts[batch : batch + 200]])
    batched = rate([texts[start : start + batch] for start in range(batch + 200, batch + 200 + 50 * batch, batch)])
    return [
        f"In-process ceiling (the same topic champion called in the benchmark process, no HTTP, every text new): "
        f"{single:.0f} rows/s one text per call, {batched:.0f} rows/s in calls of {batch} texts."
    ]


def has_champions(uri: str) -> bool:
    """True when the store exists and has a champion of each default model. A SQLite store not made yet is not made
    here: a mistyped --store became an empty store, said to have no champions."""
    if model_store.made_when_used(uri):
        return False
    return len(served_models(uri)) == len(DEFAULT_REGISTERED_NAMES)


def train_defaults_into(uri: str) -> None:
    """Run the project's own command that trains the default models, against the given store."""
    logger.info("training the default models into %s", uri)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    subprocess.run(
        [sys.executable, "-m", "training", "train-defaults"], env=env, check=True, cwd=locations.PROJECT_ROOT
    )


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants; none when it has exited."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss_mb(pid: int) -> float:
    """RSS summed over a process tree (pages shared between the processes count once per process)."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):  # exited since it was listed
            total += member.memory_info().rss
    return total / 2**20


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree so far (a member that exited meanwhile is left out)."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = member.cpu_times()
            total += times.user + times.system
    return total


@contextmanager
def running(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server process in its own process group, stopped (group and all) on exit."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=locations.PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            # A server that exited on its own (a refused setting) may have taken its group with it: the error that
            # said so must not be replaced by this one.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def wait_until_ready(server: Server, log_path: Path) -> None:
    """Poll the server's readiness path until it answers 200; RuntimeError when it exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with aiohttp.ClientSession(server.base_url, timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                # Most often a setting it refused (--workers 0). Its log lies in a temporary folder removed on the way
                # out: its end is said here.
                raise UserInputError(
                    f"{server.name} exited with {server.process.returncode} before it was ready; its log ends:\n"
                    f"{_log_tail(log_path)}"
                )
            try:
                async with session.get(server.ready_path) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{server.name} was not ready after {STARTUP_TIMEOUT_S:.0f} s:\n{_log_tail(log_path)}")


def _log_tail(log_path: Path, lines: int = 15) -> str:
    """The last lines a server wrote, indented."""
    written = log_path.read_text(encoding="utf-8", errors="replace").splitlines() if log_path.exists() else []
    return "\n".join(f"  {line}" for line in written[-lines:]) or "  (it wrote nothing)"


async def generate_load(
    session: aiohttp.ClientSession, server: Server, texts: list[str], clients: int, seconds: float
) -> LoadResult:
    """`clients` concurrent clients, each sending one single-item request after another."""
    # Bodies are encoded up front so the load generator spends its CPU on HTTP only.
    bodies = [server.body([text]) for text in texts]
    latencies: list[float] = []
    errors = 0

    async def one_client(offset: int, until: float, record: bool) -> None:
        nonlocal errors
        index = offset
        while time.perf_counter() < until:
            body = bodies[index % len(bodies)]
            index += clients
            started = time.perf_counter()
            try:
                async with session.post(server.path, data=body) as response:
                    await response.read()
                ok = response.status == 200
            # A dropped connection or a timeout is the server failing a request, not the end of the run.
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            if not record:
                continue
            if ok:
                latencies.append(elapsed)
            else:
                errors += 1

    warm_until = time.perf_counter() + WARMUP_S
    await asyncio.gather(*(one_client(offset, warm_until, False) for offset in range(clients)))
    rss = tree_rss_mb(server.process.pid)
    started, cpu_started, server_cpu_started = (
        time.perf_counter(),
        time.process_time(),
        tree_cpu_seconds(server.process.pid),
    )
    await asyncio.gather(*(one_client(offset, started + seconds, True) for offset in range(clients)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    server_cpu = tree_cpu_seconds(server.process.pid) - server_cpu_started
    return LoadResult(len(latencies) + errors, errors, elapsed, latencies, cpu, server_cpu, rss)


async def batch_latencies(
    session: aiohttp.ClientSession, server: Server, texts: list[str], runs: int, target: str | None = None
) -> list[float]:
    """Latency of a BATCH_SIZE-item request of new texts, sent `runs` times one after another (after one warm-up)."""
    timings = []
    for run in range(runs + 1):
        # The last texts of the sample, a different window each run and for each call of this function.
        end = len(texts) - BATCH_SIZE * (run + (runs + 1) * (target is not None))
        body = server.body(texts[end - BATCH_SIZE : end], target)
        started = time.perf_counter()
        async with session.post(server.path, data=body) as response:
            await response.read()
            response.raise_for_status()
        if run:
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def session(server: Server, clients: int) -> aiohttp.ClientSession:
    """Keep-alive connections, at most one per client."""
    connector = aiohttp.TCPConnector(limit=clients)
    return aiohttp.ClientSession(
        server.base_url, connector=connector, headers=JSON, timeout=aiohttp.ClientTimeout(total=60)
    )


async def measure(server: Server, texts: list[str], clients: int, seconds: float, batch_runs: int) -> Measurement:
    """The concurrent load, then the timed 256-item batches."""
    logger.info("%s: %d clients for %.0f s", server.name, clients, seconds)
    async with session(server, clients) as client:
        load = await generate_load(client, server, texts, clients, seconds)
        batches = await batch_latencies(client, server, texts, batch_runs)
    logger.info(
        "%s: %.0f req/s, p99 %.1f ms, batch %.1f ms",
        server.name,
        load.throughput,
        load.percentile(99),
        statistics.median(batches),
    )
    return Measurement(server.name, load, batches)


async def our_extras(server: Server, texts: list[str], batch_runs: int) -> list[str]:
    """What only our server can tell: how much batching merged, and a batch that also needs stance."""
    async with session(server, 1) as client:
        with_stance = await batch_latencies(client, server, texts, batch_runs, target="Israel")
        async with client.get("/metrics") as response:
            families = text_string_to_metric_families(await response.text())
    rows = {
        sample.name: sample.value
        for family in families
        for sample in family.samples
        if sample.labels.get("task") == "topic"
    }
    return [
        f"{server.name}: {rows['news_prediction_rows_sum'] / rows['news_prediction_rows_count']:.1f} rows per topic "
        "model call on average (dynamic batching of concurrent requests).",
        f"{server.name}: a 256-item batch with a target on every item (topic and stance): "
        f"{statistics.median(with_stance):.1f} ms median, {max(with_stance):.1f} ms max.",
    ]


def encoder_description() -> str:
    """How both servers' encoders compute, as the environment sets it for them: precision and runtime."""
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    runtime = encoder_runtime(device, encoder_dtype(device), "bert")
    return f"{precision_name()} on {RUNTIME_NAMES[runtime]}"


def served_models(uri: str) -> list[tuple[str, str, str]]:
    """The champions the servers serve: (name, version, family), read from the store's registry."""
    client = model_store.use_store(uri, create=False)
    served = []
    for name in DEFAULT_REGISTERED_NAMES.values():
        version = champion_version(client, name)
        if version is not None:
            served.append((name, str(version.version), version.tags.get("model_family", "unknown family")))
    return served


def markdown(
    results: list[Measurement],
    notes: list[str],
    clients: int,
    seconds: float,
    workers: int,
    models: Sequence[tuple[str, str, str]] = (),
) -> str:
    """The table with how it was measured (`models`: the champions served, as `served_models` gives them), and the
    notes below it."""
    named = ", ".join(f"{name} v{version} ({family})" for name, version, family in models)
    # The line said how the encoder computed whatever was served: TF-IDF champions run none.
    encoder = "" if models and all(family == "tfidf" for *_, family in models) else f", encoder {encoder_description()}"
    header = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_description()}, "
        f"Python {platform.python_version()}{f', models {named}' if named else ''}{encoder} (both servers), by "
        f"`python benchmarks/bench_serving.py`: {clients} concurrent clients sending "
        f"single-item topic-only requests for {seconds:.0f} s after {WARMUP_S:.0f} s of warm-up, every text new to the "
        f"server (a seed paragraph with a counter appended); {workers} worker "
        f"process(es) per server; the load generator (aiohttp, one process) shares the machine.\n\n"
    )
    headers = [
        "server",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "server CPU ms per request",
        "load generator CPU",
        "256-item batch ms (median / max)",
        "RSS MB after warm-up",
    ]
    rows = []
    for result in results:
        load = result.load
        rows.append(
            [
                result.server,
                f"{load.throughput:.0f}",
                f"{load.percentile(50):.1f}",
                f"{load.percentile(99):.1f}",
                load.errors,
                f"{1000 * load.server_cpu_seconds / load.requests:.2f}",
                f"{100 * load.client_cpu_seconds / load.seconds:.0f}% of a core",
                f"{statistics.median(result.batch_ms):.1f} / {max(result.batch_ms):.1f}",
                f"{load.rss_mb:.0f}",
            ]
        )
    table = markdown_table(headers, rows, aligned(("left", 1), ("right", 8)))
    if len(results) == 2:
        ratio = results[0].load.throughput / results[1].load.throughput
        notes = [f"Throughput ratio ({results[0].server} / {results[1].server}): **{ratio:.2f}x**", *notes]
    return header + table + "\n\n" + "".join(f"- {note}\n" for note in notes)


@app.command()
def main(
    store: Annotated[
        str | None,
        typer.Option(help="Tracking URI with the champions (default: the repo store; a temporary one if it has none)."),
    ] = None,
    train: Annotated[bool, typer.Option("--train", help="Train the defaults into a temporary store first.")] = False,
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds of measured load per server.")] = 20.0,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent clients.")] = 16,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes of each server.")] = 1,
    batch_runs: Annotated[int, typer.Option(min=2, help="How many times the 256-item batch is timed.")] = 10,
    mlflow_serve: Annotated[
        bool, typer.Option("--mlflow/--no-mlflow", help="Also measure `mlflow models serve`.")
    ] = True,
    write: Annotated[bool, typer.Option("--write/--no-write", help="Write the table into docs/serving.md and README.md.")] = True,
) -> None:
    """Measure both servers under the same load and print (and record) the table."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uri = store or model_store.tracking_uri()
    needs_training = train or not has_champions(uri)
    # Only the default store falls back to training: benchmarking other models than the ones asked for is worse.
    if store is not None and needs_training:
        names = " and ".join(DEFAULT_REGISTERED_NAMES.values())
        problem = (
            "--train trains into a temporary store of its own"
            if train
            else f"{store} has no {CHAMPION} of {names} (MLFLOW_TRACKING_URI={store} python -m training train-defaults)"
        )
        raise typer.BadParameter(problem, param_hint="--store")
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as scratch:
        workdir = Path(scratch)
        if needs_training:
            uri = f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"
            train_defaults_into(uri)
        texts = sample_texts()
        ceiling = in_process_ceiling(uri, texts)
        models = served_models(uri)  # read while the store is there: a temporary one goes with its folder
        results = []
        ours_port = free_port()
        ours_env = {**os.environ, "NEWS_TRACKING_URI": uri, "NEWS_WORKERS": str(workers)}
        ours_log = workdir / "serving.log"
        with running([sys.executable, "-m", "serving", "--port", str(ours_port)], ours_env, ours_log) as process:
            ours = Server("python -m serving", process, f"http://127.0.0.1:{ours_port}", "/v1/classify", "/ready")
            asyncio.run(wait_until_ready(ours, ours_log))
            results.append(asyncio.run(measure(ours, texts, clients, duration, batch_runs)))
            notes = [*ceiling, *asyncio.run(our_extras(ours, texts, batch_runs))]
        if mlflow_serve:
            port = free_port()
            # `mlflow models serve` starts `uvicorn` by name: the interpreter's bin dir must be on PATH
            # even when the virtualenv is not activated (as under `make`).
            path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
            env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path}
            command = [
                sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{TOPIC_MODEL}@{CHAMPION}",
                "--env-manager", "local", "-p", str(port), "-w", str(workers),
            ]  # fmt: skip
            log = workdir / "mlflow.log"
            with running(command, env, log) as process:
                theirs = Server("mlflow models serve", process, f"http://127.0.0.1:{port}", "/invocations", "/ping")
                asyncio.run(wait_until_ready(theirs, log))
                results.append(asyncio.run(measure(theirs, texts, clients, duration, batch_runs)))
    if mlflow_serve:
        notes.append(
            "RSS of `mlflow models serve` includes its `mlflow` launcher process besides the uvicorn server it starts."
        )
    table = markdown(results, notes, clients, duration, workers, models)
    typer.echo(table)
    if write:
        for doc in DOCS:
            write_between_markers(doc, MARKER, table)
            logger.info("wrote the table into %s", doc)


if __name__ == "__main__":
    run_script(app)
