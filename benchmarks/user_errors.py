"""Run a benchmark script so that a user's mistake (a config or data folder not found, a model not registered) ends
in one line and exit code 1, as in `python -m training`, not in a traceback; and so that a SIGTERM leaves nothing
running or behind."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import typer

from classifiers.errors import UserInputError


def _stopped(signum: int, frame: object) -> None:
    # As the default SIGTERM would end it, but through the finally blocks that stop child processes and servers and
    # remove temporary stores, as Ctrl-C does.
    raise SystemExit(128 + signum)


def run_script(command: Callable[..., Any] | typer.Typer) -> None:
    """Run a script's typer app, or its main function as `typer.run` does; SIGTERM ends it cleanly, as Ctrl-C does."""
    signal.signal(signal.SIGTERM, _stopped)
    try:
        if isinstance(command, typer.Typer):
            command()
        else:
            typer.run(command)
    except UserInputError as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(1)
