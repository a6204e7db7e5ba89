"""Run a benchmark script so that a user's mistake (a config or data folder not found, a model not registered) ends
in one line and exit code 1, as in `python -m training`, not in a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from classifiers.errors import UserInputError


def run_script(command: Callable[..., Any] | typer.Typer) -> None:
    """Run a script's typer app, or its main function as `typer.run` does."""
    try:
        if isinstance(command, typer.Typer):
            command()
        else:
            typer.run(command)
    except UserInputError as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(1)
