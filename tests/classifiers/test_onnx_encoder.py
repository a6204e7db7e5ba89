"""classifiers/onnx_encoder.py: exported graphs kept in the cache folder between loads."""

from __future__ import annotations

import logging
import weakref
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest

from classifiers import onnx_encoder
from classifiers.embedding_cache import fingerprint
from classifiers.encoder import MeanPooledEncoder
from classifiers.encoder_settings import PRECISION_VARIABLE, RUNTIME_VARIABLE

TEXTS = pd.DataFrame({"text": ["Oil prices fell sharply.", "Aid convoys reached the border crossing."]})


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder, an ONNX Runtime encoder, and no session left over from other tests (a new process)."""
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    folder = tmp_path / "onnx-cache"
    monkeypatch.setenv(onnx_encoder.CACHE_VARIABLE, str(folder))
    monkeypatch.setattr(onnx_encoder, "_SESSIONS", weakref.WeakValueDictionary())
    return folder


def _exports(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folders exported from here on (not counting int8 graphs quantised from a kept float graph)."""
    seen: list[Path] = []
    made = onnx_encoder._made_in_child

    def counting(folder: Path, quantized: bool, float_graph: Path | None) -> bytes:
        if float_graph is None:
            seen.append(folder)
        return made(folder, quantized, float_graph)

    monkeypatch.setattr(onnx_encoder, "_made_in_child", counting)
    return seen


def _damaged_float_graph(encoder: Path, cache: Path) -> Path:
    """The cache file of the encoder's float graph, holding something that is not a graph."""
    kept = onnx_encoder.cached_graph_path(fingerprint(encoder))
    assert kept is not None and kept.parent == cache
    cache.mkdir()
    kept.write_bytes(b"not a graph")
    return kept


def test_a_later_load_of_the_same_weights_reads_the_kept_graph_instead_of_exporting(
    tiny_encoder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = _exports(monkeypatch)
    first = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    expected = first.encode(TEXTS)
    kept = onnx_encoder.cached_graph_path(fingerprint(tiny_encoder))
    assert kept is not None and kept.parent == cache and kept.is_file()
    assert [path.name for path in cache.iterdir()] == [kept.name]  # no temporary file left beside it
    assert kept.stat().st_mode & 0o777 == 0o644  # readable by a server running as another user

    del first
    monkeypatch.setattr(onnx_encoder, "_SESSIONS", weakref.WeakValueDictionary())
    again = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    assert exports == [tiny_encoder]  # one export, for the first load only
    np.testing.assert_array_equal(again.encode(TEXTS), expected)


def test_a_damaged_graph_in_the_cache_is_exported_again_and_replaced(
    tiny_encoder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    kept = _damaged_float_graph(tiny_encoder, cache)
    exports = _exports(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="classifiers.onnx_encoder"):
        encoder = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    assert exports == [tiny_encoder]
    assert f"the cached encoder graph {kept} could not be loaded" in caplog.text
    assert kept.read_bytes() != b"not a graph"
    assert encoder.encode(TEXTS).shape == (2, 32)


def test_a_cache_that_cannot_be_written_costs_only_the_next_export(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    monkeypatch.setattr(onnx_encoder, "_SESSIONS", weakref.WeakValueDictionary())
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way", encoding="utf-8")
    monkeypatch.setenv(onnx_encoder.CACHE_VARIABLE, str(blocked / "onnx"))
    with caplog.at_level(logging.WARNING, logger="classifiers.onnx_encoder"):
        encoder = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    assert encoder.encode(TEXTS).shape == (2, 32)
    assert f"cannot keep the exported encoder in {blocked / 'onnx'}" in caplog.text
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]


def test_int8_weights_are_a_graph_of_their_own_that_embeds_close_to_the_float_one(
    tiny_encoder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = _exports(monkeypatch)
    floats = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime-int8")
    quantized = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)

    assert quantized.runtime == "onnxruntime-int8" and quantized._session is not floats._session
    assert exports == [tiny_encoder]  # the int8 graph is quantised from the float graph the first load kept
    key = fingerprint(tiny_encoder)
    kept, float_graph = onnx_encoder.cached_graph_path(key, quantized=True), onnx_encoder.cached_graph_path(key)
    assert kept is not None and kept.is_file() and kept != float_graph
    assert float_graph is not None
    before = Counter(node.op_type for node in onnx.load(float_graph).graph.node)
    after = Counter(node.op_type for node in onnx.load(kept).graph.node)
    # The products with a weight matrix became integer products; those of two activations (attention) stay float.
    assert after["MatMulInteger"] > 0 and after["MatMul"] + after["MatMulInteger"] == before["MatMul"]
    exact, approximate = floats.encode(TEXTS), quantized.encode(TEXTS)
    assert not np.array_equal(exact, approximate)
    assert np.min(np.sum(exact * approximate, axis=1)) > 0.95


def test_the_int8_graph_is_quantised_from_the_kept_float_graph_without_reading_the_weights(
    tiny_encoder: Path, cache: Path, tmp_path: Path
) -> None:
    MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    key = fingerprint(tiny_encoder)
    # A folder that does not exist: an export from it would fail.
    session = onnx_encoder.shared_session(tmp_path / "no-such-model", key, threads=1, quantized=True)
    kept = onnx_encoder.cached_graph_path(key, quantized=True)
    assert kept is not None and kept.is_file()
    assert "MatMulInteger" in {node.op_type for node in onnx.load(kept).graph.node}
    assert [given.name for given in session.get_inputs()] == list(onnx_encoder.INPUTS)


def test_a_damaged_float_graph_in_the_cache_costs_the_int8_graph_only_an_export(
    tiny_encoder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    float_graph = _damaged_float_graph(tiny_encoder, cache)
    exports = _exports(monkeypatch)
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime-int8")
    with caplog.at_level(logging.WARNING, logger="classifiers.onnx_encoder"):
        encoder = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    # Said by the child, logged here: it was exported again without a word.
    assert f"the kept float graph {float_graph} could not be quantised (" in caplog.text
    assert "exporting it again" in caplog.text
    assert encoder.encode(TEXTS).shape == (2, 32)
    assert exports == []  # the child was given the kept float graph and, unable to read it, exported instead
    assert float_graph.read_bytes() == b"not a graph"  # the float runtime's own load replaces it


def test_the_cache_folder_is_the_variable_else_the_users_cache_and_empty_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(onnx_encoder.CACHE_VARIABLE, str(tmp_path / "graphs"))
    assert onnx_encoder.graph_cache() == tmp_path / "graphs"
    monkeypatch.setenv(onnx_encoder.CACHE_VARIABLE, "")
    assert onnx_encoder.graph_cache() is None
    assert onnx_encoder.cached_graph_path("abc") is None
    monkeypatch.delenv(onnx_encoder.CACHE_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_encoder.graph_cache() == tmp_path / "xdg" / "news-classify" / "onnx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert onnx_encoder.graph_cache() == tmp_path / "home" / ".cache" / "news-classify" / "onnx"
