"""Where scores are written: checked up front, staged beside the output, moved into place only when complete.

The local engine writes one Parquet file, Spark a folder of part files; both are staged under a hidden
temporary name in the output's own folder (so the final rename stays on one filesystem) and removed on
any failure, so a reader sees the previous output or the complete new one, never a partial one.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from classifiers.errors import UserInputError
from training import stop_requests
from training.scoring.model import MODEL_FILE

logger = logging.getLogger(__name__)

OUTPUT_SUFFIX = ".parquet"
# Every Parquet file starts (and ends) with these bytes.
_PARQUET_MAGIC = b"PAR1"
# What Spark leaves in a Parquet output folder: a folder holding only these may be replaced.
_SPARK_FILE_PREFIXES = ("part-", "_SUCCESS", "_committed_", "_started_", ".part-", "._SUCCESS", MODEL_FILE)


def check_output(output: Path, input_path: Path) -> None:
    """The output is a .parquet path in an existing folder, not the input, and replaces nothing but an earlier
    output (a Parquet file, or a folder of Spark part files); UserInputError if not."""
    if output.suffix.lower() != OUTPUT_SUFFIX:
        raise UserInputError(f"output {output} must end in {OUTPUT_SUFFIX}")
    if not output.parent.is_dir():
        raise UserInputError(f"output folder {output.parent} does not exist")
    if not os.access(output.parent, os.W_OK | os.X_OK):
        raise UserInputError(f"output folder {output.parent} is not writable")
    if output.exists() and output.resolve() == input_path.resolve():
        raise UserInputError(f"output {output} is the input file")
    if output.is_dir() and output.resolve() in input_path.resolve().parents:
        # A Spark dataset's part file given as input, its folder as output: replacing the folder deletes the input.
        raise UserInputError(f"output {output} is the folder that holds the input {input_path}; not replacing it")
    if output.is_dir() and not _is_spark_output(output):
        raise UserInputError(f"output {output} is a folder that holds other files than Parquet parts; not replacing it")
    if output.is_file() and not _is_parquet_file(output):
        raise UserInputError(f"output {output} exists and is not a Parquet file; not replacing it")


def _is_parquet_file(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(_PARQUET_MAGIC)) == _PARQUET_MAGIC


def _is_spark_output(folder: Path) -> bool:
    return all(entry.is_file() and entry.name.startswith(_SPARK_FILE_PREFIXES) for entry in folder.iterdir())


def staging_path(output: Path, tag: str = "tmp") -> Path:
    """A hidden, unused sibling of output."""
    return output.with_name(f".{output.name}.{uuid.uuid4().hex}.{tag}")


def remove(path: Path) -> None:
    """Delete a file or folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def move_into_place(staged: Path, output: Path) -> None:
    """Rename staged to output, replacing a file or an earlier Spark output folder. A stop (Ctrl-C, SIGTERM) takes
    effect once it is done: one between the moves, or in the old folder's removal, left a hidden part of it behind."""
    with stop_requests.held():
        try:
            if not (output.is_dir() or (output.exists() and staged.is_dir())):
                os.replace(staged, output)
                return
            # rename(2) cannot put anything over a non-empty folder, nor a folder over a file: the old output
            # moves aside first, and comes back if the new one cannot take its place.
            aside = staging_path(output, "old")
            os.replace(output, aside)
            try:
                os.replace(staged, output)
            except BaseException:
                os.replace(aside, output)
                raise
        except OSError as err:
            # The system's error names the hidden staged file, which is removed on the way out: the user's is output.
            raise UserInputError(f"cannot replace {output}: {err.strerror or err}; it is left as it was") from err
        remove(aside)


@contextmanager
def staged_output(output: Path) -> Iterator[Path]:
    """A temporary path for the writer; moved to output when the block succeeds, removed whatever happens."""
    staged = staging_path(output)
    try:
        yield staged
        move_into_place(staged, output)
    finally:
        remove(staged)
    logger.debug("moved %s into place as %s", staged.name, output)
