from pathlib import Path

import pytest

from classifiers.errors import UserInputError
from training.jsonl_table import read_jsonl_table


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_reads_string_fields_and_integer_ids(tmp_path: Path) -> None:
    path = write(tmp_path, '{"text": "a", "label": "x", "doc": 7, "extra": null}', "", '{"text": "b", "label": "y", "doc": "d2"}')
    frame = read_jsonl_table(path, ["text", "label", "doc"])
    assert frame.to_dict("records") == [
        {"text": "a", "label": "x", "doc": "7"},
        {"text": "b", "label": "y", "doc": "d2"},
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("null", "null"), ('["x", "y"]', '["x", "y"]'), ("true", "true"), ("1.5", "1.5"), ('{"a": 1}', '{"a": 1}')],
)
def test_non_string_value_names_file_line_and_field(tmp_path: Path, value: str, shown: str) -> None:
    path = write(tmp_path, '{"text": "a", "label": "x"}', f'{{"text": "b", "label": {value}}}')
    with pytest.raises(UserInputError) as err:
        read_jsonl_table(path, ["text", "label"])
    assert str(err.value) == f"{path}:2: field 'label' must be a string, got {shown}"
