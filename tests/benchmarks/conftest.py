"""Helpers shared by the benchmark tests: reading back the Markdown tables the scripts write, and their --help."""

from __future__ import annotations

from collections.abc import Callable

import typer
from typer.testing import CliRunner


def table_lines(text: str) -> list[list[str]]:
    """The cells of every table line in the text (header, alignment row, rows), stripped of their padding."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]


def alignments(row: list[str]) -> list[str]:
    """Each cell of a table's alignment row as "right" (`---:`) or "left" (`---` or `:---`)."""
    assert all(cell and set(cell) <= {"-", ":"} for cell in row), f"not an alignment row: {row}"
    return ["right" if cell.endswith(":") and not cell.startswith(":") else "left" for cell in row]


def script_help(main: Callable[..., None]) -> tuple[str, dict[str, str]]:
    """What `--help` of a script run by `run_script(main)` prints, with its words joined by single spaces, and the help
    string of each argument and option (empty where there is none), by name."""
    app = typer.Typer(add_completion=False)  # as `typer.run` builds it
    app.command()(main)
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    params = typer.main.get_command(app).params
    return " ".join(result.output.split()), {str(param.name): getattr(param, "help", None) or "" for param in params}
