"""Score in this process: read a chunk, predict it, append it to the output, repeat.

Memory holds one chunk (its input rows and predictions) and the model, whatever the input's size;
rows keep the input's order. With a `document` column a chunk ends where a document does, so the rows of
one article are read together, each beside its neighbours.
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from mlflow.pyfunc import PyFuncModel
from tqdm import tqdm

from classifiers.contract import DOCUMENT_COLUMN
from classifiers.errors import UserInputError
from training import stop_requests
from training.scoring.inputs import InputFile, read_chunks, whole_documents
from training.scoring.model import MODEL_METADATA_KEY, ModelSpec, loaded_model, predict_table, with_predictions
from training.scoring.outputs import staged_output

logger = logging.getLogger(__name__)

# Writing can fail for want of room or of permission; any other OSError is not the output's.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES}
# Where pandas keeps its dtypes and index in a Parquet file's metadata.
_PANDAS_METADATA_KEY = b"pandas"


def score_locally(source: InputFile, spec: ModelSpec, output: Path, chunk_rows: int, progress: bool = True) -> int:
    """Write the input with the model's columns appended to the Parquet file output; returns the row count."""
    # The model's copy lives until the last chunk is predicted.
    with loaded_model(spec) as model, _write_errors(output):
        rows = _score_into(source, spec, output, model, chunk_rows, progress)
    logger.info("scored %d rows of %s into %s", rows, source.path, output)
    return rows


@contextmanager
def _write_errors(output: Path) -> Iterator[None]:
    """A full disk or a read-only folder, met while writing, is named in one line (the staged file is gone)."""
    try:
        yield
    except OSError as err:
        if err.errno not in _WRITE_ERRNOS:
            raise
        raise UserInputError(f"cannot write {output}: {err.strerror}") from err


def _score_into(source: InputFile, spec: ModelSpec, output: Path, model: PyFuncModel, chunk_rows: int, progress: bool) -> int:
    rows = 0
    with staged_output(output) as staged, tqdm(total=source.rows, unit="rows", desc="scoring", disable=not progress) as bar:
        writer: pq.ParquetWriter | None = None
        try:
            chunks = read_chunks(source, chunk_rows, spec.required_columns)
            if DOCUMENT_COLUMN in source.columns:
                chunks = whole_documents(chunks, source.path)
            for chunk in chunks:
                # A stop whose first raise was swallowed (inside a garbage-collector callback, where Python only
                # prints it) ends the run here, before the next chunk, rather than letting it finish and publish.
                stop_requests.raise_if_requested()
                scored = with_predictions(chunk, predict_table(model, spec, chunk))
                if writer is None:
                    # The first chunk fixes the schema: Parquet's, or the JSONL columns' inferred types.
                    writer = pq.ParquetWriter(staged, _with_model(scored.schema, spec, source))
                writer.write_table(scored)
                rows += scored.num_rows
                bar.update(scored.num_rows)
            if writer is None:
                # An input without rows (a Parquet file can have none) still gets its columns written.
                assert source.schema is not None, "a JSONL input has at least one record"
                schema = pa.schema([*source.schema.remove_metadata(), *spec.output_fields])
                writer = pq.ParquetWriter(staged, _with_model(schema, spec, source))
            stop_requests.raise_if_requested()  # the last chunk's stop: the output is not moved into place
        finally:
            # Closed before the move into place: the footer is written on close.
            if writer is not None:
                writer.close()
    return rows


def _with_model(schema: pa.Schema, spec: ModelSpec, source: InputFile) -> pa.Schema:
    """The output's schema with the model that scored it in its metadata (`pq.read_schema(path).metadata`), and the
    pandas metadata of a Parquet input that has one."""
    metadata = {MODEL_METADATA_KEY: json.dumps(dict(spec.identity)).encode()}
    # Without it pandas reads the passed-through columns by their Arrow types alone: a nullable Int64 id with nulls
    # comes back float64 (ids past 2**53 changed), a nullable boolean as object, the index as a column. It names the
    # input's columns only; pandas reads the model's by their Arrow types.
    pandas_metadata = (source.schema.metadata or {}).get(_PANDAS_METADATA_KEY) if source.schema is not None else None
    if pandas_metadata is not None:
        metadata[_PANDAS_METADATA_KEY] = pandas_metadata
    return schema.with_metadata(metadata)
