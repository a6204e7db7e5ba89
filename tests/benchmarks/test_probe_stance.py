"""benchmarks/probe_stance.py: the table of each model's labels on the probe sentences."""

from __future__ import annotations

import sys

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from probe_stance import table  # noqa: E402


def test_the_table_has_a_row_per_model() -> None:
    rows = [
        ["`models:/news-stance@champion`", "Israel: favor/against · Iran: none/against", "none, none", "5/6"],
        ["`models:/news-stance/3`", "Israel: none/none · Iran: none/none", "none, against", "3/6"],
    ]
    header, separator, *cells = table_lines(table(rows))
    assert header == ["model", "praise/condemnation per target", "neutral reports", "as intended"]
    assert alignments(separator) == ["left", "left", "left", "right"]
    assert cells == rows
