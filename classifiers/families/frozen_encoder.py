"""Frozen transformer embeddings (text, or the pair target+text) with a logistic-regression or
one-hidden-layer perceptron head, or one head per target that the training data knows well; for stance,
optionally mixed with how close the text is to sentences that voice each stance toward the target."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeAlias, cast

import joblib
import numpy as np
import pandas as pd
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, field_validator, model_validator
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from classifiers.config import (
    BATCH_SIZE_HELP,
    CLASS_WEIGHT_HELP,
    ENCODER_HELP,
    LONG_TEXTS_HELP,
    MAX_LENGTH_HELP,
    PACKAGED_ENCODER,
    FamilyConfig,
    LongTexts,
    stance_settings_problem,
)
from classifiers.encoder import ENCODER_REQUIREMENTS, MeanPooledEncoder, resolve_encoder
from classifiers.errors import UserInputError
from classifiers.interface import Labels, TextReading, Trainable
from classifiers.mlp_head import BalancedMLPClassifier
from classifiers.registry import Factory, Family, register
from classifiers.saved_settings import SavedSettings
from classifiers.stance_descriptions import DescribedSettings, StanceDescriptions, check_sentences
from classifiers.target_context import SHIPPED_ONLY, TargetAliases, composed, mask_mentions

HEAD_FILE = "head.joblib"
ENCODER_DIR = "encoder"
SETTINGS_FILE = "frozen_settings.json"
StanceInput = Literal["pair", "separate", "per_target"]
Head: TypeAlias = LogisticRegression | BalancedMLPClassifier
# Settings that only one kind of head reads: setting one for the other head is a mistake worth naming.
HEAD_SETTINGS = {"logreg": ("C",), "mlp": ("hidden_units", "alpha", "networks")}
# What only a stance model reads: how the target is embedded beside the text, and what is given about it.
STANCE_ONLY_SETTINGS = (
    "stance_input",
    "min_target_rows",
    "matching_features",
    "pair_embedding",
    "target_mask",
    "stance_descriptions",
    "description_weight",
    "description_temperature",
)
MLP_EPOCHS = 200


class FrozenEncoderModel(FamilyConfig):
    """Mean-pooled embeddings of a frozen transformer encoder with a logistic-regression or perceptron head."""

    family: Literal["frozen_encoder"]
    encoder: str = Field(PACKAGED_ENCODER, description=ENCODER_HELP)
    max_length: PositiveInt = Field(256, description=MAX_LENGTH_HELP)
    long_texts: LongTexts = Field("windows", description=LONG_TEXTS_HELP)
    batch_size: PositiveInt = Field(32, description=BATCH_SIZE_HELP)
    head: Literal["logreg", "mlp"] = Field(
        "logreg",
        description=(
            "'logreg': logistic regression (C); 'mlp': one hidden layer of ReLU units (hidden_units, alpha), "
            "trained with Adam and early stopping on 10% of the training rows."
        ),
    )
    C: PositiveFloat = Field(1.0, description="logreg: inverse regularisation strength.")
    hidden_units: PositiveInt = Field(256, description="mlp: width of the hidden layer.")
    alpha: NonNegativeFloat = Field(1e-3, description="mlp: L2 penalty on the weights.")
    networks: PositiveInt = Field(
        1, description="mlp: networks trained from different random starts; the head averages their probabilities."
    )
    class_weight: Literal["balanced"] | None = Field(
        "balanced",
        description=CLASS_WEIGHT_HELP,
    )
    max_iter: PositiveInt = Field(
        5000, description="logreg: solver iterations (default 5000); mlp: the most epochs (default 200)."
    )
    stance_input: StanceInput = Field(
        "pair",
        description=(
            "Stance: 'pair' embeds (target, text) as one sentence pair; 'separate' embeds text and target apart "
            "and gives the head [text, target, text * target], so what the text says can weigh differently per target; "
            "'per_target' adds to that 'separate' head one head over the text embedding for every target with at "
            "least min_target_rows training rows and two labels (SemEval's baseline trains one model per target); "
            "other targets, and targets never seen in training, take the 'separate' head."
        ),
    )
    min_target_rows: PositiveInt = Field(50, description="per_target: the fewest training rows that give a target its own head.")
    matching_features: bool = Field(
        False,
        description=(
            "separate / per_target: also give the shared head |text - target| and cos(text, target), how close "
            "the text is to the target, which tells a text that takes no stance toward it from one that does."
        ),
    )
    pair_embedding: bool = Field(
        False,
        description=(
            "separate / per_target: also give the shared head the embedding of the (target, text) pair read together, "
            "as stance_input 'pair' embeds it, beside the two read apart. Costs an encoder pass per (text, target) pair."
        ),
    )
    target_mask: str | None = Field(
        None,
        description=(
            "separate / per_target: also give the shared head the embedding of the text with every mention of the "
            "target (its aliases in classifiers/target_aliases.json, or the target's own words) replaced by this word "
            "('X'), so that the head reads what is said about the target apart from what is said about the other "
            "actors a paragraph names; a text that does not name the target gives its own embedding. Costs an "
            "encoder pass per (text, target) pair that names the target."
        ),
    )
    stance_descriptions: dict[str, list[str]] | None = Field(
        None,
        description=(
            "Stance (separate / per_target): every label -> sentences voicing that stance toward '{target}' "
            "('{target} is praised, supported and defended.'); the model's probabilities are then "
            "(1 - description_weight) x the head's + description_weight x a softmax over the labels of the text's "
            "mean cosine to each label's sentences, divided by description_temperature."
        ),
    )
    description_weight: float = Field(
        0.0, ge=0, lt=1, description="stance_descriptions: their share of the probabilities (the head keeps the rest)."
    )
    description_temperature: PositiveFloat = Field(0.05, description="stance_descriptions: softmax temperature.")

    @model_validator(mode="before")
    @classmethod
    def _epochs_of_the_mlp_head(cls, data: object) -> object:
        # A perceptron's epoch is a pass over every row, a solver iteration of logistic regression is far cheaper:
        # they need their own defaults, and the resolved config shows the one in use.
        if isinstance(data, dict) and data.get("head") == "mlp" and "max_iter" not in data:
            return {**data, "max_iter": MLP_EPOCHS}
        return data

    @field_validator("stance_descriptions")
    @classmethod
    def _templates(cls, descriptions: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if descriptions is not None:
            check_sentences(descriptions)
        return descriptions

    @field_validator("target_mask")
    @classmethod
    def _a_word(cls, placeholder: str | None) -> str | None:
        if placeholder is not None and (not placeholder.strip() or placeholder != placeholder.strip()):
            raise ValueError("give a word that stands for the target ('X'), without leading or trailing spaces")
        return placeholder

    @model_validator(mode="after")
    def _settings_that_need_the_text_apart(self) -> FrozenEncoderModel:
        # Accepted and ignored, they would log a param the model never used.
        # Stance descriptions are told so by their own check, with their weight.
        in_use = [key.removeprefix("model.") for key in self.stance_settings() if key != "model.stance_descriptions"]
        if in_use and self.stance_input == "pair":
            raise ValueError(
                f"{in_use[0]} needs the text embedded apart from the target: stance_input separate or per_target, "
                "in a stance config"
            )
        if "min_target_rows" in self.changed() and self.stance_input != "per_target":
            raise ValueError(f"min_target_rows is a setting of stance_input per_target, not of '{self.stance_input}'")
        return self

    @model_validator(mode="after")
    def _descriptions_and_their_weight(self) -> FrozenEncoderModel:
        if self.stance_descriptions is None:
            if self.description_weight > 0:
                raise ValueError("description_weight is set but stance_descriptions are not: give both or neither")
            return self
        if self.description_weight == 0:
            raise ValueError("stance_descriptions are given but description_weight is 0: give it their share (0 < w < 1)")
        if self.stance_input == "pair":
            raise ValueError(
                "stance_descriptions need the text embedded apart from the target: stance_input separate or per_target, "
                "in a stance config"
            )
        return self

    def descriptions(self) -> StanceDescriptions | None:
        """The stance descriptions with their weight and temperature, if the config gives them."""
        if self.stance_descriptions is None:
            return None
        return StanceDescriptions(self.stance_descriptions, self.description_weight, self.description_temperature)

    def check_labels(self, labels: Sequence[str]) -> None:
        """With stance descriptions, the data's labels and the described ones must be the same."""
        if self.stance_descriptions is None:
            return
        missing = sorted(set(labels) - set(self.stance_descriptions))
        extra = sorted(set(self.stance_descriptions) - set(labels))
        if missing:
            raise UserInputError(
                f"model.stance_descriptions has no sentences for label(s) {', '.join(missing)} found in the data"
            )
        if extra:
            raise UserInputError(f"model.stance_descriptions names label(s) {', '.join(extra)} that the data does not have")

    @model_validator(mode="after")
    def _settings_of_the_other_head(self) -> FrozenEncoderModel:
        for head, names in HEAD_SETTINGS.items():
            misplaced = sorted(set(names) & self.changed()) if head != self.head else []
            if misplaced:
                # An override cannot delete a key the config file sets: giving it its default is how to set it aside.
                defaults = ", ".join(f"model.{name}={type(self).model_fields[name].default}" for name in misplaced)
                raise ValueError(
                    f"{', '.join(misplaced)}: a setting of head '{head}', not of head '{self.head}': leave it out, or "
                    f"give it its default ({defaults})"
                )
        return self

    def stance_settings(self) -> list[str]:
        in_use = {
            "stance_descriptions": self.stance_descriptions is not None,
            "target_mask": self.target_mask is not None,
            "matching_features": self.matching_features,
            "pair_embedding": self.pair_embedding,
        }
        return [f"model.{name}" for name, used in in_use.items() if used]

    def unused_settings(self, task: str) -> set[str]:
        unused = {name for head, names in HEAD_SETTINGS.items() if head != self.head for name in names}
        if task != "stance":
            return unused | set(STANCE_ONLY_SETTINGS)
        if self.stance_input != "per_target":
            unused.add("min_target_rows")
        if self.stance_descriptions is None:
            unused |= {"description_weight", "description_temperature"}
        return unused

    def encoders(self) -> dict[str, str]:
        return {"model.encoder": self.encoder}

    def fits_in_threads(self) -> bool:
        """The frozen encoder only reads its weights and shares what it embedded; the heads are scikit-learn's."""
        return True

    def make_head(self, seed: int) -> Head:
        """An unfitted head of the configured kind."""
        if self.head == "mlp":
            return BalancedMLPClassifier(
                hidden_units=self.hidden_units,
                alpha=self.alpha,
                class_weight=self.class_weight,
                max_iter=self.max_iter,
                n_networks=self.networks,
                random_state=seed,
            )
        return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, random_state=seed)


def target_key(target: str) -> str:
    """Targets that differ only in case or spacing share a head."""
    return " ".join(target.split()).casefold()


class PerTargetHeads:
    """A head over the text embedding for each well-represented target, and a shared head over the
    separate-input block for the others; columns follow the shared head's labels."""

    def __init__(self, head: Head, min_rows: int) -> None:
        self.head = head
        self.min_rows = min_rows
        self.shared: Head | None = None
        self.by_target: dict[str, Head] = {}

    def fit(
        self,
        text: np.ndarray,
        block: np.ndarray,
        targets: Sequence[str],
        y: Labels,
        sample_weight: np.ndarray | None = None,
    ) -> PerTargetHeads:
        """Fit the shared head on every row's `block`, and a head on `text` for each target with `min_rows` rows of
        two labels or more."""
        labels, keys = np.asarray(y), np.array([target_key(t) for t in targets])
        self.shared = clone(self.head).fit(block, labels, sample_weight=sample_weight)
        self.by_target = {}
        for key in np.unique(keys):
            rows = keys == key
            if rows.sum() >= self.min_rows and len(np.unique(labels[rows])) > 1:
                weights = None if sample_weight is None else sample_weight[rows]
                self.by_target[str(key)] = clone(self.head).fit(text[rows], labels[rows], sample_weight=weights)
        return self

    @property
    def classes_(self) -> np.ndarray:
        """The labels, in the order of `predict_proba`'s columns (the shared head's)."""
        return self._fitted_shared().classes_

    def predict_proba(self, text: np.ndarray, block: np.ndarray, targets: Sequence[str]) -> np.ndarray:
        """Each row's probabilities from its target's own head, or the shared head where its target has none."""
        shared = self._fitted_shared()
        classes, probabilities = shared.classes_, shared.predict_proba(block)
        keys = np.array([target_key(t) for t in targets])
        for key, head in self.by_target.items():
            rows = np.flatnonzero(keys == key)
            if rows.size:
                # A label the target's training rows lack gets probability 0 for it.
                probabilities[rows] = 0.0
                probabilities[np.ix_(rows, np.searchsorted(classes, head.classes_))] = head.predict_proba(text[rows])
        return probabilities

    def _fitted_shared(self) -> Head:
        if self.shared is None:
            raise NotFittedError("the per-target heads are not fitted: call fit first")
        return self.shared


def masked_text_embeddings(
    encoder: MeanPooledEncoder,
    inputs: pd.DataFrame,
    text: np.ndarray,
    placeholder: str,
    progress: bool = False,
    extra: TargetAliases = SHIPPED_ONLY,
) -> np.ndarray:
    """Embeddings of the texts with their row's target (by its aliases, `extra`'s included) masked by `placeholder`;
    `text` holds the unmasked ones, kept for the texts that do not name their target."""
    originals = inputs["text"].astype(str).tolist()
    masked = [
        mask_mentions(original, target, placeholder, extra)
        for original, target in zip(originals, inputs["target"].astype(str), strict=True)
    ]
    # mask_mentions gives the text composed: one that was not is no more changed for that.
    changed = np.flatnonzero([new != composed(old) for new, old in zip(masked, originals, strict=True)])
    embedded = text.copy()
    if changed.size:
        embedded[changed] = encoder.encode(pd.DataFrame({"text": [masked[index] for index in changed]}), progress=progress)
    return embedded


class FrozenEncoderClassifier(Trainable):
    """A head over a frozen encoder's embeddings (FrozenEncoderModel); the encoder is read, never trained."""

    family = "frozen_encoder"

    def __init__(
        self,
        task: str,
        encoder: MeanPooledEncoder,
        head: Head | PerTargetHeads,
        stance_input: StanceInput = "pair",
        matching_features: bool = False,
        descriptions: StanceDescriptions | None = None,
        target_mask: str | None = None,
        pair_embedding: bool = False,
    ) -> None:
        super().__init__(task)
        self.encoder = encoder
        self.head = head
        self.stance_input = stance_input
        self.matching_features = matching_features
        self.descriptions = descriptions
        self.target_mask = target_mask
        self.pair_embedding = pair_embedding

    @classmethod
    def untrained(cls, task: str, config: FrozenEncoderModel, encoder: MeanPooledEncoder, seed: int) -> FrozenEncoderClassifier:
        """A model of the config, to be fitted; UserInputError for a stance-only setting in a topic config."""
        head: Head | PerTargetHeads = config.make_head(seed)
        if task == "stance" and config.stance_input == "per_target":
            head = PerTargetHeads(head, config.min_target_rows)
        if task != "stance" and (stance_only := config.stance_settings()):
            raise UserInputError(stance_settings_problem(stance_only))
        return cls(
            task, encoder, head, config.stance_input, config.matching_features, config.descriptions(), config.target_mask,
            config.pair_embedding,
        )

    def features(self, inputs: pd.DataFrame, progress: bool = False) -> np.ndarray:
        """What the head reads: the embedding of the text or of the (target, text) pair, or the separate-input block
        [text, target, text * target] (with matching features: and |text - target|, cos(text, target); with a
        target mask: and the embedding of the text with the target masked; with the pair embedding: and that of the
        (target, text) pair)."""
        if self.stance_input == "pair" or "target" not in inputs:
            return self.encoder.encode(inputs, progress=progress)
        text = self.encoder.encode(inputs[["text"]], progress=progress)
        target = self.encoder.encode(pd.DataFrame({"text": inputs["target"].to_numpy()}))
        block = [text, target, text * target]
        if self.matching_features:
            # Embeddings are unit-length, so the dot product is the cosine.
            block += [np.abs(text - target), (text * target).sum(axis=1, keepdims=True)]
        if self.target_mask is not None:
            block.append(masked_text_embeddings(self.encoder, inputs, text, self.target_mask, progress, self.target_aliases))
        if self.pair_embedding:
            block.append(self.encoder.encode(inputs[["text", "target"]], progress=progress))
        return np.hstack(block)

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        features = self.features(inputs, progress=True)
        if isinstance(self.head, PerTargetHeads):
            text, targets = features[:, : self.encoder.dimension], inputs["target"].astype(str).tolist()
            # cast: to a type checker a head, whose sklearn base classes are untyped (Any), may be a PerTargetHeads too
            cast(PerTargetHeads, self.head).fit(text, features, targets, list(y), sample_weight=sample_weight)
        else:
            self.head.fit(features, list(y), sample_weight=sample_weight)
        self.labels = [str(label) for label in self.head.classes_]

    def reading(self) -> TextReading:
        return self.encoder.reading()

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        features = self.features(inputs)
        if not isinstance(self.head, PerTargetHeads) and self.descriptions is None:
            return self.head.predict_proba(features)
        text, targets = features[:, : self.encoder.dimension], inputs["target"].astype(str).tolist()
        if isinstance(self.head, PerTargetHeads):
            probabilities = cast(PerTargetHeads, self.head).predict_proba(text, features, targets)  # cast: as in `fit`
        else:
            probabilities = self.head.predict_proba(features)
        if self.descriptions is None:
            return probabilities
        return self.descriptions.mix(self.encoder, text, targets, self.labels, probabilities)

    def save_weights(self, directory: Path) -> None:
        joblib.dump(self.head, directory / HEAD_FILE)
        FrozenSettings(
            stance_input=self.stance_input,
            matching_features=self.matching_features,
            descriptions=self.descriptions.settings() if self.descriptions is not None else None,
            target_mask=self.target_mask,
            pair_embedding=self.pair_embedding,
        ).write(directory / SETTINGS_FILE)
        self.encoder.save(directory / ENCODER_DIR)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> FrozenEncoderClassifier:
        settings = FrozenSettings.read(directory / SETTINGS_FILE)
        encoder, head = MeanPooledEncoder.load(directory / ENCODER_DIR), joblib.load(directory / HEAD_FILE)
        described = settings.descriptions
        descriptions = StanceDescriptions.from_settings(described) if described is not None else None
        classifier = cls(
            task, encoder, head, settings.stance_input, settings.matching_features, descriptions, settings.target_mask,
            settings.pair_embedding,
        )
        classifier.labels = labels
        return classifier


class FrozenSettings(SavedSettings):
    """A frozen-encoder model's settings beside its head."""

    stance_input: StanceInput
    # Models saved before matching features, stance descriptions, target masks or pair embeddings existed had none.
    matching_features: bool = False
    descriptions: DescribedSettings | None = None
    target_mask: str | None = None
    pair_embedding: bool = False


def _trainer(config: FrozenEncoderModel, task: str, seed: int) -> Factory:
    encoder = MeanPooledEncoder(
        resolve_encoder(config.encoder, config.max_length), config.max_length, config.batch_size, cache=True, long_texts=config.long_texts
    )
    return lambda: FrozenEncoderClassifier.untrained(task, config, encoder, seed)


register(Family("frozen_encoder", FrozenEncoderModel, FrozenEncoderClassifier, ENCODER_REQUIREMENTS, _trainer))
