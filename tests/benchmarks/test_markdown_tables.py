"""benchmarks/markdown_tables.py: pipe tables with the cells as given and each column aligned as asked."""

from __future__ import annotations

import sys

import pytest

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from markdown_tables import aligned, markdown_table  # noqa: E402


def test_the_header_rows_and_alignments_come_back_as_given() -> None:
    text = markdown_table(
        ["config", "rows", "macro-F1"], [["`a.yaml`", 10, "0.500"], ["`b.yaml`", 1234, "0.25"]], ["left", "right", "right"]
    )
    header, separator, *rows = table_lines(text)
    assert header == ["config", "rows", "macro-F1"]
    assert alignments(separator) == ["left", "right", "right"]
    assert rows == [["`a.yaml`", "10", "0.500"], ["`b.yaml`", "1234", "0.25"]]
    assert len(text.splitlines()) == 4  # nothing around the table


def test_cells_that_look_like_numbers_are_not_reformatted() -> None:
    text = markdown_table(["a", "b", "c", "d"], [["0.500", "1,234", "007", "1e3"]], ["right"] * 4)
    assert table_lines(text)[2] == ["0.500", "1,234", "007", "1e3"]


@pytest.mark.parametrize(
    ("align", "rows"),
    [(["left"], [["x", "1"]]), (["left", "right"], [["x"]]), (["left", "right"], [["x", "1", "2"]])],
)
def test_an_alignment_or_a_row_of_another_width_than_the_headers_is_refused(align: list, rows: list) -> None:
    with pytest.raises(ValueError, match="2 columns"):
        markdown_table(["a", "b"], rows, align)


def test_alignments_are_given_by_runs_of_columns() -> None:
    assert aligned(("left", 2), ("right", 3), ("left", 1)) == ["left", "left", "right", "right", "right", "left"]
    assert aligned(("left", 1), ("right", 0)) == ["left"]
