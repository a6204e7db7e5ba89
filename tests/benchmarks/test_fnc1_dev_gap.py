"""benchmarks/fnc1_dev_gap.py: the official baseline's split and features, on the real training file."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from tests.benchmarks.conftest import alignments, script_help, table_lines
from training.locations import DEFAULT_DATA_DIR, PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import fnc1_dev_gap


def test_baseline_procedure_reproduces_the_published_hold_out() -> None:
    folder = DEFAULT_DATA_DIR / "fnc1"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    stances = pd.read_csv(folder / "train_stances.csv", dtype=str)
    bodies = pd.read_csv(folder / "train_bodies.csv", dtype=str)["Body ID"].tolist()
    train, test = fnc1_dev_gap.baseline_holdout(stances["Body ID"], bodies)
    # the class counts of the hold-out confusion matrix in the baseline's README
    assert stances["Stance"].iloc[test].value_counts().to_dict() == {
        "unrelated": 6_898, "discuss": 1_800, "agree": 762, "disagree": 162
    }
    assert not set(stances["Body ID"].iloc[train]) & set(stances["Body ID"].iloc[test])


def test_baseline_features_follow_the_published_code() -> None:
    features = fnc1_dev_gap.baseline_features("Robert Plant tears up contract", "Robert Plant did not tear up any contract.")
    assert len(features) == 26 + 2 + 15 + 1
    hand, polarity, refuting, overlap = features[:26], features[26:28], features[28:43], features[43]
    assert hand[:2] == [4, 4]  # headline tokens found in the cleaned body (all but "tears"), all in its first 255 chars
    assert polarity == [0, 1]  # one refuting word ("not") in the body
    assert sum(refuting) == 0  # none in the headline
    assert overlap == pytest.approx(len({"robert", "plant", "contract", "up"}) / len(
        {"robert", "plant", "tears", "up", "contract", "did", "not", "tear", "any"}
    ))


def test_markdown_marks_every_figure_as_a_dev_figure(tmp_path: Path) -> None:
    row = {"n": 3, "fnc_score": 50.0, "macro_f1": 0.5, "fnc_score_test_mix": 60.0, "macro_f1_test_mix": 0.4}
    text = fnc1_dev_gap.markdown({"story": {"lexical": row, "seen": {}}})
    assert len(text.splitlines()) == 3
    header, separator, line = table_lines(text)
    assert header[:3] == ["dev split", "model", "test-side pairs"]
    assert all(cell.endswith("(dev)") for cell in header[3:])
    assert alignments(separator) == ["left", "left", "right", "right", "right", "right", "right", "left"]
    assert line == ["story", "lexical", "3", "50.00", "0.500", "60.00", "0.400", "–"]


def test_the_help_says_what_the_script_does_and_what_each_option_is() -> None:
    text, params = script_help(fnc1_dev_gap.main)
    assert "Why the FNC-1 dev figure read high: train the lexical pair_features config" in text
    assert "Every figure is a dev figure (the competition test is not read)" in text
    assert [name for name, help_text in params.items() if not help_text] == []
    assert params["seed"] == "Seed of the disjoint, body and story splits (the baseline split keeps its own)."


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (["--splits", "story", "--splits", "nope"], "nope: a split is one of disjoint, body, baseline, story, story5"),
        (["--splits", "story", "--override", "model.nope=1"], "model.nope: Extra inputs are not permitted"),
    ],
)
def test_a_bad_split_or_override_is_refused_before_any_work_and_leaves_nothing_behind(
    argument: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both were found only after the data was read and, with --baseline, its features computed (minutes); the unknown
    # split left the scratch folder made.
    def not_read(*args: object) -> None:
        raise AssertionError("the data was read")

    monkeypatch.setattr(fnc1_dev_gap, "load_benchmark", not_read)
    app = typer.Typer(add_completion=False)
    app.command()(fnc1_dev_gap.main)
    scratch, out = tmp_path / "scratch", tmp_path / "out.json"
    result = CliRunner().invoke(app, [*argument, "--baseline", "--scratch", str(scratch), "--out", str(out)])
    assert result.exit_code != 0
    printed = " ".join(result.output.replace("│", " ").split())  # typer's error box, its lines joined
    assert message in printed or message in str(result.exception)
    assert not isinstance(result.exception, AssertionError)
    assert list(tmp_path.iterdir()) == []
