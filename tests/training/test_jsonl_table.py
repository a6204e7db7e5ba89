from pathlib import Path

import pytest

from classifiers.errors import UserInputError
from training.jsonl_table import check_fields, read_jsonl_table


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_reads_string_fields_and_integer_ids(tmp_path: Path) -> None:
    path = write(tmp_path, '{"text": "a", "label": "x", "doc": 7, "extra": null}', "", '{"text": "b", "label": "y", "doc": "d2"}')
    frame = read_jsonl_table(path, ["text", "label"], ids=["doc"])
    assert frame.to_dict("records") == [
        {"text": "a", "label": "x", "doc": "7"},
        {"text": "b", "label": "y", "doc": "d2"},
    ]


def test_old_mac_line_endings_are_lines(tmp_path: Path) -> None:
    # A lone CR (which JSON writes as \\r inside a string) ended no line: the file was one line of "Extra data".
    path = tmp_path / "mac.jsonl"
    path.write_bytes(b'{"text": "a\\rb", "label": "x"}\r\r{"text": "c", "label": "y"}\r{"text": 1, "label": "z"}\r')
    with pytest.raises(UserInputError, match=r"mac.jsonl:4: field 'text' must be a string, got 1"):
        read_jsonl_table(path, ["text", "label"])
    path.write_bytes(b'{"text": "a\\rb", "label": "x"}\r\r{"text": "c", "label": "y"}\r')
    assert read_jsonl_table(path, ["text", "label"]).to_dict("records") == [
        {"text": "a\rb", "label": "x"}, {"text": "c", "label": "y"}
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("null", "null"), ('["x", "y"]', '["x", "y"]'), ("true", "true"), ("1.5", "1.5"), ('{"a": 1}', '{"a": 1}'), ("5", "5")],
)
def test_non_string_value_names_file_line_and_field(tmp_path: Path, value: str, shown: str) -> None:
    path = write(tmp_path, '{"text": "a", "label": "x"}', f'{{"text": "b", "label": {value}}}')
    with pytest.raises(UserInputError) as err:
        read_jsonl_table(path, ["text", "label"])
    assert str(err.value) == f"{path}:2: field 'label' must be a string, got {shown}"


def test_an_integer_text_is_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path, '{"text": 12, "target": "Iran", "label": "none"}')
    with pytest.raises(UserInputError, match=rf"^{path}:1: field 'text' must be a string, got 12$"):
        read_jsonl_table(path, ["text", "target", "label"])


def test_an_id_may_not_be_a_float_or_null(tmp_path: Path) -> None:
    path = write(tmp_path, '{"text": "a", "label": "x", "doc": 1.5}')
    with pytest.raises(UserInputError, match=rf"^{path}:1: field 'doc' must be a string or an integer, got 1.5$"):
        read_jsonl_table(path, ["text", "label"], ids=["doc"])


def test_a_lone_surrogate_escape_names_file_line_and_field(tmp_path: Path) -> None:
    # json.loads accepts the escape and returns a str that cannot be written as UTF-8 anywhere later.
    path = write(tmp_path, '{"text": "fine", "label": "conflict"}', '{"text": "\\ud800 bad", "label": "conflict"}')
    with pytest.raises(UserInputError) as err:
        read_jsonl_table(path, ["text", "label"])
    assert str(err.value) == f"{path}:2: field 'text' holds a lone surrogate (\\ud800), which is not a valid character"


def test_invalid_utf8_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"text": "ok", "label": "x"}\n{"text": "caf\xe9", "label": "x"}\n')
    with pytest.raises(UserInputError) as err:
        read_jsonl_table(path, ["text", "label"])
    assert str(err.value) == f"{path}:2: not UTF-8 text: byte 0xe9 at column 14; save the file as UTF-8"


def test_a_label_outside_the_allowed_set_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"text": "a", "label": "x"}', '{"text": "b", "label": "z"}')
    with pytest.raises(UserInputError) as err:
        read_jsonl_table(path, ["text", "label"], labels=["x", "y"])
    assert str(err.value) == f"{path}:2: label 'z' is not one of the declared labels (x, y)"


def test_a_group_column_that_is_also_an_input_is_read_once(tmp_path: Path) -> None:
    path = write(tmp_path, '{"text": "a", "target": "Iran", "label": "none"}')
    frame = read_jsonl_table(path, ["text", "target", "label"], ids=["target"])
    assert list(frame.columns) == ["text", "target", "label"]


def test_an_optional_id_may_be_missing_or_null_and_is_checked_where_given(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"text": "a", "label": "x", "document": 7}',
        '{"text": "b", "label": "y", "document": null}',
        '{"text": "c", "label": "y"}',
        '{"text": "d", "label": "x", "document": "art-2"}',
    )
    frame = read_jsonl_table(path, ["text", "label"], optional_ids=["document"])
    assert frame["document"].isna().tolist() == [False, True, True, False]
    assert frame["document"].dropna().tolist() == ["7", "art-2"]
    bad = write(tmp_path, '{"text": "a", "label": "x", "document": "art-1"}', '{"text": "b", "label": "x", "document": [1]}')
    with pytest.raises(UserInputError, match=r"data.jsonl:2: field 'document' must be a string or an integer, got \[1\]"):
        read_jsonl_table(bad, ["text", "label"], optional_ids=["document"])


def test_a_folder_or_a_missing_file_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=f"data file {tmp_path} is a folder: name a JSONL file"):
        read_jsonl_table(tmp_path, ["text"])
    with pytest.raises(UserInputError, match=f"data file {tmp_path / 'gone.jsonl'} not found"):
        read_jsonl_table(tmp_path / "gone.jsonl", ["text"])


def test_a_file_of_another_format_is_named_as_such_before_it_is_read(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("text,label\nTroops crossed.,conflict\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"rows.csv: labelled data is read as JSONL \(one JSON object per line\), not \.csv files"):
        read_jsonl_table(data, ["text", "label"])


def test_a_byte_order_mark_before_the_first_record_is_read_past(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes('\ufeff{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n'.encode())  # as Excel saves UTF-8
    assert read_jsonl_table(path, ["text", "label"]).to_dict("records") == [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]


@pytest.mark.parametrize(
    ("line", "key"),
    [('{"text": "a", "label": "x", "text": "b"}', "text"), ('{"text": "a", "label": "x", "meta": {"id": 1, "id": 2}}', "id")],
    ids=["top-level", "nested"],
)
def test_a_field_given_twice_is_refused_rather_than_the_last_kept(tmp_path: Path, line: str, key: str) -> None:
    path = write(tmp_path, '{"text": "c", "label": "y"}', line)
    with pytest.raises(UserInputError) as err:
        read_jsonl_table(path, ["text", "label"])
    assert str(err.value) == f"{path}:2: field '{key}' is given twice; keep one"


def test_a_records_fields_are_checked_in_one_place_for_every_reader() -> None:
    check_fields({"text": "a", "group": 3}, "f:1", ["text"], ["group"], nonblank=["text"])
    for record, message in (
        ({"group": 3}, "f:1: missing field(s) text"),
        ({"text": "a", "group": True}, "f:1: field 'group' must be a string or an integer, got true"),
        ({"text": 3, "group": 3}, "f:1: field 'text' must be a string, got 3"),
        ({"text": "\u200b ", "group": 3}, "f:1: field 'text' is blank"),
    ):
        with pytest.raises(UserInputError) as err:
            check_fields(record, "f:1", ["text"], ["group"], nonblank=["text"])
        assert str(err.value) == message
