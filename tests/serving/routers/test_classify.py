"""POST /v1/classify against the trained default models."""

from __future__ import annotations

import math

import mlflow.pyfunc
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
    items = [{"text": CONFLICT, "target": "Israel"}, {"text": ECONOMY}, {"text": CONFLICT, "target": "Hezbollah"}]

    body = client.post("/v1/classify", json={"items": items}).json()

    assert body["models"]["stance"] == {"name": "news-stance", "version": "1"}
    stances = [result["stance"] for result in body["results"]]
    assert stances[1] is None
    assert [stances[0]["target"], stances[2]["target"]] == ["Israel", "Hezbollah"]
    for stance in (stances[0], stances[2]):
        assert set(stance["probabilities"]) == {"against", "favor", "none"}
        assert stance["label"] == max(stance["probabilities"], key=stance["probabilities"].get)


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
