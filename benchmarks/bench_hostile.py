"""Hostile input and load against one real `python -m serving`, all on loopback.

    python benchmarks/bench_hostile.py [--store URI] [--seed 42] [--max-examples 20] [--fuzz-seconds 120]
                                       [--load-seconds 30] [--swap-seconds 30] [--write]

Starts the server on a free 127.0.0.1 port (a random admin key, alias polling every second) over a
store with the default champions (--store, else MLFLOW_TRACKING_URI or the repo store; a temporary
store with the defaults trained into it when that has none), then, each step bounded in time:

1. schemathesis (`--checks all`, a fixed seed, at most --max-examples cases per operation and
   --fuzz-seconds in all) against the server's own /openapi.json, the admin key sent too;
2. hostile bodies and connections, sent through raw sockets, with /health polled every 50 ms meanwhile;
3. --load-clients concurrent single-item clients for --load-seconds (bench_serving's load generator);
4. a hot swap under load: the topic `champion` alias moves between the champion and a copy of it
   registered for the purpose, every --swap-every seconds; afterwards the alias is moved back and
   the copy deleted (as bench_deploy.py does);
5. the RSS of the server's process tree before and after all of it.

Prints a Markdown table; --write also writes it into docs/serving.md between the
bench_hostile markers. A watchdog stops the run at its bound (see --help).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any, TypeVar

import aiohttp
import mlflow
import typer
from bench_deploy import switch_seconds
from bench_serving import (
    STARTUP_TIMEOUT_S,
    WARMUP_S,
    LoadResult,
    Server,
    free_port,
    generate_load,
    has_champions,
    running,
    sample_texts,
    session,
    train_defaults_into,
    tree_rss_mb,
    wait_until_ready,
)
from doc_markers import write_between_markers
from machine import cpu_description
from markdown_tables import markdown_table
from user_errors import run_script

from classifiers import store as model_store
from classifiers.store import CHAMPION, DEFAULT_REGISTERED_NAMES
from serving.settings import ServingSettings
from training import locations

logger = logging.getLogger("benchmarks.hostile")

DOC = locations.PROJECT_ROOT / "docs" / "serving.md"
MARKER = "bench_hostile"
TOPIC_MODEL = DEFAULT_REGISTERED_NAMES["topic"]
HOST = "127.0.0.1"
CHUNK = 64 * 1024
# Bounds of the steps that have no option of their own.
SCHEMATHESIS_GRACE_S = 60.0  # start-up and report writing around schemathesis's own --max-time
CASE_CAP_S = 30.0  # one hostile request, from connecting to the server closing the connection
STALL_CAP_S = 20.0  # how long the never-finished request waits for the server to close it
HEALTH_INTERVAL_S = 0.05
HEALTH_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 60.0  # bench_serving.session's per-request timeout: the most a load step overruns
RESTORE_TIMEOUT_S = 60.0  # until the server serves the champion again after the swap
STOP_S = 20.0  # bench_serving.running's wait for the server to exit
HOSTILE_CASES = 8

T = TypeVar("T")

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


# -- hostile requests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A hostile request: its bytes (produced lazily, in chunks) and the answer the service should give."""

    name: str
    size: int
    expected: str
    chunks: Callable[[], Iterable[bytes]]
    cap_s: float = CASE_CAP_S


@dataclass(frozen=True)
class Exchange:
    """What happened to one raw request."""

    status: int | None  # None: no answer
    answered_s: float | None
    closed_s: float | None  # when the server closed (or reset) the connection; None: still open at the cap
    written: int  # bytes the client got to write before the server stopped it (or it finished)


@dataclass(frozen=True)
class CaseResult:
    """One row of the hostile-input table."""

    case: Case
    exchange: Exchange
    health_max_ms: float
    health_polls: int
    health_failures: int


def post(port: int, body: bytes) -> Iterator[bytes]:
    """A complete POST /v1/classify of `body`, asking the server to close the connection after answering."""
    yield (
        f"POST /v1/classify HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def big_header(port: int, size: int) -> Iterator[bytes]:
    """GET /health with one header of `size` bytes, written in 64 KiB chunks (never held in memory whole)."""
    yield f"GET /health HTTP/1.1\r\nHost: {HOST}:{port}\r\nX-Hostile: ".encode()
    chunk = b"a" * CHUNK
    for _ in range(size // CHUNK):
        yield chunk
    yield b"a" * (size % CHUNK) + b"\r\nConnection: close\r\n\r\n"


def stalled(port: int) -> Iterator[bytes]:
    """A request whose headers never end."""
    yield f"GET /health HTTP/1.1\r\nHost: {HOST}:{port}\r\nX-Stalled: ".encode()


def items_body(item: bytes, count: int) -> bytes:
    """`{"items":[item,item,...]}` with `count` items."""
    return b'{"items":[' + b",".join([item] * count) + b"]}"


NEAR_LIMIT_ITEM = b'{"text":"Israeli jets struck Hezbollah positions in southern Lebanon.","target":"Israel"}'


def near_limit_count(limit: int) -> int:
    """How many valid-looking items fit 1 KiB under the body limit (far more than NEWS_MAX_ITEMS)."""
    return (limit - 1024 - len(items_body(b"", 0))) // (len(NEAR_LIMIT_ITEM) + 1)


def hostile_cases(port: int, settings: ServingSettings) -> list[Case]:
    """The hostile requests, each with the answer the service should give."""
    empty_items = items_body(b"{}", 1_000_000)
    count = near_limit_count(settings.max_body_bytes)
    near_limit = items_body(NEAR_LIMIT_ITEM, count)
    malformed = b'{"items":[{"text":"\xff\xfe"}]}'
    nested = b"[" * 1_000_000
    long_int = b'{"items":[{"text":"x","target":' + b"9" * 5_000 + b"}]}"
    mb, big = 1024 * 1024, 128 * 1024 * 1024

    def body_case(name: str, body: bytes) -> Case:
        return Case(name, len(body), "422", lambda: post(port, body))

    return [
        body_case('`{"items":[{}, ...]}`, 1,000,000 empty items', empty_items),
        body_case(f"{count:,} valid-looking items, 1 KiB under the body limit", near_limit),
        body_case("malformed UTF-8 (`\\xff\\xfe` in a text)", malformed),
        body_case("1,000,000-deep nesting `[[[[...`", nested),
        body_case("a 5,000-digit integer", long_int),
        Case("a 1 MiB header", mb, "431, closed", lambda: big_header(port, mb)),
        Case("a 128 MiB header", big, "431, closed", lambda: big_header(port, big)),
        Case(
            "headers never finished",
            len(next(stalled(port))),
            f"408 after {settings.request_read_timeout_s:g} s, closed",
            lambda: stalled(port),
            STALL_CAP_S,
        ),
    ]


async def exchange(port: int, chunks: Iterable[bytes], cap_s: float) -> Exchange:
    """Write the request while reading the answer; stop at the server's close or at `cap_s`."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(HOST, port)
    written = 0

    async def send() -> None:
        nonlocal written
        # The server may answer and close before the client has written everything: that ends the writing.
        with suppress(ConnectionError):
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
                written += len(chunk)

    sender = asyncio.create_task(send())
    status = answered = closed = None
    try:
        async with asyncio.timeout(cap_s):
            status_line = await reader.readuntil(b"\r\n")
            answered = time.perf_counter() - started
            status = int(status_line.split()[1])
            while await reader.read(CHUNK):
                pass
            closed = time.perf_counter() - started
    except TimeoutError:
        pass
    except (asyncio.IncompleteReadError, ConnectionError):
        # Closed (or reset) before a whole answer arrived.
        closed = time.perf_counter() - started
    finally:
        sender.cancel()
        with suppress(asyncio.CancelledError, ConnectionError):
            await sender
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()
    return Exchange(status, answered, closed, written)


async def with_health_polled(base_url: str, work: Awaitable[T]) -> tuple[T, list[float], int]:
    """Run `work` while polling /health every 50 ms: its result, the poll latencies (ms) and failed polls."""
    latencies: list[float] = []
    failures = 0
    done = asyncio.Event()

    async def poll() -> None:
        nonlocal failures
        async with aiohttp.ClientSession(base_url, timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)) as client:
            while not done.is_set():
                started = time.perf_counter()
                try:
                    async with client.get("/health") as response:
                        await response.read()
                    failures += response.status != 200
                except (aiohttp.ClientError, TimeoutError):
                    failures += 1
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(HEALTH_INTERVAL_S)

    poller = asyncio.create_task(poll())
    try:
        result = await work
    finally:
        done.set()
        await poller
    return result, latencies, failures


async def hostile(server: Server, port: int, cases: list[Case]) -> list[CaseResult]:
    """Each case in turn, /health polled meanwhile."""
    results = []
    for case in cases:
        outcome, latencies, failures = await with_health_polled(
            server.base_url, exchange(port, case.chunks(), case.cap_s)
        )
        logger.info("%s: %s", case.name, outcome)
        results.append(CaseResult(case, outcome, max(latencies, default=0.0), len(latencies), failures))
    return results


# -- schemathesis ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzResult:
    """The figures of a schemathesis run."""

    generated: int
    operations: int
    failures: list[dict[str, Any]]  # the JSON report's entries: code, title, count, operations
    errors: int
    statuses: Counter[int | None]  # per answer status; None: no answer
    stop_reason: str
    exit_code: int | None

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status is not None and status >= 500)


def parse_reports(report_dir: Path) -> FuzzResult:
    """The figures from schemathesis's JSON run report and, for the status of every answer, its NDJSON events."""
    report = json.loads(next(report_dir.glob("json-*.json")).read_text(encoding="utf-8"))
    statuses: Counter[int | None] = Counter()
    with next(report_dir.glob("ndjson-*.ndjson")).open(encoding="utf-8") as events:
        for line in events:
            # The events run to a hundred MB; only the finished scenarios hold the answers.
            if not line.startswith('{"ScenarioFinished"'):
                continue
            recorder = json.loads(line)["ScenarioFinished"].get("recorder") or {}
            for interaction in recorder.get("interactions", {}).values():
                response = interaction.get("response")
                statuses[response["status_code"] if response else None] += 1
    return FuzzResult(
        generated=report["test_cases"]["generated"],
        operations=report["operations"]["tested"],
        failures=report["failures"],
        errors=len(report["errors"]),
        statuses=statuses,
        stop_reason=str(report.get("stop_reason")),
        exit_code=report.get("exit_code"),
    )


def fuzz(server: Server, key: str, seed: int, max_examples: int, seconds: float, workdir: Path) -> FuzzResult:
    """`st run` against the server's own schema, all checks, reports into workdir."""
    report_dir = workdir / "schemathesis"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.base_url}/openapi.json",
        "--seed", str(seed), "--max-examples", str(max_examples), "--max-time", str(int(seconds)),
        "--checks", "all", "--header", f"X-API-Key: {key}", "--workers", "1", "--request-timeout", "30",
        "--report", "json,ndjson", "--report-dir", str(report_dir), "--no-color",
    ]  # fmt: skip
    logger.info("schemathesis: seed %d, at most %d examples per operation, %.0f s", seed, max_examples, seconds)
    log = workdir / "schemathesis.log"
    with log.open("wb") as output:
        # Failures found are an exit code of 1: they are figures, not an error of the benchmark. Run in workdir:
        # Hypothesis and schemathesis keep their databases (.hypothesis/, .schemathesis/) in the current folder, which
        # left them in the repository.
        subprocess.run(
            command, stdout=output, stderr=subprocess.STDOUT, timeout=seconds + SCHEMATHESIS_GRACE_S, check=False,
            cwd=workdir,
        )  # fmt: skip
    try:
        return parse_reports(report_dir)
    except StopIteration:
        raise RuntimeError(f"schemathesis wrote no report:\n{log.read_text(errors='replace')[-3000:]}") from None


# -- hot swap -------------------------------------------------------------------------------------


@dataclass
class SwapResult:
    """Requests answered while the topic alias moved."""

    moves: int = 0
    requests: int = 0
    failed: int = 0
    without_version: int = 0
    versions: Counter[str] = field(default_factory=Counter)
    restore_s: float = 0.0
    between: tuple[str, str] = ("", "")


async def swap_under_load(
    server: Server, uri: str, texts: list[str], clients: int, seconds: float, every: float
) -> SwapResult:
    """`clients` single-item clients while the topic champion alias moves between the champion and a copy of it."""
    registry = model_store.use_store(uri)
    champion = registry.get_model_version_by_alias(TOPIC_MODEL, CHAMPION)
    # The champion's version tags too: the server serves only versions with their lineage tags.
    copy = await asyncio.to_thread(mlflow.register_model, champion.source, TOPIC_MODEL, tags=champion.tags)
    result = SwapResult(between=(str(champion.version), str(copy.version)))
    bodies = [server.body([text]) for text in texts]
    until = time.perf_counter() + seconds

    async def one_client(client: aiohttp.ClientSession, offset: int) -> None:
        index = offset
        while time.perf_counter() < until:
            body = bodies[index % len(bodies)]
            index += clients
            result.requests += 1
            try:
                async with client.post(server.path, data=body) as response:
                    answer = await response.read()
            except (aiohttp.ClientError, TimeoutError):
                result.failed += 1
                continue
            if response.status != 200:
                result.failed += 1
                continue
            served = (json.loads(answer).get("models") or {}).get("topic") or {}
            if served.get("version"):
                result.versions[served["version"]] += 1
            else:
                result.without_version += 1

    async def mover() -> None:
        targets = [copy.version, champion.version]
        while time.perf_counter() + every < until:
            await asyncio.sleep(every)
            await asyncio.to_thread(
                registry.set_registered_model_alias, TOPIC_MODEL, CHAMPION, targets[result.moves % 2]
            )
            result.moves += 1

    logger.info("swap: %d clients for %.0f s, alias moved every %.1f s", clients, seconds, every)
    try:
        async with session(server, clients) as client:
            await asyncio.gather(mover(), *(one_client(client, offset) for offset in range(clients)))
    finally:
        registry.set_registered_model_alias(TOPIC_MODEL, CHAMPION, champion.version)
        try:
            result.restore_s = await switch_seconds([server], str(champion.version), 1, RESTORE_TIMEOUT_S)
        finally:
            registry.delete_model_version(TOPIC_MODEL, copy.version)
    return result


# -- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The options that shape the figures."""

    seed: int
    max_examples: int
    fuzz_seconds: float
    load_clients: int
    load_seconds: float
    swap_clients: int
    swap_seconds: float
    swap_every: float


def bound_s(fuzz_seconds: float, load_seconds: float, swap_seconds: float) -> float:
    """The longest a run can take once the store has its champions (the watchdog's limit)."""
    return (
        STARTUP_TIMEOUT_S
        + fuzz_seconds + SCHEMATHESIS_GRACE_S
        + HOSTILE_CASES * (CASE_CAP_S + HEALTH_TIMEOUT_S)
        + WARMUP_S + load_seconds + REQUEST_TIMEOUT_S
        + swap_seconds + REQUEST_TIMEOUT_S + RESTORE_TIMEOUT_S
        + STOP_S
    )  # fmt: skip


DEFAULTS = {"fuzz_seconds": 120.0, "load_seconds": 30.0, "swap_seconds": 30.0}


def seconds_cell(value: float | None) -> str:
    """A table cell of seconds; a dash where nothing was measured."""
    return "–" if value is None else f"{value:.2f}"


def case_row(result: CaseResult) -> list[str]:
    """The cells of a row of the hostile-input table; an answer other than the expected one is in bold."""
    outcome = result.exchange
    answer = "no answer" if outcome.status is None else str(outcome.status)
    if outcome.closed_s is None:
        answer += f", still open after {result.case.cap_s:.0f} s"
    else:
        answer += ", closed"
    status = result.case.expected.split(",")[0].split(" after ")[0]
    if not answer.startswith(status) or ("closed" in result.case.expected and "closed" not in answer):
        answer = f"**{answer}**"
    size = f"{result.case.size / 1024 / 1024:.1f} MiB" if result.case.size >= 1024 * 1024 else f"{result.case.size:,} B"
    return [
        result.case.name,
        size,
        result.case.expected,
        answer,
        seconds_cell(outcome.answered_s),
        seconds_cell(outcome.closed_s),
        f"{outcome.written / 1024 / 1024:.2f} MiB",
        f"{result.health_max_ms:.0f} ({result.health_polls}, {result.health_failures})",
    ]


def markdown(
    options: Options,
    fuzzed: FuzzResult,
    cases: list[CaseResult],
    load: LoadResult,
    swap: SwapResult,
    rss: tuple[float, float],
    server_log: Counter[str],
) -> str:
    """The summary table and the hostile-input table, with how they were measured."""
    header = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_description()}, "
        f"Python {platform.python_version()}, schemathesis {package_version('schemathesis')}, by "
        f"`python benchmarks/bench_hostile.py --seed {options.seed} --max-examples {options.max_examples} "
        f"--fuzz-seconds {options.fuzz_seconds:g} --load-seconds {options.load_seconds:g} "
        f"--swap-seconds {options.swap_seconds:g} --swap-every {options.swap_every:g}`: one `python -m serving` "
        "(1 worker, `NEWS_POLL_SECONDS=1`, "
        "default limits) on 127.0.0.1, the clients on the same machine.\n\n"
    )
    failures = "; ".join(
        f"{failure['code']} {failure['title']} ×{failure['count']} ({', '.join(failure['operations'])})"
        for failure in fuzzed.failures
    )
    statuses = ", ".join(
        f"{'no answer' if status is None else status}: {count}"
        for status, count in sorted(fuzzed.statuses.items(), key=lambda item: (item[0] is None, item[0] or 0))
    )
    served = ", ".join(f"v{version}: {count}" for version, count in sorted(swap.versions.items()))
    latencies = load.latencies_ms
    load_figures = (
        f"{load.throughput:.0f} requests/s, p50 {load.percentile(50):.0f} ms, p99 {load.percentile(99):.0f} ms, "
        f"{load.errors} errors"
        if len(latencies) > 1
        else f"{load.requests} requests, {load.errors} errors"
    )
    fuzz_result = (
        f"{fuzzed.generated} cases on {fuzzed.operations} "
        f"operations (stopped by: {fuzzed.stop_reason}); failures: {failures or 'none'}; errors: {fuzzed.errors}; "
        f"**{fuzzed.server_errors} 5xx**; answers by status: {statuses}"
    )
    # Moves faster than the server polls, or too short a run, may never serve the copy: the hot swap was then not
    # tested, whatever the failures say.
    unserved = [version for version in swap.between if not swap.versions.get(version)]
    untested = f"; **v{', v'.join(unserved)} never served: no swap was tested**" if unserved else ""
    swap_result = (
        f"{swap.moves} moves, {swap.requests} requests, **{swap.failed} failed**, {swap.without_version} without "
        f"`models.topic.version`; served: {served or 'nothing'}; back on v{swap.between[0]} "
        f"{swap.restore_s:.1f} s after the alias was moved back{untested}"
    )
    checks = [
        [
            f"schemathesis: seed {options.seed}, at most {options.max_examples} cases per operation, "
            f"{options.fuzz_seconds:g} s budget, `--checks all`",
            fuzz_result,
        ],
        [
            f"load: {options.load_clients} clients, single-item topic requests, {options.load_seconds:g} s "
            f"after {WARMUP_S:g} s warm-up",
            load_figures,
        ],
        [
            f"hot swap: {options.swap_clients} clients for {options.swap_seconds:g} s while the topic `champion` "
            f"alias moved every {options.swap_every:g} s between v{swap.between[0]} and a copy, v{swap.between[1]}",
            swap_result,
        ],
        ["RSS of the server's process tree", f"{rss[0]:.0f} MB before, {rss[1]:.0f} MB after"],
        [
            "server log",
            f"{server_log['ERROR']} errors, {server_log['Traceback']} tracebacks, {server_log['WARNING']} warnings",
        ],
    ]
    cases_headers = [
        "hostile input",
        "size",
        "expected",
        "answer",
        "answered after s",
        "closed after s",
        "written by the client",
        "/health meanwhile: max ms (polls, failed)",
    ]
    tables = [
        markdown_table(["check", "result"], checks, ["left", "left"]),
        markdown_table(
            cases_headers,
            [case_row(result) for result in cases],
            ["left", "right", "left", "left", "right", "right", "right", "right"],
        ),
    ]
    return header + "\n\n".join(tables) + "\n"


def run_all(uri: str, options: Options, workdir: Path) -> str:
    """Start the server, run every step, return the table."""
    key = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "NEWS_TRACKING_URI": uri,
        "NEWS_ADMIN_API_KEY": key,
        "NEWS_POLL_SECONDS": "1",
        "NEWS_WORKERS": "1",
    }
    limits = ServingSettings()  # the benchmark's own environment: the same NEWS_MAX_* the server gets
    texts = sample_texts()
    log = workdir / "serving.log"
    with running([sys.executable, "-m", "serving", "--host", HOST, "--port", str(port)], env, log) as process:
        server = Server("python -m serving", process, f"http://{HOST}:{port}", "/v1/classify", "/ready")
        asyncio.run(wait_until_ready(server, log))
        rss_before = tree_rss_mb(process.pid)
        fuzzed = fuzz(server, key, options.seed, options.max_examples, options.fuzz_seconds, workdir)
        logger.info("schemathesis: %d cases, %d 5xx", fuzzed.generated, fuzzed.server_errors)
        cases = asyncio.run(hostile(server, port, hostile_cases(port, limits)))

        async def load() -> LoadResult:
            async with session(server, options.load_clients) as client:
                return await generate_load(client, server, texts, options.load_clients, options.load_seconds)

        loaded = asyncio.run(load())
        logger.info("load: %d requests, %d errors", loaded.requests, loaded.errors)
        swap = asyncio.run(
            swap_under_load(server, uri, texts, options.swap_clients, options.swap_seconds, options.swap_every)
        )
        rss_after = tree_rss_mb(process.pid)
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}; see {log}")
    return markdown(options, fuzzed, cases, loaded, swap, (rss_before, rss_after), log_problems(log))


def log_problems(log: Path) -> Counter[str]:
    """ERROR and WARNING lines and tracebacks in the server's log; the first few errors are logged here too."""
    found: Counter[str] = Counter()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        kind = next((kind for kind in ("ERROR", "WARNING", "Traceback") if line.startswith(kind)), None)
        if kind is None:
            continue
        found[kind] += 1
        if kind != "WARNING" and found[kind] <= 5:
            logger.warning("server log: %s", line[:300])
    return found


def on_alarm(signum: int, frame: object) -> None:
    """SIGALRM's handler: the run went past its bound (`bound_s`)."""
    raise TimeoutError("bench_hostile.py ran past its bound")


@app.command(
    help=(
        "Fuzz, hostile inputs, load, a hot swap and RSS against one `python -m serving` on 127.0.0.1. "
        f"A watchdog stops the run at {STARTUP_TIMEOUT_S:.0f} (startup) + fuzz-seconds + {SCHEMATHESIS_GRACE_S:.0f} + "
        f"{HOSTILE_CASES * (CASE_CAP_S + HEALTH_TIMEOUT_S):.0f} (hostile requests) + load-seconds + "
        f"{WARMUP_S + REQUEST_TIMEOUT_S:.0f} + swap-seconds + {REQUEST_TIMEOUT_S + RESTORE_TIMEOUT_S + STOP_S:.0f} s: "
        f"{bound_s(**DEFAULTS) / 60:.0f} min with the defaults (plus training the default models when "
        "the store has none)."
    )
)
def main(
    store: Annotated[
        str | None,
        typer.Option(
            help="Tracking URI with the champions (default: the repo store; a temporary one if it has none). "
            "The swap registers a copy of the topic champion there and deletes it afterwards."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="schemathesis's seed.")] = 42,
    max_examples: Annotated[
        int, typer.Option(min=1, help="schemathesis --max-examples: cases per operation (its coverage phase adds its own).")
    ] = 20,
    fuzz_seconds: Annotated[float, typer.Option(min=1, help="schemathesis's time budget.")] = DEFAULTS["fuzz_seconds"],
    load_clients: Annotated[int, typer.Option(min=1, help="Concurrent clients of the load step.")] = 64,
    load_seconds: Annotated[float, typer.Option(min=1, help="Seconds of measured load.")] = DEFAULTS["load_seconds"],
    swap_clients: Annotated[int, typer.Option(min=1, help="Concurrent clients during the hot swap.")] = 16,
    swap_seconds: Annotated[float, typer.Option(min=1, help="Seconds of the hot swap.")] = DEFAULTS["swap_seconds"],
    swap_every: Annotated[float, typer.Option(min=0.1, help="Seconds between alias moves.")] = 3.0,
    write: Annotated[bool, typer.Option("--write/--no-write", help="Write the table into docs/serving.md.")] = False,
) -> None:
    """Run every step and print (and with --write, record) the table."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = Options(
        seed, max_examples, fuzz_seconds, load_clients, load_seconds, swap_clients, swap_seconds, swap_every
    )
    uri = store or model_store.tracking_uri()
    if store is not None and not has_champions(uri):
        names = " and ".join(DEFAULT_REGISTERED_NAMES.values())
        problem = (
            f"{store} has no {CHAMPION} of {names} (MLFLOW_TRACKING_URI={store} python -m training train-defaults)"
        )
        raise typer.BadParameter(problem, param_hint="--store")
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as scratch:
        workdir = Path(scratch)
        if not has_champions(uri):
            uri = f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"
            train_defaults_into(uri)
        bound = bound_s(fuzz_seconds, load_seconds, swap_seconds)
        logger.info("the run ends within %.0f s", bound)
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(int(bound) + 1)
        try:
            table = run_all(uri, options, workdir)
        finally:
            signal.alarm(0)
    typer.echo(table)
    if write:
        write_between_markers(DOC, MARKER, table)
        logger.info("wrote the table into %s", DOC)


if __name__ == "__main__":
    run_script(app)
