import numpy as np
import pandas as pd
import pytest

from classifiers.contract import check_inputs, documents_of, predict, prediction_frame
from classifiers.families.tfidf import TfidfClassifier, TfidfModel, build_pipeline
from classifiers.interface import Predictor


def test_prediction_frame_follows_the_contract() -> None:
    frame = prediction_frame(["against", "favor", "none"], np.array([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]))
    assert list(frame.columns) == ["label", "score", "proba_against", "proba_favor", "proba_none"]
    assert frame["label"].tolist() == ["favor", "none"]
    assert frame["score"].tolist() == pytest.approx([0.7, 0.8])


def test_missing_target_column_is_named() -> None:
    with pytest.raises(ValueError, match="missing: target"):
        check_inputs(pd.DataFrame({"text": ["x"]}), "stance")
    assert check_inputs(pd.DataFrame({"text": ["a"], "extra": [2]}), "topic").to_dict("list") == {"text": ["a"]}


class _OneRowAlways(Predictor):
    """A family whose predict_proba reads a frame as one text (a vectorizer given the frame iterates its columns)."""

    family = "one_row"

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        return np.array([[0.6, 0.4]])

    @classmethod
    def load_weights(cls, directory: object, task: str, labels: list[str]) -> Predictor:
        raise NotImplementedError


def test_predict_refuses_a_model_that_answers_fewer_rows_than_it_was_given() -> None:
    predictor = _OneRowAlways("topic")
    predictor.labels = ["conflict", "economy"]
    assert predict(predictor, pd.DataFrame({"text": ["a"]}))["label"].tolist() == ["conflict"]
    with pytest.raises(ValueError, match=r"probabilities of shape \(1, 2\) for 3 row\(s\)"):
        predict(predictor, pd.DataFrame({"text": ["a", "b", "c"]}))


@pytest.mark.parametrize("missing", [None, np.nan])
def test_a_null_text_or_target_is_refused_naming_its_column_and_rows(missing: object) -> None:
    # MLflow's schema check lets a null through a required string column (it asks only that the column be there);
    # read on, it reached the model as NaN and failed deep inside it ("object of type 'float' has no len()").
    with pytest.raises(ValueError, match=r"column text has no value in row\(s\) 1"):
        check_inputs(pd.DataFrame({"text": ["a", missing]}), "topic")
    with pytest.raises(ValueError, match=r"column target has no value in row\(s\) 0, 2"):
        check_inputs(pd.DataFrame({"text": ["a", "b", "c"], "target": [missing, "X", missing]}), "stance")


def test_a_blank_text_or_target_is_refused_naming_its_column_and_rows() -> None:
    # The server and `score` refuse a blank text; the registered model (mlflow models serve, pyfunc) answered it
    # with a confident label.
    with pytest.raises(ValueError, match=r"column text is blank in row\(s\) 0, 2 \(counted from 0; 2 in all\)"):
        check_inputs(pd.DataFrame({"text": ["  ", "a", "\u200b\n"]}), "topic")
    with pytest.raises(ValueError, match=r"column target is blank in row\(s\) 1"):
        check_inputs(pd.DataFrame({"text": ["a", "b"], "target": ["X", " "]}), "stance")
    assert check_inputs(pd.DataFrame({"text": ["a"], "target": ["X"], "id": [1]}), "stance").columns.tolist() == [
        "text",
        "target",
    ]


def _tiny_topic_model() -> TfidfClassifier:
    """A TF-IDF topic model of two labels, trained on four texts, with a neighbour weight."""
    classifier = TfidfClassifier("topic", build_pipeline(TfidfModel(family="tfidf"), "topic", seed=0))
    classifier.fit(pd.DataFrame({"text": ["Jets struck.", "Talks resumed."] * 2}), ["conflict", "diplomacy"] * 2)
    classifier.neighbour_weight = 0.3
    return classifier


@pytest.mark.parametrize("value", [5, 2.5, True, b"Jets struck.", ["Jets", "struck."], {"text": "Jets struck."}])
def test_a_text_or_target_that_is_not_a_string_is_refused_naming_its_column_and_rows(value: object) -> None:
    # MLflow's schema check passes any value of an object column (`mlflow models serve` builds one from JSON): read
    # as its printed form ("5", "b'Jets struck.'", "['Jets', 'struck.']"), it got a label the server and `score` refuse.
    kind = type(value).__name__
    with pytest.raises(ValueError, match=rf"column text is not a string \(the first: {kind}\) in row\(s\) 1 \(counted from 0; 1 in all\)"):
        check_inputs(pd.DataFrame({"text": ["a", value]}), "topic")
    with pytest.raises(ValueError, match=r"column target is not a string .* in row\(s\) 0"):
        check_inputs(pd.DataFrame({"text": ["a"], "target": [value]}), "stance")
    strings = pd.DataFrame({"text": pd.array(["a"], dtype="string"), "target": np.array(["X"])})
    assert check_inputs(strings, "stance").to_dict("list") == {"text": ["a"], "target": ["X"]}


def test_a_frame_of_no_rows_gets_the_contracts_columns_and_no_rows() -> None:
    # A real family's model fails on no rows ("Found array with 0 sample(s)"): the contract answers without it.
    classifier = _tiny_topic_model()
    for empty in (pd.DataFrame({"text": pd.Series([], dtype=object)}), pd.DataFrame({"text": [], "document": []})):
        out = predict(classifier, empty)
        assert list(out.columns) == ["label", "score", "proba_conflict", "proba_diplomacy"]
        assert len(out) == 0


def test_a_blank_document_is_refused_naming_its_rows() -> None:
    # The server and `score` refuse it; the registered model read the rows of a blank document (an export's missing
    # id) as segments of one article, mixing unrelated texts' topics.
    frame = pd.DataFrame({"text": ["Jets struck.", "Talks resumed.", "Jets struck."], "document": ["", "x", " "]})
    with pytest.raises(ValueError, match=r"column document is blank \(leave it null .*\) in row\(s\) 0, 2 \(counted"):
        predict(_tiny_topic_model(), frame)
    assert documents_of(pd.DataFrame({"document": ["x", None, np.nan]})) == ["x", None, None]


@pytest.mark.parametrize("value", [["a"], True, 1.5])
def test_a_document_that_is_neither_a_string_nor_an_integer_is_refused_naming_its_rows(value: object) -> None:
    # A list failed inside the model ("unhashable type: 'list'"), a bool or a float named a document of its own.
    frame = pd.DataFrame({"text": ["Jets struck.", "Talks resumed."], "document": pd.Series([value, value], dtype=object)})
    kind = type(value).__name__
    with pytest.raises(ValueError, match=rf"column document is not a string \(the first: {kind}\) in row\(s\) 0, 1 \("):
        predict(_tiny_topic_model(), frame)


def test_an_integer_document_is_its_string() -> None:
    # `mlflow models serve` passes a JSON integer as an int (dataframe_records, dataframe_split) or as its string
    # (inputs, instances): both name one document, as `score` reads them.
    assert documents_of(pd.DataFrame({"document": pd.Series([7, "7", np.int64(7), None], dtype=object)})) == [
        "7", "7", "7", None
    ]
