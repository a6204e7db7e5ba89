"""Helpers shared by the benchmark tests: reading back the Markdown tables the scripts write."""

from __future__ import annotations


def table_lines(text: str) -> list[list[str]]:
    """The cells of every table line in the text (header, alignment row, rows), stripped of their padding."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]


def alignments(row: list[str]) -> list[str]:
    """Each cell of a table's alignment row as "right" (`---:`) or "left" (`---` or `:---`)."""
    assert all(cell and set(cell) <= {"-", ":"} for cell in row), f"not an alignment row: {row}"
    return ["right" if cell.endswith(":") and not cell.startswith(":") else "left" for cell in row]
