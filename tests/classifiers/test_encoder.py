"""classifiers/encoder.py: the precision and runtime the encoder computes with, the rows per forward call, and what it saves."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from classifiers import encoder as encoder_module
from classifiers import onnx_encoder
from classifiers.config import PACKAGED_ENCODER
from classifiers.encoder import (
    MeanPooledEncoder,
    computes_bfloat16_natively,
    encoder_dtype,
    encoder_runtime,
    prediction_rows_per_call,
    resolve_encoder,
)
from classifiers.encoder_settings import PRECISION_VARIABLE, ROWS_VARIABLE, RUNTIME_VARIABLE
from classifiers.errors import UserInputError
from classifiers.interface import TextReading
from classifiers.onnx_encoder import OnnxExportError

TEXTS = pd.DataFrame(
    {
        "text": [
            "Israeli jets struck positions in southern Lebanon overnight.",
            "Oil prices fell sharply after the ceasefire was announced.",
            "Aid convoys reached the displaced families near the border.",
        ]
    }
)


@pytest.mark.parametrize(("requested", "expected"), [("float32", torch.float32), ("bfloat16", torch.bfloat16)])
def test_an_explicit_precision_is_used_on_any_machine(
    monkeypatch: pytest.MonkeyPatch, requested: str, expected: torch.dtype
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, requested)
    assert encoder_dtype(torch.device("cpu")) == expected


@pytest.mark.parametrize("native", [True, False])
def test_auto_takes_bfloat16_only_where_the_cpu_computes_it(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.delenv(PRECISION_VARIABLE, raising=False)
    monkeypatch.setattr(encoder_module, "computes_bfloat16_natively", lambda: native)
    assert encoder_dtype(torch.device("cpu")) == (torch.bfloat16 if native else torch.float32)
    # A GPU keeps float32: the speed-up was measured on CPUs only.
    assert encoder_dtype(torch.device("cuda")) == torch.float32


@pytest.mark.parametrize(("amx", "avx512_bf16"), [(True, False), (False, True), (False, False)])
def test_bfloat16_counts_as_native_with_amx_or_avx512_bf16(monkeypatch: pytest.MonkeyPatch, amx: bool, avx512_bf16: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    assert computes_bfloat16_natively() == (amx or avx512_bf16)


def test_an_unknown_precision_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "fp8")
    with pytest.raises(UserInputError, match=rf"{PRECISION_VARIABLE}='fp8': must be one of auto, float32, bfloat16"):
        encoder_dtype(torch.device("cpu"))


def _encoder(folder: Path, precision: str, monkeypatch: pytest.MonkeyPatch) -> MeanPooledEncoder:
    monkeypatch.setenv(PRECISION_VARIABLE, precision)
    return MeanPooledEncoder(folder, max_length=64, batch_size=2, cache=True)


def test_bfloat16_embeddings_match_float32_and_the_saved_weights_stay_float32(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = _encoder(tiny_encoder, "float32", monkeypatch).encode(TEXTS)
    fast = _encoder(tiny_encoder, "bfloat16", monkeypatch)
    approximate = fast.encode(TEXTS)
    assert approximate.dtype == np.float32
    assert (exact * approximate).sum(axis=1).min() > 0.99

    fast.save(tmp_path / "saved")
    saved = load_file(str(tmp_path / "saved" / "model.safetensors"))
    original = load_file(str(tiny_encoder / "model.safetensors"))
    assert {name: tensor.dtype for name, tensor in saved.items()} == {name: torch.float32 for name in saved}
    assert saved.keys() == original.keys()
    assert all(torch.equal(saved[name], original[name]) for name in original)
    # Loading the saved copy as float32 embeds exactly as the float32 encoder of the original did.
    reloaded = _encoder(tmp_path / "saved", "float32", monkeypatch)
    np.testing.assert_array_equal(reloaded.encode(TEXTS), exact)


@pytest.mark.parametrize(("amx", "expected"), [(True, 32), (False, 8)])
def test_auto_rows_per_call_keep_the_batch_size_only_with_amx_or_a_gpu(
    monkeypatch: pytest.MonkeyPatch, amx: bool, expected: int
) -> None:
    monkeypatch.delenv(ROWS_VARIABLE, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert prediction_rows_per_call(32, torch.device("cpu")) == expected
    # Never more rows than the model was configured with; a GPU takes the configured batch.
    assert prediction_rows_per_call(4, torch.device("cpu")) == 4
    assert prediction_rows_per_call(32, torch.device("cuda")) == 32


def test_an_explicit_rows_per_call_is_used_and_a_bad_one_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ROWS_VARIABLE, "12")
    assert prediction_rows_per_call(32, torch.device("cpu")) == 12
    for bad in ("0", "-4", "eight", "2.5"):
        monkeypatch.setenv(ROWS_VARIABLE, bad)
        with pytest.raises(UserInputError, match=rf"{ROWS_VARIABLE}='{re.escape(bad)}': must be auto or a positive"):
            prediction_rows_per_call(32, torch.device("cpu"))


def test_prediction_calls_take_the_rows_per_call_and_training_the_batch_size(
    tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(ROWS_VARIABLE, "1")
    monkeypatch.setenv(RUNTIME_VARIABLE, "torch")
    training = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3, cache=True)
    serving = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    calls: dict[str, list[int]] = {"training": [], "serving": []}
    for name, encoder in (("training", training), ("serving", serving)):
        assert encoder.model is not None
        forward = encoder.model.forward

        def counted(
            *args: object, name: str = name, forward: Callable[..., object] = forward, **kwargs: torch.Tensor
        ) -> object:
            calls[name].append(len(kwargs["input_ids"]))
            return forward(*args, **kwargs)

        monkeypatch.setattr(encoder.model, "forward", counted)
    texts = pd.DataFrame({"text": [f"{text} ({number})" for number in range(2) for text in TEXTS["text"]]})
    np.testing.assert_allclose(serving.encode(texts), training.encode(texts), atol=1e-5)
    assert calls == {"training": [3, 3], "serving": [1] * 6}


@pytest.mark.parametrize("requested", ["auto", "onnxruntime", "onnxruntime-int8"])
def test_onnxruntime_runs_a_float32_cpu_encoder_and_auto_keeps_torch_elsewhere(
    monkeypatch: pytest.MonkeyPatch, requested: str
) -> None:
    monkeypatch.setenv(RUNTIME_VARIABLE, requested)
    # auto never quantises: int8 weights move labels, so they are only ever asked for.
    expected = "onnxruntime" if requested == "auto" else requested
    assert encoder_runtime(torch.device("cpu"), torch.float32, "bert") == expected
    if requested == "auto":
        assert encoder_runtime(torch.device("cpu"), torch.bfloat16, "bert") == "torch"
        assert encoder_runtime(torch.device("cuda"), torch.float32, "bert") == "torch"
        assert encoder_runtime(torch.device("cpu"), torch.float32, "roberta") == "torch"
    else:
        refusal = rf"{RUNTIME_VARIABLE}={requested} runs BERT encoders in float32 on a CPU; this one is 'bert' in bfloat16 on cpu"
        with pytest.raises(UserInputError, match=rf"{refusal} \(set {PRECISION_VARIABLE}=float32"):
            encoder_runtime(torch.device("cpu"), torch.bfloat16, "bert")
    monkeypatch.setenv(RUNTIME_VARIABLE, "torch")
    assert encoder_runtime(torch.device("cpu"), torch.float32, "bert") == "torch"
    monkeypatch.setenv(RUNTIME_VARIABLE, "tensorrt")
    with pytest.raises(
        UserInputError, match=rf"{RUNTIME_VARIABLE}='tensorrt': must be one of auto, torch, onnxruntime, onnxruntime-int8"
    ):
        encoder_runtime(torch.device("cpu"), torch.float32, "bert")


def test_without_onnxruntime_installed_auto_keeps_torch_and_an_explicit_request_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As in an environment built from the requirements of a model registered before the runtime existed.
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setenv(RUNTIME_VARIABLE, "auto")
    assert encoder_runtime(torch.device("cpu"), torch.float32, "bert") == "torch"
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    with pytest.raises(UserInputError, match=rf"{RUNTIME_VARIABLE}=onnxruntime needs the packages onnx and onnxruntime"):
        encoder_runtime(torch.device("cpu"), torch.float32, "bert")


def test_auto_rows_per_call_under_onnxruntime_are_at_most_four(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROWS_VARIABLE, raising=False)
    assert prediction_rows_per_call(32, torch.device("cpu"), "onnxruntime") == 4
    assert prediction_rows_per_call(32, torch.device("cpu"), "onnxruntime-int8") == 4
    assert prediction_rows_per_call(2, torch.device("cpu"), "onnxruntime") == 2
    monkeypatch.setenv(ROWS_VARIABLE, "12")
    assert prediction_rows_per_call(32, torch.device("cpu"), "onnxruntime") == 12


def test_a_prediction_encoder_on_onnxruntime_embeds_texts_and_pairs_as_pytorch_does(
    tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    fast = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    again = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    monkeypatch.setenv(RUNTIME_VARIABLE, "torch")
    reference = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3)
    # Training keeps PyTorch whatever the variable says: its figures are PyTorch's.
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    training = MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3, cache=True)

    assert (fast.runtime, reference.runtime, training.runtime) == ("onnxruntime", "torch", "torch")
    # One export for the encoders of the same weights.
    assert fast._session is again._session is not None
    pairs = pd.DataFrame(
        {
            "text": [*TEXTS["text"], "Talks resumed in Doha with both delegations present."],
            "target": ["Israel", "oil", "aid", "Qatar"],
        }
    )
    for inputs in (TEXTS, pairs):
        np.testing.assert_allclose(fast.encode(inputs), reference.encode(inputs), atol=1e-5)
    # The session holds the weights: no PyTorch copy beside it, so PyTorch cannot be what answered.
    assert fast.model is None and reference.model is not None
    assert fast.dimension == reference.dimension == 32


def test_an_encoder_saved_from_onnxruntime_keeps_the_float32_weights(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    MeanPooledEncoder(tiny_encoder, max_length=64, batch_size=3).save(tmp_path / "saved")
    saved = load_file(str(tmp_path / "saved" / "model.safetensors"))
    original = load_file(str(tiny_encoder / "model.safetensors"))
    assert saved.keys() == original.keys()
    assert all(torch.equal(saved[name], original[name]) for name in original)


def test_a_failed_export_names_the_encoder_and_the_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    broken = tmp_path / "broken"
    broken.mkdir()
    # A BERT config and tokenizer without weights: the exporting child cannot load the model.
    from transformers import AutoTokenizer, BertConfig

    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(broken)
    AutoTokenizer.from_pretrained(resolve_encoder(PACKAGED_ENCODER), local_files_only=True).save_pretrained(broken)
    with pytest.raises(OnnxExportError, match=rf"exporting the encoder in {re.escape(str(broken))} to ONNX failed: \w+"):
        MeanPooledEncoder(broken, max_length=64, batch_size=3)


def test_an_export_that_does_not_finish_is_stopped_and_named(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    monkeypatch.setattr(onnx_encoder, "EXPORT_TIMEOUT_S", 0.01)
    # Weights no session holds yet, so the load must export.
    fresh = shutil.copytree(tiny_encoder, tmp_path / "changed")
    weights = load_file(str(fresh / "model.safetensors"))
    save_file({name: tensor + 1e-3 for name, tensor in weights.items()}, str(fresh / "model.safetensors"))
    with pytest.raises(OnnxExportError, match=r"took over 0.01 s and was stopped \(NEWS_ENCODER_RUNTIME=torch"):
        MeanPooledEncoder(fresh, max_length=64, batch_size=3)


# Words the packaged tokenizer keeps whole: a text of n of them is n word pieces.
WORDS = "the army said talks would resume after the strikes on the border town ended".split()


def _words(count: int, offset: int = 0) -> str:
    return " ".join(WORDS[(offset + index) % len(WORDS)] for index in range(count))


def _mean_over_windows(folder: Path, windows: list[str], targets: list[str] | None = None) -> np.ndarray:
    """The unit-length mean of every word-piece vector of the given windows, computed with transformers directly."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    first, second = (targets, windows) if targets is not None else (windows, None)
    encoded = tokenizer(first, second, return_tensors="pt", padding=True)
    with torch.inference_mode():
        hidden = model(**encoded).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).float()
    vector = ((hidden * mask).sum(dim=(0, 1)) / mask.sum()).numpy()
    return vector / np.linalg.norm(vector)


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_a_long_text_is_read_whole_in_windows_and_embedded_as_the_mean_of_all_its_word_pieces(
    tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(RUNTIME_VARIABLE, runtime)
    monkeypatch.setenv(ROWS_VARIABLE, "1")
    # max_length 16 leaves 14 word pieces of text per window beside [CLS] and [SEP] (12 beside a one-piece target).
    windows = MeanPooledEncoder(tiny_encoder, max_length=16, batch_size=4)
    truncating = MeanPooledEncoder(tiny_encoder, max_length=16, batch_size=4, long_texts="truncate")
    head, middle, tail = _words(14), _words(14, offset=3), _words(5, offset=7)
    long_text = f"{head} {middle} {tail}"
    texts = pd.DataFrame({"text": [long_text, head]})

    read = windows.encode(texts)
    np.testing.assert_allclose(read[0], _mean_over_windows(tiny_encoder, [head, middle, tail]), atol=1e-5)
    # A text within one window is embedded as before.
    np.testing.assert_allclose(read[1], truncating.encode(texts)[1], atol=1e-6)
    # Truncating reads the first window alone, so the rest changes nothing.
    np.testing.assert_allclose(truncating.encode(texts)[0], truncating.encode(pd.DataFrame({"text": [head]}))[0], atol=1e-6)
    assert float(read[0] @ truncating.encode(texts)[0]) < 0.999

    # A (target, text) pair: the target in every window, beside the next 12 word pieces of the text.
    pair = pd.DataFrame({"text": [f"{_words(12)} {_words(12, offset=5)} {_words(3, offset=1)}"], "target": ["israel"]})
    expected = _mean_over_windows(tiny_encoder, [_words(12), _words(12, offset=5), _words(3, offset=1)], ["israel"] * 3)
    np.testing.assert_allclose(windows.encode(pair)[0], expected, atol=1e-5)


def test_windows_are_embedded_rows_per_call_at_a_time_with_the_same_result(
    tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(RUNTIME_VARIABLE, "torch")
    texts = pd.DataFrame({"text": [_words(40), _words(3), _words(70, offset=2), _words(15, offset=4)]})
    monkeypatch.setenv(ROWS_VARIABLE, "4")
    together = MeanPooledEncoder(tiny_encoder, max_length=16, batch_size=4)
    calls: list[int] = []
    assert together.model is not None
    forward = together.model.forward

    def counted(*args: object, **kwargs: torch.Tensor) -> object:
        calls.append(len(kwargs["input_ids"]))
        return forward(*args, **kwargs)

    monkeypatch.setattr(together.model, "forward", counted)
    embedded = together.encode(texts)
    # 3 + 1 + 5 + 2 windows of up to 14 word pieces, never more than 4 in one forward pass.
    assert sum(calls) == 11 and max(calls) == 4
    monkeypatch.setenv(ROWS_VARIABLE, "1")
    one_at_a_time = MeanPooledEncoder(tiny_encoder, max_length=16, batch_size=4).encode(texts)
    np.testing.assert_allclose(embedded, one_at_a_time, atol=1e-5)


def test_the_saved_encoder_keeps_how_it_reads_long_texts_and_an_older_one_truncates(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    monkeypatch.setenv(RUNTIME_VARIABLE, "torch")
    texts = pd.DataFrame({"text": [_words(50)]})
    for long_texts in ("windows", "truncate"):
        encoder = MeanPooledEncoder(tiny_encoder, max_length=16, batch_size=4, long_texts=long_texts)
        encoder.save(tmp_path / long_texts)
        loaded = MeanPooledEncoder.load(tmp_path / long_texts)
        assert loaded.long_texts == long_texts
        assert loaded.reading() == TextReading(whole=long_texts == "windows", max_length=16)
        # A truncating encoder's settings are those code from before long texts were read whole loads (and reads alike).
        settings = json.loads((tmp_path / long_texts / encoder_module.SETTINGS_FILE).read_text(encoding="utf-8"))
        assert ("long_texts" in settings) == (long_texts == "windows")
        np.testing.assert_allclose(loaded.encode(texts), encoder.encode(texts), atol=1e-6)
    # Saved before long texts were read in windows: no such setting, and it read the first window only.
    settings = tmp_path / "windows" / encoder_module.SETTINGS_FILE
    settings.write_text('{"max_length": 16, "batch_size": 4}', encoding="utf-8")
    assert MeanPooledEncoder.load(tmp_path / "windows").long_texts == "truncate"


@pytest.mark.parametrize("family", ["frozen_encoder", "descriptions", "finetune", "setfit", "pair_features"])
def test_a_max_length_past_the_encoders_positions_is_refused_naming_the_limit(tiny_encoder: Path, family: str) -> None:
    # Its position embeddings end at 512: a longer window failed in PyTorch with a tensor size mismatch.
    from classifiers.registry import classifier_factory, get_family

    settings: dict[str, object] = {"family": family, "encoder": str(tiny_encoder), "max_length": 513}
    if family in ("descriptions", "setfit"):
        settings["descriptions"] = {"a": ["About a."], "b": ["About b."]}
    config = get_family(family).config.model_validate(settings)
    task = "stance" if family == "pair_features" else "topic"
    with pytest.raises(UserInputError, match=r"model\.max_length=513: encoder .* reads at most 512 word pieces in one pass"):
        classifier_factory(config, task, 0)
    assert resolve_encoder(str(tiny_encoder), max_length=512) == tiny_encoder


INPUTS = pd.DataFrame(
    {
        "text": ["Rockets hit the base.", "Ministers met for talks.", "Drones struck a convoy.", "Envoys signed a deal."],
        "target": ["Israel", "Iran", "Israel", "Iran"],
    }
)


def test_unknown_encoder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="never downloaded"):
        resolve_encoder(str(tmp_path / "missing"))


def test_a_folder_that_is_no_transformers_model_is_named_from_its_small_files(tiny_encoder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"name": "not a model"}', encoding="utf-8")
    with pytest.raises(UserInputError, match=rf"^encoder '{re.escape(str(other))}' is not a transformers model folder: .*model_type"):
        resolve_encoder(str(other))
    # A config and tokenizer without weights: found before a training run would fail reading them.
    unweighted = shutil.copytree(tiny_encoder, tmp_path / "unweighted")
    (unweighted / "model.safetensors").unlink()
    with pytest.raises(UserInputError, match=rf"^encoder '{re.escape(str(unweighted))}' holds no model weights \(model.safetensors, "):
        resolve_encoder(str(unweighted))


def test_encoder_embeds_pairs_and_caches(tiny_encoder: Path) -> None:
    encoder = MeanPooledEncoder(tiny_encoder, max_length=32, batch_size=2, cache=True)
    first = encoder.encode(INPUTS)
    assert first.shape == (4, 32)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    # The pair (target, text) differs from the text alone.
    assert not np.allclose(first[0], encoder.encode(INPUTS[["text"]].head(1))[0])
    assert np.allclose(encoder.encode(INPUTS.iloc[::-1])[::-1], first, atol=1e-6)



def test_a_target_longer_than_the_window_is_read_up_to_half_of_it_beside_the_text(tiny_encoder: Path) -> None:
    encoder = MeanPooledEncoder(tiny_encoder, max_length=16, batch_size=4, cache=True)
    # Korean syllables are three word pieces each: the target is 16 pieces, the window's whole; its first 8 are `half`.
    half, text = "한 국 어", "Guns should be banned."
    embedded = encoder.encode(pd.DataFrame({"text": [text, text], "target": [f"{half} {half}", "israel"]}))
    assert np.allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embedded[0], encoder.encode(pd.DataFrame({"text": [text], "target": [half]}))[0], atol=1e-6)
