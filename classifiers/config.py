"""The base of every model-family config: frozen pydantic models that reject unknown keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

PACKAGED_ENCODER = "all-MiniLM-L6-v2"
# What the settings several families share mean (their `Field` descriptions).
MAX_LENGTH_HELP = (
    "Word pieces the encoder reads in one pass, at most its position limit (512 for all-MiniLM-L6-v2; a longer text: "
    "see long_texts)."
)
LONG_TEXTS_HELP = (
    "windows: a text longer than max_length is read whole, in consecutive windows of max_length word pieces, its "
    "embedding the mean over all its word pieces; truncate: it is read up to its first max_length word pieces."
)
# How an encoder reads a text longer than its max_length (classifiers.encoder.MeanPooledEncoder).
LongTexts = Literal["windows", "truncate"]
BATCH_SIZE_HELP = "Texts per encoder call."
ENCODER_HELP = (
    f"'{PACKAGED_ENCODER}' (packaged) or a local model folder: relative to the config file's folder (to the current one on "
    "the command line), or project:<path> from the project's root."
)
CLASS_WEIGHT_HELP = "balanced: each class weighs as much as the others in all, whatever its rows; null: every row alike."


def stance_settings_problem(keys: Sequence[str]) -> str:
    """Why a topic model refuses settings only a stance model can use (FamilyConfig.stance_settings)."""
    verb = "is a setting" if len(keys) == 1 else "are settings"
    return f"{', '.join(keys)} {verb} for stance models: a topic model has no target (leave it out of a topic config)"


class Strict(BaseModel):
    """A config section: immutable, a misspelt key is an error that names it, and so is a number that is not finite."""

    # YAML reads `.inf` and `.nan` as floats: refused here, not by scikit-learn or PyTorch inside the run.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class FamilyConfig(Strict):
    """The base of a model family's config section."""

    if TYPE_CHECKING:
        # Each family's config declares it (`family: Literal["tfidf"]`), the field its section is told apart by.
        family: str

    def check_labels(self, labels: Sequence[str]) -> None:
        """Refuse, before any training, data whose label set this model cannot be trained on (default: any)."""

    def labels_it_names(self) -> dict[str, list[str]]:
        """Labels the config names itself, by the key that names them (a zero-shot model answers the labels its
        `model.descriptions` describe, beside the data's); default: none."""
        return {}

    def stance_settings(self) -> list[str]:
        """The settings in use that only a stance model can use (a topic model has no target), by their key
        (`model.target_mask`); default: none."""
        return []

    def weighs_rows(self) -> bool:
        """Whether its models take row weights (an extra_training source's `weight` other than 1): a config of a family
        whose models cannot is refused as it is read, not by the model inside a started run; default: yes."""
        return True

    def unused_settings(self, task: str) -> set[str]:
        """The settings a model of this config does not read for `task` (a topic model's stance settings, another
        head's), by their name in the section: a run leaves them out of its params, where two runs would seem to
        differ in them (its config.yaml keeps them); default: none."""
        return set()

    def encoders(self) -> dict[str, str]:
        """The encoders the model reads (`'all-MiniLM-L6-v2'` or a model folder), by the key that names them
        (`model.encoder`); default: none."""
        return {}

    def fits_in_threads(self) -> bool:
        """Whether models of this config can be fitted side by side in threads of one process (default: no; a
        family that trains a transformer runs its own training loop)."""
        return False

    def changed(self) -> set[str]:
        """The settings given a value other than their default. A setting that only applies beside another is refused
        when changed, not when merely written out: a logged config.yaml writes every default, and trains again."""
        fields = type(self).model_fields
        return {name for name in self.model_fields_set if getattr(self, name) != fields[name].get_default(call_default_factory=True)}

    def family_names(self) -> tuple[str, ...]:
        """The families a model of this config runs: its own (an ensemble: its members')."""
        return (str(self.family),)
