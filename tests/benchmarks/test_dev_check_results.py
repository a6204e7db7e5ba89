"""benchmarks/dev_check_results.py: the per-config results file and its table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import CONFIGS_DIR, PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from dev_check_results import config_key, load_results, markdown, save_results


def test_a_config_is_keyed_by_its_path_from_the_project_root_and_kept_across_saves(tmp_path: Path) -> None:
    results_file = tmp_path / "results.json"
    assert load_results(results_file) == {}  # nothing measured yet

    key = config_key(CONFIGS_DIR / "benchmarks" / "vast" / "minilm_matching.yaml")
    assert key == "configs/benchmarks/vast/minilm_matching.yaml"
    outside = tmp_path / "mine.yaml"
    assert config_key(outside) == str(outside)  # a config outside the project keeps its full path

    save_results(results_file, {key: {"f1": 0.5, "rows": 10}})
    results = load_results(results_file)
    results[str(outside)] = {"f1": 0.25, "rows": 4}
    save_results(results_file, results)
    assert load_results(results_file) == {key: {"f1": 0.5, "rows": 10}, str(outside): {"f1": 0.25, "rows": 4}}


def test_the_table_has_a_row_per_config_and_the_chosen_columns_in_order() -> None:
    results = {"a.yaml": {"f1": 0.5, "rows": 10, "unused": 1}, "b.yaml": {"f1": 0.25, "rows": 4, "unused": 2}}
    table = markdown(results, {"rows (dev)": "rows", "macro-F1 (dev)": "f1"})
    header, separator, *rows = table_lines(table)
    assert len(table.splitlines()) == 4
    assert header == ["config", "rows (dev)", "macro-F1 (dev)"]
    assert alignments(separator) == ["left", "right", "right"]
    assert rows == [["`a.yaml`", "10", "0.5"], ["`b.yaml`", "4", "0.25"]]


def test_saving_replaces_the_results_file_whole_never_rewriting_it_in_place(tmp_path: Path) -> None:
    # Written in place, a stop part-way left a truncated file that no later run could read.
    results_file = tmp_path / "results.json"
    save_results(results_file, {"a.yaml": {"f1": 0.5}})
    with results_file.open(encoding="utf-8") as before:  # what a stop during the next save would leave
        save_results(results_file, {"a.yaml": {"f1": 0.25}, "b.yaml": {"f1": 1.0}})
        assert json.loads(before.read()) == {"a.yaml": {"f1": 0.5}}
    assert load_results(results_file) == {"a.yaml": {"f1": 0.25}, "b.yaml": {"f1": 1.0}}
    assert [path.name for path in tmp_path.iterdir()] == ["results.json"]


def test_a_figure_that_could_not_be_had_shows_as_not_available() -> None:
    # Not str(None): the semeval check has no figure without near-duplicates where every tested tweet is one.
    _, _, row = table_lines(markdown({"a.yaml": {"f1": None, "rows": 4}}, {"rows": "rows", "f1": "f1"}))
    assert row == ["`a.yaml`", "4", "n/a"]
