"""The perceptron head: class balancing, sample weights and the early-stopping split it needs."""

import numpy as np
import pytest
from sklearn.base import clone

from classifiers.errors import UserInputError
from classifiers.mlp_head import BalancedMLPClassifier


def blobs(counts: dict[str, int], spread: float = 1.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs in 8 dimensions (overlapping at the default spread), one per label, with the given row counts."""
    rng = np.random.default_rng(seed)
    centres = {label: rng.normal(size=8) for label in counts}
    X = np.vstack([centres[label] + spread * rng.normal(size=(count, 8)) for label, count in counts.items()])
    y = np.concatenate([[label] * count for label, count in counts.items()])
    return X, y


def test_balanced_classes_predict_the_rare_label_more_often() -> None:
    X, y = blobs({"none": 400, "favor": 40})
    balanced = BalancedMLPClassifier(hidden_units=16, random_state=0).fit(X, y)
    plain = BalancedMLPClassifier(hidden_units=16, class_weight=None, random_state=0).fit(X, y)
    assert list(balanced.classes_) == ["favor", "none"]
    assert (balanced.predict(X) == "favor").sum() > (plain.predict(X) == "favor").sum()
    probabilities = balanced.predict_proba(X)
    assert probabilities.shape == (440, 2) and np.allclose(probabilities.sum(axis=1), 1.0)


def test_rows_with_zero_weight_do_not_count() -> None:
    # Enough rows for some hundred optimiser steps before early stopping looks at the held-out rows.
    X, y = blobs({"against": 1000, "favor": 1000}, spread=0.5)
    # The same points again with the labels swapped: at weight 1 they cancel what the head can learn, at
    # weight 0 the head must learn the first half alone.
    rows, labels = np.vstack([X, X]), np.concatenate([y, np.where(y == "against", "favor", "against")])
    ignored = BalancedMLPClassifier(hidden_units=16, random_state=0).fit(rows, labels, np.repeat([1.0, 0.0], 2000))
    counted = BalancedMLPClassifier(hidden_units=16, random_state=0).fit(rows, labels)
    assert (ignored.predict(X) == y).mean() > 0.95
    assert (counted.predict(X) == y).mean() < 0.75


def test_the_same_seed_gives_the_same_head_and_clone_keeps_the_settings() -> None:
    X, y = blobs({"a": 60, "b": 60})
    head = BalancedMLPClassifier(hidden_units=8, alpha=0.01, random_state=3)
    copy = clone(head)
    assert copy.get_params() == head.get_params()
    assert np.allclose(head.fit(X, y).predict_proba(X), copy.fit(X, y).predict_proba(X))


def test_too_few_rows_for_the_early_stopping_split_is_a_clear_error() -> None:
    X, y = blobs({"a": 12, "b": 1})
    with pytest.raises(UserInputError, match=r"at least 2 rows of every label .* 13 rows \(a: 12, b: 1\)"):
        BalancedMLPClassifier().fit(X, y)
    X, y = blobs({"a": 2, "b": 2, "c": 2})
    with pytest.raises(UserInputError, match="3 held-out rows, got 6 rows"):
        BalancedMLPClassifier().fit(X, y)


def test_several_networks_start_differently_and_their_probabilities_are_averaged() -> None:
    X, y = blobs({"a": 60, "b": 60, "c": 60})
    head = BalancedMLPClassifier(hidden_units=8, n_networks=3, random_state=0).fit(X, y)
    each = [network.predict_proba(X) for network in head.networks_]
    assert len(each) == 3 and not np.allclose(each[0], each[1])
    assert np.allclose(head.predict_proba(X), np.mean(each, axis=0))
