"""benchmarks/semeval_near_duplicates.py: which tweets are near-duplicates of the training side, and the figures without them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from classifiers.errors import UserInputError
from tests.benchmarks.conftest import script_help, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import semeval_near_duplicates


def test_near_duplicates_are_found_against_the_training_side_only() -> None:
    texts = np.array(
        [
            "Climate change is the threat of our time #SemST",
            "The new stadium opens next week downtown",
            "climate change is the threat of our time!! #SemST",
            "Nobody asked for another tax on petrol",
        ]
    )
    # The copy of tweet 0 is tested while tweet 0 trains; tweet 3 has no near copy anywhere.
    splits = [(np.array([0, 1]), np.array([2, 3])), (np.array([2, 3]), np.array([0, 1]))]
    assert semeval_near_duplicates.near_duplicates(texts, splits).tolist() == [True, False, True, False]
    # With both copies on the same side neither is a near-duplicate of the training side.
    together = [(np.array([1, 3]), np.array([0, 2])), (np.array([0, 2]), np.array([1, 3]))]
    assert not semeval_near_duplicates.near_duplicates(texts, together).any()


def test_figures_score_only_the_rows_a_holdout_tested() -> None:
    gold = np.array(["FAVOR", "AGAINST", "NONE", "FAVOR", "AGAINST", "FAVOR"])
    near = np.array([False, False, True, False, True, False])
    tested = np.array([False, False, True, True, True, True])  # a holdout: rows 0 and 1 only trained
    predicted = np.array(["AGAINST", "FAVOR", "FAVOR", "FAVOR"])  # for rows 2-5, in order

    figures = semeval_near_duplicates.figures(gold, near, tested, predicted)

    # Rows 3 and 5 (FAVOR) are right, row 2 (NONE) is called AGAINST, row 4 (AGAINST) is called FAVOR.
    assert figures["semeval_f_avg"] == round(100 * (0.8 + 0.0) / 2, 2)
    # Without the near-duplicates (rows 2 and 4) every FAVOR is right and no AGAINST is left.
    assert figures["semeval_f_avg_without_near_duplicates"] == 50.0
    assert figures["near_duplicate_share"] == 0.5


def test_the_script_says_what_it_does_in_its_help() -> None:
    text, params = script_help(semeval_near_duplicates.main)
    assert "Measure how much near-duplicate tweets (retweets, templates) lift each SemEval-2016 config's dev F_avg" in text
    assert "TF-IDF cosine above 0.8" in text
    assert set(params) == {"configs", "write"} and params["configs"].startswith("SemEval-2016 configs to score")
    assert params["write"].startswith("Keep the figures in")


def write_tweets(data_dir: Path) -> None:
    """42 SemEval-2016 training tweets in the official layout, each stance with a word of its own, and each tweet with
    words of its own (none is a near-duplicate of another)."""
    stances = {"FAVOR": "love", "AGAINST": "hate", "NONE": "saw"}
    lines = [
        f"{number}\tAtheism\tI {word} it a{number} b{number} c{number} d{number} #SemST\t{label}"
        for number, (label, word) in enumerate(list(stances.items()) * 14)
    ]
    folder = data_dir / "semeval2016_task6"
    folder.mkdir(parents=True)
    (folder / "semeval2016-task6-trainingdata.txt").write_text("ID\tTarget\tTweet\tStance\n" + "\n".join(lines) + "\n")


def config(path: Path, data_dir: Path) -> Path:
    path.write_text(
        "task: stance\nregistered_model: semeval-stance\n"
        f"data: {{source: benchmark, name: semeval2016, data_dir: '{data_dir}'}}\n"
        "model: {family: tfidf, classifier: logreg}\nevaluation: {cv: group_kfold, n_splits: 2}\n",
        encoding="utf-8",
    )
    return path


def test_a_configs_figures_are_kept_when_a_later_config_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The file was written once, after the last config: a later config that failed took the earlier figures with it.
    results = tmp_path / "results.json"
    monkeypatch.setattr(semeval_near_duplicates, "RESULTS", results)
    write_tweets(tmp_path / "datasets")
    first = config(tmp_path / "first.yaml", tmp_path / "datasets")
    second = config(tmp_path / "second.yaml", tmp_path / "nowhere")
    with pytest.raises(UserInputError, match="not found"):
        semeval_near_duplicates.main([first, second])
    assert set(json.loads(results.read_text(encoding="utf-8"))) == {str(first.resolve())}


def test_a_config_whose_every_tested_tweet_is_a_near_duplicate_is_reported_without_the_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # No tweet is left to score without them: semeval_f_avg raised "nothing to score" and the script ended in a traceback.
    results = tmp_path / "results.json"
    monkeypatch.setattr(semeval_near_duplicates, "RESULTS", results)
    monkeypatch.setattr(semeval_near_duplicates, "near_duplicates", lambda texts, splits: np.ones(len(texts), dtype=bool))
    write_tweets(tmp_path / "datasets")
    path = config(tmp_path / "copies.yaml", tmp_path / "datasets")

    semeval_near_duplicates.main([path])

    row = json.loads(results.read_text(encoding="utf-8"))[str(path.resolve())]
    assert row["semeval_f_avg_without_near_duplicates"] is None and row["near_duplicate_share"] == 1.0
    assert "every tested tweet has a near-duplicate on its fold's training side" in caplog.text
    # The table says it has no figure rather than "None".
    assert table_lines(capsys.readouterr().out)[-1][2:] == ["n/a", "1.0"]


def test_no_write_prints_the_figures_and_keeps_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The figures were always written into benchmarks/results/, with no way to only look at them.
    results = tmp_path / "results.json"
    monkeypatch.setattr(semeval_near_duplicates, "RESULTS", results)
    write_tweets(tmp_path / "datasets")
    path = config(tmp_path / "only.yaml", tmp_path / "datasets")
    semeval_near_duplicates.main([path], write=False)
    assert not results.exists()
    assert "only.yaml" in capsys.readouterr().out
