"""Batch scoring throughput and memory: `python -m training score` with the local engine and with Spark.

    python benchmarks/bench_scoring.py [--rows 100000] [--engine local --engine spark] [--model topic --model stance]
                                       [--master local[2]] [--segments-per-document N] [--store URI | --train]
                                       [--no-write]

Builds ROWS unique news-like paragraphs (seed-corpus sentences recombined, each with its own numbers:
the encoders' embedding cache must not flatter the figures), writes them to a temporary Parquet file
with an id and a stance target (and, with --segments-per-document, a `document` column grouping that many
consecutive rows into an article, each read beside its neighbours), and scores them with each default
champion and engine, each run the real command in its own process. Reported per run: end-to-end wall
time and rows/s (process start, model load and, for Spark, the JVM included) and the peak RSS of the
whole process tree (Spark's JVM and its Python workers included), sampled every SAMPLE_S seconds. The
in-process `predict` rate of one big call is the ceiling. Prints a Markdown table and writes it into
docs/deploy.md between the markers.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from bench_serving import has_champions, train_defaults_into, tree_rss_mb
from doc_markers import write_between_markers
from machine import cpu_description
from markdown_tables import markdown_table
from user_errors import run_script

from classifiers import store as model_store
from classifiers.store import CHAMPION, DEFAULT_REGISTERED_NAMES
from training import locations

logger = logging.getLogger("benchmarks.scoring")

DOC = locations.PROJECT_ROOT / "docs" / "deploy.md"
MARKER = "bench:scoring"
SAMPLE_S = 0.2
TARGETS = ["Israel", "Iran", "United States", "Hezbollah", "Iraqi armed factions", "Hamas"]
# Closing sentences with numbers of their own: with the row number in one, no two paragraphs are alike.
NUMBERED = [
    "Officials said {a} people were affected and {b} more were being counted.",
    "The report, the {a}th on the matter, cited {b} sources.",
    "By day {b}, at least {a} incidents had been recorded.",
    "Talks resumed after {b} hours, with {a} delegates attending.",
]

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@dataclass(frozen=True)
class Run:
    """One scoring command's figures."""

    model: str
    engine: str
    rows: int
    seconds: float
    peak_mb: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def seed_sentences() -> list[str]:
    """The seed corpus's paragraphs split into sentences."""
    lines = locations.SEGMENTS_PATH.read_text(encoding="utf-8").splitlines()
    paragraphs = [json.loads(line)["text"] for line in lines if line.strip()]
    return [sentence for text in paragraphs for sentence in re.split(r"(?<=[.!?])\s+", text) if len(sentence) > 20]


def news_paragraphs(rows: int, seed: int = 0) -> list[str]:
    """rows unique paragraphs: two or three seed sentences and a closing sentence carrying the row number."""
    rng = random.Random(seed)
    sentences = seed_sentences()
    paragraphs = []
    for number in range(rows):
        body = rng.sample(sentences, rng.randint(2, 3))
        closing = rng.choice(NUMBERED).format(a=number + 1, b=rng.randint(2, 999))
        paragraphs.append(" ".join([*body, closing]))
    return paragraphs


def write_input(path: Path, rows: int, segments_per_document: int = 0) -> None:
    """The benchmark's input: id, text and a stance target per row, and the document of every
    segments_per_document consecutive rows where that is not 0."""
    texts = news_paragraphs(rows)
    table = pa.table(
        {"id": pa.array(range(rows), pa.int64()), "text": texts, "target": [TARGETS[row % len(TARGETS)] for row in range(rows)]}
    )
    if segments_per_document:
        table = table.append_column("document", pa.array([f"article-{row // segments_per_document}" for row in range(rows)]))
    pq.write_table(table, path)
    logger.info("%d rows (%d unique texts) in %s", rows, len(set(texts)), path)


def measure(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run a command to its end; its wall time and the peak RSS of its process tree (MiB)."""
    peak = 0.0
    with log.open("wb") as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, cwd=locations.PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT)

        def sample() -> None:
            nonlocal peak
            while child.poll() is None:
                peak = max(peak, tree_rss_mb(child.pid))
                time.sleep(SAMPLE_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        seconds = time.perf_counter() - started
        sampler.join()
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed with {code}:\n{log.read_text(errors='replace')[-3000:]}")
    return seconds, peak


def score_run(task: str, engine: str, source: Path, workdir: Path, uri: str, master: str, chunk_rows: int, rows: int) -> Run:
    """`python -m training score` of the task's champion with one engine."""
    name = DEFAULT_REGISTERED_NAMES[task]
    output = workdir / f"{task}-{engine}.parquet"
    command = [
        sys.executable, "-m", "training", "score", "--model-uri", f"models:/{name}@{CHAMPION}",
        "--input", str(source), "--output", str(output), "--engine", engine,
        *(["--master", master] if engine == "spark" else []), "--chunk-rows", str(chunk_rows),
    ]  # fmt: skip
    logger.info("%s, %s engine: %d rows", name, engine, rows)
    seconds, peak = measure(command, {**os.environ, "MLFLOW_TRACKING_URI": uri}, workdir / f"{task}-{engine}.log")
    written = pq.ParquetDataset(output).read(columns=["id"]).num_rows
    if written != rows:
        raise RuntimeError(f"{output} holds {written} rows, not {rows}")
    run = Run(name, engine if engine == "local" else f"spark {master}", rows, seconds, peak)
    logger.info("%s, %s: %.0f s, %.0f rows/s, peak %.0f MB", run.model, run.engine, run.seconds, run.rate, run.peak_mb)
    return run


def predict_ceiling(task: str, uri: str, rows: int) -> str:
    """Rows/s of one big `predict` of the champion in this process, on paragraphs its warm-up did not see."""
    import pandas as pd

    from classifiers.pyfunc import load_pyfunc

    model_store.use_store(uri)
    name = DEFAULT_REGISTERED_NAMES[task]
    model = load_pyfunc(f"models:/{name}@{CHAMPION}")
    # A seed of its own per model (the input's is 0): the encoders share an embedding cache in this process,
    # so the stance ceiling must not reuse the texts the topic ceiling just embedded.
    texts = news_paragraphs(rows + 16, seed=1 + list(DEFAULT_REGISTERED_NAMES).index(task))
    frame = pd.DataFrame({"text": texts, "target": [TARGETS[row % len(TARGETS)] for row in range(len(texts))]})
    if task == "topic":
        frame = frame[["text"]]
    model.predict(frame.iloc[rows:])  # warm-up on the last 16 rows
    started = time.perf_counter()
    model.predict(frame.iloc[:rows])
    rate = rows / (time.perf_counter() - started)
    logger.info("%s: in-process predict of %d rows, %.0f rows/s", name, rows, rate)
    return f"In-process ceiling of {name} (one `predict` of {rows} new rows in the benchmark process): {rate:.0f} rows/s."


def markdown(runs: list[Run], notes: list[str], rows: int, chunk_rows: int, segments_per_document: int = 0) -> str:
    """The table with how it was measured, and the notes below it."""
    articles = f" in articles of {segments_per_document} (a `document` column)" if segments_per_document else ""
    header = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_description()}, "
        f"Python {platform.python_version()}, by `python benchmarks/bench_scoring.py --rows {rows}`: {rows} unique news-like "
        "paragraphs"
        f"{articles} in one Parquet file, `python -m training score --chunk-rows {chunk_rows}` per run. Wall time is end to end "
        f"(process start, model load and Spark's JVM included); peak RSS is summed over the process tree (Spark's JVM "
        f"and Python workers included), sampled every {SAMPLE_S} s.\n\n"
    )
    table = markdown_table(
        ["model", "engine", "rows", "wall s", "rows/s", "peak RSS MB"],
        [[r.model, r.engine, r.rows, f"{r.seconds:.0f}", f"{r.rate:.0f}", f"{r.peak_mb:.0f}"] for r in runs],
        ["left", "left", "right", "right", "right", "right"],
    )
    return header + table + "\n\n" + "".join(f"- {note}\n" for note in notes)


@app.command()
def main(
    rows: Annotated[int, typer.Option(min=1, help="Rows to score.")] = 100_000,
    engines: Annotated[list[str] | None, typer.Option("--engine", help="local and/or spark (default: both).")] = None,
    models: Annotated[list[str] | None, typer.Option("--model", help="topic and/or stance (default: both).")] = None,
    master: Annotated[str, typer.Option(help="Spark master of the spark runs.")] = "local[2]",
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per model call.")] = 1000,
    segments_per_document: Annotated[
        int, typer.Option(min=0, help="Rows per article in a `document` column (0: no such column).")
    ] = 0,
    ceiling_rows: Annotated[int, typer.Option(min=0, help="Rows of the in-process predict (0: skip).")] = 2000,
    store: Annotated[str | None, typer.Option(help="Tracking URI with the champions (default: the repo store).")] = None,
    train: Annotated[bool, typer.Option("--train", help="Train the defaults into a temporary store first.")] = False,
    write: Annotated[bool, typer.Option("--write/--no-write", help="Write the table into docs/deploy.md.")] = True,
) -> None:
    """Score ROWS generated paragraphs with each champion and engine, and print (and record) the table."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engines, models = engines or ["local", "spark"], models or ["topic", "stance"]
    if unknown := sorted({*engines} - {"local", "spark"}) + sorted({*models} - set(DEFAULT_REGISTERED_NAMES)):
        raise typer.BadParameter(f"unknown engine(s)/model(s): {', '.join(unknown)}")
    if store is not None and train:
        # Else --store was ignored: the defaults were trained and scored in a store of this run's own.
        raise typer.BadParameter("--train trains into a temporary store of its own: leave --store out", param_hint="--store")
    uri = store or model_store.tracking_uri()
    if not train and not has_champions(uri):
        raise typer.BadParameter(f"{uri} has no {CHAMPION} of the default models: use --train", param_hint="--store")
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as scratch:
        workdir = Path(scratch)
        if train:
            uri = f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"
            train_defaults_into(uri)
        source = workdir / "news.parquet"
        write_input(source, rows, segments_per_document)
        runs = [
            score_run(task, engine, source, workdir, uri, master, chunk_rows, rows)
            for task in models
            for engine in engines
        ]
        # After the runs (a --train store lives in the scratch folder): the models this loads would otherwise
        # sit in memory beside every run.
        notes = [predict_ceiling(task, uri, ceiling_rows) for task in models] if ceiling_rows else []
    table = markdown(runs, notes, rows, chunk_rows, segments_per_document)
    typer.echo(table)
    if write:
        write_between_markers(DOC, MARKER, table)
        logger.info("wrote the table into %s", DOC)


if __name__ == "__main__":
    run_script(app)
