"""Frozen transformer embeddings (text, or the pair target+text) with a logistic-regression head."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from training.config.schema import FrozenEncoderModel
from training.models.base import Classifier
from training.models.encoder import MeanPooledEncoder

HEAD_FILE = "head.joblib"
ENCODER_DIR = "encoder"


class FrozenEncoderClassifier(Classifier):
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

    def _save_weights(self, directory: Path) -> None:
        joblib.dump(self.head, directory / HEAD_FILE)
        self.encoder.save(directory / ENCODER_DIR)

    @classmethod
    def _load_weights(cls, directory: Path, task: str, labels: list[str]) -> FrozenEncoderClassifier:
        classifier = cls(task, MeanPooledEncoder.load(directory / ENCODER_DIR), joblib.load(directory / HEAD_FILE))
        classifier.labels = labels
        return classifier
