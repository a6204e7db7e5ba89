"""Frozen transformer embeddings (text, or the pair target+text) with a logistic-regression head."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
import pandas as pd
from pydantic import Field, PositiveFloat, PositiveInt
from sklearn.linear_model import LogisticRegression

from classifiers.config import PACKAGED_ENCODER, FamilyConfig
from classifiers.encoder import ENCODER_REQUIREMENTS, MeanPooledEncoder, resolve_encoder
from classifiers.interface import Trainable
from classifiers.registry import Factory, Family, register

HEAD_FILE = "head.joblib"
ENCODER_DIR = "encoder"
SETTINGS_FILE = "frozen_settings.json"
StanceInput = Literal["pair", "separate"]


class FrozenEncoderModel(FamilyConfig):
    """Mean-pooled embeddings of a frozen transformer encoder with a logistic-regression head."""

    family: Literal["frozen_encoder"]
    encoder: str = Field(PACKAGED_ENCODER, description=f"'{PACKAGED_ENCODER}' (packaged) or a local model folder.")
    max_length: PositiveInt = 256
    batch_size: PositiveInt = 32
    C: PositiveFloat = 1.0
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: PositiveInt = 5000
    stance_input: StanceInput = Field(
        "pair",
        description=(
            "Stance: 'pair' embeds (target, text) as one sentence pair; 'separate' embeds text and target apart "
            "and gives the head [text, target, text * target], so what the text says can weigh differently per target."
        ),
    )


class FrozenEncoderClassifier(Trainable):
    family = "frozen_encoder"

    def __init__(
        self, task: str, encoder: MeanPooledEncoder, head: LogisticRegression, stance_input: StanceInput = "pair"
    ) -> None:
        super().__init__(task)
        self.encoder = encoder
        self.head = head
        self.stance_input = stance_input

    @classmethod
    def untrained(cls, task: str, config: FrozenEncoderModel, encoder: MeanPooledEncoder, seed: int) -> FrozenEncoderClassifier:
        head = LogisticRegression(C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, random_state=seed)
        return cls(task, encoder, head, config.stance_input)

    def features(self, inputs: pd.DataFrame, progress: bool = False) -> np.ndarray:
        """What the head reads: the embedding of the text or of the (target, text) pair, or the separate-input block."""
        if self.stance_input == "pair" or "target" not in inputs:
            return self.encoder.encode(inputs, progress=progress)
        text = self.encoder.encode(inputs[["text"]], progress=progress)
        target = self.encoder.encode(pd.DataFrame({"text": inputs["target"].to_numpy()}))
        return np.hstack([text, target, text * target])

    def fit(self, inputs: pd.DataFrame, y: Sequence[str], sample_weight: np.ndarray | None = None) -> None:
        self.head.fit(self.features(inputs, progress=True), list(y), sample_weight=sample_weight)
        self.labels = [str(label) for label in self.head.classes_]

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.head.predict_proba(self.features(inputs))

    def save_weights(self, directory: Path) -> None:
        joblib.dump(self.head, directory / HEAD_FILE)
        (directory / SETTINGS_FILE).write_text(json.dumps({"stance_input": self.stance_input}), encoding="utf-8")
        self.encoder.save(directory / ENCODER_DIR)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> FrozenEncoderClassifier:
        settings = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
        encoder, head = MeanPooledEncoder.load(directory / ENCODER_DIR), joblib.load(directory / HEAD_FILE)
        classifier = cls(task, encoder, head, settings["stance_input"])
        classifier.labels = labels
        return classifier


def _trainer(config: FrozenEncoderModel, task: str, seed: int) -> Factory:
    encoder = MeanPooledEncoder(resolve_encoder(config.encoder), config.max_length, config.batch_size, cache=True)
    return lambda: FrozenEncoderClassifier.untrained(task, config, encoder, seed)


register(Family("frozen_encoder", FrozenEncoderModel, FrozenEncoderClassifier, ENCODER_REQUIREMENTS, _trainer))
