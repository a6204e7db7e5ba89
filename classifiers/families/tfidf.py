"""TF-IDF word and character n-grams with logistic regression or a calibrated linear SVM."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
import pandas as pd
from pydantic import Field, PositiveFloat, PositiveInt, field_validator
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from classifiers.config import CLASS_WEIGHT_HELP, FamilyConfig
from classifiers.errors import UserInputError
from classifiers.interface import Labels, Trainable
from classifiers.registry import Factory, Family, register
from classifiers.target_context import SHIPPED_ONLY, TargetAliases, conjoin, target_context

PIPELINE_FILE = "pipeline.joblib"
CALIBRATION_FOLDS = 3
# What scikit-learn's vectorisers say when a training side leaves them no n-gram: min_df above its rows, or texts of
# stop words only. A bare ValueError there would reach the user as a traceback.
_EMPTY_VOCABULARY = ("max_df corresponds to < documents than min_df", "no terms remain", "empty vocabulary")


class TfidfModel(FamilyConfig):
    """TF-IDF word and character n-grams with a linear classifier."""

    family: Literal["tfidf"]
    classifier: Literal["logreg", "linear_svm"] = Field(
        "logreg",
        description=(
            "logreg: logistic regression (probabilities); linear_svm: a linear SVM, its scores calibrated into "
            "probabilities."
        ),
    )
    C: PositiveFloat = Field(1.0, description="Inverse regularisation strength: larger fits the training rows more closely.")
    class_weight: Literal["balanced"] | None = Field(
        "balanced",
        description=CLASS_WEIGHT_HELP,
    )
    word_ngrams: tuple[PositiveInt, PositiveInt] = Field((1, 2), description="Shortest and longest word n-grams, e.g. [1, 2].")
    char_ngrams: tuple[PositiveInt, PositiveInt] | None = Field(
        (2, 5),
        description="Shortest and longest character n-grams within word bounds; null: none.",
    )
    min_df: PositiveInt = Field(
        1,
        description="Rows an n-gram must occur in to enter the vocabulary (fitted on the training side).",
    )
    stop_words: Literal["english"] | None = Field(None, description="Drop scikit-learn's English stop words.")
    sublinear_tf: bool = Field(True, description="Count an n-gram's occurrences as 1 + log(count).")
    max_iter: PositiveInt = Field(5000, description="The solver's iteration limit.")
    context_window: int = Field(
        1,
        ge=0,
        description="Stance: sentences on each side of a target mention that form the target's context.",
    )

    @field_validator("word_ngrams", "char_ngrams")
    @classmethod
    def _ordered_range(cls, ngrams: tuple[int, int] | None) -> tuple[int, int] | None:
        if ngrams is not None and ngrams[0] > ngrams[1]:
            raise ValueError(f"an n-gram range is (shortest, longest): {ngrams[0]} is longer than {ngrams[1]}")
        return ngrams

    def fits_in_threads(self) -> bool:
        """Each model holds its own vectoriser and scikit-learn classifier."""
        return True

    def stance_settings(self) -> list[str]:
        return ["model.context_window"] if "context_window" in self.changed() else []

    def unused_settings(self, task: str) -> set[str]:
        return set() if task == "stance" else {"context_window"}


class CalibratedLinearSVC(ClassifierMixin, BaseEstimator):
    """LinearSVC with sigmoid-calibrated probabilities that also fits when a class is rare.

    CalibratedClassifierCV refuses a fold count larger than the smallest class; leave-one-group-out
    folds of a small corpus often have classes with one or two examples, so the calibration splits
    are computed here and passed as a list, which it accepts.
    """

    def __init__(
        self, C: float = 1.0, class_weight: str | None = "balanced", max_iter: int = 1000, random_state: int = 0
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: object, y: Labels, sample_weight: np.ndarray | None = None) -> CalibratedLinearSVC:
        labels = np.asarray(y)
        # A training side whose every label has fewer than CALIBRATION_FOLDS rows (a quick run on a `data.limit` slice)
        # is calibrated on fewer folds: StratifiedKFold refuses more folds than the largest label has rows, and a
        # calibration fold whose training part holds one label cannot fit the SVM.
        n_folds = min(CALIBRATION_FOLDS, int(np.unique(labels, return_counts=True)[1].max(initial=0)))
        splits: list[tuple[np.ndarray, np.ndarray]] = []
        if n_folds >= 2:
            folds = StratifiedKFold(n_folds, shuffle=True, random_state=self.random_state)
            with warnings.catch_warnings():
                # Rare classes are expected (see the class docstring); stratification still balances the rest.
                warnings.simplefilter("ignore", UserWarning)
                splits = [(train, test) for train, test in folds.split(np.zeros(len(labels)), labels) if len(set(labels[train])) > 1]
        if not splits:
            raise UserInputError(
                f"the linear SVM calibrates its probabilities on rows it holds out, and this training side of {len(labels)} "
                f"row(s) is too small to hold any out and keep two labels: give more rows, or model.classifier=logreg"
            )
        svc = LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, random_state=self.random_state)
        self.calibrated_ = CalibratedClassifierCV(svc, method="sigmoid", cv=splits).fit(X, labels, sample_weight=sample_weight)
        self.classes_ = self.calibrated_.classes_
        return self

    def predict_proba(self, X: object) -> np.ndarray:
        return self.calibrated_.predict_proba(X)

    def predict(self, X: object) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def stance_view(frame: pd.DataFrame, window: int, extra: TargetAliases = SHIPPED_ONLY) -> pd.DataFrame:
    """Add the target's context in the text (found by its aliases, `extra`'s included) and target-tagged context
    words."""
    contexts = [
        target_context(text, target, window, extra) for text, target in zip(frame["text"], frame["target"], strict=True)
    ]
    return pd.DataFrame(
        {
            "text": frame["text"].to_numpy(),
            "target": frame["target"].to_numpy(),
            "context": contexts,
            "conjoined": [conjoin(target, context) for target, context in zip(frame["target"], contexts, strict=True)],
        }
    )


def _features(config: TfidfModel, task: str) -> list[tuple[str, TfidfVectorizer, str]]:
    def words() -> TfidfVectorizer:
        return TfidfVectorizer(
            ngram_range=config.word_ngrams,
            min_df=config.min_df,
            sublinear_tf=config.sublinear_tf,
            stop_words=config.stop_words,
            strip_accents="unicode",
        )

    features = [("text_words", words(), "text")]
    if config.char_ngrams:
        chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=config.char_ngrams, min_df=config.min_df, sublinear_tf=config.sublinear_tf
        )
        features.append(("text_chars", chars, "text"))
    if task == "stance":
        tagged = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, min_df=config.min_df, sublinear_tf=True)
        features += [
            ("context_words", words(), "context"),
            ("target_words", TfidfVectorizer(strip_accents="unicode"), "target"),
            ("target_context_words", tagged, "conjoined"),
        ]
    return features


def build_pipeline(config: TfidfModel, task: str, seed: int) -> Pipeline:
    """Untrained sklearn pipeline for the config."""
    if config.classifier == "logreg":
        classifier = LogisticRegression(
            C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, random_state=seed
        )
    else:
        classifier = CalibratedLinearSVC(
            C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, random_state=seed
        )
    steps = []
    if task == "stance":
        steps.append(("stance_view", FunctionTransformer(stance_view, kw_args={"window": config.context_window})))
    steps += [("features", ColumnTransformer(_features(config, task))), ("classifier", classifier)]
    return Pipeline(steps)


class TfidfClassifier(Trainable):
    """A fitted TF-IDF pipeline (TfidfModel): its vocabulary and classifier, saved with joblib."""

    family = "tfidf"

    def __init__(self, task: str, pipeline: Pipeline) -> None:
        super().__init__(task)
        self.pipeline = pipeline

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        if "stance_view" in self.pipeline.named_steps:
            # The saved pipeline finds the targets' contexts by the aliases it was trained with.
            view = self.pipeline.named_steps["stance_view"]
            view.set_params(kw_args={**view.kw_args, "extra": self.target_aliases})
        try:
            self.pipeline.fit(inputs, list(y), classifier__sample_weight=sample_weight)
        except ValueError as err:
            if not any(part in str(err) for part in _EMPTY_VOCABULARY):
                raise
            min_df = self.pipeline.get_params().get("features__text_words__min_df")
            raise UserInputError(
                f"no word n-gram to learn from in {len(inputs)} training rows ({err}): give model.min_df (now {min_df}) "
                "at most the rows of the smallest training side, or texts with words besides stop words"
            ) from err
        self.labels = [str(label) for label in self.pipeline.classes_]

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(inputs)

    def save_weights(self, directory: Path) -> None:
        joblib.dump(self.pipeline, directory / PIPELINE_FILE)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> TfidfClassifier:
        classifier = cls(task, joblib.load(directory / PIPELINE_FILE))
        classifier.labels = labels
        return classifier


def _trainer(config: TfidfModel, task: str, seed: int) -> Factory:
    return lambda: TfidfClassifier(task, build_pipeline(config, task, seed))


register(Family("tfidf", TfidfModel, TfidfClassifier, requirements=(), trainer=_trainer))
