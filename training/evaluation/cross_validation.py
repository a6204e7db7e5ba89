"""Grouped cross-validation: every group (article) is tested by a model that never saw it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, LeaveOneGroupOut
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from classifiers.errors import UserInputError
from classifiers.interface import Trainable
from training import stop_requests
from training.config.schema import EvaluationConfig
from training.evaluation.metrics import classification_metrics
from training.labelled_data import LabelledData
from training.public_datasets.adapters import UNIT_SEPARATOR

Split = tuple[np.ndarray, np.ndarray]
# A fold's held-out rows, the labels of its model and its probabilities for those rows.
Fold = tuple[np.ndarray, list[str], np.ndarray]
CV_MEAN_SUFFIX = "_cv_mean"
CV_STD_SUFFIX = "_cv_std"

logger = logging.getLogger(__name__)


def disjoint_holdout(groups: pd.Series, targets: pd.Series, fraction: float, seed: int) -> Split:
    """Test on rows whose group and target are both held out; train on rows with neither.

    Rows that mix a held-out group with a kept target (or the reverse) are left out of both sides,
    so no text and no target of the test side was seen in training.
    """
    rng = np.random.default_rng(seed)

    def held_out(values: pd.Series) -> np.ndarray:
        unique = np.sort(values.unique())
        chosen = rng.choice(unique, size=max(1, round(fraction * len(unique))), replace=False)
        return values.isin(chosen).to_numpy()

    in_group, in_target = held_out(groups), held_out(targets)
    train, test = np.flatnonzero(~in_group & ~in_target), np.flatnonzero(in_group & in_target)
    if not len(train) or not len(test):
        raise UserInputError("disjoint_holdout left one side empty: the data needs more groups and targets")
    return train, test


def unit_splits(groups: pd.Series, folds: int | None, fraction: float, seed: int) -> list[Split]:
    """Hold out whole units (stories) where a row's group names every unit it draws on, joined by `|`.

    A row is tested when all its units are held out and trained on when none is; a row mixing held-out and
    kept units sits on neither side. With `folds`, the units are dealt into that many folds, each tested
    once; otherwise one seeded hold-out of `fraction` of the units.
    """
    units = groups.astype(str).str.split(UNIT_SEPARATOR, regex=False)
    unique = np.sort(units.explode().unique())
    rng = np.random.default_rng(seed)
    if folds is None:
        chosen = [set(rng.choice(unique, size=max(1, round(fraction * len(unique))), replace=False))]
    else:
        if len(unique) < folds:
            raise UserInputError(f"story_kfold with {folds} splits needs as many stories, the data has {len(unique)}")
        order = rng.permutation(unique)
        chosen = [set(order[fold::folds]) for fold in range(folds)]
    splits = []
    for held in chosen:
        inside = units.map(lambda row, held=held: sum(unit in held for unit in row) / len(row)).to_numpy()
        train, test = np.flatnonzero(inside == 0), np.flatnonzero(inside == 1)
        if not len(train) or not len(test):
            raise UserInputError("the story split left one side empty: the data needs more stories")
        splits.append((train, test))
    return splits


def group_splits(evaluation: EvaluationConfig, groups: pd.Series, seed: int, targets: pd.Series | None = None) -> list[Split]:
    """Train/test index pairs that never put one group (nor, for disjoint_holdout, one target; for story_*, one
    story named in a group) on both sides."""
    check_splittable(evaluation, groups, targets)
    placeholder = np.zeros(len(groups))
    match evaluation.cv:
        case "story_holdout" | "story_kfold":
            folds = evaluation.n_splits if evaluation.cv == "story_kfold" else None
            return unit_splits(groups, folds, evaluation.holdout_fraction, seed)
        case "disjoint_holdout":
            assert targets is not None  # check_splittable refused it without
            return [disjoint_holdout(groups, targets, evaluation.holdout_fraction, seed)]
        case "leave_one_group_out":
            splitter = LeaveOneGroupOut()
        case "group_kfold":
            splitter = GroupKFold(n_splits=evaluation.n_splits, shuffle=True, random_state=seed)
        case "holdout":
            splitter = GroupShuffleSplit(n_splits=1, test_size=evaluation.holdout_fraction, random_state=seed)
    return list(splitter.split(placeholder, groups=groups.to_numpy()))


# More leave-one-group-out folds than this are warned about: the seed corpus has 8 articles, a leave-one-out of a file
# without a group column one fold per row.
MANY_FOLDS = 100


def check_splittable(evaluation: EvaluationConfig, groups: pd.Series, targets: pd.Series | None = None) -> None:
    """Refuse (UserInputError) an evaluation the data cannot be split for: checked before training creates a run."""
    if evaluation.cv in ("story_holdout", "story_kfold"):
        return
    if groups.astype(str).str.contains(UNIT_SEPARATOR, regex=False).any():
        # A row drawing on two units (FNC-1: a headline and a body of different stories) would be split by the
        # group string alone, putting one story on both sides.
        raise UserInputError(
            f"the data's groups name several stories per row ('{UNIT_SEPARATOR}'): use cv story_holdout or story_kfold"
        )
    n_groups = groups.nunique()
    # The keys that make more groups: a group is what data.group_column names (rows sharing an input are joined).
    more_groups = "give data.group_column a column of more values, or another evaluation.cv"
    match evaluation.cv:
        case "disjoint_holdout" if targets is None:
            raise UserInputError("disjoint_holdout splits (text, target) pairs: use it for stance data")
        case "leave_one_group_out" if n_groups < 2:
            raise UserInputError(f"leave-one-group-out needs at least 2 groups, the data has {n_groups}: {more_groups}")
        case "leave_one_group_out" if n_groups > MANY_FOLDS:
            # Each fold fits on nearly all rows, so the cost grows with the square of the rows where each is a group.
            alone = " (each row a group of its own: the data has no data.group_column)" if n_groups == len(groups) else ""
            logger.warning(
                "leave-one-group-out on %d groups%s fits %d models: for a shorter evaluation give the data fewer, larger "
                "groups (data.group_column, e.g. the article) or use evaluation.cv=group_kfold",
                n_groups, alone, n_groups + 1,
            )
        case "group_kfold" if n_groups < evaluation.n_splits:
            raise UserInputError(
                f"group_kfold with {evaluation.n_splits} splits needs as many groups, the data has {n_groups}: "
                f"{more_groups} (or fewer evaluation.n_splits)"
            )
        case "holdout" if n_groups < 2:
            raise UserInputError(f"a hold-out split needs at least 2 groups, the data has {n_groups}: {more_groups}")


def check_training_sides(splits: list[Split], labels: np.ndarray, groups: pd.Series, extra_labels: set[str]) -> None:
    """Refuse (UserInputError) a split whose training side, with the extra sources' rows, holds fewer than two labels:
    no classifier can be fitted on it, and the fold would fail inside the run with the library's error."""
    for number, (train, test) in enumerate(splits, start=1):
        trained_on = set(labels[train]) | extra_labels
        if len(trained_on) < 2:
            held_out = sorted(set(groups.iloc[test].astype(str)))
            shown = ", ".join(held_out[:5]) + (f" and {len(held_out) - 5} more" if len(held_out) > 5 else "")
            raise UserInputError(
                f"fold {number} of {len(splits)} would train on one label only ({', '.join(sorted(trained_on)) or 'none'}; "
                f"held-out groups: {shown}): a classifier needs two; give more groups of each label, or another "
                "evaluation.cv"
            )


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold probabilities over the full label set, and each fold's own metrics and held-out groups."""

    labels: list[str]
    probabilities: np.ndarray
    tested: np.ndarray
    fold_metrics: list[dict[str, float]]
    fold_groups: list[list[str]]
    fold_rows: list[int]

    def fold_reports(self) -> list[dict[str, object]]:
        """Each fold's held-out groups and row count beside its metrics, so a fold's figures say which articles they
        are of."""
        return [
            {"held_out_groups": groups, "rows": rows, **metrics}
            for groups, rows, metrics in zip(self.fold_groups, self.fold_rows, self.fold_metrics, strict=True)
        ]

    @property
    def predictions(self) -> np.ndarray:
        """Predicted label of every tested row (rows in data order)."""
        return np.asarray(self.labels, dtype=object)[self.probabilities[self.tested].argmax(axis=1)]

    def fold_summary(self) -> dict[str, float]:
        """`<metric>_cv_mean` and `<metric>_cv_std` over folds (a class counts only in folds where it occurs)."""
        names = sorted({name for fold in self.fold_metrics for name in fold})
        summary: dict[str, float] = {"n_folds": float(len(self.fold_metrics))}
        for name in names:
            values = np.array([fold[name] for fold in self.fold_metrics if name in fold])
            summary[f"{name}{CV_MEAN_SUFFIX}"] = float(values.mean())
            summary[f"{name}{CV_STD_SUFFIX}"] = float(values.std())
        return summary


def cross_validate(
    factory: Callable[[], Trainable], data: LabelledData, splits: list[Split], parallel: int = 1
) -> CrossValidation:
    """Fit a fresh classifier per fold (on its training rows plus the extra sources) and predict its held-out rows
    (a model with a neighbour weight reads the held-out rows of a group as one article's segments, in order);
    with `parallel` > 1, after the first fold that many folds at a time in threads, each with one BLAS thread."""
    y = data.frame["label"].to_numpy()
    with tqdm(total=len(splits), desc="cross-validation", unit="fold") as progress:

        def fit_and_test(split: Split) -> Fold:
            stop_requests.raise_if_requested()  # a stop whose first raise was dropped ends the run before the next fold
            train_index, test_index = split
            classifier = factory()
            classifier.fit(*data.training_side(train_index))
            groups = data.frame["group"].iloc[test_index]
            tested = classifier.predict_proba_in_documents(data.inputs.iloc[test_index], groups)
            progress.update()
            return test_index, classifier.labels, tested

        if parallel == 1:
            folds = [fit_and_test(split) for split in splits]
        else:
            # The first fold alone computes what every fold reads (an encoder embeds each text once, into its shared
            # cache); then one BLAS thread per solver, since a solver's thin matrix products barely use a second core.
            folds = [fit_and_test(splits[0])]
            with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(parallel) as pool:
                futures = [pool.submit(fit_and_test, split) for split in splits[1:]]
                wait(futures, return_when=FIRST_EXCEPTION)
                if any(future.done() and future.exception() for future in futures):
                    # A failed fold fails the run now: the folds not yet started are dropped (the ones running
                    # finish, a thread cannot be stopped), and the first failure in fold order is raised.
                    pool.shutdown(cancel_futures=True)
                folds += [future.result() for future in futures]
    # Usually the data's labels; a model that knows labels without rows (zero-shot descriptions) adds its own.
    labels = sorted({*data.labels, *(label for _, fold_labels, _ in folds for label in fold_labels)})
    column = {label: index for index, label in enumerate(labels)}
    probabilities = np.zeros((len(y), len(labels)))
    tested = np.zeros(len(y), dtype=bool)
    fold_metrics = []
    fold_groups = [sorted({str(group) for group in data.frame["group"].iloc[test_index]}) for test_index, _, _ in folds]
    _warn_of_unlearnable_rows(y, folds)
    for test_index, fold_labels, fold_output in folds:
        # A fold may lack a class in training; its column stays at zero probability.
        fold_probabilities = np.zeros((len(test_index), len(labels)))
        fold_probabilities[:, [column[label] for label in fold_labels]] = fold_output
        probabilities[test_index] = fold_probabilities
        tested[test_index] = True
        predicted = np.asarray(labels, dtype=object)[fold_probabilities.argmax(axis=1)]
        present = sorted(set(y[test_index]) | set(predicted))
        fold_metrics.append(classification_metrics(y[test_index], predicted, present))
    return CrossValidation(
        labels=labels,
        probabilities=probabilities,
        tested=tested,
        fold_metrics=fold_metrics,
        fold_groups=fold_groups,
        fold_rows=[len(test_index) for test_index, _, _ in folds],
    )


def _warn_of_unlearnable_rows(y: np.ndarray, folds: list[Fold]) -> None:
    """Say how many held-out rows have a label their fold's model never saw: no model can get those right, and where
    most rows are so, the groups follow the labels (one label per article) and the figures say little."""
    unseen = [label for test_index, fold_labels, _ in folds for label in y[test_index] if label not in fold_labels]
    if unseen:
        logger.warning(
            "%d of %d held-out rows have a label their fold's training side lacks (%s), so no model can predict them; "
            "if that is most rows, each group holds one label and the cross-validation measures little",
            len(unseen), sum(len(test_index) for test_index, _, _ in folds), ", ".join(sorted(set(unseen))),
        )
