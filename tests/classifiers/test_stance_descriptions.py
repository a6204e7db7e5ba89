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


def test_mix_gives_the_descriptions_their_weight_and_settings_round_trip(tiny_encoder: Path) -> None:
    encoder = MeanPooledEncoder(tiny_encoder, max_length=32, batch_size=4, cache=True)
    described = StanceDescriptions(SENTENCES, weight=0.25, temperature=0.1)
    text = encoder.encode(pd.DataFrame({"text": ["Hamas is praised and thanked."]}))
    head = np.array([[0.9, 0.1]])
    mixed = described.mix(encoder, text, ["Hamas"], ["against", "favor"], head)
    alone = described.probabilities(encoder, text, ["Hamas"], ["against", "favor"])
    assert np.allclose(mixed, 0.75 * head + 0.25 * alone)
    assert StanceDescriptions.from_settings(described.settings()) == described
