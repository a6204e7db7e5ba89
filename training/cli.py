"""Command line: `python -m training COMMAND`. Each command parses its arguments and calls one function."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from training import locations
from training.errors import UserInputError

app = typer.Typer(
    help="Train, evaluate and promote the news topic and stance classifiers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
logger = logging.getLogger("training")


@app.callback()
def _configure(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn bad-input errors into a one-paragraph message and exit code 1."""
    try:
        yield
    except UserInputError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err


@app.command()
def ingest(
    raw_dir: Annotated[Path, typer.Option(help="Folder of scraped seed files (*.txt).")] = locations.RAW_SEEDS_DIR,
    out_dir: Annotated[Path, typer.Option(help="Where segments.jsonl and articles.jsonl go.")] = locations.SEEDS_DIR,
) -> None:
    """Parse the seed files into articles and segments."""
    from training.corpus.seed_files import ingest as run_ingest

    with _user_errors():
        run_ingest(raw_dir, out_dir)


@app.command("validate-labels")
def validate_labels(
    labels: Annotated[Path, typer.Option(help="Labels file to check.")] = locations.LABELS_PATH,
    segments: Annotated[Path, typer.Option(help="Segments the labels refer to.")] = locations.SEGMENTS_PATH,
) -> None:
    """Check labels.jsonl: known labels and targets, every segment labelled once."""
    from training.corpus.labels import validate_labels as run_validation

    with _user_errors():
        rows = run_validation(labels, segments)
    logger.info("%s: %d segments labelled, all valid", labels, len(rows))
