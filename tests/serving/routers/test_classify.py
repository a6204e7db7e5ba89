"""POST /v1/classify against the trained default models."""

from __future__ import annotations

import math

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from classifiers import store
from classifiers.contract import predict

CONFLICT = "Israeli jets struck Hezbollah positions in southern Lebanon overnight, killing several fighters."
ECONOMY = "The central bank raised interest rates again as inflation and the price of bread kept climbing."


def test_topic_only_batch_reports_topic_model_and_no_stance(client: TestClient) -> None:
    response = client.post("/v1/classify", json={"items": [{"text": CONFLICT}, {"text": ECONOMY}]})

    assert response.status_code == 200
    body = response.json()
    assert body["models"] == {"topic": {"name": "news-topic", "version": "1"}, "stance": None}
    assert len(body["results"]) == 2
    for result in body["results"]:
        topic = result["topic"]
        assert result["stance"] is None
        assert set(topic["probabilities"]) == {"conflict", "diplomacy", "domestic_politics", "economy", "humanitarian"}
        assert math.isclose(sum(topic["probabilities"].values()), 1.0, abs_tol=1e-6)
        assert topic["score"] == max(topic["probabilities"].values())
        assert topic["label"] == max(topic["probabilities"], key=topic["probabilities"].get)
    assert body["results"][0]["topic"]["label"] == "conflict"


def test_stance_only_for_items_with_a_target(client: TestClient) -> None:
    items = [
        {"text": CONFLICT, "target": "Israel"},
        {"text": ECONOMY},
        {"text": CONFLICT, "target": "Hezbollah"},
        {"text": ECONOMY, "target": "Iran"},
    ]

    body = client.post("/v1/classify", json={"items": items}).json()

    assert body["models"]["stance"] == {"name": "news-stance", "version": "1"}
    stances = [result["stance"] for result in body["results"]]
    assert stances[1] is None
    assert [stances[0]["target"], stances[2]["target"], stances[3]["target"]] == ["Israel", "Hezbollah", "Iran"]
    for stance in (stances[0], stances[2], stances[3]):
        assert set(stance["probabilities"]) == {"against", "favor", "none"}
        assert stance["label"] == max(stance["probabilities"], key=stance["probabilities"].get)
    # "Israeli" names Israel by its alias; the economy paragraph never names Iran, and says so beside its answer.
    assert [stances[0]["mentioned"], stances[2]["mentioned"], stances[3]["mentioned"]] == [True, True, False]


def test_results_follow_the_pyfunc_contract_of_the_registered_models(client: TestClient) -> None:
    """Label, score and probabilities are exactly what classifiers.pyfunc.predict gives for the same version."""
    items = [
        {"text": CONFLICT, "target": "Israel"},
        {"text": ECONOMY, "target": "Iran"},
        {"text": "Talks resumed in Doha."},
    ]
    store.use_store(client.app.state.settings.tracking_uri)  # type: ignore[attr-defined]
    topic_model = mlflow.pyfunc.load_model("models:/news-topic/1").unwrap_python_model().classifier
    stance_model = mlflow.pyfunc.load_model("models:/news-stance/1").unwrap_python_model().classifier
    topics = predict(topic_model, pd.DataFrame({"text": [item["text"] for item in items]}))
    stances = predict(stance_model, pd.DataFrame({"text": [CONFLICT, ECONOMY], "target": ["Israel", "Iran"]}))

    results = client.post("/v1/classify", json={"items": items}).json()["results"]

    for served, expected in [(result["topic"], topics.iloc[index]) for index, result in enumerate(results)] + [
        (results[index]["stance"], stances.iloc[index]) for index in (0, 1)
    ]:
        assert served["label"] == expected["label"]
        assert served["score"] == pytest.approx(expected["score"], abs=1e-12)
        for label, probability in served["probabilities"].items():
            assert probability == pytest.approx(expected[f"proba_{label}"], abs=1e-12)


def test_a_full_batch_is_answered_in_order(client: TestClient, limits: dict[str, int]) -> None:
    texts = [CONFLICT if index % 2 else ECONOMY for index in range(limits["max_items"])]

    body = client.post("/v1/classify", json={"items": [{"text": text} for text in texts]}).json()

    labels = [result["topic"]["label"] for result in body["results"]]
    assert labels[1::2] == ["conflict"] * (len(texts) // 2)
    assert len(set(labels[0::2])) == 1  # the same text always gets the same answer


def test_items_of_one_document_are_read_beside_each_other_and_the_others_alone(client: TestClient) -> None:
    texts = [CONFLICT, "Talks resumed in Doha.", ECONOMY, "Talks resumed in Doha."]
    alone = client.post("/v1/classify", json={"items": [{"text": text} for text in texts]}).json()["results"]
    # Items 0, 1 and 3 are one article's segments in that order; item 2 gives no document.
    items = [{"text": text, "document": "a"} for text in texts]
    del items[2]["document"]

    results = client.post("/v1/classify", json={"items": items}).json()["results"]

    store.use_store(client.app.state.settings.tracking_uri)  # type: ignore[attr-defined]
    weight = mlflow.pyfunc.load_model("models:/news-topic/1").unwrap_python_model().classifier.neighbour_weight
    assert weight > 0  # the default topic model has one
    labels = list(alone[0]["topic"]["probabilities"])
    own = np.array([[result["topic"]["probabilities"][label] for label in labels] for result in alone])
    served = np.array([[result["topic"]["probabilities"][label] for label in labels] for result in results])
    np.testing.assert_allclose(served[0], (1 - weight) * own[0] + weight * own[1], atol=1e-9)
    np.testing.assert_allclose(served[1], (1 - weight) * own[1] + weight * (own[0] + own[3]) / 2, atol=1e-9)
    np.testing.assert_allclose(served[3], (1 - weight) * own[3] + weight * own[1], atol=1e-9)
    assert results[2] == alone[2]  # no document: read alone
    assert [result["topic"]["label"] for result in results] == [labels[row.argmax()] for row in served]
