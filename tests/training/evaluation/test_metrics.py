import warnings

import numpy as np
import pytest
from sklearn.metrics import f1_score

from training.evaluation import metrics
from training.evaluation.metrics import (
    classification_metrics,
    confusion_matrix_figure,
    group_bootstrap_interval,
    macro_f1_of_draws,
    summary_metrics,
)


def test_metrics_by_hand() -> None:
    y_true = ["a", "a", "b", "b", "c"]
    y_pred = ["a", "b", "b", "b", "a"]
    metrics = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    # a: P=1/2 R=1/2 F1=1/2; b: P=2/3 R=1 F1=0.8; c: F1=0
    assert metrics["f1_a"] == pytest.approx(0.5)
    assert metrics["f1_b"] == pytest.approx(0.8)
    assert metrics["recall_b"] == pytest.approx(1.0)
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 0) / 3)
    assert metrics["accuracy"] == pytest.approx(3 / 5)


def test_summary_has_the_evaluate_fields() -> None:
    summary = summary_metrics(["a", "b"], ["a", "a"], ["a", "b"])
    assert set(summary) == {"accuracy", "macro_f1", "per_class", "per_class_recall", "confusion", "labels", "n"}
    assert summary["per_class"] == {"a": pytest.approx(2 / 3), "b": 0.0}
    assert summary["per_class_recall"] == {"a": 1.0, "b": 0.0}
    assert summary["confusion"] == {"a": {"a": 1}, "b": {"a": 1}}
    assert summary["n"] == 2


def test_summary_recall_and_confusion_cover_only_the_gold_labels() -> None:
    # A mapped benchmark (BBC business -> economy) holds two gold labels while the model answers with five.
    summary = summary_metrics(["e", "e", "e", "d"], ["e", "c", "c", "d"], ["c", "d", "e", "h"])
    assert summary["per_class_recall"] == {"d": 1.0, "e": pytest.approx(1 / 3)}
    assert summary["confusion"] == {"d": {"d": 1}, "e": {"c": 2, "e": 1}}
    assert summary["labels"] == ["c", "d", "e"]


def test_gold_labels_only_averages_over_the_labels_the_gold_rows_hold() -> None:
    # Through a partial label map (BBC business -> economy, politics -> domestic_politics) the rows can hold only the
    # mapped labels; `conflict`, predicted for one economy row, was averaged in as a third label with F1 0.
    gold = ["economy", "economy", "domestic_politics", "domestic_politics"]
    predicted = ["economy", "conflict", "domestic_politics", "domestic_politics"]
    labels = ["conflict", "diplomacy", "domestic_politics", "economy", "humanitarian"]
    summary = summary_metrics(gold, predicted, labels, gold_labels_only=True)
    # economy: P 1, R 1/2, F1 2/3; domestic_politics: F1 1
    assert summary["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)
    assert summary["macro_f1"] == pytest.approx(
        f1_score(gold, predicted, labels=["domestic_politics", "economy"], average="macro")
    )
    before = summary_metrics(gold, predicted, labels)["macro_f1"]
    assert before == pytest.approx((2 / 3 + 1 + 0) / 3)  # what it reported until now
    assert summary["labels"] == ["domestic_politics", "economy"]
    assert summary["per_class"] == {"domestic_politics": 1.0, "economy": pytest.approx(2 / 3)}
    assert summary["predicted_without_gold"] == {"conflict": 1}
    # The row predicted `conflict` still shows where it went; accuracy is over every row, as before.
    assert summary["confusion"] == {"domestic_politics": {"domestic_politics": 2}, "economy": {"conflict": 1, "economy": 1}}
    assert summary["accuracy"] == pytest.approx(3 / 4)
    # Without the option, nothing changes, and nothing is listed.
    assert "predicted_without_gold" not in summary_metrics(gold, predicted, labels)


def test_confusion_matrix_figure_has_every_label() -> None:
    figure = confusion_matrix_figure(["a", "b"], ["a", "a"], ["a", "b", "c"], "title")
    axes = figure.axes[0]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["a", "b", "c"]
    assert axes.get_title() == "title"


def test_confusion_matrix_title_fits_in_the_image() -> None:
    # A stance run's title ran off both sides of its three-label image ("... out-of-fold (leave_one_grou").
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    title = "stance / frozen_encoder: out-of-fold (leave_one_group_out)"
    figure = confusion_matrix_figure(["favor", "none"], ["favor", "none"], ["against", "favor", "none"], title)
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    shown = figure.axes[0].title.get_window_extent(renderer)
    assert shown.x0 >= 0 and shown.x1 <= figure.bbox.width and shown.y1 <= figure.bbox.height
    assert figure.axes[0].get_title() == title


def _predictions(groups: int, rows_per_group: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three labels, about 70% right; each group's own error rate varies, as articles do."""
    rng = np.random.default_rng(seed)
    group = np.repeat([f"article-{k}" for k in range(groups)], rows_per_group)
    gold = rng.choice(["a", "b", "c"], size=group.size)
    right = rng.random(group.size) < np.repeat(rng.uniform(0.4, 0.95, groups), rows_per_group)
    return gold, np.where(right, gold, rng.choice(["a", "b", "c"], size=group.size)), group


def bounds(interval: tuple[float, float] | None) -> tuple[float, float]:
    """An interval that must be there (there is none with fewer than two groups)."""
    assert interval is not None
    return interval


def test_the_interval_holds_the_figure_and_narrows_with_more_articles() -> None:
    few = _predictions(groups=8, rows_per_group=25)
    many = _predictions(groups=200, rows_per_group=25)
    widths = []
    for gold, predicted, group in (few, many):
        low, high = bounds(group_bootstrap_interval(gold, predicted, group, ["a", "b", "c"], seed=0))
        assert low < f1_score(gold, predicted, average="macro") < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2


def test_the_interval_resamples_articles_not_rows() -> None:
    # Two articles, one all right and one all wrong: resampling rows would give a narrow interval around 0.5,
    # resampling articles draws both right, both wrong, or one of each.
    gold = np.array(["a", "b"] * 20)
    predicted = np.concatenate([gold[:20], np.where(gold[20:] == "a", "b", "a")])
    group = np.repeat(["right", "wrong"], 20)
    low, high = bounds(group_bootstrap_interval(gold, predicted, group, ["a", "b"], seed=0))
    assert (low, high) == (0.0, 1.0)


def test_the_interval_is_seeded_and_needs_two_groups() -> None:
    gold, predicted, group = _predictions(groups=8, rows_per_group=10)
    first = group_bootstrap_interval(gold, predicted, group, ["a", "b", "c"], seed=3)
    assert first == group_bootstrap_interval(gold, predicted, group, ["a", "b", "c"], seed=3)
    assert group_bootstrap_interval(gold, predicted, np.full(gold.size, "one"), ["a", "b", "c"], seed=3) is None


def test_a_resample_scores_what_scikit_learn_scores_on_its_drawn_rows() -> None:
    gold, predicted, group = _predictions(groups=6, rows_per_group=12, seed=4)
    predicted[group == "article-5"] = "d"  # a label that is predicted, never gold, and not averaged over
    codes = np.unique(group, return_inverse=True)[1]
    score = macro_f1_of_draws(gold, predicted, codes, ["a", "b", "c"])
    draws = np.array([[0, 1, 2, 3, 4, 5], [0, 0, 0, 2, 2, 5], [3, 3, 3, 3, 3, 3], [1, 5, 5, 4, 1, 0]])
    expected = []
    for drawn in draws:
        rows = np.concatenate([np.flatnonzero(codes == number) for number in drawn])
        expected.append(classification_metrics(gold[rows], predicted[rows], ["a", "b", "c"])["macro_f1"])
    # One figure per resample, in one call on the batch, as scikit-learn gives it row by row.
    assert score(draws) == pytest.approx(expected)
    assert score(draws[1]) == pytest.approx(expected[1])


def test_the_paired_interval_is_narrower_than_the_two_models_intervals_where_they_err_alike() -> None:
    gold, predicted, group = _predictions(groups=8, rows_per_group=25, seed=5)
    # A second model right on every row the first gets right, and on every tenth row besides: better on each article.
    better = np.where(np.arange(gold.size) % 10 == 0, gold, predicted)
    low, high = bounds(group_bootstrap_interval(gold, better, group, ["a", "b", "c"], seed=0, baseline=predicted))
    alone = [bounds(group_bootstrap_interval(gold, model, group, ["a", "b", "c"], seed=0)) for model in (better, predicted)]
    # Alone, the two intervals overlap: the articles' own difficulty moves both. Paired, it cancels out.
    assert alone[0][0] < alone[1][1]
    assert 0 < low <= high
    assert high - low < min(model_high - model_low for model_low, model_high in alone) / 2
    # Each resample scores both models on the same drawn rows: a model against itself differs by exactly 0.
    assert group_bootstrap_interval(gold, predicted, group, ["a", "b", "c"], seed=0, baseline=predicted) == (0.0, 0.0)
    one_group = np.full(gold.size, "one")
    assert group_bootstrap_interval(gold, better, one_group, ["a", "b", "c"], seed=0, baseline=predicted) is None


def test_resamples_scored_in_batches_give_the_interval_of_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    gold, predicted, group = _predictions(groups=8, rows_per_group=30, seed=6)
    at_once = group_bootstrap_interval(gold, predicted, group, ["a", "b", "c"], seed=0)
    # Batches of 3 resamples of 8 groups, as a file of a million one-row groups gets batches of 2.
    monkeypatch.setattr(metrics, "BOOTSTRAP_CELLS", 30)
    assert group_bootstrap_interval(gold, predicted, group, ["a", "b", "c"], seed=0) == at_once


def test_a_file_of_one_label_is_summarised_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = summary_metrics(["a", "a"], ["a", "a"], ["a", "b"])
    assert summary["confusion"] == {"a": {"a": 2}}
    assert summary["labels"] == ["a"]


def test_a_file_of_one_label_gets_its_confusion_figure_without_warnings() -> None:
    # `evaluate --experiment` on such a file printed scikit-learn's warning (and its source line) on stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = confusion_matrix_figure(["a", "a"], ["a", "a"], ["a"], "title")
    assert [text.get_text() for text in figure.axes[0].texts] == ["2"]
