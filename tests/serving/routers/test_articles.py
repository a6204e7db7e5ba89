"""POST /v1/articles: segments as ingest cuts them, classified, and the article summary."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from classifiers.pyfunc import load_pyfunc
from classifiers.segmenter import segment_body
from serving.app import create_app
from serving.article_analysis import mention_pairs
from tests.conftest import batching_tolerance
from tests.serving.conftest import SettingsFactory
from training import locations
from training.config.resolve import load_config
from training.trainer import train

BODY = """Israeli jets struck Hezbollah positions in southern Lebanon overnight, the army said.

Iran condemned the Israeli strikes and warned of a wider war.
Aftermath
Aid agencies said thousands of families had fled their homes and needed food and shelter.
"""


def test_article_is_segmented_like_ingest_and_each_segment_classified(client: TestClient) -> None:
    response = client.post("/v1/articles", json={"title": "Strikes in Lebanon", "body": BODY})

    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Strikes in Lebanon"
    assert body["models"] == {"topic": {"name": "news-topic", "version": "1"}, "stance": None}
    assert [segment["text"] for segment in body["segments"]] == segment_body(BODY)
    assert [segment["position"] for segment in body["segments"]] == [0, 1, 2]
    assert body["segments"][2]["text"].startswith("Aftermath\nAid agencies")  # heading joined to its paragraph
    assert all(segment["stances"] == [] for segment in body["segments"])


@pytest.mark.parametrize("invisible", ["\u0000", "\u200b", "\u00ad\u200b\n\u2800"])
def test_a_paragraph_with_nothing_visible_is_not_a_segment(client: TestClient, invisible: str) -> None:
    body = f"Iran struck targets in Iraq overnight.\n\n{invisible}"

    answer = client.post("/v1/articles", json={"title": "t", "body": body}).json()

    assert [segment["text"] for segment in answer["segments"]] == ["Iran struck targets in Iraq overnight."]
    assert answer["summary"]["segments"] == 1


def test_each_segment_is_read_beside_its_neighbours_and_a_classified_text_alone(
    client: TestClient, trained_store_uri: str
) -> None:
    model = load_pyfunc("models:/news-topic/1").unwrap_python_model().classifier
    assert model.neighbour_weight > 0  # the default topic model has one

    article = client.post("/v1/articles", json={"title": "", "body": BODY}).json()
    alone = client.post("/v1/classify", json={"items": [{"text": text} for text in segment_body(BODY)]})

    def matrix(predictions: list[dict[str, Any]]) -> np.ndarray:
        return np.array([[prediction["probabilities"][label] for label in model.labels] for prediction in predictions])

    in_article = matrix([segment["topic"] for segment in article["segments"]])
    classified = matrix([result["topic"] for result in alone.json()["results"]])
    expected = model.predict_proba_in_documents(pd.DataFrame({"text": segment_body(BODY)}))
    np.testing.assert_allclose(in_article, expected, atol=batching_tolerance())
    # The middle segment takes its share from the first and the last; /v1/classify reads each text alone.
    np.testing.assert_allclose(
        in_article[1],
        (1 - model.neighbour_weight) * classified[1] + model.neighbour_weight * (classified[0] + classified[2]) / 2,
        atol=batching_tolerance(),
    )
    assert not np.allclose(in_article, classified)


def test_topic_distribution_counts_every_label(client: TestClient) -> None:
    body = client.post("/v1/articles", json={"title": "", "body": BODY}).json()

    topics = body["summary"]["topics"]
    assert body["summary"]["segments"] == 3
    assert {topic["label"] for topic in topics} == {
        "conflict",
        "diplomacy",
        "domestic_politics",
        "economy",
        "humanitarian",
    }
    assert sum(topic["count"] for topic in topics) == 3
    assert math.isclose(sum(topic["share"] for topic in topics), 1.0)
    counts = [topic["count"] for topic in topics]
    assert counts == sorted(counts, reverse=True)
    segment_labels = [segment["topic"]["label"] for segment in body["segments"]]
    assert {topic["label"]: topic["count"] for topic in topics if topic["count"]} == {
        label: segment_labels.count(label) for label in set(segment_labels)
    }


def test_stance_per_target_over_the_segments_that_mention_it(client: TestClient) -> None:
    body = client.post("/v1/articles", json={"title": "t", "body": BODY, "targets": ["Israel", "Iran", "Hamas"]}).json()

    assert body["models"]["stance"] == {"name": "news-stance", "version": "1"}
    israel, iran, hamas = body["summary"]["stances"]
    # "Israeli" is one of the aliases of Israel; only the second segment names Iran.
    assert [segment["position"] for segment in israel["segments"]] == [0, 1]
    assert [segment["position"] for segment in iran["segments"]] == [1]
    assert israel["mentioned"] and iran["mentioned"]
    per_segment = {
        (segment["position"], stance["target"]): stance for segment in body["segments"] for stance in segment["stances"]
    }
    assert set(per_segment) == {(0, "Israel"), (1, "Israel"), (1, "Iran")}
    assert all(stance["mentioned"] for stance in per_segment.values())  # only segments naming a target are asked
    for label in ("against", "favor", "none"):
        mean = (
            per_segment[(0, "Israel")]["probabilities"][label] + per_segment[(1, "Israel")]["probabilities"][label]
        ) / 2
        assert math.isclose(israel["probabilities"][label], mean)
    assert israel["label"] == max(israel["probabilities"], key=israel["probabilities"].get)
    assert iran["label"] == per_segment[(1, "Iran")]["label"]
    assert hamas == {
        "target": "Hamas",
        "mentioned": False,
        "label": None,
        "score": None,
        "probabilities": None,
        "segments": [],
    }


def test_a_word_that_only_starts_like_the_target_gets_no_stance(client: TestClient) -> None:
    body = "Government forces shelled the city of Hama overnight.\n\nHamas said it would study the proposal."

    response = client.post("/v1/articles", json={"title": "t", "body": body, "targets": ["Hamas", "United States"]})

    assert response.status_code == 200
    segments, summary = response.json()["segments"], response.json()["summary"]
    assert [stance["target"] for stance in segments[0]["stances"]] == []  # "Hama" does not name Hamas
    assert [stance["target"] for stance in segments[1]["stances"]] == ["Hamas"]
    hamas, united_states = summary["stances"]
    assert hamas["mentioned"] and [segment["position"] for segment in hamas["segments"]] == [1]
    assert (united_states["mentioned"], united_states["label"], united_states["segments"]) == (False, None, [])

    only_hama = client.post("/v1/articles", json={"title": "t", "body": body.split("\n")[0], "targets": ["Hamas"]})

    assert only_hama.json()["summary"]["stances"] == [
        {"target": "Hamas", "mentioned": False, "label": None, "score": None, "probabilities": None, "segments": []}
    ]
    assert only_hama.json()["segments"][0]["stances"] == []


@pytest.fixture(scope="module")
def aliased_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store whose TF-IDF stance champion was trained with aliases of its own for Russia (and a TF-IDF topic model)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('aliased-store') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml", ["promote=always"]))
        train(load_config(locations.CONFIGS_DIR / "stance" / "tfidf_svm.yaml", ["target_aliases={Russia: [Moscow, Kremlin]}", "promote=always"]))
    return uri


def test_a_stance_model_trained_with_aliases_finds_its_targets_by_them(
    aliased_store: str, make_settings: SettingsFactory
) -> None:
    text = "The Kremlin warned Kyiv overnight.\n\nMarkets fell in Europe."
    article = {"title": "t", "body": text, "targets": ["Russia"]}
    with TestClient(create_app(make_settings(aliased_store))) as aliased:
        body = aliased.post("/v1/articles", json=article).json()
        models = {model["task"]: model for model in aliased.get("/v1/models").json()["models"]}

    russia = body["summary"]["stances"][0]
    assert russia["mentioned"] and [segment["position"] for segment in russia["segments"]] == [0]
    assert models["stance"]["target_aliases"] == {"russia": ["Moscow", "Kremlin"]}
    assert models["topic"]["target_aliases"] == {}
    # Every name a target is found by, so a client can send the one that finds them all.
    known = models["stance"]["known_targets"]
    assert known["russia"] == ["russia", "Moscow", "Kremlin"]
    assert known["United States"][0] == "United States" and {"US", "Washington"} <= set(known["United States"])
    assert models["topic"]["known_targets"] == {}
    # The same article through the session's default models, trained without them: Russia is never named.
    assert not mention_pairs(segment_body(text), ["Russia"])
