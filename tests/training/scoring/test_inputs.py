import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from classifiers.errors import UserInputError
from training.scoring.inputs import check_model_columns, check_records, inspect_input, read_chunks, whole_documents


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_jsonl_columns_come_from_the_first_record_in_file_order(jsonl_input: Path) -> None:
    found = inspect_input(jsonl_input)
    assert found.columns == ("row_id", "segment_id", "text", "target")
    assert found.rows is None


def test_parquet_columns_and_row_count_come_from_the_footer(parquet_input: Path) -> None:
    found = inspect_input(parquet_input)
    assert found.columns == ("row_id", "segment_id", "text", "target")
    assert found.rows == 12


@pytest.mark.parametrize(
    ("index", "stored"),
    [
        (pd.Index([5, 3, 9]), ("__index_level_0__",)),
        (pd.Index(["a", "b", "c"], name="wire_id"), ("wire_id",)),
        (pd.MultiIndex.from_arrays([[1, 2, 3], ["x", "y", "z"]], names=["day", None]), ("day", "__index_level_1__")),
        (pd.RangeIndex(100, 103, name="position"), ()),
    ],
    ids=["unnamed", "named", "two levels", "range (metadata only)"],
)
def test_the_columns_pandas_stored_an_index_in_are_known(inputs_dir: Path, index: pd.Index, stored: tuple[str, ...]) -> None:
    path = inputs_dir / "pandas.parquet"
    pd.DataFrame({"text": ["One.", "Two.", "Three."]}, index=index).to_parquet(path)

    found = inspect_input(path)

    assert found.pandas_index == stored
    assert found.columns == ("text", *stored)


def test_an_input_without_pandas_metadata_has_no_pandas_index(jsonl_input: Path, parquet_input: Path, inputs_dir: Path) -> None:
    hand_made = inputs_dir / "hand_made.parquet"
    pq.write_table(pa.table({"text": ["x"]}).replace_schema_metadata({"pandas": "not json"}), hand_made)
    assert [inspect_input(path).pandas_index for path in (jsonl_input, parquet_input, hand_made)] == [(), (), ()]


def test_chunks_keep_file_order_and_never_exceed_the_chunk_size(jsonl_input: Path, parquet_input: Path, news_rows: list[dict[str, object]]) -> None:
    for path in (jsonl_input, parquet_input):
        chunks = list(read_chunks(inspect_input(path), 5, ["text"]))
        assert [chunk.num_rows for chunk in chunks] == [5, 5, 2]
        assert pa.concat_tables(chunks).to_pylist() == news_rows


@pytest.mark.parametrize("encoded", [False, True], ids=["strings", "dictionary"])
def test_chunks_are_recut_at_document_ends_and_rows_without_one_stand_alone(encoded: bool) -> None:
    def chunk(documents: list[str | None]) -> pa.Table:
        column = pa.array(documents, pa.string())
        return pa.table({"document": column.dictionary_encode() if encoded else column, "text": ["x"] * len(documents)})

    chunks = [chunk(["a", "a", "b"]), chunk(["b", "b", "c"]), chunk(["c", None, "d"])]
    recut = [piece.column("document").to_pylist() for piece in whole_documents(iter(chunks), Path("news.parquet"))]
    assert recut == [["a", "a"], ["b", "b", "b"], ["c", "c", None], ["d"]]
    # a document longer than a chunk waits until it ends
    chunks = [chunk(["a", "a"]), chunk(["a", "a"]), chunk(["a", "b"])]
    recut = [piece.column("document").to_pylist() for piece in whole_documents(iter(chunks), Path("news.parquet"))]
    assert recut == [["a"] * 5, ["b"]]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("news.csv", "text\nhello\n", r"news.csv: unsupported input format '.csv' \(use .jsonl or .parquet\)"),
        ("ids.jsonl", '{"id": 1, "body": "x"}\n', r"ids.jsonl: no 'text' column \(columns: id, body\)"),
        ("empty.jsonl", "\n\n", r"empty.jsonl: no records"),
        ("list.jsonl", '["text"]\n', r"list.jsonl:1: expected a JSON object, got list"),
        ("garbage.parquet", "this is not parquet", r"garbage.parquet: not a readable Parquet file"),
    ],
)
def test_unusable_inputs_are_refused_up_front(inputs_dir: Path, name: str, content: str, message: str) -> None:
    path = inputs_dir / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserInputError, match=message):
        inspect_input(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("news.csv", 'id,text\n1,"Talks resumed, at last."\n2,Strikes hit the port.\n'),
        ("news.TSV", "id\ttext\n1\tTalks resumed, at last.\n2\tStrikes hit the port.\n"),
        ("news.json", '[{"id": 1, "text": "Talks resumed, at last."}, {"id": 2, "text": "Strikes hit the port."}]'),
    ],
)
def test_a_table_in_another_format_is_refused_with_a_conversion_that_works_as_given(
    inputs_dir: Path, name: str, content: str
) -> None:
    folder = inputs_dir / "it's \"wire\" \\ copy"  # quotes and a backslash: the hint's path must stay one literal
    folder.mkdir()
    path = folder / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserInputError, match=r"unsupported input format") as refused:
        inspect_input(path)

    conversion = re.search(r"converts? (?:it )?with `([^`]+)`", str(refused.value))
    assert conversion is not None, str(refused.value)
    exec(conversion[1], {})  # noqa: S102 (the line the message gives the user, run as they would run it)
    converted = inspect_input(path.with_suffix(".parquet"))
    assert converted.rows == 2 and set(converted.columns) == {"id", "text"}
    assert pq.read_table(converted.path).column("text").to_pylist() == ["Talks resumed, at last.", "Strikes hit the port."]


def test_a_json_file_is_told_that_json_lines_only_need_their_name(inputs_dir: Path) -> None:
    path = inputs_dir / "news.json"
    path.write_text('{"text": "Talks resumed."}\n', encoding="utf-8")
    told = r"news.json: .*; a file of one JSON object per line only needs the name news.jsonl, a JSON array converts"
    with pytest.raises(UserInputError, match=told):
        inspect_input(path)
    path.rename(path.with_suffix(".jsonl"))
    assert inspect_input(path.with_suffix(".jsonl")).columns == ("text",)


def test_a_parquet_with_a_column_name_twice_is_refused(inputs_dir: Path) -> None:
    path = inputs_dir / "twice.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array(["a"]), pa.array([1]), pa.array([2])], names=["text", "id", "id"]), path)
    with pytest.raises(UserInputError, match=r"twice.parquet: column name\(s\) id given more than once; rename them"):
        inspect_input(path)


def test_a_missing_input_and_a_parquet_without_text_are_refused(inputs_dir: Path) -> None:
    with pytest.raises(UserInputError, match=r"input file .*nowhere.jsonl not found"):
        inspect_input(inputs_dir / "nowhere.jsonl")
    pq.write_table(pa.table({"id": [1], "body": ["x"]}), inputs_dir / "body.parquet")
    with pytest.raises(UserInputError, match=r"body.parquet: no 'text' column \(columns: id, body\)"):
        inspect_input(inputs_dir / "body.parquet")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ('{"id": 4, "text": "unterminated}', r":5: invalid JSON \(Unterminated string"),
        ('{"id": 4, "body": "no text", "target": "Iran"}', r":5: missing field\(s\) text$"),
        ('{"id": 4, "text": null, "target": "Iran"}', r":5: field 'text' must be a string, got null"),
        ('{"id": 4, "text": "x", "target": 7}', r":5: field 'target' must be a string, got 7"),
        ('{"id": 4, "text": "caf\\ud800", "target": "Iran"}', r":5: field 'text' holds a lone surrogate"),
        ('{"id": 4, "text": "x", "text": "y"}', r":5: field 'text' is given twice; keep one"),
    ],
)
def test_a_bad_record_is_named_by_file_and_line(inputs_dir: Path, broken: str, message: str) -> None:
    # line 2 is blank: numbers are the file's own lines, blank ones counted
    lines = [json.dumps({"id": 0, "text": "a", "target": "Iran"}), "", *[json.dumps({"id": n, "text": "b", "target": "Iran"}) for n in (1, 2)], broken]
    path = write_lines(inputs_dir / "news.jsonl", lines)
    source = inspect_input(path)
    with pytest.raises(UserInputError, match=rf"news.jsonl{message}"):
        list(read_chunks(source, 2, ["text", "target"]))
    with pytest.raises(UserInputError, match=rf"news.jsonl{message}"):
        check_records(source, 2, ["text", "target"])


def test_the_check_before_spark_reads_the_documents_of_a_parquet_input_too(inputs_dir: Path) -> None:
    path = inputs_dir / "news.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "text": ["a", "b", "c"], "document": ["x", "y", "x"]}), path)
    source = inspect_input(path)
    with pytest.raises(UserInputError, match=r"news.parquet: row 3: document 'x' came earlier and ended \(document 'y' at row 2 came between\)"):
        check_records(source, 2, ["text"])
    pq.write_table(pa.table({"text": ["a", "b", "c"], "document": ["x", "x", None]}), path)
    assert check_records(inspect_input(path), 2, ["text"]).rows == 3
    # A row without a document between two of one ends it too, and the message says so.
    pq.write_table(pa.table({"text": ["a", "b", "c"], "document": ["x", None, "x"]}), path)
    with pytest.raises(UserInputError, match=r"row 3: document 'x' came earlier and ended \(a row without a document at row 2 came between\)"):
        check_records(inspect_input(path), 2, ["text"])


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_document_is_refused_as_the_service_refuses_it(inputs_dir: Path, blank: str) -> None:
    # An export that writes a missing article id as "" would otherwise read unrelated rows as one article.
    path = inputs_dir / "news.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "document": ["x", blank, blank]}), path)
    with pytest.raises(UserInputError, match=r"news.parquet: row 2: the document is blank; leave it out \(or null\)"):
        check_records(inspect_input(path), 2, ["text"])
    lines = [json.dumps({"text": "a", "document": "x"}), json.dumps({"text": "b", "document": blank})]
    with pytest.raises(UserInputError, match=r"news.jsonl:2: the document is blank"):
        check_records(inspect_input(write_lines(inputs_dir / "news.jsonl", lines)), 2, ["text"])


def test_a_folder_of_parquet_parts_is_named_as_a_folder(inputs_dir: Path) -> None:
    folder = inputs_dir / "scores.parquet"
    folder.mkdir()
    pq.write_table(pa.table({"text": ["a"]}), folder / "part-00000.parquet")
    with pytest.raises(UserInputError, match=r"scores.parquet is a folder; give one file"):
        inspect_input(folder)


def test_a_field_whose_values_cannot_share_a_type_is_named_with_its_lines(inputs_dir: Path) -> None:
    lines = [json.dumps({"id": n, "text": "a"}) for n in range(2)] + [json.dumps({"id": n, "text": "b"}) for n in ("two", "three")]
    source = inspect_input(write_lines(inputs_dir / "ids.jsonl", lines))
    message = r"ids.jsonl: lines 3-4: a field's values do not fit its earlier lines' type: .*id.*int64 vs string"
    with pytest.raises(UserInputError, match=message):
        check_records(source, 2, ["text"])
    with pytest.raises(UserInputError, match=message):
        list(read_chunks(source, 2, ["text"]))
    # within one chunk
    with pytest.raises(UserInputError, match=r"ids.jsonl: lines 1-4: field 'id' has values of mixed types"):
        check_records(source, 4, ["text"])


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"text": "a", "id": 10**30}], r"lines 1-1: field 'id' holds an integer beyond 64 bits: give it as a string"),
        ([{"text": "a", "note": "bad \ud800 x"}], r"lines 1-1: field 'note' holds a lone surrogate"),
        ([{"text": "a", "meta": {}}], r"field 'meta' holds only empty objects \(\{\}\) where it is an object"),
        ([{"text": "a", "document": 99999999999999999999}], r"lines 1-1: field 'document' holds an integer beyond 64 bits"),
    ],
    ids=["big-integer", "surrogate", "empty-object", "big-document"],
)
def test_values_parquet_cannot_store_are_named_before_scoring(inputs_dir: Path, records: list[dict[str, object]], message: str) -> None:
    source = inspect_input(write_lines(inputs_dir / "odd.jsonl", [json.dumps(record) for record in records]))
    with pytest.raises(UserInputError, match=rf"odd.jsonl: {message}"):
        check_records(source, 1000, ["text"])


def test_jsonl_is_typed_over_the_whole_file_whatever_the_chunk_size(inputs_dir: Path) -> None:
    lines = [
        json.dumps({"text": "a", "id": None, "meta": {"source": "wire"}, "tags": [], "price": 1}),
        json.dumps({"text": "b", "id": 7, "meta": {"source": "web", "url": "http://x"}, "tags": ["x"], "price": 2.5}),
        json.dumps({"text": "c", "document": "d1", "extra": True}),
    ]
    source = inspect_input(write_lines(inputs_dir / "mixed.jsonl", lines))
    tables = []
    for chunk_rows in (1, 2, 1000):
        checked = check_records(source, chunk_rows, ["text"])
        tables.append(pa.concat_tables(read_chunks(checked, chunk_rows, ["text"])))
    assert tables[0].equals(tables[1]) and tables[0].equals(tables[2])
    # Every field any record has, in order of first appearance; integers beside a decimal make doubles, as Spark reads
    # them; an object's keys are those of all its records; a missing field is null in that record.
    assert tables[0].to_pylist() == [
        {"text": "a", "id": None, "meta": {"source": "wire", "url": None}, "tags": [], "price": 1.0, "document": None, "extra": None},
        {"text": "b", "id": 7, "meta": {"source": "web", "url": "http://x"}, "tags": ["x"], "price": 2.5, "document": None, "extra": None},
        {"text": "c", "id": None, "meta": None, "tags": None, "price": None, "document": "d1", "extra": True},
    ]
    assert checked.rows == 3 and checked.columns == ("text", "id", "meta", "tags", "price", "document", "extra")


def test_a_null_text_in_parquet_is_named_by_row(inputs_dir: Path) -> None:
    path = inputs_dir / "nulls.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c", None]}), path)
    with pytest.raises(UserInputError, match=r"nulls.parquet: row 4: 'text' is null"):
        check_records(inspect_input(path), 3, ["text"])


def test_a_blank_text_is_named_by_line_or_row(inputs_dir: Path) -> None:
    path = inputs_dir / "blanks.parquet"
    pq.write_table(pa.table({"text": ["a", "b", " \n\t"]}), path)
    with pytest.raises(UserInputError, match=r"blanks.parquet: row 3: 'text' is blank"):
        check_records(inspect_input(path), 2, ["text"])
    lines = [json.dumps({"text": "a", "target": "Iran"}), json.dumps({"text": "b", "target": "  "})]
    source = inspect_input(write_lines(inputs_dir / "blanks.jsonl", lines))
    with pytest.raises(UserInputError, match=r"blanks.jsonl:2: field 'target' is blank"):
        check_records(source, 2, ["text", "target"])


def test_a_text_of_invisible_characters_only_is_blank_as_the_server_counts_it(inputs_dir: Path) -> None:
    # The server refuses it (422) and the model would too, mid-file: the input check names it before any row is scored.
    path = inputs_dir / "invisible.parquet"
    pq.write_table(pa.table({"text": ["a", "\u200b\u00a0"]}), path)
    with pytest.raises(UserInputError, match=r"invisible.parquet: row 2: 'text' is blank"):
        check_records(inspect_input(path), 2, ["text"])
    source = inspect_input(write_lines(inputs_dir / "invisible.jsonl", [json.dumps({"text": "\u2060"})]))
    with pytest.raises(UserInputError, match=r"invisible.jsonl:1: field 'text' is blank"):
        check_records(source, 2, ["text"])


def test_the_model_needs_its_columns_as_strings_and_keeps_its_output_names(jsonl_input: Path, inputs_dir: Path) -> None:
    source = inspect_input(jsonl_input)
    check_model_columns(source, ["text", "target"], "stance", ["label", "score"])
    untargeted = inspect_input(write_lines(inputs_dir / "t.jsonl", [json.dumps({"text": "a"})]))
    with pytest.raises(UserInputError, match=r"t.jsonl: a stance model needs column\(s\) text, target; missing: target"):
        check_model_columns(untargeted, ["text", "target"], "stance", [])
    with pytest.raises(UserInputError, match=r"column\(s\) target would be overwritten by the model's output; rename them"):
        check_model_columns(source, ["text"], "topic", ["label", "target"])
    path = inputs_dir / "ints.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), path)
    with pytest.raises(UserInputError, match=r"ints.parquet: column 'text' must hold strings, not int64"):
        check_model_columns(inspect_input(path), ["text"], "topic", [])
