"""Read a JSONL file of records into a table of string fields; errors name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from classifiers.blank_text import is_blank
from classifiers.errors import UserInputError
from training.text_decoding import not_encoded


def read_jsonl_table(
    path: Path,
    fields: list[str],
    ids: Sequence[str] = (),
    labels: Sequence[str] | None = None,
    optional_ids: Sequence[str] = (),
    nonblank: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per non-blank line with the given fields and ids as strings (other fields are ignored).

    A field must be a JSON string; an id (e.g. a group column) may also be an integer, read as its
    digits. An optional id may also be null or missing (a missing value in the frame then). With labels,
    every row's `label` must be one of them; the fields in `nonblank` must hold a visible character
    (`classifiers.blank_text`, the server's rule).
    """
    check_data_file(path)
    columns = list(dict.fromkeys([*fields, *ids]))
    optional = [column for column in optional_ids if column not in columns]
    rows = []
    for number, line in jsonl_lines(path):
        where = f"{path}:{number}"
        record = json_object(line, where)
        check_fields(record, where, fields, [column for column in ids if column not in fields], nonblank)
        if labels is not None and record["label"] not in labels:
            raise UserInputError(f"{where}: label '{record['label']}' is not one of the declared labels ({', '.join(labels)})")
        row: dict[str, str | None] = {column: str(record[column]) for column in columns}
        for column in optional:
            value = record.get(column)
            if value is not None:
                _check_value(value, column, integer_ok=True, where=where)
            row[column] = None if value is None else str(value)
        rows.append(row)
    return pd.DataFrame(rows, columns=[*columns, *optional])


def check_fields(
    record: dict[str, Any], where: str, strings: Sequence[str], ids: Sequence[str] = (), nonblank: Sequence[str] = ()
) -> None:
    """UserInputError naming `where` unless the record has every field of `strings` and `ids`, each a string of valid
    characters (an id may also be an integer), those of `nonblank` with a visible one (`classifiers.blank_text`)."""
    columns = list(dict.fromkeys([*strings, *ids]))
    missing = [column for column in columns if column not in record]
    if missing:
        raise UserInputError(f"{where}: missing field(s) {', '.join(missing)}")
    for column in columns:
        _check_value(record[column], column, integer_ok=column not in strings, where=where)
    blank = [column for column in nonblank if is_blank(str(record[column]))]
    if blank:
        raise UserInputError(f"{where}: field '{blank[0]}' is blank")


# Formats a JSONL reader would fail on at their first bytes, with an error about JSON rather than about the format.
NOT_JSONL = (".parquet", ".csv", ".tsv", ".xlsx", ".xls", ".feather", ".arrow")


def check_data_file(path: Path) -> None:
    """UserInputError unless `path` names a JSONL file: a folder, a missing path or another format is named."""
    if path.suffix.lower() in NOT_JSONL:
        raise UserInputError(
            f"{path}: labelled data is read as JSONL (one JSON object per line), not {path.suffix} files: convert it "
            "first, e.g. with pandas: `.to_json(path, orient='records', lines=True)`"
        )
    if path.is_dir():
        raise UserInputError(f"data file {path} is a folder: name a JSONL file")
    if not path.is_file():
        raise UserInputError(f"data file {path} not found")


class _RepeatedKey(ValueError):
    """A JSON object that names one key twice."""


def _unrepeated(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's pairs as a dict; _RepeatedKey where a key comes twice (json.loads would keep the last silently)."""
    record: dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            raise _RepeatedKey(key)
        record[key] = value
    return record


def json_object(line: str, where: str) -> dict[str, Any]:
    """The JSON object a line holds; UserInputError naming `where` for invalid JSON, a key given twice (which of the
    two values was meant cannot be told) or any other value."""
    try:
        record = json.loads(line, object_pairs_hook=_unrepeated)
    except json.JSONDecodeError as err:
        raise UserInputError(f"{where}: invalid JSON ({err.msg}, column {err.colno})") from err
    except _RepeatedKey as err:
        raise UserInputError(f"{where}: field '{err.args[0]}' is given twice; keep one") from err
    if not isinstance(record, dict):
        raise UserInputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    return record


def jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, the line without its line break) for every non-blank line, read and decoded one at a
    time; a line that is not UTF-8 is an error naming it (`path:number`) and its column."""
    number = 0
    with path.open("rb") as handle:
        for ended in handle:
            # A lone CR ends a line too (old Mac line endings, as ingest reads them): JSON writes a CR in a string
            # as \r, so one in a line is a line break. Such a file was one line of "Extra data".
            for raw in ended.rstrip(b"\r\n").split(b"\r"):
                number += 1
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise not_encoded(f"{path}:{number}", raw[err.start], err.start + 1) from err
                if number == 1:
                    line = line.removeprefix("\ufeff")  # the byte-order mark Excel and Notepad write before UTF-8 text
                if line.strip():
                    yield number, line


def _check_value(value: object, field: str, integer_ok: bool, where: str) -> None:
    # str() would turn null into "None", true into "True" and a list into its repr; a number label
    # would become a class of its own.
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            # JSON's \ud800 escape decodes to half a surrogate pair, which nothing downstream can write.
            raise UserInputError(
                f"{where}: field '{field}' holds a lone surrogate (\\u{ord(value[err.start]):04x}), which is not a valid character"
            ) from err
    elif not (integer_ok and isinstance(value, int) and not isinstance(value, bool)):
        kind = "a string or an integer" if integer_ok else "a string"
        raise UserInputError(f"{where}: field '{field}' must be {kind}, got {json.dumps(value)}")
