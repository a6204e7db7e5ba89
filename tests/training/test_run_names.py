"""training/run_names.py: a run is named after its config and the overrides it was trained with."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import locations
from training.config.resolve import load_config
from training.run_names import MAX_OVERRIDE_IN_NAME, child_name, config_name, sets_the_sweep, with_overrides


@pytest.mark.parametrize(
    ("name", "overrides", "expected"),
    [
        ("tfidf_svm", [], "tfidf_svm"),
        ("tfidf_svm", ["model.C=0.5", "seed=7"], "tfidf_svm (model.C=0.5, seed=7)"),
        # A name that ends in overrides (a logged config.yaml's) takes the new ones inside its brackets.
        ("tfidf_svm (seed=7)", ["model.C=0.5"], "tfidf_svm (seed=7, model.C=0.5)"),
        ("tfidf_svm (model.word_ngrams=[1, 2])", ["seed=1"], "tfidf_svm (model.word_ngrams=[1, 2], seed=1)"),
        # Brackets of the user's own are no overrides.
        ("baseline (draft)", ["seed=1"], "baseline (draft) (seed=1)"),
        ("(draft)", ["seed=1"], "(draft) (seed=1)"),
    ],
)
def test_a_name_is_followed_by_its_overrides(name: str, overrides: list[str], expected: str) -> None:
    assert with_overrides(name, overrides) == expected


def test_a_long_override_is_cut_in_the_name() -> None:
    long = "target_aliases={Russia: [" + ", ".join(["Moscow"] * 20) + "]}"
    name = with_overrides("tfidf_logreg", [long])
    assert name == f"tfidf_logreg ({long[: MAX_OVERRIDE_IN_NAME - 1]}…)"


def test_a_logged_config_is_named_after_its_run_s_config_not_after_its_file(tmp_path: Path) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    assert config_name(load_config(path), path) == "tfidf_logreg"
    logged = tmp_path / "config.yaml"
    logged.write_text("task: topic\nmodel: {family: tfidf}\nrun_name: tfidf_logreg (model.C=0.5)\n", encoding="utf-8")
    assert config_name(load_config(logged), logged) == "tfidf_logreg"
    assert config_name(load_config(path), None) == "topic-tfidf-seeds"


def test_a_sweep_child_is_named_after_its_config_and_values() -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    config = load_config(path)
    assert child_name(None, config, path, ["seed=7"], ["model.C=1"]) == "tfidf_logreg (seed=7, model.C=1)"
    assert child_name("ours", config, path, ["seed=7"], ["model.C=1"]) == "ours (model.C=1)"
    assert [sets_the_sweep(text) for text in ("sweep.model.C=[1, 2]", "sweep={}", "seed=1", "sweeps=1")] == [
        True,
        True,
        False,
        False,
    ]
