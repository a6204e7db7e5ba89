"""A one-hidden-layer perceptron head for frozen embeddings that, like logistic regression, can balance classes.

scikit-learn's MLPClassifier has no `class_weight`; this head turns it into per-row weights (the
same weights LogisticRegression's `class_weight="balanced"` gives), multiplied by any sample
weights the caller passes (e.g. the weight of an extra training source). A network's dev score
depends on its random start (0.660-0.687 macro-F1 over five starts on VAST), so the head can
average the probabilities of several networks started differently (0.687 for five).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neural_network import MLPClassifier
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from classifiers.errors import UserInputError

VALIDATION_FRACTION = 0.1


class BalancedMLPClassifier(ClassifierMixin, BaseEstimator):
    """MLPClassifiers (ReLU, Adam, early stopping on 10% of the training rows) with optional balanced class weights;
    with n_networks > 1, the mean probabilities of that many networks from different random starts."""

    def __init__(
        self,
        hidden_units: int = 256,
        alpha: float = 1e-3,
        class_weight: Literal["balanced"] | None = "balanced",
        max_iter: int = 200,
        n_networks: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.hidden_units = hidden_units
        self.alpha = alpha
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.n_networks = n_networks
        self.random_state = random_state

    def fit(
        self, X: np.ndarray, y: np.ndarray | list[str], sample_weight: np.ndarray | None = None
    ) -> BalancedMLPClassifier:
        """Fit the network(s); rows weigh class_weight x sample_weight."""
        labels = np.asarray(y)
        _check_early_stopping_split(labels)
        weights = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if self.class_weight == "balanced":
            weights = weights * compute_sample_weight("balanced", labels)
        # Early stopping on rows held out inside the training side picks the number of epochs, so that
        # number is never tuned on a dev split.
        seed = np.random.RandomState(self.random_state)
        self.networks_ = [
            MLPClassifier(
                hidden_layer_sizes=(self.hidden_units,),
                alpha=self.alpha,
                early_stopping=True,
                validation_fraction=VALIDATION_FRACTION,
                max_iter=self.max_iter,
                random_state=seed.randint(2**31 - 1),
            ).fit(X, labels, sample_weight=weights)
            for _ in range(self.n_networks)
        ]
        self.classes_ = self.networks_[0].classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of classes_."""
        check_is_fitted(self, "networks_")
        return np.mean([network.predict_proba(X) for network in self.networks_], axis=0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _check_early_stopping_split(labels: np.ndarray) -> None:
    """The stratified validation split needs two rows of every label and one validation row per label."""
    names, counts = np.unique(labels, return_counts=True)
    validation_rows = int(np.ceil(VALIDATION_FRACTION * len(labels)))
    if counts.min() < 2 or validation_rows < len(names):
        raise UserInputError(
            f"head 'mlp' holds out {VALIDATION_FRACTION:.0%} of the training rows, stratified by label, to stop "
            f"early: it needs at least 2 rows of every label and {len(names)} held-out rows, got {len(labels)} "
            f"rows ({', '.join(f'{name}: {count}' for name, count in zip(names, counts, strict=True))}); "
            "use more rows or head 'logreg'"
        )
