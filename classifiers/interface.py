"""The two classifier interfaces: one that predicts (all serving needs) and one that also trains.

A saved model is a folder holding the family's files and `classifier.json` (family, task, labels,
layout version); `load_predictor` reads it back through the family registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeAlias

import numpy as np
import pandas as pd

from classifiers.document_context import mix_neighbours
from classifiers.errors import UserInputError
from classifiers.saved_settings import SavedSettings, read_json
from classifiers.target_context import SHIPPED_ONLY, TargetAliases

# Gold or predicted labels, one per row: a list, or the object array a DataFrame column gives.
Labels: TypeAlias = Sequence[str] | np.ndarray

META_FILE = "classifier.json"
# The saved-model layout. Models saved before the classifiers package (no "layout" key) pickled
# module paths under `training.models`, which no longer exist: they are refused with a clear message.
LAYOUT_VERSION = 2
# Retrained on the same data, a model ties with the old champion: both commands make it champion all the same.
RETRAIN_ADVICE = (
    "retrain it with this version: `python -m training train-defaults --retrain` "
    "or `python -m training train CONFIG promote=always`"
)


class OutdatedModelError(UserInputError):
    """A model saved by an older layout of this project; the message says to retrain."""


@dataclass(frozen=True)
class TextReading:
    """How much of a long text a model reads: all of it (`whole`), or its first `max_length` word pieces; `max_length`
    is the word pieces an encoder reads in one pass (None for a model without one)."""

    whole: bool
    max_length: int | None = None


class Predictor(ABC):
    """A loaded classifier: its task, its own label strings and class probabilities.

    Inputs are frames with a `text` column, and a `target` column for stance models. `neighbour_weight` is the
    share of a segment's probabilities that `predict_proba_in_documents` takes from its neighbours in an article
    (0: none; the experiment config's `neighbour_weight`, saved with the model). `target_aliases` are the names a
    stance model knows its targets by besides the shipped table's (the experiment config's `target_aliases`, saved
    with the model): where it looks for a target's mentions, and where the server's article endpoint does.
    """

    family: ClassVar[str]

    def __init__(self, task: str) -> None:
        self.task = task
        self.labels: list[str] = []
        self.neighbour_weight = 0.0
        self.target_aliases = SHIPPED_ONLY

    @abstractmethod
    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        """Probabilities, one row per input, one column per entry of `labels`."""

    def predict_proba_in_documents(self, inputs: pd.DataFrame, documents: Iterable[object] | None = None) -> np.ndarray:
        """`predict_proba` for segments in reading order, each mixed with its neighbours in the same document (one
        document when `documents` is None) by the model's `neighbour_weight`."""
        return mix_neighbours(self.predict_proba(inputs), self.neighbour_weight, documents)

    def reading(self) -> TextReading:
        """How much of a long text the model reads (the default: all of it, as a TF-IDF model does)."""
        return TextReading(whole=True)

    @classmethod
    @abstractmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> Predictor:
        """The model saved in directory, with the task and labels read from its metadata."""


class Trainable(Predictor):
    """A classifier that can also be trained and saved."""

    @abstractmethod
    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        """Train on inputs and their string labels (rows weighted by sample_weight if given); sets `labels` (sorted)."""

    @abstractmethod
    def save_weights(self, directory: Path) -> None:
        """Write what `load_weights` reads back."""

    def save(self, directory: Path) -> None:
        """Write the model and its metadata (family, task, labels, neighbour weight, target aliases, layout) into
        directory."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = ClassifierMeta(
            family=self.family,
            task=self.task,
            labels=self.labels,
            neighbour_weight=self.neighbour_weight,
            target_aliases=self.target_aliases.as_dict(),
            layout=LAYOUT_VERSION,
        )
        meta.write(directory / META_FILE)
        self.save_weights(directory)


class ClassifierMeta(SavedSettings):
    """A saved model's `classifier.json`: what any family's model is, whatever its own files hold."""

    family: str
    task: str
    labels: list[str]
    # Models saved before neighbour weights existed read every segment alone.
    neighbour_weight: float = 0.0
    target_aliases: dict[str, list[str]] = {}
    layout: int


def load_predictor(directory: Path) -> Predictor:
    """Load any saved classifier; the family named in its metadata picks the class."""
    from classifiers.registry import get_family

    path = directory / META_FILE
    raw = read_json(path)
    # Checked first: an older layout's file need not have this layout's keys.
    if isinstance(raw, dict) and raw.get("layout", 1) != LAYOUT_VERSION:
        raise OutdatedModelError(
            f"the model in {directory} was saved by an older version of this project "
            f"(layout {raw.get('layout', 1)}, this version reads {LAYOUT_VERSION}): {RETRAIN_ADVICE}"
        )
    meta = ClassifierMeta.of(path, raw)
    predictor = get_family(meta.family).predictor.load_weights(directory, meta.task, meta.labels)
    predictor.neighbour_weight = meta.neighbour_weight
    predictor.target_aliases = TargetAliases.of(meta.target_aliases)
    return predictor
