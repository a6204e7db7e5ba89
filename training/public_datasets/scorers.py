"""The benchmarks' official metrics, as flat MLflow-ready names.

`fnc_score` and `semeval_f_avg` are in percent, as the tasks publish them; `accuracy` and `macro_f1` are
fractions with the same names and scale as `training.evaluation.metrics`, so merging the two never mixes scales.
`vast_macro_f1` is a fraction too, as VAST publishes it.

A benchmark with subsets (VAST: zero-shot and few-shot topics) also reports its primary metric on each subset's
rows, `<primary>_<subset>`, where the caller passes every row's subset (the benchmark frame's `subset` column).
The trainer does not: its data keeps only inputs, label and group, and the rows of VAST's training file are
all "few_shot" (topics of the training file), which would be wrong for topics its dev split holds out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from classifiers.interface import Labels
from training.evaluation.metrics import averaged_labels
from training.public_datasets.adapters import BENCHMARKS, get_benchmark

FNC_UNRELATED = "unrelated"
SEMEVAL_SCORED = ["FAVOR", "AGAINST"]


def _checked(name: str, y_true: Labels, y_pred: Labels) -> tuple[np.ndarray, np.ndarray]:
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


def _fnc_relative(gold: np.ndarray, predicted: np.ndarray, weight: np.ndarray | float = 1.0) -> float:
    """FNC-1's score in percent of the best possible for this gold: 0.25 for telling related from unrelated,
    0.75 more for the right stance of a related pair; each pair counted with its weight."""
    gold_related, predicted_related = gold != FNC_UNRELATED, predicted != FNC_UNRELATED
    score = 0.25 * (gold_related == predicted_related) + 0.75 * (gold_related & (gold == predicted))
    best = np.where(gold_related, 1.0, 0.25)
    return float(100 * (weight * score).sum() / (weight * best).sum())


def fnc_score(y_true: Labels, y_pred: Labels) -> float:
    """FNC-1 relative score in percent: the weighted score over the best possible one for this gold."""
    gold, predicted = _checked("fnc1", y_true, y_pred)
    return _fnc_relative(gold, predicted)


# Class shares of the FNC-1 competition test (25,413 pairs; published with the dataset).
FNC_TEST_SHARES = {"unrelated": 0.7220, "discuss": 0.1760, "agree": 0.0740, "disagree": 0.0270}


def fnc_test_weights(gold: np.ndarray) -> np.ndarray:
    """Each pair's weight, so the gold classes take the competition test's shares (absent classes: renormalised)."""
    labels, counts = np.unique(gold, return_counts=True)
    present = {str(label): FNC_TEST_SHARES[str(label)] for label in labels}
    total = sum(present.values())
    per_row = {str(label): present[str(label)] / total / (count / len(gold)) for label, count in zip(labels, counts, strict=True)}
    return np.array([per_row[str(label)] for label in gold])


def fnc_test_mix(y_true: Labels, y_pred: Labels) -> dict[str, float]:
    """`fnc_score` and `macro_f1` with every pair weighted so the gold classes take the competition test's shares.

    A dev split's class balance can be far from the test's (a split holding out whole stories tests mostly
    related pairs); reweighted, dev figures of splits with different balances compare with each other and with
    the test. Classes absent from the gold keep weight 0 and the others' shares are renormalised. macro-F1 averages
    over the classes the gold or the predictions show, as the run's `macro_f1` does (on data holding all four, over
    all four, as the official scorer's).
    """
    gold, predicted = _checked("fnc1", y_true, y_pred)
    weight = fnc_test_weights(gold)
    shown = averaged_labels(gold, predicted, BENCHMARKS["fnc1"].labels)
    macro = f1_score(gold, predicted, labels=shown, average="macro", zero_division=0, sample_weight=weight)
    return {"fnc_score_test_mix": _fnc_relative(gold, predicted, weight), "macro_f1_test_mix": float(macro)}


def semeval_f_avg(y_true: Labels, y_pred: Labels) -> float:
    """SemEval-2016 Task 6A F_avg in percent: mean of F1(FAVOR) and F1(AGAINST), all targets pooled."""
    gold, predicted = _checked("semeval2016", y_true, y_pred)
    # NONE is a class the model can predict but is not averaged: its rows only count as misses or false alarms.
    return float(100 * f1_score(gold, predicted, labels=SEMEVAL_SCORED, average="macro", zero_division=0))


def _macro_f1(name: str, gold: np.ndarray, predicted: np.ndarray) -> float:
    # Over the benchmark's full label set, so a class the data never shows still counts as F1 0 when predicted.
    return float(f1_score(gold, predicted, labels=list(BENCHMARKS[name].labels), average="macro", zero_division=0))


def vast_macro_f1(y_true: Labels, y_pred: Labels) -> float:
    """VAST macro-F1 (a fraction) over con, pro and neutral."""
    gold, predicted = _checked("vast", y_true, y_pred)
    return _macro_f1("vast", gold, predicted)


def _fnc1(y_true: Labels, y_pred: Labels) -> dict[str, float]:
    gold, predicted = _checked("fnc1", y_true, y_pred)
    return {"fnc_score": fnc_score(gold, predicted)}


def _semeval2016(y_true: Labels, y_pred: Labels) -> dict[str, float]:
    return {"semeval_f_avg": semeval_f_avg(y_true, y_pred)}


def _bbc_news(y_true: Labels, y_pred: Labels) -> dict[str, float]:
    gold, predicted = _checked("bbc_news", y_true, y_pred)
    return {"accuracy": float(accuracy_score(gold, predicted))}


def _vast(y_true: Labels, y_pred: Labels) -> dict[str, float]:
    return {"vast_macro_f1": vast_macro_f1(y_true, y_pred)}


SCORERS: dict[str, Callable[[Labels, Labels], dict[str, float]]] = {
    "fnc1": _fnc1,
    "semeval2016": _semeval2016,
    "bbc_news": _bbc_news,
    "vast": _vast,
}


# Dev-only figures a benchmark's cross-validation logs beside the official ones (never computed on a test split).
DEV_SCORERS: dict[str, Callable[[Labels, Labels], dict[str, float]]] = {"fnc1": fnc_test_mix}


def dev_metrics(name: str, y_true: Labels, y_pred: Labels) -> dict[str, float]:
    """Figures that make a benchmark's dev split comparable with its test (FNC-1: scored at the test's class mix)."""
    scorer = DEV_SCORERS.get(get_benchmark(name).name)
    return scorer(y_true, y_pred) if scorer is not None else {}


def official_metrics(
    name: str, y_true: Labels, y_pred: Labels, subsets: Sequence[str] | None = None
) -> dict[str, float]:
    """The benchmark's official metric(s), its primary metric among them.

    `subsets`, each row's subset, adds the primary metric on the rows of every subset that occurs, named
    `<primary>_<subset>` (VAST: vast_macro_f1_zero_shot, vast_macro_f1_few_shot).
    """
    benchmark = get_benchmark(name)
    scorer = SCORERS[benchmark.name]
    metrics = scorer(y_true, y_pred)
    if subsets is None:
        return metrics
    gold, predicted = _checked(benchmark.name, y_true, y_pred)
    subset = np.asarray(subsets, dtype=object)
    if len(subset) != len(gold):
        raise ValueError(f"{name}: {len(gold)} gold labels but {len(subset)} subsets")
    unknown = sorted({str(value) for value in subset} - set(benchmark.subsets))
    if unknown:
        known = ", ".join(benchmark.subsets) or "none"
        raise ValueError(f"{name}: subset(s) {', '.join(unknown)} are not among the benchmark's subsets ({known})")
    for value in benchmark.subsets:
        rows = subset == value
        if rows.any():
            metrics[f"{benchmark.primary_metric}_{value}"] = scorer(gold[rows], predicted[rows])[benchmark.primary_metric]
    return metrics
