"""The setfit family on a tiny locally built encoder: tuning moves the encoder, the saved model predicts alone."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classifiers.encoder import MeanPooledEncoder
from classifiers.errors import UserInputError
from classifiers.families.descriptions import DescriptionsModel
from classifiers.families.setfit_descriptions import SetFitDescriptionsModel, tuning_sentences
from classifiers.interface import load_predictor
from classifiers.registry import classifier_factory
from training.config.schema import ExperimentConfig

DESCRIPTIONS = {
    "conflict": ["Armed attacks, strikes and fighting."],
    "diplomacy": ["Talks and meetings between states.", "A minister visits another country."],
}
TEXTS = pd.DataFrame({"text": ["Jets struck the base.", "The envoys met in Cairo.", "Rockets hit a town.", "Talks resumed."]})
LABELS = ["conflict", "diplomacy", "conflict", "diplomacy"]


def model(tiny_encoder: Path, **changes: object) -> SetFitDescriptionsModel:
    config = SetFitDescriptionsModel(
        family="setfit", descriptions=DESCRIPTIONS, encoder=str(tiny_encoder), max_length=32, num_iterations=2, train_batch_size=4
    )
    return config.model_copy(update=changes)


def test_fits_predicts_saves_and_loads_without_setfit(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classifier = classifier_factory(model(tiny_encoder), "topic", seed=0)()
    classifier.fit(TEXTS, LABELS)
    assert classifier.labels == ["conflict", "diplomacy"]
    probabilities = classifier.predict_proba(TEXTS)
    assert probabilities.shape == (4, 2) and np.allclose(probabilities.sum(axis=1), 1.0)
    classifier.save(tmp_path)
    # Prediction-time code: an import of either library now raises ImportError.
    monkeypatch.setitem(sys.modules, "setfit", None)
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    loaded = load_predictor(tmp_path)
    assert (loaded.family, loaded.task, loaded.labels) == ("setfit", "topic", ["conflict", "diplomacy"])
    assert np.allclose(loaded.predict_proba(TEXTS), probabilities, atol=1e-5)


def test_tuning_moves_the_encoder_and_changes_the_answers(tiny_encoder: Path, tmp_path: Path) -> None:
    tuned = classifier_factory(model(tiny_encoder), "topic", seed=0)()
    tuned.fit(TEXTS, LABELS)
    tuned.save(tmp_path)
    frozen = MeanPooledEncoder(tiny_encoder, max_length=32, batch_size=8).encode(TEXTS)
    after = MeanPooledEncoder.load(tmp_path / "encoder").encode(TEXTS)
    assert not np.allclose(after, frozen, atol=1e-3)
    frozen_config = DescriptionsModel(family="descriptions", descriptions=DESCRIPTIONS, encoder=str(tiny_encoder), max_length=32)
    untuned = classifier_factory(frozen_config, "topic", seed=0)()
    untuned.fit(TEXTS, LABELS)
    # The same encoder would give the same answers to the digit (one model, one batch); the tiny encoder's tuning moves
    # them by about 1e-3, which a tolerance of 1e-3 read as unmoved in some runs.
    assert not np.allclose(tuned.predict_proba(TEXTS), untuned.predict_proba(TEXTS), atol=1e-5)


def test_zero_shot_tunes_on_the_descriptions_alone(tiny_encoder: Path) -> None:
    few_shot = tuning_sentences(model(tiny_encoder), TEXTS, LABELS)
    zero_shot = tuning_sentences(model(tiny_encoder, description_weight=1.0), TEXTS, LABELS)
    described = [("Armed attacks, strikes and fighting.", "conflict"), ("Talks and meetings between states.", "diplomacy"),
                 ("A minister visits another country.", "diplomacy")]
    assert zero_shot == described
    assert few_shot == described + list(zip(TEXTS["text"], LABELS, strict=True))


def test_weighted_rows_and_undescribed_labels_are_refused(tiny_encoder: Path) -> None:
    classifier = classifier_factory(model(tiny_encoder), "topic", seed=0)()
    with pytest.raises(UserInputError, match="does not weight rows"):
        classifier.fit(TEXTS, LABELS, sample_weight=np.array([1.0, 1.0, 0.1, 0.1]))
    with pytest.raises(UserInputError, match="no description for label\\(s\\) economy"):
        classifier.fit(TEXTS, [*LABELS[:3], "economy"])


def test_stance_is_refused_and_a_config_validates(tiny_encoder: Path) -> None:
    with pytest.raises(UserInputError, match="setfit family does not do stance"):
        classifier_factory(model(tiny_encoder), "stance", seed=0)
    config = ExperimentConfig.model_validate(
        {"task": "topic", "model": {"family": "setfit", "descriptions": DESCRIPTIONS, "num_iterations": 3}}
    )
    assert isinstance(config.model, SetFitDescriptionsModel) and config.model.num_iterations == 3
