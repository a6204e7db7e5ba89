"""An ensemble: several member models trained on the same rows, their class probabilities averaged.

Members are any other family's config (a YAML list under `members`), so a lexical model and an
encoder model that err on different rows can be combined without new code. Each member is saved
in its own folder with its own metadata and loaded through the registry like a standalone model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, PositiveFloat, SerializeAsAny, ValidationError, field_validator, model_validator

from classifiers.config import FamilyConfig
from classifiers.errors import UserInputError
from classifiers.interface import Labels, TextReading, Trainable, load_predictor
from classifiers.registry import Factory, Family, classifier_factory, get_family, register
from classifiers.saved_settings import SavedSettings

SETTINGS_FILE = "ensemble.json"


class EnsembleModel(FamilyConfig):
    """Members of other families; the model's probabilities are their weighted mean."""

    family: Literal["ensemble"]
    members: tuple[SerializeAsAny[FamilyConfig], ...] = Field(
        min_length=2, description="Two or more model sections of other families, each with its `family` key."
    )
    weights: tuple[PositiveFloat, ...] | None = Field(None, description="One per member (default: equal).")

    @field_validator("members", mode="before")
    @classmethod
    def _member_configs(cls, members: Any) -> Any:
        if not isinstance(members, list | tuple):
            return members
        return tuple(_member_config(index, member) for index, member in enumerate(members))

    @model_validator(mode="after")
    def _one_weight_per_member(self) -> EnsembleModel:
        if self.weights is not None and len(self.weights) != len(self.members):
            raise ValueError(f"weights: give one per member ({len(self.members)}), got {len(self.weights)}")
        return self

    def check_labels(self, labels: Sequence[str]) -> None:
        for member in self.members:
            member.check_labels(labels)

    def encoders(self) -> dict[str, str]:
        return {
            f"model.members.{index}.{key.removeprefix('model.')}": name
            for index, member in enumerate(self.members)
            for key, name in member.encoders().items()
        }

    def stance_settings(self) -> list[str]:
        return [
            f"model.members.{index}.{key.removeprefix('model.')}"
            for index, member in enumerate(self.members)
            for key in member.stance_settings()
        ]

    def unused_settings(self, task: str) -> set[str]:
        return {f"members.{index}.{name}" for index, member in enumerate(self.members) for name in member.unused_settings(task)}

    def labels_it_names(self) -> dict[str, list[str]]:
        # A zero-shot member's described labels are the ensemble's labels too, scored as the data's are.
        return {
            f"model.members.{index}.{key.removeprefix('model.')}": labels
            for index, member in enumerate(self.members)
            for key, labels in member.labels_it_names().items()
        }

    def family_names(self) -> tuple[str, ...]:
        return tuple(name for member in self.members for name in member.family_names())

    def weighs_rows(self) -> bool:
        """Every member is fitted on the weighted rows."""
        return all(member.weighs_rows() for member in self.members)


def _member_config(index: int, member: Any) -> FamilyConfig:
    if isinstance(member, FamilyConfig):
        return member
    if not isinstance(member, dict) or "family" not in member:
        raise ValueError(f"member {index}: give a model section with a 'family' key")
    if member["family"] == "ensemble":
        raise ValueError(f"member {index}: an ensemble cannot be a member of an ensemble")
    try:
        return get_family(str(member["family"])).config.model_validate(member)
    except UserInputError as err:
        raise ValueError(f"member {index}: {err}") from err
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'member'}: {e['msg']}" for e in err.errors())
        raise ValueError(f"member {index} ({member['family']}): {problems}") from err


class EnsembleClassifier(Trainable):
    """Members of other families answering together (EnsembleModel): the weighted mean of their probabilities."""

    family = "ensemble"

    def __init__(self, task: str, members: Sequence[Trainable], weights: Sequence[float]) -> None:
        super().__init__(task)
        self.members = list(members)
        self.weights = np.asarray(weights, dtype=float)

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        for member in self.members:
            member.target_aliases = self.target_aliases  # the members look for the targets the ensemble's config names
            member.fit(inputs, y, sample_weight=sample_weight)
        self.labels = sorted({label for member in self.members for label in member.labels})

    def reading(self) -> TextReading:
        # A text is read whole only where every member reads all of it; else as far as the shortest-reading member.
        readings = [member.reading() for member in self.members]
        cut = [reading.max_length for reading in readings if not reading.whole and reading.max_length is not None]
        if cut:
            return TextReading(whole=False, max_length=min(cut))
        lengths = [reading.max_length for reading in readings if reading.max_length is not None]
        return TextReading(whole=True, max_length=min(lengths) if lengths else None)

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        total = np.zeros((len(inputs), len(self.labels)))
        for member, weight in zip(self.members, self.weights, strict=True):
            # A member that never saw a label gives it probability 0.
            columns = [self.labels.index(label) for label in member.labels]
            total[:, columns] += weight * member.predict_proba(inputs)
        return total / self.weights.sum()

    def save_weights(self, directory: Path) -> None:
        for index, member in enumerate(self.members):
            member.save(directory / _member_dir(index))
        EnsembleSettings(members=len(self.members), weights=self.weights.tolist()).write(directory / SETTINGS_FILE)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> EnsembleClassifier:
        settings = EnsembleSettings.read(directory / SETTINGS_FILE)
        members = []
        for index in range(settings.members):
            member = load_predictor(directory / _member_dir(index))
            if not isinstance(member, Trainable):
                raise UserInputError(f"{directory / _member_dir(index)}: not a model of a registered family")
            members.append(member)
        classifier = cls(task, members, settings.weights)
        classifier.labels = labels
        return classifier


class EnsembleSettings(SavedSettings):
    """An ensemble's settings beside its members' folders."""

    members: int
    weights: list[float]


def _member_dir(index: int) -> str:
    return f"member_{index}"


def _trainer(config: EnsembleModel, task: str, seed: int) -> Factory:
    factories = [classifier_factory(member, task, seed) for member in config.members]
    weights = config.weights or (1.0,) * len(config.members)
    return lambda: EnsembleClassifier(task, [factory() for factory in factories], weights)


# What its saved models import beyond the base is its members' families' (see requirement_pins).
register(Family("ensemble", EnsembleModel, EnsembleClassifier, requirements=(), trainer=_trainer))
