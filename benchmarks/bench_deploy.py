"""Shared-infrastructure figures for docs/deploy.md: the tracking store, and server replicas.

    python benchmarks/bench_deploy.py tracking [--runs 10000]
    python benchmarks/bench_deploy.py replicas [--store URI] [--duration 20]

`tracking` logs RUNS runs (params, metrics and tags like a training run's) into the project's
SQLite store layout and into a PostgreSQL-backed `mlflow server` started for the purpose
(`deploy.stack` in a temporary folder), then times `search_runs` over them.

`replicas` serves the default champions with one replica and with two (one worker each, the
load split between them as a load balancer would), then runs two replicas with two workers
each and polling on, moves the topic `champion` alias to a copy of its version, and times
until the last worker serves it. The alias is moved back and the copy deleted afterwards.
Each table is written into docs/deploy.md between its markers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import aiohttp
import mlflow
import typer
from bench_serving import (
    LoadResult,
    Server,
    free_port,
    generate_load,
    has_champions,
    running,
    sample_texts,
    session,
    tree_rss_mb,
    wait_until_ready,
)
from doc_markers import write_between_markers
from machine import cpu_description
from markdown_tables import aligned, markdown_table
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from user_errors import run_script

from classifiers import store as model_store
from classifiers.lineage import VERSION_LINEAGE_TAGS
from classifiers.store import CHAMPION, DEFAULT_REGISTERED_NAMES
from deploy.stack import Ports, Stack
from training import locations

logger = logging.getLogger("benchmarks.deploy")

DOC = locations.PROJECT_ROOT / "docs" / "deploy.md"
TOPIC_MODEL = DEFAULT_REGISTERED_NAMES["topic"]
# A training run logs about this much: the flattened config, the CV metrics, a few tags.
PARAMS, METRICS, TAGS = 30, 15, 5
SEARCHES = 20
# The fewest runs in which every search's filter matches a run (the runs' values cycle through 13 and 1,000).
MIN_RUNS = 125

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)


def machine() -> str:
    """When and where a table was measured."""
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_description()}, "
        f"Python {platform.python_version()}, MLflow {mlflow.__version__}"
    )


# -- tracking -------------------------------------------------------------------------------------


def log_runs(client: MlflowClient, experiment_id: str, runs: int, writers: int) -> float:
    """Seconds to log `runs` finished runs (create, log_batch, terminate) from `writers` threads at once."""
    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(lambda first: log_some(client, experiment_id, range(first, runs, writers)), range(writers)))
    return time.perf_counter() - started


def log_some(client: MlflowClient, experiment_id: str, indices: range) -> None:
    """Log the runs of the given indices, one after another."""
    for index in indices:
        run = client.create_run(experiment_id, run_name=f"run-{index}")
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(f"metric_{m}", (index * 7919 + m) % 1000 / 1000, now, 0) for m in range(METRICS)],
            params=[Param(f"param_{p}", str((index + p) % 13)) for p in range(PARAMS)],
            tags=[RunTag(f"tag_{t}", str(index % 5)) for t in range(TAGS)],
        )
        client.set_terminated(run.info.run_id)
        if index and index % 1000 == 0:
            logger.info("%d runs logged", index)


def search_latencies_ms(client: MlflowClient, experiment_id: str) -> list[float]:
    """`search_runs` as the UI's runs table asks: a metric filter, ordered by a metric, 100 rows."""
    timings = []
    for query in range(SEARCHES):
        started = time.perf_counter()
        found = client.search_runs(
            [experiment_id],
            filter_string=f"metrics.metric_0 > 0.5 and params.param_1 = '{query % 13}'",
            order_by=["metrics.metric_1 DESC"],
            max_results=100,
        )
        timings.append((time.perf_counter() - started) * 1000)
        if not found:
            raise RuntimeError("the benchmark's search found no runs: log more of them")
    return timings


def measure_store(name: str, uri: str, runs: int, writers: int, artifact_location: str | None) -> list[str]:
    """The cells of one row of the tracking table."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(f"bench-{uuid.uuid4().hex[:8]}", artifact_location=artifact_location)
    logger.info("%s: logging %d runs from %d writer(s)", name, runs, writers)
    seconds = log_runs(client, experiment_id, runs, writers)
    timings = search_latencies_ms(client, experiment_id)
    p95 = statistics.quantiles(timings, n=20, method="inclusive")[18]
    return [name, str(runs), str(writers), f"{runs / seconds:.1f}", f"{statistics.median(timings):.0f}", f"{p95:.0f}"]


def tracking_table(rows: list[list[str]]) -> str:
    """The tracking table of measure_store's rows."""
    headers = ["store", "runs", "writers", "runs logged per second", "search_runs median ms", "search_runs p95 ms"]
    return markdown_table(headers, rows, aligned(("left", 1), ("right", 5)))


@app.command()
def tracking(
    runs: Annotated[
        # Fewer leave some of the searches' filters matching nothing, and a search of nothing measures nothing.
        int, typer.Option(min=MIN_RUNS, help="Runs logged into each store before searching.")
    ] = 10_000,
    writers: Annotated[int, typer.Option(min=1, help="Threads logging at once (several users of one server).")] = 1,
    server_workers: Annotated[int, typer.Option(help="Worker processes of the tracking server.")] = 2,
    write: Annotated[bool, typer.Option("--write/--no-write", help="Write the table into docs/deploy.md.")] = True,
) -> None:
    """Runs logged per second and search_runs latency: SQLite file vs the PostgreSQL-backed server."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # MLflow prints two links for every run it ends on a tracking server: 20,000 lines for the documented 10,000 runs.
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    folder = Path(tempfile.mkdtemp(prefix="bench-tracking-"))
    folder.chmod(0o755)  # PostgreSQL's system user must reach its data folder
    stack = Stack(folder / "stack")
    try:
        sqlite = f"sqlite:///{folder / 'mlflow.db'}"
        rows = [measure_store("SQLite file (`mlruns/mlflow.db` layout)", sqlite, runs, writers, str(folder / "artifacts"))]
        status = stack.start(Ports(free_port(), free_port()), workers=server_workers)
        server = f"`mlflow server` ({server_workers} workers) on PostgreSQL 15"
        rows.append(measure_store(server, status.tracking_uri, runs, writers, None))
    finally:
        stack.stop()
        # 10,000 runs in two stores take over half a gigabyte.
        shutil.rmtree(folder, ignore_errors=True)
    table = (
        f"{machine()}, by `python benchmarks/bench_deploy.py tracking --runs {runs} --writers {writers}`: "
        f"{writers} thread(s) log the runs (each: create, one `log_batch` of {PARAMS} params, {METRICS} metrics "
        f"and {TAGS} tags, terminate), then "
        f"{SEARCHES} `search_runs` with a metric and a param filter, ordered by a metric, 100 rows.\n\n"
        f"{tracking_table(rows)}\n"
    )
    typer.echo(table)
    if write:
        write_between_markers(DOC, "bench:tracking", table)


# -- replicas -------------------------------------------------------------------------------------


async def split_load(servers: list[Server], texts: list[str], clients: int, seconds: float) -> list[LoadResult]:
    """`clients` clients in all, split evenly across the servers, at the same time."""
    share = clients // len(servers)

    async def one(server: Server, offset: int) -> LoadResult:
        async with session(server, share) as client:
            return await generate_load(client, server, texts[offset::len(servers)], share, seconds)

    return list(await asyncio.gather(*(one(server, index) for index, server in enumerate(servers))))


def serve_replicas(exits: ExitStack, count: int, workers: int, uri: str, workdir: Path, poll_s: float = 0.0) -> list[Server]:
    """Start `count` servers, ready when returned; `exits` stops them.

    Each process gets its share of the cores as torch threads (OMP_NUM_THREADS): with the default of
    one thread per core in every process, the processes' threads spin against each other.
    """
    servers = []
    threads = max(1, (os.cpu_count() or 1) // (count * workers))
    for index in range(count):
        port = free_port()
        env = {
            **os.environ,
            "NEWS_TRACKING_URI": uri,
            "NEWS_WORKERS": str(workers),
            "NEWS_POLL_SECONDS": str(poll_s),
            "OMP_NUM_THREADS": str(threads),
        }
        log = workdir / f"replica-{count}-{index}.log"
        process = exits.enter_context(running([sys.executable, "-m", "serving", "--port", str(port)], env, log))
        server = Server(f"replica {index}", process, f"http://127.0.0.1:{port}", "/v1/classify", "/ready")
        asyncio.run(wait_until_ready(server, log))
        servers.append(server)
    return servers


def throughput_row(label: str, results: list[LoadResult], rss_mb: float) -> list[str]:
    """The cells of a row of the replicas table, from the load on each replica."""
    requests = sum(result.requests for result in results)
    seconds = max(result.seconds for result in results)
    latencies = sorted(latency for result in results for latency in result.latencies_ms)
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    errors = sum(result.errors for result in results)
    return [label, f"{requests / seconds:.0f}", f"{statistics.median(latencies):.1f}", f"{p99:.1f}", str(errors), f"{rss_mb:.0f}"]


def replicas_table(rows: list[list[str]]) -> str:
    """The replicas table of throughput_row's rows."""
    headers = ["setup", "requests/s", "p50 ms", "p99 ms", "errors", "RSS MB (all replicas)"]
    return markdown_table(headers, rows, aligned(("left", 1), ("right", 5)))


async def switch_seconds(servers: list[Server], version: str, workers: int, timeout_s: float = 120.0) -> float:
    """Seconds from now until every worker of every server has answered /ready with the topic `version`."""
    started = time.monotonic()
    switched: set[tuple[str, str]] = set()
    expected = len(servers) * workers
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        while len(switched) < expected:
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"only {len(switched)} of {expected} workers switched within {timeout_s:.0f} s")
            for server in servers:
                # A new connection each time, so the kernel hands it to any of the server's workers.
                async with client.get(f"{server.base_url}/ready", headers={"Connection": "close"}) as response:
                    ready = await response.json()
                served = next(model["version"] for model in ready["models"] if model["task"] == "topic")
                if served == version:
                    switched.add((server.base_url, ready["worker"]))
            await asyncio.sleep(0.02)
    return time.monotonic() - started


def alias_switch(uri: str, workdir: Path, poll_s: float, workers: int) -> str:
    """Time from moving the topic alias to the last of 2 replicas x `workers` workers serving the new version."""
    client = model_store.use_store(uri)
    champion = client.get_model_version_by_alias(TOPIC_MODEL, CHAMPION)
    # Same run, same lineage tags: serving loads only versions of a finished run that carry them.
    copy = mlflow.register_model(champion.source, TOPIC_MODEL, tags={key: champion.tags[key] for key in VERSION_LINEAGE_TAGS})
    try:
        with ExitStack() as exits:
            servers = serve_replicas(exits, 2, workers, uri, workdir, poll_s)
            client.set_registered_model_alias(TOPIC_MODEL, CHAMPION, copy.version)
            seconds = asyncio.run(switch_seconds(servers, str(copy.version), workers))
    finally:
        client.set_registered_model_alias(TOPIC_MODEL, CHAMPION, champion.version)
        client.delete_model_version(TOPIC_MODEL, copy.version)
    return (
        f"Alias move to the last of 2 replicas x {workers} workers serving the new version (polling every "
        f"{poll_s:g} s, {TOPIC_MODEL} v{champion.version}, a {champion.tags.get('model_family', 'unknown family')} "
        f"model): **{seconds:.1f} s** (the poll interval, plus resolving and "
        "loading the version)."
    )


@app.command()
def replicas(
    store: Annotated[
        str | None, typer.Option(help="Tracking URI with the default champions (default: MLFLOW_TRACKING_URI or mlruns/).")
    ] = None,
    duration: Annotated[float, typer.Option(help="Seconds of measured load per setup.")] = 20.0,
    clients: Annotated[int, typer.Option(help="Concurrent single-item clients in all.")] = 16,
    poll_s: Annotated[float, typer.Option(help="Poll interval of the alias-switch run.")] = 1.0,
    write: Annotated[bool, typer.Option("--write/--no-write", help="Write the table into docs/deploy.md.")] = True,
) -> None:
    """One replica vs two on the same cores, and how long an alias move takes to reach every worker."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uri = store or model_store.tracking_uri()
    if not has_champions(uri):
        raise typer.BadParameter(
            f"{uri} has no champions: run `MLFLOW_TRACKING_URI={uri} python -m training train-defaults` first"
        )
    texts = sample_texts()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as scratch:
        workdir = Path(scratch)
        for count in (1, 2):
            with ExitStack() as exits:
                servers = serve_replicas(exits, count, 1, uri, workdir)
                results = asyncio.run(split_load(servers, texts, clients, duration))
                rss = sum(tree_rss_mb(server.process.pid) for server in servers)
            rows.append(throughput_row(f"{count} replica(s) x 1 worker", results, rss))
        switch = alias_switch(uri, workdir, poll_s, workers=2)
    table = (
        f"{machine()}, by `python benchmarks/bench_deploy.py replicas`: {clients} concurrent clients in all, "
        f"single-item topic-only requests of new texts, split evenly across the replicas (as a load balancer "
        f"would), {duration:.0f} s each after warm-up; each server process gets its share of the cores as torch "
        f"threads (`OMP_NUM_THREADS` = cores / processes); the load generator shares the machine.\n\n"
        f"{replicas_table(rows)}\n\n- {switch}\n"
    )
    typer.echo(table)
    if write:
        write_between_markers(DOC, "bench:replicas", table)


if __name__ == "__main__":
    run_script(app)
