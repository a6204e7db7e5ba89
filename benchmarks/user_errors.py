"""Run a benchmark script so that a user's mistake (a config or data folder not found, a model not registered) ends
in one line and exit code 1, as in `python -m training`, not in a traceback; and so that a SIGTERM leaves nothing
running or behind."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
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


def writable_folder(folder: Path, what: str) -> Path:
    """The folder, made if missing; UserInputError naming it when it cannot be made or written to."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserInputError(f"{what} {folder} cannot be made: {err.strerror}") from err
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserInputError(f"{what} {folder} is not writable")
    return folder


def folder_to_make(folder: Path, what: str) -> Path:
    """A folder this script makes later, checked now so that a mistake is found before the work: an existing folder,
    or a missing one whose nearest existing parent is a folder. Nothing is created (a run refused later, on its data,
    leaves no empty folder)."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise UserInputError(f"{what} {folder} cannot be made: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserInputError(f"{what} {folder} cannot be made: {existing} is not writable")
    return folder


def writable_file(path: Path, what: str) -> Path:
    """A file this script may write later, checked now so a long run does not end in losing its figures: not a
    folder, and in a folder that exists (training.atomic_files makes none) and can be written to. Nothing is created."""
    if path.is_dir():
        raise UserInputError(f"{what} {path} is a folder")
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise UserInputError(f"{what} {path} cannot be written: {existing} is not a folder")
    if existing != path.absolute().parent:
        raise UserInputError(f"{what} {path} cannot be written: folder {path.parent} does not exist")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserInputError(f"{what} {path} cannot be written: {existing} is not writable")
    return path


def _nearest_existing(path: Path) -> Path:
    """The path, made whole, or its nearest parent that exists."""
    whole = path.absolute()
    return next(folder for folder in (whole, *whole.parents) if folder.exists())
