"""A BERT encoder exported to ONNX and run by ONNX Runtime on the CPU.

On CPUs without bfloat16 hardware the encoder computes in float32, and there ONNX Runtime embeds a server's
batches 1.2-1.3x as fast as PyTorch (about 2x one text per call) with the same embeddings (cosine >= 0.999999;
benchmarks/bench_encoder_runtime.py, docs/serving.md). The graph is exported from the saved weights when a model
loads, so models registered before this runtime existed run on it too and no artifact grows, and kept in a cache
folder (NEWS_ONNX_CACHE) so that later loads of the same weights, in any process, skip the export. On request
(NEWS_ENCODER_RUNTIME=onnxruntime-int8) the graph's matrix products take int8 weights: about 1.5x as fast, at the
cost of embeddings a little off the float ones (cosine about 0.99), which moves some labels.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import tempfile
import threading
import warnings
import weakref
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime
    import torch

logger = logging.getLogger(__name__)

CACHE_VARIABLE = "NEWS_ONNX_CACHE"
# Part of a cached graph's name: raised when export_graph changes what it writes, so older files are not read.
GRAPH_FORMAT = 1
OPSET = 17
# What the traced module takes and returns, by name: the session is fed by these names.
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
# About 7 s for all-MiniLM-L6-v2 on 2 cores; a child still at work after this long is stuck.
EXPORT_TIMEOUT_S = 300
# The package's parent folder, for the exporting child to import this module from wherever the parent did (a
# registered model's code travels as MLflow code_paths, outside site-packages).
_IMPORT_ROOT = Path(__file__).resolve().parent.parent
# Every loaded encoder with the same weights (the topic and stance models of a server) shares one session, kept
# while one of them holds it; keyed by classifiers.embedding_cache.fingerprint.
_SESSIONS: weakref.WeakValueDictionary[str, onnxruntime.InferenceSession] = weakref.WeakValueDictionary()
_SESSIONS_LOCK = threading.Lock()


class OnnxExportError(RuntimeError):
    """The encoder could not be exported to ONNX."""


def _hidden_states_module(model: torch.nn.Module) -> torch.nn.Module:
    """The encoder with positional inputs and one output, as torch.onnx.export traces it."""
    import torch

    class HiddenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, use_cache=False
            ).last_hidden_state

    return HiddenStates()


def export_graph(folder: Path) -> bytes:
    """The BERT encoder saved in folder as an ONNX graph (float32, dynamic batch and sequence axes).

    ONNX Runtime fuses its attention, GELU and layer norms when a session loads it (its extended graph
    optimisations), as fast as onnxruntime's offline BERT optimizer made it. Tracing leaves a few hundred MB of
    allocations behind in the process that runs it, which is why `shared_session` runs it in a child process.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32).eval()
    example = tokenizer(["a short one", "and a somewhat longer second text"], padding=True, return_tensors="pt")
    graph = io.BytesIO()
    with warnings.catch_warnings():
        # The tracer warns about every Python branch on a tensor in transformers' code; the axes that matter are
        # declared dynamic below, and the tests compare the result with PyTorch's on other shapes.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _hidden_states_module(model),
            tuple(example[name] for name in INPUTS),
            graph,  # type: ignore[arg-type]  # typed as a path, but the TorchScript exporter (dynamo=False) takes a file object
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*INPUTS, OUTPUT]},
            opset_version=OPSET,
            dynamo=False,
        )
    return graph.getvalue()


def quantized_graph(graph: bytes) -> bytes:
    """The graph with the weights of its matrix products quantised to int8 (ONNX Runtime's dynamic quantisation).

    Per output channel and in 7 bits (reduce_range): on CPUs without VNNI instructions 8-bit products can overflow
    their 16-bit intermediate sums, and per-channel scales keep the embeddings closest to the float ones (cosine
    0.988 at worst over the seed paragraphs, against 0.938 with one scale per matrix; 2026-12-04).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="encoder-int8-") as scratch:
        source, target = Path(scratch) / "float.onnx", Path(scratch) / "int8.onnx"
        source.write_bytes(graph)
        quantize_dynamic(
            source, target, op_types_to_quantize=["MatMul"], per_channel=True, reduce_range=True, weight_type=QuantType.QInt8
        )
        return target.read_bytes()


def write_graph(folder: str, target: str, quantized: str = "", float_graph: str = "") -> None:
    """Write the graph of the encoder in folder to the file target (what the exporting child process runs): exported
    from its weights, quantised when `quantized` is "int8"; an int8 graph is quantised from float_graph instead, the
    float graph an earlier load kept, where one is given and can be read."""
    graph = _quantized_kept(Path(float_graph)) if quantized == "int8" and float_graph else None
    if graph is None:
        exported = export_graph(Path(folder))
        graph = quantized_graph(exported) if quantized == "int8" else exported
    Path(target).write_bytes(graph)


def _quantized_kept(float_graph: Path) -> bytes | None:
    """The int8 graph of a kept float graph; None where that file is damaged or gone (the caller exports instead), said
    on stderr for the parent to log."""
    try:
        return quantized_graph(float_graph.read_bytes())
    except Exception as err:  # noqa: BLE001 - the protobuf reader's and the quantiser's errors derive from Exception alone
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        said = f"the kept float graph {float_graph} could not be quantised ({reason}): exporting it again"
        sys.stderr.write(f"{CHILD_NOTE}{said}\n")
        return None


# Marks what the exporting child says for its parent to log: the rest of its stderr (PyTorch's export warnings) is
# read only when the export fails.
CHILD_NOTE = "note: "


def _made_in_child(folder: Path, quantized: bool, float_graph: Path | None) -> bytes:
    with tempfile.TemporaryDirectory(prefix="encoder-onnx-") as scratch:
        target = Path(scratch) / "encoder.onnx"
        code = "import sys; from classifiers.onnx_encoder import write_graph; write_graph(*sys.argv[1:])"
        path = os.pathsep.join(filter(None, [str(_IMPORT_ROOT), os.environ.get("PYTHONPATH")]))
        source = "" if float_graph is None else str(float_graph)
        try:
            done = subprocess.run(
                [sys.executable, "-c", code, str(folder), str(target), "int8" if quantized else "", source],
                env={**os.environ, "PYTHONPATH": path},
                capture_output=True,
                text=True,
                check=False,
                timeout=EXPORT_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as err:
            # A load that never returns would hold a server's startup or reload forever.
            raise OnnxExportError(
                f"exporting the encoder in {folder} to ONNX took over {EXPORT_TIMEOUT_S} s and was stopped "
                f"(NEWS_ENCODER_RUNTIME=torch runs it without the export)"
            ) from err
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or ["no message"]
            raise OnnxExportError(f"exporting the encoder in {folder} to ONNX failed: {last[0]}")
        for line in done.stderr.splitlines():
            if line.startswith(CHILD_NOTE):
                logger.warning("%s", line.removeprefix(CHILD_NOTE))
        return target.read_bytes()


def graph_cache() -> Path | None:
    """Where exported graphs are kept between loads: NEWS_ONNX_CACHE, else news-classify/onnx in the user's cache
    folder (XDG_CACHE_HOME, else ~/.cache); None when the variable is set but empty (export at every load)."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "news-classify" / "onnx"


def cached_graph_path(key: str, quantized: bool = False) -> Path | None:
    """The cache file of the graph of the weights with this key (quantised to int8 or not), as this environment's
    exporter writes it."""
    folder = graph_cache()
    if folder is None:
        return None
    # The traced graph depends on the exporter (torch) and the model's code (transformers) as well as the weights;
    # a quantised one also on the quantiser (onnxruntime).
    made_by = f"torch{version('torch')}-transformers{version('transformers')}"
    if quantized:
        made_by = f"int8-{made_by}-onnxruntime{version('onnxruntime')}"
    return folder / f"{key}-v{GRAPH_FORMAT}-{made_by.replace('+', '_')}.onnx"


def _keep(graph: bytes, path: Path) -> None:
    """Write the graph to path whole or not at all; a cache that cannot be written costs only the next export."""
    scratch: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".", suffix=".tmp", delete=False) as handle:
            scratch = Path(handle.name)
            handle.write(graph)
        # The temporary file's private 0600 would survive the move: a server running as another user could not read it.
        scratch.chmod(0o644)
        os.replace(scratch, path)
    except OSError as err:
        if scratch is not None:
            scratch.unlink(missing_ok=True)
        logger.warning(
            "cannot keep the exported encoder in %s (%s): the next load exports it again (%s names a writable folder, "
            "or set it empty to skip the cache)",
            path.parent,
            err,
            CACHE_VARIABLE,
        )


def shared_session(folder: Path, key: str, threads: int, quantized: bool = False) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session of the encoder in folder (its matrix products' weights in int8 when quantized), shared
    by every caller with the same key (its weights) and quantisation; the graph comes from the cache folder where an
    earlier load left it, else from an export (then kept there), which an int8 graph skips where the float one is kept."""
    import onnxruntime

    shared = f"{key} int8" if quantized else key
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(shared)
        if session is None:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            cached = cached_graph_path(key, quantized)
            if cached is not None and cached.is_file():
                try:
                    session = onnxruntime.InferenceSession(str(cached), options, providers=["CPUExecutionProvider"])
                except Exception as err:  # noqa: BLE001 - ONNX Runtime's load errors derive from Exception alone
                    logger.warning("the cached encoder graph %s could not be loaded (%s): exporting it again", cached, err)
            if session is None:
                # The float graph an earlier load kept spares the int8 graph an export (about 10 s on 2 cores).
                float_graph = cached_graph_path(key) if quantized else None
                graph = _made_in_child(folder, quantized, float_graph if float_graph and float_graph.is_file() else None)
                if cached is not None:
                    _keep(graph, cached)
                session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
            _SESSIONS[shared] = session
        return session


def pooled_embeddings(session: onnxruntime.InferenceSession, encoded: dict[str, np.ndarray]) -> np.ndarray:
    """Unit-length mean-pooled embeddings of tokenised rows (padding excluded), computed in NumPy."""
    return unit_means(*token_sums(session, encoded))


def token_sums(session: onnxruntime.InferenceSession, encoded: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per tokenised row, the sum of its token vectors over the unpadded positions, and how many there are.

    In NumPy, not torch: a torch operation after each ONNX Runtime call wakes torch's thread pool beside ONNX Runtime's,
    and on 2 cores the two pools' spinning cost a quarter of the throughput (77-88 rows/s against 105-113).
    """
    (hidden,) = session.run([OUTPUT], {name: encoded[name] for name in INPUTS})
    weights = encoded["attention_mask"][..., None].astype(hidden.dtype)
    return (hidden * weights).sum(axis=1), weights.sum(axis=1)


def mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Token vectors averaged over the unpadded positions, scaled to unit length."""
    weights = mask[..., None].astype(hidden.dtype)
    return unit_means((hidden * weights).sum(axis=1), weights.sum(axis=1))


def unit_means(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sums of token vectors divided by their counts (rows x 1), scaled to unit length."""
    vectors = sums / np.maximum(counts, 1e-9)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
