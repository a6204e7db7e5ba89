"""Topics known by their description: cosine similarity to one prototype embedding per label.

Each label's prototype mixes the embedding of its natural-language description (a few sentences
paraphrasing the annotation guideline) with the mean embedding of its labelled training texts.
With `description_weight: 1` the labelled rows are not used at all (zero-shot): the descriptions
alone define the labels, so a topic is added by adding one line of YAML. A label with no training
rows falls back to its description. Probabilities are a softmax over similarities / temperature,
optionally mixed with those of a logistic-regression head (`head_weight`) that learns from the
same embeddings of the training rows and the description sentences: where a prototype is one mean
per label, the head can learn which directions of the space tell two labels apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
import pandas as pd
from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from classifiers.config import (
    BATCH_SIZE_HELP,
    ENCODER_HELP,
    LONG_TEXTS_HELP,
    MAX_LENGTH_HELP,
    PACKAGED_ENCODER,
    FamilyConfig,
    LongTexts,
)
from classifiers.encoder import ENCODER_REQUIREMENTS, MeanPooledEncoder, resolve_encoder
from classifiers.errors import UserInputError
from classifiers.interface import Labels, TextReading, Trainable
from classifiers.registry import Factory, Family, register
from classifiers.saved_settings import SavedSettings

PROTOTYPES_FILE = "prototypes.npy"
SETTINGS_FILE = "prototype_settings.json"
HEAD_FILE = "head.joblib"
ENCODER_DIR = "encoder"
# How an override replaces the shipped descriptions rather than adding a label to them.
REPLACE_DESCRIPTIONS = "'model.descriptions={label: [sentence, ...], ...}'"


class DescriptionsModel(FamilyConfig):
    """Label prototypes from descriptions (and, unless zero-shot, the labelled rows) in a frozen encoder's space."""

    family: Literal["descriptions"]
    descriptions: dict[str, list[str]] = Field(
        description="Every label -> one or more sentences saying what a text of that label is about."
    )
    description_weight: float = Field(
        0.7, ge=0, le=1, description="Share of the description in each prototype; 1 = zero-shot (no labelled rows used)."
    )
    temperature: PositiveFloat = Field(0.05, description="Softmax temperature over cosine similarities.")
    head_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description=(
            "Share of a logistic-regression head's probabilities in the answer (0: the prototypes alone). The head "
            "learns from the training rows, with their weights, and from the description sentences."
        ),
    )
    head_C: PositiveFloat = Field(10.0, description="Inverse regularisation strength of the head.")
    encoder: str = Field(PACKAGED_ENCODER, description=ENCODER_HELP)
    max_length: PositiveInt = Field(256, description=MAX_LENGTH_HELP)
    long_texts: LongTexts = Field("windows", description=LONG_TEXTS_HELP)
    batch_size: PositiveInt = Field(32, description=BATCH_SIZE_HELP)

    @field_validator("descriptions")
    @classmethod
    def _non_empty(cls, descriptions: dict[str, list[str]]) -> dict[str, list[str]]:
        if len(descriptions) < 2:
            raise ValueError("give descriptions for at least two labels")
        empty = [label for label, sentences in descriptions.items() if not [s for s in sentences if s.strip()]]
        if empty:
            raise ValueError(f"empty description for label(s) {', '.join(empty)}: give at least one sentence each")
        # A blank beside real sentences is a slip (a sentence lost in editing), not a way to say less.
        blank = [f"{label} #{number}" for label, sentences in descriptions.items() for number, s in enumerate(sentences, 1) if not s.strip()]
        if blank:
            raise ValueError(f"blank description sentence(s): {', '.join(blank)}: remove them or write the sentence")
        return descriptions

    @model_validator(mode="after")
    def _head_needs_rows(self) -> DescriptionsModel:
        if self.head_weight > 0 and self.description_weight == 1:
            raise ValueError("head_weight needs labelled rows: a zero-shot model (description_weight: 1) takes head_weight: 0")
        return self

    @property
    def zero_shot(self) -> bool:
        """Whether the model predicts from the descriptions alone (`description_weight: 1`), learning nothing from rows."""
        return self.description_weight == 1

    def encoders(self) -> dict[str, str]:
        return {"model.encoder": self.encoder}

    def labels_it_names(self) -> dict[str, list[str]]:
        return {"model.descriptions": sorted(self.descriptions)}

    def check_labels(self, labels: Sequence[str]) -> None:
        """Every label of the data needs a description; only a zero-shot model may describe labels it has no rows of."""
        missing = sorted(set(labels) - set(self.descriptions))
        extra = sorted(set(self.descriptions) - set(labels))
        if missing:
            # A described label the data lacks, beside a data label without a description, is most often a slip.
            slip = f"; it describes {', '.join(extra)}, which the data does not have: misspelt?" if extra else ""
            raise UserInputError(
                f"model.descriptions has no description for label(s) {', '.join(missing)} found in the data{slip}; "
                "even a zero-shot model is evaluated on labelled rows, so for labels of your own give data whose "
                "labels it describes (data.source=jsonl data.path=FILE; the default data is the seed corpus)"
            )
        if extra and not self.zero_shot:
            raise UserInputError(
                f"model.descriptions names label(s) {', '.join(extra)} that the data does not have; "
                "only a zero-shot model (description_weight: 1) may add labels that have no rows, and to describe "
                f"only the data's labels replace the config's descriptions whole: {REPLACE_DESCRIPTIONS}"
            )


class DescriptionClassifier(Trainable):
    """Label prototypes of descriptions and rows in a frozen encoder's space (DescriptionsModel), with an optional head."""

    family = "descriptions"

    def __init__(
        self,
        task: str,
        encoder: MeanPooledEncoder,
        prototypes: np.ndarray,
        temperature: float,
        config: DescriptionsModel | None = None,
        head: LogisticRegression | None = None,
        head_weight: float = 0.0,
    ) -> None:
        super().__init__(task)
        self.encoder = encoder
        self.prototypes = prototypes
        self.temperature = temperature
        self.config = config
        self.head = head
        self.head_weight = head_weight

    @classmethod
    def untrained(cls, task: str, config: DescriptionsModel, encoder: MeanPooledEncoder) -> DescriptionClassifier:
        """A model of the config, to be fitted (the label prototypes are computed by `fit`)."""
        return cls(task, encoder, np.zeros((0, encoder.dimension), dtype=np.float32), config.temperature, config)

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        if self.config is None:
            raise RuntimeError("fit needs a classifier made by DescriptionClassifier.untrained, not a loaded one")
        missing = sorted({str(label) for label in y} - set(self.config.descriptions))
        if missing:
            raise UserInputError(f"model.descriptions has no description for label(s) {', '.join(missing)}")
        # Labels without rows in this fit (rare classes in a cross-validation fold) keep their description alone.
        self.labels = sorted(self.config.descriptions)
        weights = np.ones(len(inputs)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.prototypes = np.stack(
            [self._prototype(self.config, label, inputs, np.asarray(y), weights) for label in self.labels]
        )
        if self.config.head_weight > 0:
            self.head = self._fit_head(self.config, inputs, np.asarray(y), weights)
            self.head_weight = self.config.head_weight

    def _fit_head(
        self, config: DescriptionsModel, inputs: pd.DataFrame, y: np.ndarray, weights: np.ndarray
    ) -> LogisticRegression:
        # The description sentences are rows too, so every label has examples in every fit.
        sentences = [(label, sentence) for label in self.labels for sentence in config.descriptions[label] if sentence.strip()]
        features = np.vstack(
            [self.encoder.encode(inputs), self.encoder.encode(pd.DataFrame({"text": [text for _, text in sentences]}))]
        )
        labels = np.concatenate([y, [label for label, _ in sentences]])
        head = LogisticRegression(C=config.head_C, class_weight="balanced", max_iter=5000)
        head.fit(features, labels, sample_weight=np.concatenate([weights, np.ones(len(sentences))]))
        return head

    def _prototype(
        self, config: DescriptionsModel, label: str, inputs: pd.DataFrame, y: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        sentences = [sentence for sentence in config.descriptions[label] if sentence.strip()]
        description = _unit(self.encoder.encode(pd.DataFrame({"text": sentences})).mean(axis=0))
        weight = config.description_weight
        rows = y == label
        if weight == 1 or not rows.any():
            return description
        examples = _unit(np.average(self.encoder.encode(inputs[rows]), axis=0, weights=weights[rows]))
        return _unit(weight * description + (1 - weight) * examples)

    def reading(self) -> TextReading:
        return self.encoder.reading()

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        embeddings = self.encoder.encode(inputs)
        probabilities = softmax(embeddings @ self.prototypes.T / self.temperature, axis=1)
        if self.head is None or not len(embeddings):
            return probabilities
        # The head was fitted on every described label, so its columns are the prototypes' (sorted labels).
        return (1 - self.head_weight) * probabilities + self.head_weight * self.head.predict_proba(embeddings)

    def save_weights(self, directory: Path) -> None:
        np.save(directory / PROTOTYPES_FILE, self.prototypes)
        PrototypeSettings(temperature=self.temperature, head_weight=self.head_weight).write(directory / SETTINGS_FILE)
        if self.head is not None:
            joblib.dump(self.head, directory / HEAD_FILE)
        self.encoder.save(directory / ENCODER_DIR)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> DescriptionClassifier:
        settings = PrototypeSettings.read(directory / SETTINGS_FILE)
        prototypes = np.load(directory / PROTOTYPES_FILE)
        # Models saved before the head existed have neither the file nor the setting.
        head = joblib.load(directory / HEAD_FILE) if (directory / HEAD_FILE).is_file() else None
        encoder = MeanPooledEncoder.load(directory / ENCODER_DIR)
        classifier = cls(task, encoder, prototypes, settings.temperature, None, head, settings.head_weight)
        classifier.labels = labels
        return classifier


class PrototypeSettings(SavedSettings):
    """A description model's settings beside its prototypes."""

    temperature: float
    head_weight: float = 0.0  # models saved before the head existed


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _trainer(config: DescriptionsModel, task: str, seed: int) -> Factory:
    encoder = MeanPooledEncoder(
        resolve_encoder(config.encoder, config.max_length), config.max_length, config.batch_size, cache=True, long_texts=config.long_texts
    )
    return lambda: DescriptionClassifier.untrained(task, config, encoder)


register(
    Family("descriptions", DescriptionsModel, DescriptionClassifier, ENCODER_REQUIREMENTS, _trainer, tasks=("topic",))
)
