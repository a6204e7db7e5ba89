"""One batch-scoring run: check the request, then hand it to the chosen engine."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from classifiers.contract import REQUIRED_COLUMNS
from classifiers.errors import UserInputError
from training.path_names import require_utf8_name
from training.scoring.inputs import PARQUET, InputFile, check_model_columns, check_records, inspect_input
from training.scoring.local_engine import score_locally
from training.scoring.model import ModelSpec, describe_model
from training.scoring.outputs import check_output
from training.scoring.spark_engine import (
    DEFAULT_MASTER,
    check_executor_python,
    check_master_form,
    check_master_reachable,
    check_spark_json_fields,
    check_spark_paths,
    check_spark_types,
    score_with_spark,
)

logger = logging.getLogger(__name__)

# pyarrow and Spark take paths as UTF-8 text; Python reads a JSONL input of any name itself.
_NOT_UTF8 = "pyarrow and Spark cannot open"

# Rows per model call: large enough for the encoder's batching, small enough to bound memory.
DEFAULT_CHUNK_ROWS = 1000


class Engine(StrEnum):
    """Where the model runs: in this process, or in Spark executors."""

    LOCAL = "local"
    SPARK = "spark"


@dataclass(frozen=True)
class ScoreResult:
    """What a run wrote: the row count, the output path (a file, or a folder for Spark) and the wall time."""

    rows: int
    output: Path
    seconds: float
    engine: Engine


def score(
    model_uri: str,
    input_path: Path,
    output: Path,
    engine: Engine = Engine.LOCAL,
    master: str = DEFAULT_MASTER,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool = True,
) -> ScoreResult:
    """Score every row of a JSONL or Parquet input with a registered model into a Parquet output.

    The output holds the input's columns unchanged plus the model's (label, score, proba_<label>). The local
    engine writes one file in the input's row order; Spark writes a folder of part files in no particular
    order (match rows on an id column). MLflow
    must already point at the store that holds the model (`classifiers.store.use_store`). Every check of
    the request runs before any model weights are loaded or Spark is started; bad input is a UserInputError
    and leaves no output (nor temporary file) behind.
    """
    engine = Engine(engine)  # a plain "local"/"spark" string from a caller works too
    if chunk_rows < 1:
        raise UserInputError(f"chunk size must be at least 1 row, got {chunk_rows}")
    require_utf8_name(output, "output", _NOT_UTF8)
    if engine is Engine.SPARK or input_path.suffix.lower() == PARQUET:
        require_utf8_name(input_path, "input", _NOT_UTF8)
    if engine is Engine.SPARK:
        check_master_form(master)
        check_executor_python(master)
        check_spark_paths(input_path, output)
        check_master_reachable(master)
    source = inspect_input(input_path)
    if engine is Engine.SPARK:
        check_spark_types(source)
    check_output(output, input_path)
    spec = describe_model(model_uri)
    logger.info("scoring %s with %s", input_path, spec.describe())
    _warn_of_unread_inputs(source, spec)
    # Parquet states its columns and types, so a column that cannot be read as the model needs is named before its
    # rows are read; JSONL's are those of the whole file, known once it was read. Until then its first record stands
    # for them: a file without the column the model reads (a topic file given to a stance model) is named as the
    # model's need, not as line 1's missing field.
    typed_up_front = source.schema is not None
    check_model_columns(source, spec.required_columns, spec.task, spec.output_columns)
    started = time.perf_counter()
    # Every record is checked before the model loads: a bad line far down a file is named at once, not after the
    # rows above it were scored, and Spark, whose errors cannot name a file line, never sees one. Reading the
    # input twice costs little beside the encoder's time per row (docs/deploy.md).
    source = check_records(source, chunk_rows, spec.required_columns)
    if not typed_up_front:
        check_model_columns(source, spec.required_columns, spec.task, spec.output_columns)
    if engine is Engine.SPARK:
        check_spark_json_fields(source)
    assert source.rows is not None, "check_records counted them"
    if engine is Engine.LOCAL:
        rows = score_locally(source, spec, output, chunk_rows, progress)
    else:
        rows = score_with_spark(source, spec, output, master, chunk_rows, source.rows)
    seconds = time.perf_counter() - started
    logger.info("%d rows in %.1f s (%.0f rows/s) with the %s engine", rows, seconds, rows / seconds if seconds else 0.0, engine)
    return ScoreResult(rows, output, seconds, engine)


def _warn_of_unread_inputs(source: InputFile, spec: ModelSpec) -> None:
    """Say where the input has a column another task's model reads and this one does not (a stance file's `target`
    given to a topic model): it is passed through, and the file was likely meant for the other model."""
    for task, columns in REQUIRED_COLUMNS.items():
        unread = [column for column in columns if column in source.columns and column not in spec.required_columns]
        if unread:
            logger.warning(
                "%s has column(s) %s, which a %s model reads and this %s model does not (passed through unchanged): "
                "was a %s model meant?",
                source.path, ", ".join(unread), task, spec.task, task,
            )
