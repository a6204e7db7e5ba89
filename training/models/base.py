"""The interface every model family implements, and how a saved model is found again."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

META_FILE = "classifier.json"


class Classifier(ABC):
    """A text classifier whose labels are strings it carries itself.

    Inputs are frames with a `text` column, and a `target` column for stance models.
    """

    family: ClassVar[str]

    def __init__(self, task: str) -> None:
        self.task = task
        self.labels: list[str] = []

    @abstractmethod
    def fit(self, inputs: pd.DataFrame, y: Sequence[str]) -> None:
        """Train on inputs and their string labels; sets `labels` (sorted)."""

    @abstractmethod
    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        """Probabilities, one row per input, one column per entry of `labels`."""

    @abstractmethod
    def _save_weights(self, directory: Path) -> None: ...

    @classmethod
    @abstractmethod
    def _load_weights(cls, directory: Path, task: str, labels: list[str]) -> Classifier: ...

    def save(self, directory: Path) -> None:
        """Write the model and its metadata (family, task, labels) into directory."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"family": self.family, "task": self.task, "labels": self.labels}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        self._save_weights(directory)


def load_classifier(directory: Path) -> Classifier:
    """Load any saved classifier; the family named in its metadata picks the class."""
    from training.models.families import family_class

    meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    return family_class(meta["family"])._load_weights(directory, meta["task"], meta["labels"])
