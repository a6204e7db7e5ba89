"""Frozen-encoder and fine-tuned families on a tiny locally built encoder (fast): what every transformer family does alike
(fit, predict, save and load). Each family's own behaviour is tested in its mirror (test_frozen_encoder.py,
test_finetuned.py)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classifiers.families.finetuned import FineTuneModel
from classifiers.families.frozen_encoder import FrozenEncoderModel
from classifiers.interface import TextReading, load_predictor
from classifiers.registry import classifier_factory

INPUTS = pd.DataFrame(
    {
        "text": ["Rockets hit the base.", "Ministers met for talks.", "Drones struck a convoy.", "Envoys signed a deal."],
        "target": ["Israel", "Iran", "Israel", "Iran"],
    }
)
LABELS = ["against", "favor", "against", "favor"]


@pytest.mark.parametrize(
    "config",
    [
        FrozenEncoderModel(family="frozen_encoder", max_length=32, batch_size=2),
        FrozenEncoderModel(family="frozen_encoder", max_length=32, batch_size=2, stance_input="separate"),
        FrozenEncoderModel(family="frozen_encoder", max_length=32, batch_size=2, stance_input="per_target", min_target_rows=2),
        FineTuneModel(family="finetune", max_length=32, batch_size=2, max_steps=2, class_weight="balanced"),
    ],
    ids=["frozen_encoder", "frozen_encoder_separate", "frozen_encoder_per_target", "finetune"],
)
def test_family_fits_predicts_saves_and_loads(tiny_encoder: Path, tmp_path: Path, config: FrozenEncoderModel | FineTuneModel) -> None:
    config = config.model_copy(update={"encoder": str(tiny_encoder)})
    classifier = classifier_factory(config, "stance", seed=0)()
    classifier.fit(INPUTS, LABELS)
    assert classifier.labels == ["against", "favor"]
    probabilities = classifier.predict_proba(INPUTS)
    assert probabilities.shape == (4, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    classifier.save(tmp_path)
    loaded = load_predictor(tmp_path)
    assert (loaded.family, loaded.task, loaded.labels) == (config.family, "stance", ["against", "favor"])
    assert np.allclose(loaded.predict_proba(INPUTS), probabilities, atol=1e-5)
    # A fine-tuned model reads a text to max_length word pieces; a frozen encoder whole, by default, in windows of it.
    assert loaded.reading() == TextReading(whole=config.family == "frozen_encoder", max_length=32)
