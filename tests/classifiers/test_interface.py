"""classifiers/interface.py: what a saved model's classifier.json carries (layout, neighbour weight, target aliases),
and how load_predictor reads it back, older layouts included."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from classifiers.families.tfidf import TfidfClassifier, TfidfModel, build_pipeline
from classifiers.interface import META_FILE, OutdatedModelError, load_predictor
from classifiers.saved_settings import SavedModelError
from classifiers.target_context import SHIPPED_ONLY, TargetAliases

TEXTS = ["Jets struck the city overnight.", "Ministers met for ceasefire talks.", "Parliament passed the budget."]
LABELS = ["conflict", "diplomacy", "domestic_politics"]


def tiny_topic_model(directory: Path) -> TfidfClassifier:
    classifier = TfidfClassifier("topic", build_pipeline(TfidfModel(family="tfidf"), "topic", seed=0))
    classifier.fit(pd.DataFrame({"text": TEXTS * 2}), LABELS * 2)
    classifier.save(directory)
    return classifier


def test_a_model_saved_before_the_layout_version_is_refused_with_retrain_advice(tmp_path: Path) -> None:
    tiny_topic_model(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    del meta["layout"]  # what models saved by the old training.models code look like
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(OutdatedModelError, match=r"older version of this project .* train-defaults --retrain"):
        load_predictor(tmp_path)


def test_the_neighbour_weight_travels_with_the_model_and_older_models_read_segments_alone(tmp_path: Path) -> None:
    classifier = TfidfClassifier("topic", build_pipeline(TfidfModel(family="tfidf"), "topic", seed=0))
    classifier.fit(pd.DataFrame({"text": TEXTS * 2}), LABELS * 2)
    classifier.neighbour_weight = 0.3
    classifier.save(tmp_path)
    loaded = load_predictor(tmp_path)
    assert loaded.neighbour_weight == 0.3
    article = pd.DataFrame({"text": TEXTS})
    alone = loaded.predict_proba(article)
    in_article = loaded.predict_proba_in_documents(article)
    assert in_article[1] == pytest.approx(0.7 * alone[1] + 0.3 * (alone[0] + alone[2]) / 2)

    meta = json.loads((tmp_path / META_FILE).read_text())
    del meta["neighbour_weight"]  # saved before neighbour weights existed
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    older = load_predictor(tmp_path)
    assert older.neighbour_weight == 0.0
    assert older.predict_proba_in_documents(article) == pytest.approx(alone)


def test_target_aliases_travel_with_the_model_and_older_models_know_only_the_shipped_ones(tmp_path: Path) -> None:
    texts = ["The Kremlin condemned the strikes on Moscow.", "Officials praised Russia's mediation.", "Markets fell."]
    classifier = TfidfClassifier("stance", build_pipeline(TfidfModel(family="tfidf", context_window=0), "stance", seed=0))
    classifier.target_aliases = TargetAliases.of({"Russia": ["Moscow", "Kremlin"]})
    classifier.fit(pd.DataFrame({"text": texts * 2, "target": ["Russia"] * 6}), ["against", "favor", "none"] * 2)
    classifier.save(tmp_path)

    loaded = load_predictor(tmp_path)
    assert loaded.target_aliases == classifier.target_aliases
    view = loaded.pipeline.named_steps["stance_view"]  # type: ignore[attr-defined]
    # The saved pipeline finds the target's context by the aliases it was trained with.
    context = view.transform(pd.DataFrame({"text": ["Markets fell. The Kremlin spoke."], "target": ["Russia"]}))["context"]
    assert context.tolist() == ["The Kremlin spoke."]

    meta = json.loads((tmp_path / META_FILE).read_text())
    del meta["target_aliases"]  # saved before a model had aliases of its own
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    assert load_predictor(tmp_path).target_aliases == SHIPPED_ONLY


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": "conflict"}, r"classifier.json: labels: Input should be a valid list; "),
        ({"neighbour_weight": "high"}, r"classifier.json: neighbour_weight: Input should be a valid number"),
        ({"family": None}, r"classifier.json: family: Input should be a valid string"),
        ({"ensemble_of": 2}, r"classifier.json: ensemble_of: Extra inputs are not permitted; the model was saved by another"),
    ],
)
def test_a_damaged_or_foreign_classifier_json_is_named_with_its_key(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    tiny_topic_model(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    (tmp_path / META_FILE).write_text(json.dumps(meta | change))
    with pytest.raises(SavedModelError, match=message):
        load_predictor(tmp_path)


def test_a_classifier_json_that_is_no_object_is_named(tmp_path: Path) -> None:
    tiny_topic_model(tmp_path)
    (tmp_path / META_FILE).write_text("[2]")
    with pytest.raises(SavedModelError, match=r"classifier.json: the file: Input should be a valid dictionary"):
        load_predictor(tmp_path)
    (tmp_path / META_FILE).write_text('{"family": "tfidf",')
    with pytest.raises(SavedModelError, match=r"classifier.json: not the JSON this project writes .*: the saved model is damaged"):
        load_predictor(tmp_path)
