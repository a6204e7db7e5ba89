"""Read a JSONL file of records into a table of string fields; errors name the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from classifiers.errors import UserInputError


def read_jsonl_table(path: Path, fields: list[str]) -> pd.DataFrame:
    """One row per non-blank line with the given fields as strings (other fields are ignored).

    A field must be a JSON string (an integer, e.g. a group id, is read as its digits).
    """
    if not path.is_file():
        raise UserInputError(f"data file {path} not found")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserInputError(f"{path}:{number}: invalid JSON ({err.msg})") from err
            if not isinstance(record, dict):
                raise UserInputError(f"{path}:{number}: expected a JSON object")
            missing = [field for field in fields if field not in record]
            if missing:
                raise UserInputError(f"{path}:{number}: missing field(s) {', '.join(missing)}")
            for field in fields:
                value = record[field]
                # str() would turn null into "None", true into "True" and a list into its repr.
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise UserInputError(f"{path}:{number}: field '{field}' must be a string, got {json.dumps(value)}")
            rows.append({field: str(record[field]) for field in fields})
    return pd.DataFrame(rows, columns=fields)
