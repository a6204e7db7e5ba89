import pytest

from training.evaluation.metrics import classification_metrics, confusion_matrix_figure, summary_metrics


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
    assert set(summary) == {"accuracy", "macro_f1", "per_class", "labels", "n"}
    assert summary["per_class"] == {"a": pytest.approx(2 / 3), "b": 0.0}
    assert summary["n"] == 2


def test_confusion_matrix_figure_has_every_label() -> None:
    figure = confusion_matrix_figure(["a", "b"], ["a", "a"], ["a", "b", "c"], "title")
    axes = figure.axes[0]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["a", "b", "c"]
    assert axes.get_title() == "title"
