"""classifiers/families/finetuned.py: the fine-tuned family's labels, precision and refusals, on a tiny locally built encoder."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from classifiers.encoder_settings import PRECISION_VARIABLE
from classifiers.errors import UserInputError
from classifiers.families.finetuned import FineTunedClassifier, FineTuneModel
from classifiers.interface import META_FILE, load_predictor
from classifiers.registry import classifier_factory

INPUTS = pd.DataFrame(
    {
        "text": ["Rockets hit the base.", "Ministers met for talks.", "Drones struck a convoy.", "Envoys signed a deal."],
        "target": ["Israel", "Iran", "Israel", "Iran"],
    }
)
LABELS = ["against", "favor", "against", "favor"]


def test_finetuned_model_carries_id2label(tiny_encoder: Path, tmp_path: Path) -> None:
    config = FineTuneModel(family="finetune", encoder=str(tiny_encoder), max_length=32, max_steps=1)
    classifier = classifier_factory(config, "topic", seed=0)()
    classifier.fit(INPUTS[["text"]], ["conflict", "diplomacy", "conflict", "economy"])
    classifier.save(tmp_path)
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(tmp_path / "model").id2label == {0: "conflict", 1: "diplomacy", 2: "economy"}


def test_finetuned_labels_that_disagree_with_id2label_are_refused(tiny_encoder: Path, tmp_path: Path) -> None:
    config = FineTuneModel(family="finetune", encoder=str(tiny_encoder), max_length=32, max_steps=1)
    classifier = classifier_factory(config, "stance", seed=0)()
    classifier.fit(INPUTS, LABELS)
    classifier.save(tmp_path)
    meta_path = tmp_path / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps({**meta, "labels": ["favor", "against"]}), encoding="utf-8")
    with pytest.raises(UserInputError) as err:
        load_predictor(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'model'}: the model's id2label (against, favor) does not match the saved labels (favor, against)"
    )


def test_finetuned_model_trains_and_predicts_in_the_configured_precision(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "bfloat16")
    config = FineTuneModel(family="finetune", encoder=str(tiny_encoder), max_length=32, batch_size=2, max_steps=2)
    classifier = classifier_factory(config, "stance", seed=0)()
    classifier.fit(INPUTS, LABELS)
    trained = classifier.predict_proba(INPUTS)
    classifier.save(tmp_path)
    loaded = load_predictor(tmp_path)
    assert isinstance(loaded, FineTunedClassifier) and loaded.model is not None
    # Mixed precision computes in bfloat16 but keeps and saves float32 weights.
    assert {str(parameter.dtype) for parameter in loaded.model.parameters()} == {"torch.float32"}
    mixed = loaded.predict_proba(INPUTS)
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    full = loaded.predict_proba(INPUTS)
    assert np.allclose(mixed, trained, atol=1e-6)
    assert np.allclose(mixed.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(mixed, full, atol=0.02) and not np.array_equal(mixed, full)


def test_finetuned_model_without_weights_raises_not_fitted(tiny_encoder: Path) -> None:
    config = FineTuneModel(family="finetune", encoder=str(tiny_encoder), max_length=32, max_steps=1)
    classifier = classifier_factory(config, "topic", seed=0)()
    # a real error, not an assert that `python -O` would strip
    with pytest.raises(NotFittedError, match="call fit first"):
        classifier.predict_proba(INPUTS[["text"]])


def test_a_target_as_long_as_the_window_is_cut_with_the_text(tiny_encoder: Path) -> None:
    # Only the text was cut: a target of max_length word pieces or more left nothing to cut, and the tokenizer's
    # refusal reached the server as a 500.
    config = FineTuneModel(family="finetune", encoder=str(tiny_encoder), max_length=32, max_steps=1)
    classifier = classifier_factory(config, "stance", seed=0)()
    assert isinstance(classifier, FineTunedClassifier)
    classifier.fit(INPUTS, LABELS)
    long_target = INPUTS.assign(target=" ".join(["sanctions"] * 60))
    probabilities = classifier.predict_proba(long_target)
    assert probabilities.shape == (len(INPUTS), 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # A target that leaves room is kept whole, as before: only the text is cut.
    long_text = INPUTS.assign(text=" ".join(["talks"] * 60))
    as_before = classifier.tokenizer(
        long_text["target"].tolist(), long_text["text"].tolist(), truncation="only_second", max_length=32
    )
    assert classifier._tokenize(long_text)["input_ids"] == as_before["input_ids"]
