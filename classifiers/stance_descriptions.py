"""Stance known by description: how close a text is to sentences that voice each stance toward its target.

Every stance label has a few sentences with a `{target}` slot ("{target} is praised, supported and defended.").
For a (text, target) pair a label's score is the mean cosine of the text to its sentences with the target filled in;
a softmax over the scores / temperature gives probabilities, which the frozen-encoder stance model mixes with its
head's. The head learns from the training rows what their authors call each stance; the sentences say it the way
news states it outright ("X condemned Y", "Y vowed to strike X"), which a frozen mean-pooled embedding otherwise
barely separates from a plain report about Y.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import Formatter

import numpy as np
import pandas as pd
from scipy.special import softmax

from classifiers.encoder import MeanPooledEncoder
from classifiers.saved_settings import SavedSettings

SLOT = "target"


def check_sentences(descriptions: Mapping[str, Sequence[str]]) -> None:
    """Raise ValueError unless every label has a sentence and every sentence has a `{target}` slot and no other."""
    for label, sentences in descriptions.items():
        if not [sentence for sentence in sentences if sentence.strip()]:
            raise ValueError(f"empty stance description for label '{label}': give at least one sentence")
        for sentence in sentences:
            try:
                fields = {field for _, field, _, _ in Formatter().parse(sentence) if field is not None}
            except ValueError as err:
                raise ValueError(f"label '{label}': {sentence!r} is not a template with a {{{SLOT}}} slot ({err})") from err
            if fields != {SLOT}:
                raise ValueError(
                    f"label '{label}': {sentence!r} must name the target as {{{SLOT}}} and have no other "
                    f"{{...}} field (found: {', '.join(sorted(fields)) or 'none'})"
                )


@dataclass(frozen=True)
class StanceDescriptions:
    """Stance sentences per label, their share of the model's probabilities and the softmax temperature."""

    sentences: dict[str, list[str]]
    weight: float
    temperature: float

    def probabilities(
        self, encoder: MeanPooledEncoder, text: np.ndarray, targets: Sequence[str], labels: Sequence[str]
    ) -> np.ndarray:
        """Softmax over labels of the mean cosine of each (unit-length) text embedding to the label's sentences."""
        if not len(targets):
            return np.zeros((0, len(labels)))
        unique = list(dict.fromkeys(targets))
        row_of = {target: index for index, target in enumerate(unique)}
        rows = np.array([row_of[target] for target in targets], dtype=int)
        scores = np.empty((len(targets), len(labels)))
        for column, label in enumerate(labels):
            sentences = [sentence for sentence in self.sentences[label] if sentence.strip()]
            filled = [sentence.format(**{SLOT: target}) for target in unique for sentence in sentences]
            # The encoder remembers these, so a target already seen costs nothing.
            embedded = encoder.encode(pd.DataFrame({"text": filled})).reshape(len(unique), len(sentences), -1)
            scores[:, column] = np.einsum("nd,nd->n", text, embedded.mean(axis=1)[rows])
        return softmax(scores / self.temperature, axis=1)

    def mix(
        self,
        encoder: MeanPooledEncoder,
        text: np.ndarray,
        targets: Sequence[str],
        labels: Sequence[str],
        head_probabilities: np.ndarray,
    ) -> np.ndarray:
        """(1 - weight) x the head's probabilities + weight x the descriptions'."""
        described = self.probabilities(encoder, text, targets, labels)
        return (1 - self.weight) * head_probabilities + self.weight * described

    def settings(self) -> DescribedSettings:
        """What `from_settings` reads back (saved beside the head)."""
        return DescribedSettings(sentences=self.sentences, weight=self.weight, temperature=self.temperature)

    @classmethod
    def from_settings(cls, settings: DescribedSettings) -> StanceDescriptions:
        """Read back what `settings` saved with a model."""
        return cls(settings.sentences, settings.weight, settings.temperature)


class DescribedSettings(SavedSettings):
    """Stance descriptions as a model saves them."""

    sentences: dict[str, list[str]]
    weight: float
    temperature: float
