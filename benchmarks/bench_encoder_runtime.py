"""Which way of running the default encoder is fastest at the batch sizes the server sees?

    python benchmarks/bench_encoder_runtime.py [--rounds 3] [--threads 2] [--no-write]

Exports the packaged all-MiniLM-L6-v2 to ONNX as the service does (`classifiers.onnx_encoder`: torch.onnx.export,
dynamic batch and sequence axes; ONNX Runtime fuses it when the session loads) and a copy with int8 weights (what
`NEWS_ENCODER_RUNTIME=onnxruntime-int8` runs), loads a bfloat16 copy in PyTorch where the CPU
computes bfloat16 natively (AMX or AVX512-BF16: what `NEWS_ENCODER_PRECISION=auto` runs there), and checks how closely
each one's mean-pooled embeddings match PyTorch float32's (cosine over every seed paragraph). Then embeds the 106 seed
paragraphs, sorted by length as `classifiers.encoder` batches them, in calls of 1, 4, 16 and 32 rows, with each
runtime in turn for `--rounds` rounds, and reports the best rows/s of each (tokenisation and pooling included, as in
the service); and server-sized batches of mixed lengths in calls of 1 to 32 rows. The server's dynamic batching makes
batches of about 15-30 rows under load and of 1 row when idle. Prints Markdown tables and writes them into
docs/serving.md between the markers.
"""

from __future__ import annotations

import json
import logging
import platform
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import onnxruntime
import torch
import typer
from doc_markers import write_between_markers
from markdown_tables import aligned, markdown_table
from transformers import AutoModel, AutoTokenizer
from user_errors import run_script

from classifiers.config import PACKAGED_ENCODER
from classifiers.encoder import computes_bfloat16_natively, has_amx_tiles, resolve_encoder
from classifiers.onnx_encoder import export_graph, mean_pooled, pooled_embeddings, quantized_graph
from training import locations

logger = logging.getLogger("benchmarks.encoder_runtime")

DOC = locations.PROJECT_ROOT / "docs" / "serving.md"
MARKER = "bench:encoder_runtime"
ROWS_MARKER = "bench:encoder_rows_per_call"
BATCH_SIZES = (1, 4, 16, 32)
SERVER_BATCHES = (16, 32)
SERVER_BATCH_COUNT = 20
ROWS_PER_CALL = (1, 2, 4, 8, 16, 32)
MAX_LENGTH = 256

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
Embed = Callable[[list[str]], np.ndarray]


def runtimes(folder: Path, graph: bytes, threads: int, bfloat16: bool) -> dict[str, Embed]:
    """Embedding functions of the same texts: PyTorch float32 (the reference), ONNX Runtime (float32 and with int8
    weights), and PyTorch bfloat16."""
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    torch.set_num_threads(threads)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads

    def with_torch(dtype: torch.dtype) -> Embed:
        model = AutoModel.from_pretrained(folder, local_files_only=True, dtype=dtype).eval()

        def embed(texts: list[str]) -> np.ndarray:
            encoded = tokenizer(texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
            with torch.inference_mode():
                hidden = model(**encoded).last_hidden_state.float().numpy()
            return mean_pooled(hidden, encoded["attention_mask"].numpy())

        return embed

    def with_onnxruntime(graph: bytes) -> Embed:
        session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

        def embed(texts: list[str]) -> np.ndarray:
            encoded = tokenizer(texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="np")
            return pooled_embeddings(session, dict(encoded))

        return embed

    return {
        "PyTorch float32 (eager)": with_torch(torch.float32),
        "ONNX Runtime float32": with_onnxruntime(graph),
        "ONNX Runtime int8 weights": with_onnxruntime(quantized_graph(graph)),
        **({"PyTorch bfloat16 (eager)": with_torch(torch.bfloat16)} if bfloat16 else {}),
    }


def rows_per_second(embed: Embed, texts: list[str], batch: int) -> float:
    """Throughput of `embed` over `texts` in batches of `batch`."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embed(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


def server_batches(texts: list[str], size: int, count: int = SERVER_BATCH_COUNT) -> list[list[str]]:
    """`count` batches of `size` paragraphs in random order (seeded), as concurrent requests fill a server batch."""
    rng = random.Random(size)
    return [rng.sample(texts, size) for _ in range(count)]


def server_batch_rows_per_second(embed: Embed, batches: list[list[str]], rows: int) -> float:
    """Rows/s with each batch sorted by length and embedded in calls of `rows` rows, as `classifiers.encoder` does."""
    started = time.perf_counter()
    for batch in batches:
        ordered = sorted(batch, key=len)
        for start in range(0, len(ordered), rows):
            embed(ordered[start : start + rows])
    return sum(map(len, batches)) / (time.perf_counter() - started)


def rows_per_call_table(embed: dict[str, Embed], texts: list[str], rounds: int) -> str:
    """Best rows/s of server-sized batches of mixed lengths per runtime, batch size and rows per call."""
    cells = [(name, size, rows) for name in embed for size in SERVER_BATCHES for rows in ROWS_PER_CALL if rows <= size]
    best = dict.fromkeys(cells, 0.0)
    batches = {size: server_batches(texts, size) for size in SERVER_BATCHES}
    for _ in range(rounds):
        for name, size, rows in best:
            rate = server_batch_rows_per_second(embed[name], batches[size], rows)
            best[name, size, rows] = max(best[name, size, rows], rate)
    return "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, same command: server batches of mixed lengths, "
            f"{SERVER_BATCH_COUNT} batches of {' and of '.join(map(str, SERVER_BATCHES))} seed paragraphs drawn at random, "
            f"each sorted by length and embedded in calls of "
            f"the given rows, best of {rounds} rounds, rows/s. "
            f"AMX tiles on this CPU: {'yes' if has_amx_tiles() else 'no'}.",
            "",
            rows_per_call_grid(best, list(embed)),
        ]
    )


def rows_per_call_grid(best: dict[tuple[str, int, int], float], names: list[str]) -> str:
    """The table of rows/s per runtime, server batch size and rows per call; blank where a call would exceed the batch."""
    headers = ["runtime", "server batch", *(f"{rows} row{'s' if rows > 1 else ''} per call" for rows in ROWS_PER_CALL)]
    cells = [
        [name, size, *(f"{best[name, size, rows]:.1f}" if rows <= size else "" for rows in ROWS_PER_CALL)]
        for name in names
        for size in SERVER_BATCHES
    ]
    return markdown_table(headers, cells, aligned(("left", 1), ("right", len(headers) - 1)))


def batch_size_grid(best: dict[str, dict[int, float]]) -> str:
    """The table of rows/s per runtime and batch size."""
    headers = ["runtime", *(f"{batch} row{'s' if batch > 1 else ''} per call" for batch in BATCH_SIZES)]
    cells = [[name, *(f"{best[name][batch]:.1f}" for batch in BATCH_SIZES)] for name in best]
    return markdown_table(headers, cells, aligned(("left", 1), ("right", len(BATCH_SIZES))))


@app.command()
def main(
    rounds: Annotated[int, typer.Option(min=1, help="Rounds per runtime and batch size; the best counts.")] = 3,
    threads: Annotated[int, typer.Option(min=1, help="Threads of each runtime.")] = 2,
    write: Annotated[bool, typer.Option(help="Write the table into docs/serving.md.")] = True,
) -> None:
    """Rows/s of the packaged encoder under each runtime (PyTorch float32, ONNX Runtime float32 and int8, PyTorch
    bfloat16 where the CPU computes it natively) in calls of 1 to 32 seed paragraphs, and how closely each one's
    embeddings match PyTorch float32's; print the tables and write them into docs/serving.md. About 5 minutes a round
    on 2 cores (--rounds 1 is the quickest run)."""
    # ONNX Runtime's quantiser logs every tensor it visits at INFO on the root logger.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    folder = resolve_encoder(PACKAGED_ENCODER)
    segments = locations.SEGMENTS_PATH.read_text(encoding="utf-8").splitlines()
    texts = sorted((json.loads(line)["text"] for line in segments), key=len)
    # Where bfloat16 is emulated (no AMX or AVX512-BF16) it is slower than float32 and `auto` never takes it; measuring
    # it there takes most of an hour.
    embed = runtimes(folder, export_graph(folder), threads, bfloat16=computes_bfloat16_natively())
    reference, *others = (function(texts) for function in embed.values())
    agreement = {
        name: float((reference * other).sum(axis=1).min()) for name, other in zip(list(embed)[1:], others, strict=True)
    }
    best = {name: {batch: 0.0 for batch in BATCH_SIZES} for name in embed}
    for _ in range(rounds):
        for batch in BATCH_SIZES:
            # Alternating runtimes within a round spreads the machine's drift over both.
            for name, function in embed.items():
                function(texts[:batch])
                best[name][batch] = max(best[name][batch], rows_per_second(function, texts, batch))
    rows_table = rows_per_call_table(embed, texts, rounds)
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {threads} threads per runtime, {platform.machine()}, "
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, by "
        f"`python benchmarks/bench_encoder_runtime.py --rounds {rounds} --threads {threads}`: the {len(texts)} seed "
        f"paragraphs in length order, best of {rounds} rounds, rows/s (tokenising and pooling included).",
        "",
        batch_size_grid(best),
        "",
        *(f"- Lowest cosine of a paragraph's embedding to PyTorch float32's: {name} {cosine:.6f}." for name, cosine in agreement.items()),
        f"- bfloat16 matrix products in hardware (AMX or AVX512-BF16) on this CPU: {'yes' if computes_bfloat16_natively() else 'no'}.",
    ]
    table = "\n".join(lines)
    typer.echo(f"{table}\n\n{rows_table}")
    if write:
        write_between_markers(DOC, MARKER, table)
        write_between_markers(DOC, ROWS_MARKER, rows_table)
        logger.info("wrote the tables into %s", DOC)


if __name__ == "__main__":
    run_script(app)
