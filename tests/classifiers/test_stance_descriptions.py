"""Stance descriptions: template checks and the probabilities they give, on a tiny locally built encoder."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classifiers.encoder import MeanPooledEncoder
from classifiers.stance_descriptions import StanceDescriptions, check_sentences

SENTENCES = {"favor": ["{target} is praised and thanked."], "against": ["{target} is condemned and blamed."]}


@pytest.mark.parametrize(
    ("sentences", "message"),
    [
        ({"favor": ["Israel is praised."]}, r"must name the target as \{target\}.*found: none"),
        ({"favor": ["{target} is praised by {source}."]}, r"found: source, target"),
        ({"favor": ["{target} is praised {"]}, "is not a template"),
        ({"favor": ["{target} is praised."], "against": ["  "]}, "empty stance description for label 'against'"),
    ],
)
def test_a_sentence_without_exactly_the_target_slot_is_refused(sentences: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_sentences(sentences)


def test_a_text_scores_highest_on_the_label_whose_sentence_it_repeats_for_its_own_target(tiny_encoder: Path) -> None:
    encoder = MeanPooledEncoder(tiny_encoder, max_length=32, batch_size=4, cache=True)
    described = StanceDescriptions(SENTENCES, weight=0.5, temperature=0.05)
    texts = ["Iran is praised and thanked.", "Iran is condemned and blamed.", "Iran is condemned and blamed."]
    targets = ["Iran", "Iran", "Hamas"]
    text = encoder.encode(pd.DataFrame({"text": texts}))
    probabilities = described.probabilities(encoder, text, targets, ["against", "favor"])
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0].argmax() == 1 and probabilities[1].argmax() == 0
    # Each row's sentences are filled with its own target: the same text toward another target scores otherwise.
    assert not np.allclose(probabilities[2], probabilities[1])
    assert described.probabilities(encoder, text[:0], [], ["against", "favor"]).shape == (0, 2)


@pytest.mark.parametrize("temperature", [0.05, 0.5])
def test_probabilities_are_a_softmax_of_the_cosines_over_the_temperature(tiny_encoder: Path, temperature: float) -> None:
    encoder = MeanPooledEncoder(tiny_encoder, max_length=32, batch_size=4, cache=True)
    labels = ["against", "favor"]
    texts, targets = ["Iran is praised and thanked.", "Hamas was blamed for the strike."], ["Iran", "Hamas"]
    text = encoder.encode(pd.DataFrame({"text": texts}))

    def cosine(row: np.ndarray, target: str, label: str) -> float:
        """Mean cosine of a (unit-length) text embedding to the label's sentences filled with its target."""
        filled = [sentence.format(target=target) for sentence in SENTENCES[label]]
        return float(np.mean(encoder.encode(pd.DataFrame({"text": filled})) @ row))

    cosines = np.array([[cosine(row, target, label) for label in labels] for row, target in zip(text, targets, strict=True)])
    exponentials = np.exp(cosines / temperature)
    expected = exponentials / exponentials.sum(axis=1, keepdims=True)
    described = StanceDescriptions(SENTENCES, weight=0.5, temperature=temperature)
    assert np.allclose(described.probabilities(encoder, text, targets, labels), expected, atol=1e-6)


def test_a_lower_temperature_gives_a_sharper_distribution(tiny_encoder: Path) -> None:
    encoder = MeanPooledEncoder(tiny_encoder, max_length=32, batch_size=4, cache=True)
    text = encoder.encode(pd.DataFrame({"text": ["Iran is praised and thanked."]}))
    sharp, flat = (
        StanceDescriptions(SENTENCES, weight=0.5, temperature=t).probabilities(encoder, text, ["Iran"], ["against", "favor"])
        for t in (0.05, 1.0)
    )
    assert sharp[0].argmax() == flat[0].argmax() == 1
    assert sharp[0, 1] > flat[0, 1]


def test_mix_gives_the_descriptions_their_weight_and_settings_round_trip(tiny_encoder: Path) -> None:
    encoder = MeanPooledEncoder(tiny_encoder, max_length=32, batch_size=4, cache=True)
    described = StanceDescriptions(SENTENCES, weight=0.25, temperature=0.1)
    text = encoder.encode(pd.DataFrame({"text": ["Hamas is praised and thanked."]}))
    head = np.array([[0.9, 0.1]])
    mixed = described.mix(encoder, text, ["Hamas"], ["against", "favor"], head)
    alone = described.probabilities(encoder, text, ["Hamas"], ["against", "favor"])
    assert np.allclose(mixed, 0.75 * head + 0.25 * alone)
    assert StanceDescriptions.from_settings(described.settings()) == described
