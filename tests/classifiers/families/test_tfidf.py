from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classifiers.errors import UserInputError
from classifiers.families.tfidf import CalibratedLinearSVC, TfidfClassifier, TfidfModel, build_pipeline
from classifiers.interface import load_predictor

# The same sentences carry opposite stances toward the two actors they name.
TEXTS = [
    "Alpha praised the brave Beta fighters and condemned Gamma aggression.",
    "Alpha hailed Beta as heroes while denouncing Gamma crimes.",
    "Officials praised Beta and attacked Gamma for its violations.",
    "Beta won praise; Gamma drew condemnation from Alpha.",
]


def stance_frame() -> tuple[pd.DataFrame, list[str]]:
    rows, labels = [], []
    for text in TEXTS:
        rows += [{"text": text, "target": "Beta"}, {"text": text, "target": "Gamma"}]
        labels += ["favor", "against"]
    return pd.DataFrame(rows), labels


def test_stance_model_reads_the_target() -> None:
    inputs, labels = stance_frame()
    classifier = TfidfClassifier("stance", build_pipeline(TfidfModel(family="tfidf", C=10.0), "stance", seed=0))
    classifier.fit(inputs, labels)
    text = "Alpha praised Beta fighters but condemned Gamma."
    probabilities = classifier.predict_proba(pd.DataFrame({"text": [text, text], "target": ["Beta", "Gamma"]}))
    favor = classifier.labels.index("favor")
    assert probabilities[0, favor] > 0.5 > probabilities[1, favor]
    # Any target string is scored, also one never seen in training.
    unseen = classifier.predict_proba(pd.DataFrame({"text": [text], "target": ["Delta Republic"]}))
    assert unseen.shape == (1, 2) and np.isclose(unseen.sum(), 1.0)


def test_linear_svm_calibrates_even_with_a_single_example_class() -> None:
    features = np.array([[0.0, 1.0]] * 6 + [[1.0, 0.0]] * 6 + [[1.0, 1.0]])
    labels = ["a"] * 6 + ["b"] * 6 + ["c"]
    model = CalibratedLinearSVC(C=1.0, random_state=0).fit(features, labels)
    probabilities = model.predict_proba(features)
    assert list(model.classes_) == ["a", "b", "c"]
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert model.predict(features[:1])[0] == "a"


def test_linear_svm_calibrates_a_side_with_fewer_rows_per_label_than_its_folds() -> None:
    # Two rows of each label (a run on a `data.limit` slice): StratifiedKFold refused its 3 folds with a traceback.
    features = np.array([[0.0, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.1]])
    model = CalibratedLinearSVC(C=1.0, random_state=0).fit(features, ["a", "a", "b", "b"])
    assert list(model.classes_) == ["a", "b"]
    assert np.allclose(model.predict_proba(features).sum(axis=1), 1.0)


def test_linear_svm_names_a_side_of_one_row_per_label() -> None:
    with pytest.raises(UserInputError, match="too small to hold any out and keep two labels: give more rows, or model.classifier=logreg"):
        CalibratedLinearSVC(C=1.0, random_state=0).fit(np.array([[0.0, 1.0], [1.0, 0.0]]), ["a", "b"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 7 iterations on purpose
def test_max_iter_reaches_the_linear_svm_too() -> None:
    config = TfidfModel(family="tfidf", classifier="linear_svm", max_iter=7)
    pipeline = build_pipeline(config, "topic", seed=0)
    texts, labels = TEXTS * 3, ["one", "two", "three", "four"] * 3
    pipeline.fit(pd.DataFrame({"text": texts}), labels)
    svcs = [calibrated.estimator for calibrated in pipeline[-1].calibrated_.calibrated_classifiers_]
    assert svcs and all(svc.max_iter == 7 for svc in svcs)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    inputs, labels = stance_frame()
    classifier = TfidfClassifier("stance", build_pipeline(TfidfModel(family="tfidf", classifier="linear_svm"), "stance", 0))
    classifier.fit(inputs, labels)
    classifier.save(tmp_path)
    loaded = load_predictor(tmp_path)
    assert (loaded.task, loaded.labels) == ("stance", ["against", "favor"])
    assert np.allclose(loaded.predict_proba(inputs), classifier.predict_proba(inputs))


@pytest.mark.parametrize(("min_df", "texts"), [(50, TEXTS), (1, ["the of and", "a an the", "of to in", "it is the"])])
def test_a_training_side_that_leaves_no_ngram_is_a_user_error_naming_min_df(min_df: int, texts: list[str]) -> None:
    # scikit-learn's vectoriser refuses min_df above the rows, or texts of stop words only, with a bare ValueError.
    model = TfidfModel(family="tfidf", min_df=min_df, char_ngrams=None, stop_words="english")
    classifier = TfidfClassifier("topic", build_pipeline(model, "topic", seed=0))
    with pytest.raises(UserInputError, match=rf"no word n-gram to learn from in 4 training rows .*model\.min_df \(now {min_df}\)"):
        classifier.fit(pd.DataFrame({"text": texts}), ["a", "b", "a", "b"])
