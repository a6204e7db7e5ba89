"""The benchmarks' official metrics, as flat MLflow-ready names.

`fnc_score` and `semeval_f_avg` are in percent, as the tasks publish them; `accuracy` and `macro_f1` are
fractions with the same names and scale as `training.evaluation.metrics`, so merging the two never mixes scales.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from training.public_datasets.adapters import BENCHMARKS, get_benchmark

FNC_UNRELATED = "unrelated"
SEMEVAL_SCORED = ["FAVOR", "AGAINST"]


def _checked(name: str, y_true: Sequence[str], y_pred: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Gold and predicted labels as arrays, after checking they pair up and use the benchmark's label set."""
    gold, predicted = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    if len(gold) != len(predicted):
        raise ValueError(f"{name}: {len(gold)} gold labels but {len(predicted)} predictions")
    if not len(gold):
        raise ValueError(f"{name}: nothing to score")
    labels = BENCHMARKS[name].labels
    unknown = sorted({str(label) for label in (*gold, *predicted)} - set(labels))
    if unknown:
        # An unknown label would silently count as wrong (or, for FNC-1, as "related").
        raise ValueError(f"{name}: label(s) {', '.join(unknown)} are not in {', '.join(labels)}")
    return gold, predicted


def fnc_score(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """FNC-1 relative score in percent: the weighted score over the best possible one for this gold."""
    gold, predicted = _checked("fnc1", y_true, y_pred)
    gold_related, predicted_related = gold != FNC_UNRELATED, predicted != FNC_UNRELATED
    score = 0.25 * (gold_related == predicted_related) + 0.75 * (gold_related & (gold == predicted))
    best = np.where(gold_related, 1.0, 0.25)
    return float(100 * score.sum() / best.sum())


def semeval_f_avg(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """SemEval-2016 Task 6A F_avg in percent: mean of F1(FAVOR) and F1(AGAINST), all targets pooled."""
    gold, predicted = _checked("semeval2016", y_true, y_pred)
    # NONE is a class the model can predict but is not averaged: its rows only count as misses or false alarms.
    return float(100 * f1_score(gold, predicted, labels=SEMEVAL_SCORED, average="macro", zero_division=0))


def _macro_f1(name: str, gold: np.ndarray, predicted: np.ndarray) -> float:
    # Over the benchmark's full label set, so a class the data never shows still counts as F1 0 when predicted.
    return float(f1_score(gold, predicted, labels=list(BENCHMARKS[name].labels), average="macro", zero_division=0))


def _fnc1(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    gold, predicted = _checked("fnc1", y_true, y_pred)
    return {"fnc_score": fnc_score(gold, predicted), "macro_f1": _macro_f1("fnc1", gold, predicted)}


def _semeval2016(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    return {"semeval_f_avg": semeval_f_avg(y_true, y_pred)}


def _bbc_news(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    gold, predicted = _checked("bbc_news", y_true, y_pred)
    return {"accuracy": float(accuracy_score(gold, predicted)), "macro_f1": _macro_f1("bbc_news", gold, predicted)}


SCORERS: dict[str, Callable[[Sequence[str], Sequence[str]], dict[str, float]]] = {
    "fnc1": _fnc1,
    "semeval2016": _semeval2016,
    "bbc_news": _bbc_news,
}


def official_metrics(name: str, y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """The benchmark's official metric(s), its primary metric among them."""
    return SCORERS[get_benchmark(name).name](y_true, y_pred)
