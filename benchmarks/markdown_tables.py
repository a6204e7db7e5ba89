"""The benchmarks' Markdown tables, built by tabulate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from tabulate import tabulate

Align = Literal["left", "right"]


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: Sequence[Align]) -> str:
    """A pipe table, one alignment per column; each cell as `str` writes it, never re-read as a number."""
    cells = [[str(cell) for cell in row] for row in rows]
    if len(align) != len(headers) or any(len(row) != len(headers) for row in cells):
        raise ValueError(f"a table of {len(headers)} columns takes as many alignments and cells in every row")
    return tabulate(cells, headers=list(headers), tablefmt="pipe", colalign=list(align), disable_numparse=True)


def aligned(*runs: tuple[Align, int]) -> list[Align]:
    """Alignments by runs of columns: `aligned(("left", 1), ("right", 5))` is one column left, then five right."""
    return [align for align, columns in runs for _ in range(columns)]
