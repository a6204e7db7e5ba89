"""The file a batch is scored from: checking it up front, then reading it in chunks of bounded size.

Both engines share these checks, so bad input fails the same way, and before Spark is started.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from classifiers.blank_text import is_blank
from classifiers.contract import DOCUMENT_COLUMN
from classifiers.errors import UserInputError
from training.jsonl_table import check_fields, json_object, jsonl_lines

JSONL = ".jsonl"
PARQUET = ".parquet"
SUPPORTED_SUFFIXES = (JSONL, PARQUET)
TEXT_COLUMN = "text"


@dataclass(frozen=True)
class InputFile:
    """A checked input: its format (suffix), its columns in file order, and its Arrow schema and row
    count where the file states them (Parquet; JSONL has neither before it is read to the end)."""

    path: Path
    suffix: str
    columns: tuple[str, ...]
    schema: pa.Schema | None = None
    rows: int | None = None

    @property
    def pandas_index(self) -> tuple[str, ...]:
        """The columns in which pandas stored a Parquet file's index (`__index_level_0__` where it has no name; a
        RangeIndex is stored in the metadata alone): to pandas, the file's index, not columns of it."""
        if self.schema is None or b"pandas" not in (self.schema.metadata or {}):
            return ()
        try:
            index = self.schema.pandas_metadata["index_columns"]
        # Metadata pandas did not write (a hand-made key): pandas would not read an index from it either.
        except (ValueError, KeyError, TypeError):
            return ()
        return tuple(name for name in index if isinstance(name, str) and name in self.columns)


# The pandas reader of a table format users often have, with its arguments: pandas comes with the project.
_PANDAS_READERS = {".csv": ("read_csv", ""), ".tsv": ("read_csv", ", sep='\\t'"), ".json": ("read_json", "")}


def conversion_hint(path: Path) -> str:
    """For a CSV, TSV or JSON (not JSON Lines) file, the line of Python that writes it as Parquet beside it; else ''."""
    reader = _PANDAS_READERS.get(path.suffix.lower())
    if reader is None:
        return ""
    function, arguments = reader
    # json.dumps writes a valid Python string literal for any path, quotes and backslashes included.
    source, target = json.dumps(str(path)), json.dumps(str(path.with_suffix(PARQUET)))
    conversion = f"`import pandas; pandas.{function}({source}{arguments}).to_parquet({target})`"
    if function == "read_json":
        return (
            f"; a file of one JSON object per line only needs the name {path.with_suffix(JSONL).name}, a JSON array "
            f"converts with {conversion}"
        )
    return f"; convert it with {conversion}"


def inspect_input(path: Path) -> InputFile:
    """Check that the input exists, has a supported suffix and a `text` column; UserInputError if not."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        refused = f"{path}: unsupported input format '{path.suffix}' (use {' or '.join(SUPPORTED_SUFFIXES)})"
        raise UserInputError(refused + conversion_hint(path))
    if path.is_dir():
        # A Spark output is such a folder: its part files are one table to pandas, not to this reader.
        raise UserInputError(
            f"{path} is a folder; give one file (a folder of Parquet parts reads as one table with "
            "`pandas.read_parquet`, which writes it back as one file with `to_parquet`)"
        )
    if not path.is_file():
        raise UserInputError(f"input file {path} not found")
    found = _inspect_parquet(path) if suffix == PARQUET else _inspect_jsonl(path)
    if TEXT_COLUMN not in found.columns:
        raise UserInputError(f"{path}: no '{TEXT_COLUMN}' column (columns: {', '.join(found.columns) or 'none'})")
    return found


def check_model_columns(source: InputFile, required: Sequence[str], task: str, added: Sequence[str]) -> None:
    """The model's input columns are present and, in Parquet, strings; no input column has the name of one
    the model adds (it would be written twice)."""
    missing = [column for column in required if column not in source.columns]
    if missing:
        raise UserInputError(
            f"{source.path}: a {task} model needs column(s) {', '.join(required)}; missing: {', '.join(missing)}"
        )
    clashing = [column for column in added if column in source.columns]
    if clashing:
        raise UserInputError(
            f"{source.path}: column(s) {', '.join(clashing)} would be overwritten by the model's output; rename them"
        )
    if source.schema is not None:
        for column in required:
            kind = source.schema.field(column).type
            # pandas writes a `category` column of strings dictionary-encoded: its values are strings all the same.
            values = kind.value_type if pa.types.is_dictionary(kind) else kind
            if not (pa.types.is_string(values) or pa.types.is_large_string(values) or pa.types.is_string_view(values)):
                raise UserInputError(f"{source.path}: column '{column}' must hold strings, not {kind}")


def read_chunks(source: InputFile, chunk_rows: int, required: Sequence[str], only_required: bool = False) -> Iterator[pa.Table]:
    """The input as Arrow tables of at most chunk_rows rows, in file order, every required value a string.

    With only_required, a Parquet file is read for the columns a model reads only (the required ones and
    `document` where present; the others are typed by the file already); JSONL is parsed whole either way, so
    every field's types are checked.
    """
    if source.suffix == PARQUET:
        yield from _parquet_chunks(source, chunk_rows, required, only_required)
    else:
        yield from _jsonl_chunks(source, chunk_rows, required)


class DocumentOrder:
    """The documents of rows in reading order: a model reads each row beside the rows just before and after it, so
    the rows of one document must be consecutive; a document that comes back after another is refused."""

    def __init__(self, path: Path, unit: Literal["line", "row"]) -> None:
        self.path = path
        self.unit = unit  # a JSONL file's lines (errors `path:N:`, as an editor jumps to them) or a table's rows
        self.current: object = None  # the document of the last row seen
        # Each ended document, and what ended it: the row where another document began, or a row without one.
        self._finished: dict[object, str] = {}

    def see(self, document: object, number: int) -> None:
        """Follow one more row (its 1-based line or row number); UserInputError, naming the row and what ended the
        document, when its document came earlier and ended."""
        if document == self.current:
            return
        where = f"{self.path}:{number}" if self.unit == "line" else f"{self.path}: row {number}"
        place = f"{self.unit} {number}"
        if isinstance(document, str) and not document.strip():
            # As /v1/classify refuses it: a blank is no article, and rows "in" it would be read beside each other.
            raise UserInputError(f"{where}: the document is blank; leave it out (or null) for a row read alone")
        if self.current is not None:
            ender = "a row without a document" if document is None else f"document {document!r}"
            self._finished[self.current] = f"{ender} at {place}"
        if document in self._finished:
            raise UserInputError(
                f"{where}: document {document!r} came earlier and ended ({self._finished[document]} came "
                "between); the rows of one document must be consecutive, in reading order (sort the input by document)"
            )
        self.current = document


def whole_documents(chunks: Iterator[pa.Table], path: Path) -> Iterator[pa.Table]:
    """The chunks re-cut so that the rows of one document (the `document` column) are never split between two:
    the rows of a chunk's last document wait for the next chunk. A document's rows must be consecutive (a model
    reads each beside the rows just before and after it); a document that comes back after another is an error
    naming its row. Rows with a null document stand alone."""
    pending: pa.Table | None = None
    order = DocumentOrder(path, "row")
    row = 0
    for chunk in chunks:
        kind = chunk.schema.field(DOCUMENT_COLUMN).type
        if not _is_id_type(kind.value_type if pa.types.is_dictionary(kind) else kind):
            raise UserInputError(f"{path}: column '{DOCUMENT_COLUMN}' must hold ids (strings or integers), not {kind}")
        documents = chunk.column(DOCUMENT_COLUMN).to_pylist()
        for document in documents:
            row += 1
            order.see(document, row)
        current = order.current
        # The rows of the document still open wait (nothing waits when the last row has no document).
        cut = len(documents)
        while current is not None and cut > 0 and documents[cut - 1] == current:
            cut -= 1
        ready, rest = chunk.slice(0, cut), chunk.slice(cut)
        # The waiting rows go out with this chunk's ready rows, or keep waiting with its rest (one document still).
        if pending is not None and cut:
            ready = pa.concat_tables([pending, ready])
        elif pending is not None:
            rest = pa.concat_tables([pending, rest])
        if ready.num_rows:
            yield ready
        pending = rest
    if pending is not None and pending.num_rows:
        yield pending


def _is_id_type(kind: pa.DataType) -> bool:
    """Strings or integers (or only nulls): what names a document and casts to a string id."""
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)


def check_records(source: InputFile, chunk_rows: int, required: Sequence[str]) -> InputFile:
    """Read the whole input as the local engine would, keeping nothing: the same errors for every row before
    an engine that cannot name a line (Spark) is started, the order of documents' rows included. Returns the input
    with its row count, and for JSONL the columns and types of the whole file, which `read_chunks` then reads it by."""
    if source.suffix == JSONL:
        return _jsonl_layout(source, chunk_rows, required)
    chunks = read_chunks(source, chunk_rows, required, only_required=True)
    if DOCUMENT_COLUMN in source.columns:
        chunks = whole_documents(chunks, source.path)
    return replace(source, rows=sum(chunk.num_rows for chunk in chunks))


def _open_parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise UserInputError(f"{path}: not a readable Parquet file ({err})") from err


def _inspect_parquet(path: Path) -> InputFile:
    with _open_parquet(path) as parquet:
        schema = parquet.schema_arrow
    repeated = sorted({name for name in schema.names if schema.names.count(name) > 1})
    if repeated:
        # Arrow writes such a file, but pandas and Spark cannot tell the columns apart when reading the output.
        raise UserInputError(f"{path}: column name(s) {', '.join(repeated)} given more than once; rename them")
    return InputFile(path, PARQUET, tuple(schema.names), schema, parquet.metadata.num_rows)


def _parquet_chunks(source: InputFile, chunk_rows: int, required: Sequence[str], only_required: bool) -> Iterator[pa.Table]:
    documents = [DOCUMENT_COLUMN] if DOCUMENT_COLUMN in source.columns else []
    columns = [*required, *documents] if only_required else None
    first_row = 1
    with _open_parquet(source.path) as parquet:
        try:
            for batch in parquet.iter_batches(batch_size=chunk_rows, columns=columns):
                chunk = pa.Table.from_batches([batch])
                _check_filled(source.path, chunk, required, first_row)
                first_row += chunk.num_rows
                # The local engine writes the input's pandas metadata into the output's schema itself.
                yield chunk.replace_schema_metadata(None)
        except (pa.ArrowException, OSError) as err:
            raise UserInputError(f"{source.path}: not a readable Parquet file ({err})") from err


def plain_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A string column as plain strings: a dictionary-encoded one decoded (string functions do not take those)."""
    return pc.cast(column, column.type.value_type) if pa.types.is_dictionary(column.type) else column


def _check_filled(path: Path, chunk: pa.Table, required: Sequence[str], first_row: int) -> None:
    """Every required value given and more than whitespace; the error names the first row that is not."""
    for column in required:
        values = plain_strings(chunk.column(column))
        if values.null_count:
            row = first_row + values.is_null().to_pylist().index(True)
            raise UserInputError(f"{path}: row {row}: '{column}' is null")
        # The server's rule (zero-width and other invisible characters are blank too): the model refuses the rest.
        blank = [is_blank(cast(str, value)) for value in values.to_pylist()]  # cast: a string column, nulls refused above
        if any(blank):
            row = first_row + blank.index(True)
            raise UserInputError(f"{path}: row {row}: '{column}' is blank")


def _parse_record(path: Path, number: int, line: str, required: Sequence[str]) -> dict[str, Any]:
    """One line's JSON object, its required fields strings with a visible character (as the server, with a 422, and
    training refuse a blank one: a model would answer for it as for any other); the error names the file and line."""
    where = f"{path}:{number}"
    record = json_object(line, where)
    check_fields(record, where, required, nonblank=required)
    return record


def _inspect_jsonl(path: Path) -> InputFile:
    # Only the first record is read here; `check_records` reads the rest for the columns and types of the whole file.
    for number, line in jsonl_lines(path):
        record = _parse_record(path, number, line, [])
        return InputFile(path, JSONL, tuple(record))
    raise UserInputError(f"{path}: no records")


def _jsonl_layout(source: InputFile, chunk_rows: int, required: Sequence[str]) -> InputFile:
    """Every record checked; the file's columns (every field any record has, in order of first appearance), their
    types over all records (as Spark's reader infers them: integers and decimals make a double, a field missing or
    null in a record is null there, objects with different keys one struct of all of them) and its row count.

    Read in chunks of chunk_rows records, so memory stays bounded, but typed over the whole file: the output is
    the same whatever the chunk size."""
    columns: dict[str, None] = {}
    schema: pa.Schema | None = None
    order = DocumentOrder(source.path, "line")
    records: list[dict[str, Any]] = []
    rows = first_line = 0
    for number, line in jsonl_lines(source.path):
        record = _parse_record(source.path, number, line, required)
        columns.update(dict.fromkeys(record))
        document = record.get(DOCUMENT_COLUMN)
        if document is not None and (isinstance(document, bool) or not isinstance(document, str | int)):
            raise UserInputError(
                f"{source.path}:{number}: field '{DOCUMENT_COLUMN}' must be an id (a string or an integer), "
                f"got {_shown(document)}"
            )
        order.see(document, number)
        if not records:
            first_line = number
        records.append(record)
        if len(records) == chunk_rows:
            schema = _unified(source.path, schema, _inferred(source.path, records, (first_line, number)), (first_line, number))
            rows += len(records)
            records = []
    if records:
        schema = _unified(source.path, schema, _inferred(source.path, records, (first_line, number)), (first_line, number))
        rows += len(records)
    assert schema is not None, "inspect_input found a first record"
    # A field null in every record: string is the likeliest type of an id.
    fields = [schema.field(name) for name in columns]
    fields = [field.with_type(pa.string()) if pa.types.is_null(field.type) else field for field in fields]
    for field in fields:
        if not _storable(field.type):
            raise UserInputError(
                f"{source.path}: field '{field.name}' holds only empty objects ({{}}) where it is an object, which "
                "Parquet cannot store (an object needs a key); drop the field or give it one"
            )
    if DOCUMENT_COLUMN in columns:
        kind = schema.field(DOCUMENT_COLUMN).type
        if not _is_id_type(kind):
            raise UserInputError(f"{source.path}: field '{DOCUMENT_COLUMN}' must hold ids (strings or integers), not {kind}")
    return replace(source, columns=tuple(columns), schema=pa.schema(fields), rows=rows)


def _shown(value: Any) -> str:
    """A JSON value as it was written, shortened for an error message."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else f"{text[:80]}... ({len(text)} characters)"


def _inferred(path: Path, records: list[dict[str, Any]], lines: tuple[int, int]) -> pa.Schema:
    """The types of one chunk's fields, inferred from their values."""
    where = f"{path}: lines {lines[0]}-{lines[1]}"
    fields = []
    for column in dict.fromkeys(key for record in records for key in record):
        try:
            fields.append(pa.field(column, pa.array([record.get(column) for record in records]).type))
        except OverflowError as err:
            raise UserInputError(f"{where}: field '{column}' holds an integer beyond 64 bits: give it as a string") from err
        except UnicodeEncodeError as err:
            # JSON's \ud800 escape decodes to half a surrogate pair, which no Parquet file can carry.
            raise UserInputError(f"{where}: field '{column}' holds a lone surrogate") from err
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise UserInputError(f"{where}: field '{column}' has values of mixed types: {err}") from err
    return pa.schema(fields)


def _unified(path: Path, schema: pa.Schema | None, chunk: pa.Schema, lines: tuple[int, int]) -> pa.Schema:
    if schema is None:
        return chunk
    try:
        return pa.unify_schemas([schema, chunk], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise UserInputError(f"{path}: lines {lines[0]}-{lines[1]}: a field's values do not fit its earlier lines' type: {err}") from err


def _storable(kind: pa.DataType) -> bool:
    """Whether Parquet can store the type: not an object without keys (a struct of no fields), at any depth."""
    if pa.types.is_struct(kind):
        return kind.num_fields > 0 and all(_storable(kind.field(index).type) for index in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _storable(kind.value_type)
    return True


def _jsonl_chunks(source: InputFile, chunk_rows: int, required: Sequence[str]) -> Iterator[pa.Table]:
    if source.schema is None:
        source = _jsonl_layout(source, chunk_rows, required)
    assert source.schema is not None
    records: list[dict[str, Any]] = []
    for number, line in jsonl_lines(source.path):
        records.append(_parse_record(source.path, number, line, required))
        if len(records) == chunk_rows:
            yield _records_table(records, source.schema)
            records = []
    if records:
        yield _records_table(records, source.schema)


def _records_table(records: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """A chunk of records as a table of the file's schema: each type holds every value of its field (check_records
    unified them over the whole file), so building from the values with it loses nothing."""
    arrays = [pa.array([record.get(field.name) for record in records], type=field.type) for field in schema]
    return pa.Table.from_arrays(arrays, schema=schema)
