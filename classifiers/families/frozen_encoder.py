"""Frozen transformer embeddings (text, or the pair target+text) with a logistic-regression head."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
import pandas as pd
from pydantic import Field, PositiveFloat, PositiveInt
from sklearn.linear_model import LogisticRegression

from classifiers.config import PACKAGED_ENCODER, Strict
from classifiers.encoder import ENCODER_REQUIREMENTS, MeanPooledEncoder, resolve_encoder
from classifiers.interface import Trainable
from classifiers.registry import Factory, Family, register

HEAD_FILE = "head.joblib"
ENCODER_DIR = "encoder"


class FrozenEncoderModel(Strict):
    """Mean-pooled embeddings of a frozen transformer encoder with a logistic-regression head."""

    family: Literal["frozen_encoder"]
    encoder: str = Field(PACKAGED_ENCODER, description=f"'{PACKAGED_ENCODER}' (packaged) or a local model folder.")
    max_length: PositiveInt = 256
    batch_size: PositiveInt = 32
    C: PositiveFloat = 1.0
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: PositiveInt = 5000


class FrozenEncoderClassifier(Trainable):
    family = "frozen_encoder"

    def __init__(self, task: str, encoder: MeanPooledEncoder, head: LogisticRegression) -> None:
        super().__init__(task)
        self.encoder = encoder
        self.head = head

    @classmethod
    def untrained(cls, task: str, config: FrozenEncoderModel, encoder: MeanPooledEncoder, seed: int) -> FrozenEncoderClassifier:
        head = LogisticRegression(C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, random_state=seed)
        return cls(task, encoder, head)

    def fit(self, inputs: pd.DataFrame, y: Sequence[str]) -> None:
        self.head.fit(self.encoder.encode(inputs, progress=True), list(y))
        self.labels = [str(label) for label in self.head.classes_]

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.head.predict_proba(self.encoder.encode(inputs))

    def save_weights(self, directory: Path) -> None:
        joblib.dump(self.head, directory / HEAD_FILE)
        self.encoder.save(directory / ENCODER_DIR)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> FrozenEncoderClassifier:
        classifier = cls(task, MeanPooledEncoder.load(directory / ENCODER_DIR), joblib.load(directory / HEAD_FILE))
        classifier.labels = labels
        return classifier


def _trainer(config: FrozenEncoderModel, task: str, seed: int) -> Factory:
    encoder = MeanPooledEncoder(resolve_encoder(config.encoder), config.max_length, config.batch_size, cache=True)
    return lambda: FrozenEncoderClassifier.untrained(task, config, encoder, seed)


register(Family("frozen_encoder", FrozenEncoderModel, FrozenEncoderClassifier, ENCODER_REQUIREMENTS, _trainer))
