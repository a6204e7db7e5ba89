"""Which candidates benchmarks/bench_transfer.py trains: a task, a config, or a usage error naming what is wrong."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_transfer  # noqa: E402
from bench_transfer import CANDIDATES, chosen_candidates, table  # noqa: E402


def test_a_config_chooses_only_its_candidates() -> None:
    chosen = chosen_candidates(None, ["configs/topic/descriptions.yaml"])
    assert chosen and {c.config for c in chosen} == {"configs/topic/descriptions.yaml"}
    assert len(chosen) == sum(c.config == "configs/topic/descriptions.yaml" for c in CANDIDATES)


def test_a_task_chooses_its_candidates_and_no_config_means_all() -> None:
    assert chosen_candidates("stance", None) == [c for c in CANDIDATES if c.task == "stance"]
    assert chosen_candidates(None, None) == CANDIDATES


@pytest.mark.parametrize(
    ("only", "configs", "named"),
    [
        ("sentiment", None, "--only must be one of topic, stance"),
        (None, ["configs/stance/nope.yaml"], "configs/stance/nope.yaml is not a candidate"),
        ("topic", ["configs/stance/minilm_described.yaml"], "no topic candidate has config configs/stance/minilm_described.yaml"),
    ],
)
def test_what_chooses_nothing_is_refused_naming_it(only: str | None, configs: list[str] | None, named: str) -> None:
    with pytest.raises(typer.BadParameter, match=named):
        chosen_candidates(only, configs)


def _outside_news(labels: list[str]) -> dict[str, dict[str, object]]:
    return {
        subset: {"macro_f1": score, "per_class": {label: score for label in labels}}
        for subset, score in (("a", 0.1), ("b", 0.2), ("c", 0.3), ("d", 0.4))
    }


def test_the_topic_table_has_a_row_per_candidate_and_when_it_was_measured() -> None:
    row = {
        "candidate": "configs/topic/a.yaml",
        "note": "default",
        "measured": "2026-01-01",
        "seed_macro_f1": 0.8123,
        "transfer": {
            "accuracy": 0.9,
            "per_class_recall": {"economy": 0.85, "domestic_politics": 0.7},
            "confusion": {"economy": {"economy": 350, "diplomacy": 40, "conflict": 24}},
        },
        "outside_news": _outside_news(["conflict", "economy"]),
    }
    header, separator, cells = table_lines(table("topic", [row]))
    assert header[:3] == ["config", "", "seed LOAO macro-F1"] and len(header) == 14
    assert alignments(separator) == ["left", "left", *["right"] * 4, "left", *["right"] * 4, *["left"] * 3]
    assert cells == [
        "`configs/topic/a.yaml`", "default", "0.812", "**0.900**", "0.850", "0.700", "diplomacy 40, conflict 24",
        "**0.200**", "0.300", "**0.400**", "0.100",
        "conflict 0.20, economy 0.20", "conflict 0.30, economy 0.30", "conflict 0.40, economy 0.40",
    ]  # fmt: skip
    assert table("topic", [row]).endswith("|\n\nMeasured 2026-01-01.")
    # Rows of two occasions are numbered by theirs: the lines under the table said when, not which row.
    later = {**row, "candidate": "configs/topic/b.yaml", "measured": "2026-02-02"}
    text = table("topic", [row, later, {**row, "candidate": "configs/topic/c.yaml"}])
    assert [cells[0] for cells in table_lines(text)[2:]] == [
        "`configs/topic/a.yaml` (1)", "`configs/topic/b.yaml` (2)", "`configs/topic/c.yaml` (1)"
    ]  # fmt: skip
    assert text.endswith("|\n\n(1) Measured 2026-01-01.\n(2) Measured 2026-02-02.")


def test_the_stance_table_has_the_semeval_figures_then_the_outside_sets() -> None:
    row = {
        "candidate": "configs/stance/a.yaml",
        "note": "",
        "measured": "2026-01-02",
        "seed_macro_f1": 0.5,
        "transfer": {
            "semeval_f_avg": 61.25,
            "macro_f1": 0.45,
            "macro_f1_interval": [0.41, 0.49],
            "per_class": {"favor": 0.5, "against": 0.4},
        },
        "outside_news": _outside_news(["favor"]),
    }
    header, separator, cells = table_lines(table("stance", [row]))
    assert header[3:5] == ["SemEval F_avg", "SemEval macro-F1 (95% interval)"] and len(header) == 13
    assert alignments(separator) == ["left", "left", *["right"] * 3, "left", *["right"] * 4, *["left"] * 3]
    assert cells[:6] == ["`configs/stance/a.yaml`", "", "0.500", "**61.2**", "0.450 (0.410–0.490)", "against 0.40, favor 0.50"]


def test_no_write_prints_the_new_figures_and_changes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It kept the new figures in benchmarks/results/bench_transfer.json all the same.
    kept = tmp_path / "bench_transfer.json"
    shutil.copy(bench_transfer.RESULTS, kept)
    before = kept.read_bytes()
    (candidate,) = chosen_candidates(None, ["configs/topic/descriptions_written.yaml"])[:1]
    row = {**json.loads(before)[candidate.key], "measured": "2099-01-01, a test's machine"}
    monkeypatch.setattr(bench_transfer, "RESULTS", kept)
    # The measurement itself trains a model on the seeds and scores it on BBC News: minutes, a benchmark's to run.
    monkeypatch.setattr(bench_transfer, "measure", lambda chosen, data_dir: row)
    doc = bench_transfer.DOC.read_bytes()

    app = typer.Typer()
    app.command()(bench_transfer.main)
    result = CliRunner().invoke(app, ["--config", candidate.config, "--no-write"])

    assert result.exit_code == 0, result.output
    assert "Measured 2099-01-01, a test's machine" in result.output  # the new figures, in the printed table
    assert kept.read_bytes() == before and bench_transfer.DOC.read_bytes() == doc
