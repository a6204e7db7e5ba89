"""The ensemble family: members of other families trained together, their probabilities averaged."""

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from classifiers.errors import UserInputError
from classifiers.families.ensemble import EnsembleClassifier, EnsembleModel
from classifiers.families.frozen_encoder import FrozenEncoderModel
from classifiers.families.tfidf import TfidfModel
from classifiers.interface import TextReading, load_predictor
from classifiers.registry import classifier_factory, requirement_pins
from training.config.resolve import load_config
from training.trainer import train

INPUTS = pd.DataFrame(
    {
        "text": [
            "Ministers praised the ceasefire deal.",
            "Rockets hit the town again overnight.",
            "Envoys welcomed the talks in Doha.",
            "Shelling killed three civilians.",
        ]
        * 3,
        "target": ["Israel", "Iran"] * 6,
    }
)
LABELS = ["favor", "against", "favor", "against"] * 3


def ensemble_config(tiny_encoder: Path, weights: tuple[float, ...] | None = None) -> EnsembleModel:
    return EnsembleModel(
        family="ensemble",
        members=[
            {"family": "tfidf", "C": 10.0},
            {"family": "frozen_encoder", "encoder": str(tiny_encoder), "max_length": 32, "stance_input": "separate"},
        ],
        weights=weights,
    )


def test_probabilities_are_the_weighted_mean_of_the_members(tiny_encoder: Path, tmp_path: Path) -> None:
    classifier = classifier_factory(ensemble_config(tiny_encoder, weights=(3.0, 1.0)), "stance", seed=0)()
    assert isinstance(classifier, EnsembleClassifier)
    classifier.fit(INPUTS, LABELS)
    assert classifier.labels == ["against", "favor"]
    lexical, encoder = (member.predict_proba(INPUTS) for member in classifier.members)
    assert not np.allclose(lexical, encoder)
    probabilities = classifier.predict_proba(INPUTS)
    assert np.allclose(probabilities, 0.75 * lexical + 0.25 * encoder)

    classifier.save(tmp_path)
    loaded = load_predictor(tmp_path)
    assert isinstance(loaded, EnsembleClassifier)
    assert (loaded.family, loaded.task, loaded.labels) == ("ensemble", "stance", ["against", "favor"])
    assert [member.family for member in loaded.members] == ["tfidf", "frozen_encoder"]
    assert np.allclose(loaded.predict_proba(INPUTS), probabilities, atol=1e-5)


@pytest.mark.parametrize(
    ("long_texts", "expected"),
    [("windows", TextReading(whole=True, max_length=32)), ("truncate", TextReading(whole=False, max_length=32))],
)
def test_the_ensemble_reads_a_long_text_whole_only_where_every_member_does(
    tiny_encoder: Path, tmp_path: Path, long_texts: str, expected: TextReading
) -> None:
    config = EnsembleModel(
        family="ensemble",
        members=[
            {"family": "tfidf", "C": 10.0},
            {"family": "frozen_encoder", "encoder": str(tiny_encoder), "max_length": 32, "long_texts": long_texts},
        ],
    )
    classifier = classifier_factory(config, "stance", seed=0)()
    assert isinstance(classifier, EnsembleClassifier)
    classifier.fit(INPUTS, LABELS)
    # The TF-IDF member reads every word; the encoder member as its config says.
    assert [member.reading() for member in classifier.members] == [TextReading(whole=True), expected]
    assert classifier.reading() == expected
    classifier.save(tmp_path)
    assert load_predictor(tmp_path).reading() == expected


def test_members_are_validated_by_their_own_family(tiny_encoder: Path) -> None:
    config = ensemble_config(tiny_encoder)
    assert isinstance(config.members[0], TfidfModel) and isinstance(config.members[1], FrozenEncoderModel)
    assert config.family_names() == ("tfidf", "frozen_encoder")
    # The saved model needs what each member needs: the encoder's packages come from the frozen_encoder member.
    assert {pin.split("==")[0] for pin in requirement_pins(config)} >= {"scikit-learn", "torch", "transformers"}
    assert "torch" not in {pin.split("==")[0] for pin in requirement_pins(TfidfModel(family="tfidf"))}


@pytest.mark.parametrize(
    ("members", "weights", "message"),
    [
        ([{"family": "tfidf"}, {"family": "tfidf", "C": "high"}], None, "member 1 (tfidf): C: Input should be a valid number"),
        ([{"family": "tfidf"}, {"family": "nope"}], None, "member 1: unknown model family 'nope'"),
        ([{"family": "tfidf"}, {"C": 1.0}], None, "member 1: give a model section with a 'family' key"),
        ([{"family": "tfidf"}, {"family": "ensemble", "members": []}], None, "cannot be a member of an ensemble"),
        ([{"family": "tfidf"}], None, "at least 2 items"),
        ([{"family": "tfidf"}, {"family": "tfidf"}], (1.0,), "give one per member (2), got 1"),
    ],
)
def test_bad_members_or_weights_are_refused(members: list[dict[str, object]], weights: tuple[float, ...] | None, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EnsembleModel(family="ensemble", members=members, weights=weights)


def test_a_member_that_does_not_do_the_task_is_refused_before_training() -> None:
    config = EnsembleModel(family="ensemble", members=[{"family": "tfidf"}, {"family": "pair_features"}])
    with pytest.raises(UserInputError, match="the pair_features family does not do topic"):
        classifier_factory(config, "topic", seed=0)


def test_a_zero_shot_members_described_label_mlflow_cannot_put_in_a_metric_name_is_refused_before_any_run(
    store_uri: str, tmp_path: Path
) -> None:
    # The ensemble answers, and is scored on, its zero-shot member's described labels: `f1_arts & culture` was refused
    # by MLflow after the cross-validation, with a traceback, as the member alone is refused before any run.
    words = [("rockets", "conflict"), ("talks", "diplomacy")] * 8
    rows = [{"text": f"{word} story {i}", "label": label, "doc": f"d{i % 4}"} for i, (word, label) in enumerate(words)]
    (tmp_path / "mine.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    described = {"family": "descriptions", "description_weight": 1, "head_weight": 0}
    described["descriptions"] = {label: [f"This is about {label}."] for label in ("conflict", "diplomacy", "arts & culture")}
    config = {
        "task": "topic",
        "experiment": "zero-shot-ensemble",
        "data": {"source": "jsonl", "path": "mine.jsonl", "group_column": "doc"},
        "model": {"family": "ensemble", "members": [{"family": "tfidf"}, described]},
    }
    path = tmp_path / "ensemble.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    message = r"label 'arts & culture' cannot be part .* Rename it in model.members.1.descriptions$"
    with pytest.raises(UserInputError, match=message):
        train(load_config(path), config_path=path)
    assert mlflow.search_experiments(filter_string="name = 'zero-shot-ensemble'") == []
