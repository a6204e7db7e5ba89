"""SetFit: the encoder fine-tuned contrastively (the `setfit` library) on the labelled rows and the label
descriptions, then topics known by their description in the tuned space.

Training draws sentence pairs (same label: pull together, different labels: push apart) from the
training rows and every description sentence, and tunes the encoder on them; the classifier is then
the `descriptions` family's (one prototype per label mixing description and rows) over the tuned
encoder. Prediction needs only the tuned encoder and the prototypes: `setfit` is used to train, never
to predict.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, PositiveFloat, PositiveInt
from sklearn.exceptions import NotFittedError

from classifiers.encoder import ENCODER_REQUIREMENTS, MeanPooledEncoder, resolve_encoder
from classifiers.errors import UserInputError
from classifiers.families.descriptions import DescriptionClassifier, DescriptionsModel
from classifiers.interface import Labels, TextReading, Trainable
from classifiers.registry import Factory, Family, register

logger = logging.getLogger(__name__)


class SetFitDescriptionsModel(DescriptionsModel):
    """Description prototypes over an encoder first tuned by SetFit's contrastive training."""

    family: Literal["setfit"]  # type: ignore[assignment]
    num_iterations: PositiveInt = Field(
        1, description="Pairs drawn per training sentence and epoch, one similar and one not each (setfit's num_iterations)."
    )
    epochs: PositiveInt = Field(1, description="Passes over the sentence pairs.")
    body_learning_rate: PositiveFloat = Field(2e-5, description="Learning rate of the encoder's contrastive tuning.")
    train_batch_size: PositiveInt = Field(16, description="Sentence pairs per optimiser step.")

    def weighs_rows(self) -> bool:
        """SetFit's contrastive pairs take no row weights."""
        return False


class SetFitClassifier(Trainable):
    """A DescriptionClassifier over an encoder SetFit tuned first (SetFitDescriptionsModel), saved with it."""

    family = "setfit"

    def __init__(
        self,
        task: str,
        prototypes: DescriptionClassifier | None,
        config: SetFitDescriptionsModel | None = None,
        base: Path | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(task)
        self.prototypes = prototypes
        self.config = config
        self.base = base
        self.seed = seed
        # The tuned encoder's folder lives as long as the classifier: saving re-reads its float32 weights.
        self._tuned: tempfile.TemporaryDirectory[str] | None = None

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        if self.config is None or self.base is None:
            raise RuntimeError("fit needs a classifier made by the setfit family's trainer, not a loaded one")
        if sample_weight is not None and not np.allclose(sample_weight, sample_weight[0]):
            raise UserInputError("the setfit family does not weight rows: leave extra_training weights at 1")
        # The prototypes check this too, but only after minutes of tuning.
        missing = sorted({str(label) for label in y} - set(self.config.descriptions))
        if missing:
            raise UserInputError(f"model.descriptions has no description for label(s) {', '.join(missing)}")
        self._tuned = tempfile.TemporaryDirectory(prefix="setfit-")
        tuned = Path(self._tuned.name)
        tune_encoder(self.config, self.base, tuning_sentences(self.config, inputs, y), self.seed, tuned)
        encoder = MeanPooledEncoder(
            tuned, self.config.max_length, self.config.batch_size, cache=True, long_texts=self.config.long_texts
        )
        self.prototypes = DescriptionClassifier.untrained(self.task, self.config, encoder)
        self.prototypes.fit(inputs, y)
        self.labels = self.prototypes.labels

    def reading(self) -> TextReading:
        return super().reading() if self.prototypes is None else self.prototypes.reading()

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        if self.prototypes is None:
            raise NotFittedError("predict_proba needs a trained model: call fit first")
        return self.prototypes.predict_proba(inputs)

    def save_weights(self, directory: Path) -> None:
        if self.prototypes is None:
            raise NotFittedError("save needs a trained model: call fit first")
        self.prototypes.save_weights(directory)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> SetFitClassifier:
        classifier = cls(task, DescriptionClassifier.load_weights(directory, task, labels))
        classifier.labels = labels
        return classifier


def tuning_sentences(config: SetFitDescriptionsModel, inputs: pd.DataFrame, y: Labels) -> list[tuple[str, str]]:
    """(sentence, label) to draw pairs from: every description sentence and, unless zero-shot, every training row."""
    described = [
        (sentence, label) for label, sentences in config.descriptions.items() for sentence in sentences if sentence.strip()
    ]
    if config.zero_shot:
        return described
    return described + list(zip(inputs["text"].astype(str), (str(label) for label in y), strict=True))


def tune_encoder(config: SetFitDescriptionsModel, base: Path, sentences: list[tuple[str, str]], seed: int, out: Path) -> None:
    """Tune the encoder in base on pairs of sentences (same label: closer, different: apart); write it to out."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from setfit import SetFitModel, Trainer, TrainingArguments
    from transformers import AutoTokenizer

    # Built from modules, not read as a sentence-transformers folder, so that any local encoder folder works:
    # mean pooling and unit length are how all-MiniLM-L6-v2 was trained and how MeanPooledEncoder embeds.
    word = Transformer(str(base), max_seq_length=config.max_length)
    pooling = Pooling(word.get_embedding_dimension(), "mean")
    body = SentenceTransformer(modules=[word, pooling, Normalize()])  # on a GPU when there is one
    with tempfile.TemporaryDirectory(prefix="setfit-checkpoints-") as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            batch_size=config.train_batch_size,
            num_iterations=config.num_iterations,
            num_epochs=config.epochs,
            body_learning_rate=config.body_learning_rate,
            max_length=config.max_length,
            seed=seed,
            save_strategy="no",
            report_to="none",
        )
        texts, labels = [text for text, _ in sentences], [label for _, label in sentences]
        # Only the encoder is trained here: the classifier on top is the description prototypes.
        Trainer(model=SetFitModel(model_body=body), args=args).train_embeddings(texts, labels, args=args)
    logger.info("setfit: encoder tuned on pairs drawn from %d sentences", len(sentences))
    word.auto_model.save_pretrained(out)
    # The base tokenizer as it was: sentence-transformers adjusts its copy's settings.
    AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(out)


def _trainer(config: SetFitDescriptionsModel, task: str, seed: int) -> Factory:
    base = resolve_encoder(config.encoder, config.max_length)
    return lambda: SetFitClassifier(task, None, config, base, seed)


register(Family("setfit", SetFitDescriptionsModel, SetFitClassifier, ENCODER_REQUIREMENTS, _trainer, tasks=("topic",)))
