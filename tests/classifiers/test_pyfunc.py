"""The registered pyfunc under MLflow's own scoring server (`mlflow models serve`), called in this process."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.environment_variables import _MLFLOW_IS_IN_SERVING_ENVIRONMENT
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server

from classifiers import pyfunc_entry
from classifiers.contract import predict
from classifiers.families.tfidf import TfidfClassifier, TfidfModel, build_pipeline
from classifiers.pyfunc import ARTIFACT_KEY, model_signature

TEXTS = ["Jets struck the city overnight.", "Ministers met for ceasefire talks.", "Parliament passed the budget."]
LABELS = ["conflict", "diplomacy", "domestic_politics"]


@pytest.fixture
def saved_model(tmp_path: Path) -> Path:
    """A tiny TF-IDF topic model saved as the trainer logs one (signature and input example included)."""
    classifier = TfidfClassifier("topic", build_pipeline(TfidfModel(family="tfidf"), "topic", seed=0))
    classifier.fit(pd.DataFrame({"text": TEXTS * 2}), LABELS * 2)
    classifier.save(tmp_path / ARTIFACT_KEY)
    example = pd.DataFrame({"text": TEXTS})
    mlflow.pyfunc.save_model(
        tmp_path / "model",
        python_model=pyfunc_entry.__file__,
        artifacts={ARTIFACT_KEY: str(tmp_path / ARTIFACT_KEY)},
        signature=model_signature(example, predict(classifier, example)),
        input_example=example,
        pip_requirements=["mlflow"],
    )
    return tmp_path / "model"


@pytest.fixture
def scoring_app(saved_model: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """MLflow's scoring app (what `mlflow models serve` runs) serving the saved model."""
    # The app sets this variable for the rest of the process: set here, it is restored after the test.
    monkeypatch.setenv(_MLFLOW_IS_IN_SERVING_ENVIRONMENT.name, "true")
    return TestClient(scoring_server.init(mlflow.pyfunc.load_model(str(saved_model))))


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ([{"text": "Jets struck."}, {"text": None}], r"column text has no value in row\(s\) 1"),
        ([{"text": " "}], r"column text is blank in row\(s\) 0"),
        ([{"text": "Jets struck."}, {"text": 5}], r"column text is not a string \(the first: int\) in row\(s\) 1"),
    ],
)
def test_the_scoring_server_answers_a_refused_input_with_its_reason(
    scoring_app: TestClient, rows: list[dict[str, object]], reason: str
) -> None:
    # Any error but MLflow's own came back as "an unexpected error while evaluating the model", the reason buried
    # in a Python traceback of the server's.
    response = scoring_app.post("/invocations", json={"dataframe_records": rows})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "unexpected error" not in body["message"]
    assert re.search(reason, body["message"]), body["message"]
    assert "stack_trace" not in body


def test_the_scoring_server_answers_no_rows_with_no_predictions(scoring_app: TestClient) -> None:
    response = scoring_app.post("/invocations", json={"dataframe_split": {"columns": ["text"], "data": []}})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": []}


def test_a_dict_of_lists_is_refused_as_one_row_of_lists(saved_model: Path) -> None:
    # MLflow reads a dict of lists as one row whose values are the lists: it got one label, for "['Jets struck.', ...]".
    model = mlflow.pyfunc.load_model(str(saved_model))
    with pytest.raises(MlflowException, match=r"column text is not a string \(the first: list\) in row\(s\) 0"):
        model.predict({"text": ["Jets struck.", "Talks resumed."]})
    assert model.predict({"text": "Jets struck."})["label"].tolist() == ["conflict"]
