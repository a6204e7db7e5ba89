"""Classification metrics (scikit-learn) as flat MLflow-ready names, and report artifacts."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")  # headless: figures are only ever written to files

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from classifiers.interface import Labels

OVERALL_METRICS = ("accuracy", "macro_f1")
PER_CLASS_METRICS = ("f1", "precision", "recall")
# Resamples times groups held at once by a bootstrap interval (about 16 MB per array of them).
BOOTSTRAP_CELLS = 2_000_000


def classification_metric_names(labels: Sequence[str]) -> list[str]:
    """The names `classification_metrics` reports for this label set."""
    return [*OVERALL_METRICS, *(f"{kind}_{label}" for label in labels for kind in PER_CLASS_METRICS)]


def averaged_labels(y_true: Labels, y_pred: Labels, labels: Sequence[str]) -> list[str]:
    """The labels of `labels` that macro_f1 averages over: those the gold or the predicted labels show."""
    seen = {*y_true, *y_pred}
    return [label for label in labels if label in seen]


def classification_metrics(y_true: Labels, y_pred: Labels, labels: Sequence[str]) -> dict[str, float]:
    """accuracy, macro_f1, and f1_/precision_/recall_<label> for each of `labels`.

    macro_f1 averages over the labels that occur in the gold or the predicted labels: a label the
    model knows but that neither shows (a zero-shot topic without rows) would count as F1 0.
    """
    labels = list(labels)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    present = averaged_labels(y_true, y_pred, labels)
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
    }
    for index, label in enumerate(labels):
        metrics[f"f1_{label}"] = float(f1[index])
        metrics[f"precision_{label}"] = float(precision[index])
        metrics[f"recall_{label}"] = float(recall[index])
    return metrics


def group_bootstrap_interval(
    y_true: Labels,
    y_pred: Labels,
    groups: Sequence[object] | np.ndarray,
    labels: Sequence[str],
    seed: int,
    resamples: int = 1000,
    level: float = 0.95,
    baseline: Labels | None = None,
) -> tuple[float, float] | None:
    """A percentile interval for macro-F1 (as `classification_metrics` computes it) from resampling whole
    groups (articles) with replacement; with `baseline` (another model's predictions of the same rows), for
    macro-F1 minus the baseline's, both scored on each resample: paired, so what the two get right or wrong alike
    cancels out.

    Rows of one article share its writer, subject and targets, so they are not independent draws: the
    interval resamples articles, which is what a new article would be. None with fewer than two groups.
    """
    group_names, group_codes = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    if len(group_names) < 2:
        return None
    score = macro_f1_of_draws(y_true, y_pred, group_codes, labels)
    if baseline is None:
        return _percentile_interval(score, len(group_names), seed, resamples, level)
    baseline_score = macro_f1_of_draws(y_true, baseline, group_codes, labels)

    def difference(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return score(sample, axis) - baseline_score(sample, axis)

    return _percentile_interval(difference, len(group_names), seed, resamples, level)


def _percentile_interval(
    statistic: Callable[..., np.ndarray], n_groups: int, seed: int, resamples: int, level: float
) -> tuple[float, float]:
    from scipy.stats import bootstrap

    result = bootstrap(
        (np.arange(n_groups),),
        statistic,
        vectorized=True,
        # Each resample holds a few arrays of one number per group: in batches, an evaluation of a million rows (each
        # its own group) needs megabytes, not the tens of gigabytes of all resamples at once.
        batch=max(1, BOOTSTRAP_CELLS // n_groups),
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def macro_f1_of_draws(
    y_true: Labels, y_pred: Labels, group_codes: np.ndarray, labels: Sequence[str]
) -> Callable[..., np.ndarray]:
    """macro-F1 as `classification_metrics` computes it, of the rows of drawn groups: the returned function takes
    arrays of group numbers (0 to n-1 as in `group_codes`, one draw per group of a resample, on the last axis) and
    gives one figure per resample, so `scipy.stats.bootstrap` can score a batch of resamples at once."""
    gold, predicted = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    n_groups = int(group_codes.max(initial=-1)) + 1
    # Every label a row shows, so that a row whose gold label is not averaged over still counts as a false positive.
    shown = sorted({*labels, *gold, *predicted})
    averaged = np.isin(shown, list(labels))
    # A resample's pooled confusion matrix is the sum of its drawn groups' matrices, each as often as it was drawn:
    # one matrix product per batch of resamples instead of a metric call per resample. Counted with numpy, as a
    # group may be a single row (thousands of groups) where a scikit-learn call per group would take seconds.
    index = {label: number for number, label in enumerate(shown)}
    cells = np.array([index[g] for g in gold], dtype=int) * len(shown) + np.array([index[p] for p in predicted], dtype=int)
    per_group = np.zeros((n_groups, len(shown) ** 2))
    np.add.at(per_group, (group_codes, cells), 1)

    # `axis` is scipy's vectorised-statistic argument: the draws are always on the last axis.
    def macro_f1(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        sample = np.asarray(sample)
        flat = sample.reshape(-1, sample.shape[-1])
        # How often each group was drawn in each resample: one bincount over resample-offset group numbers keeps
        # memory at resamples x groups (a one-hot comparison would hold resamples x draws x groups).
        offsets = (flat + n_groups * np.arange(len(flat))[:, None]).ravel()
        draws = np.bincount(offsets, minlength=len(flat) * n_groups).reshape(len(flat), n_groups)
        pooled = (draws @ per_group).reshape(len(flat), len(shown), len(shown))
        true_positives = np.diagonal(pooled, axis1=-2, axis2=-1)
        # 2TP + FP + FN is the label's gold rows plus its predicted rows; a label with neither is not averaged
        # (classification_metrics' "labels that occur"), and F1 is 0 where it has rows but no true positive.
        rows = pooled.sum(axis=-1) + pooled.sum(axis=-2)
        present = (rows > 0) & averaged
        f1 = np.divide(2 * true_positives, rows, out=np.zeros(rows.shape), where=rows > 0)
        scores = np.where(present, f1, 0).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)
        return scores.reshape(sample.shape[:-1])

    return macro_f1


def summary_metrics(
    y_true: Labels, y_pred: Labels, labels: Sequence[str], gold_labels_only: bool = False
) -> dict[str, object]:
    """The `evaluate` command's figures: accuracy, macro_f1, per_class F1 and recall, the confusion counts
    (gold label → predicted label → rows), the labels averaged over, and n.

    macro_f1 averages over the labels present in the gold or the predicted labels: a class the
    held-out file does not contain and the model never predicts would count as F1 0 otherwise.

    With `gold_labels_only` (data read through a label map, which can hold only the labels it maps to) it averages
    over the labels present in the gold rows: a label predicted for none of them is one the data cannot hold, so its
    F1 of 0 would count the rows that got it a second time, after the recall of their own label, at a whole label's
    weight. Those labels are then listed in `predicted_without_gold` (label → rows predicted so); the confusion
    counts keep them.
    """
    used = averaged_labels(y_true, y_pred, labels)
    gold_labels = set(y_true)
    averaged = [label for label in used if label in gold_labels] if gold_labels_only else used
    metrics = classification_metrics(y_true, y_pred, averaged)
    with _labels_given():
        counts = confusion_matrix(y_true, y_pred, labels=used)
    summary: dict[str, object] = {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "per_class": {label: metrics[f"f1_{label}"] for label in averaged},
        "per_class_recall": {label: metrics[f"recall_{label}"] for label in used if label in gold_labels},
        "confusion": {
            gold: {predicted: int(n) for predicted, n in zip(used, row, strict=True) if n}
            for gold, row in zip(used, counts, strict=True)
            if row.any()
        },
        "labels": averaged,
        "n": len(y_true),
    }
    if gold_labels_only:
        predicted = list(y_pred)
        summary["predicted_without_gold"] = {
            label: predicted.count(label) for label in used if label not in gold_labels
        }
    return summary


def report_text(y_true: Labels, y_pred: Labels, labels: Sequence[str]) -> str:
    """scikit-learn's per-class precision/recall/F1 report over `labels`, as text."""
    return classification_report(y_true, y_pred, labels=list(labels), digits=3, zero_division=0)


def confusion_matrix_figure(y_true: Labels, y_pred: Labels, labels: Sequence[str], title: str) -> Figure:
    """Confusion matrix with counts; rows are gold labels."""
    size = max(4.0, 0.9 * len(labels) + 2)
    figure = Figure(figsize=(size, size))
    axes = figure.subplots()
    with _labels_given():
        ConfusionMatrixDisplay.from_predictions(
            np.asarray(y_true), np.asarray(y_pred), labels=list(labels), ax=axes, colorbar=False, xticks_rotation=45
        )
    # Wrapped at the image's edges: a run's title (task, family, cross-validation) is wider than a three-label image,
    # and ran off both sides of it.
    axes.set_title(title, wrap=True)
    figure.tight_layout()
    return figure


@contextmanager
def _labels_given() -> Iterator[None]:
    """scikit-learn's confusion matrix warns about a single label even when `labels` is given, as here: the counts are
    right, and the warning reached `evaluate`'s stderr as two lines of scikit-learn's source."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "A single label was found", UserWarning)
        yield
