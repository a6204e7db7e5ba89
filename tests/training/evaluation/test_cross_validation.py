import threading
import time

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

from classifiers.document_context import mix_neighbours
from classifiers.errors import UserInputError
from classifiers.interface import Labels, Trainable
from tests.training.conftest import drop_a_stop
from training import stop_requests
from training.config.schema import EvaluationConfig
from training.evaluation.cross_validation import cross_validate, group_splits
from training.labelled_data import ExtraSource, LabelledData


class MajorityClassifier(Trainable):
    """Predicts the training majority; lets the tests control what each fold knows."""

    family = "majority"

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        self.labels = sorted(set(y))
        self.majority = pd.Series(list(y)).mode().iloc[0]

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        probabilities = np.zeros((len(inputs), len(self.labels)))
        probabilities[:, self.labels.index(self.majority)] = 1.0
        return probabilities

    def save_weights(self, directory: object) -> None:
        raise NotImplementedError

    @classmethod
    def load_weights(cls, directory: object, task: str, labels: list[str]) -> Trainable:
        raise NotImplementedError


class TextNumberClassifier(MajorityClassifier):
    """P(first label) grows with the number in the text ("t3"), so every row has its own probabilities."""

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        first = np.array([int(text[1:]) for text in inputs["text"]]) / 10
        return np.column_stack([first, 1 - first])


def data(groups: list[str], labels: list[str]) -> LabelledData:
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(len(labels))], "label": labels, "group": groups})
    return LabelledData(frame=frame, name="toy", source="memory", task="topic")


@pytest.mark.parametrize("cv", ["leave_one_group_out", "group_kfold", "holdout"])
def test_no_group_is_on_both_sides(cv: str) -> None:
    groups = pd.Series([f"g{i % 6}" for i in range(30)])
    splits = group_splits(EvaluationConfig(cv=cv, n_splits=3), groups, seed=0)
    assert len(splits) == {"leave_one_group_out": 6, "group_kfold": 3, "holdout": 1}[cv]
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])


def _test_sides(splits: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[int, ...]]:
    """Each split's tested rows, comparable with ==."""
    return [tuple(int(row) for row in test) for _, test in splits]


@pytest.mark.parametrize("cv", ["group_kfold", "holdout"])
def test_splits_are_reproducible_and_seeded(cv: str) -> None:
    """The same seed gives the same splits; another seed deals the groups differently."""
    groups = pd.Series([f"g{i % 7}" for i in range(40)])
    config = EvaluationConfig(cv=cv, n_splits=3)
    first = _test_sides(group_splits(config, groups, seed=5))
    assert _test_sides(group_splits(config, groups, seed=5)) == first
    # Several seeds, since two of them may happen to deal the 7 groups alike.
    others = [_test_sides(group_splits(config, groups, seed=seed)) for seed in range(6, 12)]
    assert any(other != first for other in others)


def test_too_few_groups_is_a_clear_error_naming_the_keys_that_change_it() -> None:
    keys = r"give data.group_column a column of more values, or another evaluation.cv"
    with pytest.raises(UserInputError, match=rf"needs at least 2 groups, the data has 1: {keys}$"):
        group_splits(EvaluationConfig(), pd.Series(["only"] * 5), seed=0)
    with pytest.raises(UserInputError, match=rf"group_kfold with 5 splits .*: {keys} \(or fewer evaluation.n_splits\)$"):
        group_splits(EvaluationConfig(cv="group_kfold"), pd.Series(["a", "b", "c"]), seed=0)
    with pytest.raises(UserInputError, match=rf"a hold-out split needs at least 2 groups, the data has 1: {keys}$"):
        group_splits(EvaluationConfig(cv="holdout"), pd.Series(["only"] * 5), seed=0)


def test_a_leave_one_out_of_many_rows_is_warned_of(caplog: pytest.LogCaptureFixture) -> None:
    # 600 rows of a file without a group column ran 600 folds without a word.
    with caplog.at_level("WARNING", logger="training.evaluation.cross_validation"):
        splits = group_splits(EvaluationConfig(), pd.Series([str(row) for row in range(600)]), seed=0)
    assert len(splits) == 600
    assert (
        "leave-one-group-out on 600 groups (each row a group of its own: the data has no data.group_column) fits 601 "
        "models: for a shorter evaluation give the data fewer, larger groups (data.group_column, e.g. the article) or "
        "use evaluation.cv=group_kfold"
    ) in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="training.evaluation.cross_validation"):
        group_splits(EvaluationConfig(), pd.Series([f"article {row % 8}" for row in range(600)]), seed=0)
    assert caplog.text == ""


def test_class_missing_from_a_fold_gets_zero_probability() -> None:
    toy = data(["a", "a", "b", "b", "c"], ["x", "x", "y", "y", "z"])
    splits = group_splits(EvaluationConfig(), toy.frame["group"], seed=0)
    result = cross_validate(lambda: MajorityClassifier("topic"), toy, splits)
    assert result.labels == ["x", "y", "z"]
    assert result.tested.all()
    assert np.allclose(result.probabilities.sum(axis=1), 1.0)
    assert (result.probabilities[:, 2] == 0).all()  # "z" is only ever in a test fold
    summary = result.fold_summary()
    assert summary["n_folds"] == 3
    assert summary["accuracy_cv_mean"] == pytest.approx(0.0)


def test_each_fold_report_names_its_held_out_groups_and_rows() -> None:
    # folds.json listed each fold's metrics alone: which article a weak fold held out could not be told.
    toy = data(["a", "a", "b", "b", "b", "c"], ["x", "y", "x", "y", "x", "y"])
    splits = group_splits(EvaluationConfig(), toy.frame["group"], seed=0)
    result = cross_validate(lambda: MajorityClassifier("topic"), toy, splits)
    reports = result.fold_reports()
    assert [(report["held_out_groups"], report["rows"]) for report in reports] == [(["a"], 2), (["b"], 3), (["c"], 1)]
    assert [{key: report[key] for key in metrics} for report, metrics in zip(reports, result.fold_metrics)] == (
        result.fold_metrics
    )


def test_groups_that_each_hold_one_label_are_warned_of(caplog: pytest.LogCaptureFixture) -> None:
    # Every held-out article is the only one of its label: the figures measure nothing, and the log says so.
    toy = data(["a", "a", "b", "b", "c"], ["x", "x", "y", "y", "z"])
    with caplog.at_level("WARNING", logger="training.evaluation.cross_validation"):
        cross_validate(lambda: MajorityClassifier("topic"), toy, group_splits(EvaluationConfig(), toy.frame["group"], seed=0))
    [record] = caplog.records
    assert record.getMessage().startswith(
        "5 of 5 held-out rows have a label their fold's training side lacks (x, y, z), so no model can predict them"
    )
    caplog.clear()

    mixed = data(["a", "a", "b", "b"], ["x", "y", "x", "y"])
    with caplog.at_level("WARNING", logger="training.evaluation.cross_validation"):
        cross_validate(lambda: MajorityClassifier("topic"), mixed, group_splits(EvaluationConfig(), mixed.frame["group"], seed=0))
    assert caplog.records == []


def test_a_neighbour_weight_mixes_each_held_out_row_with_its_neighbours_in_its_group() -> None:
    toy = data(["a", "a", "b", "b", "a", "b"], ["x", "y", "x", "y", "x", "y"])
    splits = group_splits(EvaluationConfig(), toy.frame["group"], seed=0)

    def weighted(weight: float) -> TextNumberClassifier:
        classifier = TextNumberClassifier("topic")
        classifier.neighbour_weight = weight
        return classifier

    alone = cross_validate(lambda: weighted(0.0), toy, splits).probabilities
    mixed = cross_validate(lambda: weighted(0.4), toy, splits).probabilities

    np.testing.assert_allclose(alone[:, 0], [0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    # Group a is rows 0, 1 and 4 in file order: row 1 sits between rows 0 and 4.
    np.testing.assert_allclose(mixed, mix_neighbours(alone, 0.4, toy.frame["group"]))
    np.testing.assert_allclose(mixed[1, 0], 0.6 * 0.1 + 0.4 * (0.0 + 0.4) / 2)


def test_disjoint_holdout_tests_only_unseen_groups_and_targets() -> None:
    frame = pd.DataFrame(
        {"group": [f"b{i % 10}" for i in range(200)], "target": [f"h{(i * 7) % 13}" for i in range(200)]}
    )
    ((train, test),) = group_splits(
        EvaluationConfig(cv="disjoint_holdout", holdout_fraction=0.3), frame["group"], seed=1, targets=frame["target"]
    )
    assert len(train) and len(test)
    assert not set(frame["group"][train]) & set(frame["group"][test])
    assert not set(frame["target"][train]) & set(frame["target"][test])
    assert len(train) + len(test) < len(frame)  # mixed pairs are on neither side


def test_disjoint_holdout_needs_targets() -> None:
    with pytest.raises(UserInputError, match="use it for stance data"):
        group_splits(EvaluationConfig(cv="disjoint_holdout"), pd.Series(["a", "b"]), seed=0)


def test_extra_sources_sit_on_the_training_side_of_every_fold_and_are_never_tested() -> None:
    toy = data(["a", "a", "b", "b"], ["x", "x", "x", "y"])
    extra = pd.DataFrame({"text": ["e1", "e2", "e3", "e4", "e5"], "label": ["y"] * 5, "group": ["extra:1"] * 5})
    with_extra = LabelledData(toy.frame, "toy", "memory", "topic", extra=(ExtraSource(extra, "public", "memory"),))
    splits = group_splits(EvaluationConfig(), with_extra.frame["group"], seed=0)
    result = cross_validate(lambda: MajorityClassifier("topic"), with_extra, splits)
    assert len(result.probabilities) == 4 and result.tested.all()  # only the data's rows are scored
    # five extra "y" rows outvote every fold's own rows: the extra data was on each training side
    assert list(result.predictions) == ["y", "y", "y", "y"]
    without = cross_validate(lambda: MajorityClassifier("topic"), toy, splits)
    assert list(without.predictions) != list(result.predictions)


def story_groups() -> pd.Series:
    # 8 stories s0..s7: 5 related rows within each story, then rows joining two stories (unrelated pairs)
    within = [f"s{i % 8}" for i in range(40)]
    across = [f"s{i % 8}|s{(i * 3 + 1) % 8}" for i in range(40) if i % 8 != (i * 3 + 1) % 8]
    return pd.Series(within + across)


@pytest.mark.parametrize("cv", ["story_holdout", "story_kfold"])
def test_story_splits_never_put_one_story_on_both_sides(cv: str) -> None:
    groups = story_groups()
    splits = group_splits(EvaluationConfig(cv=cv, n_splits=4, holdout_fraction=0.25), groups, seed=3)
    assert len(splits) == {"story_holdout": 1, "story_kfold": 4}[cv]
    units = groups.str.split("|")
    for train, test in splits:
        train_stories, test_stories = set(units[train].explode()), set(units[test].explode())
        assert train_stories and test_stories and not train_stories & test_stories
        # a row joining a held-out and a kept story sits on neither side
        mixed = units.map(lambda row, held=test_stories: bool(set(row) & held) and bool(set(row) - held))
        assert not mixed[train].any() and not mixed[test].any()
        assert len(train) + len(test) + mixed.sum() == len(groups)
    if cv == "story_kfold":  # every story-internal row is tested exactly once
        tested = np.concatenate([test for _, test in splits])
        assert len(tested) == len(set(tested))
        assert set(range(40)) <= set(tested)


def test_story_splits_are_reproducible_and_seeded() -> None:
    config = EvaluationConfig(cv="story_holdout", holdout_fraction=0.25)
    first, again = group_splits(config, story_groups(), seed=5), group_splits(config, story_groups(), seed=5)
    assert (first[0][1] == again[0][1]).all()
    others = [group_splits(config, story_groups(), seed=seed)[0][1] for seed in range(6, 12)]
    assert any(len(other) != len(first[0][1]) or (other != first[0][1]).any() for other in others)


def test_groups_naming_several_stories_need_a_story_split() -> None:
    with pytest.raises(UserInputError, match="use cv story_holdout or story_kfold"):
        group_splits(EvaluationConfig(cv="holdout"), story_groups(), seed=0)
    with pytest.raises(UserInputError, match="story_kfold with 9 splits needs as many stories, the data has 8"):
        group_splits(EvaluationConfig(cv="story_kfold", n_splits=9), story_groups(), seed=0)


class ThreadRecordingClassifier(TextNumberClassifier):
    """Records, for every fit, the thread it ran in and the BLAS threads it was allowed."""

    fits: list[tuple[int, list[int]]] = []

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        self.fits.append((threading.get_ident(), blas))
        super().fit(inputs, y, sample_weight)


def test_parallel_folds_fit_the_first_fold_alone_then_side_by_side_with_one_blas_thread_each() -> None:
    toy = data([f"g{i % 6}" for i in range(30)], ["x", "y"] * 15)
    splits = group_splits(EvaluationConfig(), toy.frame["group"], seed=0)
    one_at_a_time = cross_validate(lambda: TextNumberClassifier("topic"), toy, splits)
    ThreadRecordingClassifier.fits = []
    side_by_side = cross_validate(lambda: ThreadRecordingClassifier("topic"), toy, splits, parallel=2)

    # The same folds in the same order, so the same figures.
    assert np.array_equal(side_by_side.probabilities, one_at_a_time.probabilities)
    assert side_by_side.fold_metrics == one_at_a_time.fold_metrics
    (first_thread, _), *rest = ThreadRecordingClassifier.fits
    assert first_thread == threading.get_ident() and len(rest) == len(splits) - 1
    assert len({thread for thread, _ in rest}) == 2 and first_thread not in {thread for thread, _ in rest}
    assert all(blas and set(blas) == {1} for _, blas in rest)


class FailingFoldClassifier(TextNumberClassifier):
    """Knows its fold by the group missing from its training rows (text "t<i>" is in group g<i % 10>): fold 1 fits
    slowly, fold 2 fails at once, the others take a moment; records the folds whose fit started."""

    started: list[int] = []

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        (fold,) = set(range(10)) - {int(text[1:]) % 10 for text in inputs["text"]}
        self.started.append(fold)
        if fold == 2:
            raise RuntimeError("solver failed in fold 2")
        # The others' moment is what the run has to notice fold 2's failure and drop the queued folds before the
        # worker that failed it takes a second one: 0.05 s was one scheduling delay of a loaded machine away.
        time.sleep(2.0 if fold == 1 else 0.5)
        super().fit(inputs, y, sample_weight)


def test_a_failed_fold_among_parallel_ones_fails_the_run_at_once_and_drops_the_folds_still_queued() -> None:
    toy = data([f"g{i % 10}" for i in range(40)], ["x", "y"] * 20)
    splits = group_splits(EvaluationConfig(), toy.frame["group"], seed=0)
    FailingFoldClassifier.started = []
    with pytest.raises(RuntimeError, match="solver failed in fold 2"):
        cross_validate(lambda: FailingFoldClassifier("topic"), toy, splits, parallel=2)
    # Waiting for fold 1 before looking at fold 2 would have let the other worker fit all seven folds after it.
    assert sorted(FailingFoldClassifier.started)[:3] == [0, 1, 2]
    assert len(FailingFoldClassifier.started) <= 4


class DroppedStopClassifier(MajorityClassifier):
    """Its first fit asks the process to stop where Python drops the exception (a finaliser), as a signal can."""

    fits = 0

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        DroppedStopClassifier.fits += 1
        drop_a_stop()  # the fit goes on
        super().fit(inputs, y, sample_weight)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped exception, on purpose
@pytest.mark.usefixtures("fresh_stop_requests")
def test_a_stop_whose_raise_was_dropped_ends_the_cross_validation_before_the_next_fold() -> None:
    toy = data([f"g{i % 6}" for i in range(30)], ["x", "y"] * 15)
    DroppedStopClassifier.fits = 0
    with pytest.raises(stop_requests.Stopped):
        cross_validate(lambda: DroppedStopClassifier("topic"), toy, group_splits(EvaluationConfig(), toy.frame["group"], seed=0))
    assert DroppedStopClassifier.fits == 1
