import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifiers.errors import UserInputError
from training import locations
from training.cli import app
from training.corpus.labels import TARGETS, LabelValidationError, read_segments, validate_labels


@pytest.fixture
def segments(tmp_path: Path) -> Path:
    path = tmp_path / "segments.jsonl"
    rows = [
        {"segment_id": f"art-{i:03d}", "article_id": "art", "position": i, "text": f"Text {i}."} for i in range(3)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_labels(tmp_path: Path, rows: list[object]) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows), encoding="utf-8")
    return path


def row(segment_id: str, topic: str = "conflict", stances: list[dict[str, str]] | None = None) -> dict[str, object]:
    return {"segment_id": segment_id, "topic": topic, "stances": stances or []}


def test_valid_labels_pass(tmp_path: Path, segments: Path) -> None:
    labels = write_labels(
        tmp_path, [row("art-000"), row("art-001", "diplomacy", [{"target": "Iran", "stance": "favor"}]), row("art-002")]
    )
    assert [r.segment_id for r in validate_labels(labels, segments)] == ["art-000", "art-001", "art-002"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([row("art-000", "war"), row("art-001"), row("art-002")], "labels.jsonl:1: topic: Input should be"),
        (
            [row("art-000", stances=[{"target": "Mars", "stance": "none"}]), row("art-001"), row("art-002")],
            "labels.jsonl:1: stances.0.target: Input should be 'Iran', ",
        ),
        (
            [row("art-000", stances=[{"target": "Mars", "stance": "none"}]), row("art-001"), row("art-002")],
            "or 'Kais Saied' (got 'Mars')",
        ),
        (
            [row("art-000"), row("art-001", stances=[{"target": "Iran", "stance": "maybe"}]), row("art-002")],
            "labels.jsonl:2: stances.0.stance",
        ),
        ([row("art-000"), row("art-001"), row("art-002"), row("art-999")], "labels.jsonl:4: segment_id 'art-999' is not in"),
        ([row("art-000"), row("art-001"), row("art-002"), row("art-001")], "labels.jsonl:4: duplicate row for segment 'art-001' (first at line 2)"),
        ([row("art-000"), row("art-002")], "segments.jsonl:2: segment 'art-001' has no row in"),
        (
            [row("art-000", stances=[{"target": "Iran", "stance": "none"}, {"target": "Iran", "stance": "favor"}]), row("art-001"), row("art-002")],
            "labels.jsonl:1: stances: Value error, target listed more than once: Iran",
        ),
        ([row("art-000"), "{not json", row("art-001"), row("art-002")], "labels.jsonl:2: invalid JSON"),
        ([{**row("art-000"), "note": "x"}, row("art-001"), row("art-002")], "labels.jsonl:1: note: Extra inputs"),
        # JSON keeps the last of two values without a word: the row was read as `diplomacy`.
        (
            [
                row("art-000"),
                '{"segment_id": "art-001", "topic": "conflict", "topic": "diplomacy", "stances": []}',
                row("art-002"),
            ],
            "labels.jsonl:2: field 'topic' is given twice; keep one",
        ),
        ([row("art-000"), "[1, 2]", row("art-001"), row("art-002")], "labels.jsonl:2: expected a JSON object, got list"),
    ],
)
def test_each_problem_names_the_offending_line(tmp_path: Path, segments: Path, rows: list[object], expected: str) -> None:
    labels = write_labels(tmp_path, rows)
    with pytest.raises(LabelValidationError) as raised:
        validate_labels(labels, segments)
    assert any(expected in problem for problem in raised.value.problems), raised.value.problems


def test_a_segment_without_a_row_is_named_by_its_line_in_the_file(tmp_path: Path, segments: Path) -> None:
    # Blank lines counted: the line was counted among the segments, two lines early here.
    lines = segments.read_text(encoding="utf-8").splitlines()
    segments.write_text("\n".join([lines[0], "", "", lines[1], lines[2]]) + "\n", encoding="utf-8")
    labels = write_labels(tmp_path, [row("art-000"), row("art-001")])
    with pytest.raises(LabelValidationError) as raised:
        validate_labels(labels, segments)
    assert raised.value.problems == [f"{segments}:5: segment 'art-002' has no row in {labels}"]


def test_a_blank_segment_text_is_named_by_its_line(tmp_path: Path, segments: Path) -> None:
    # validate-labels passed it, and training named a row of its own table in the labels file.
    lines = segments.read_text(encoding="utf-8").splitlines()
    blank = {**json.loads(lines[1]), "text": " \u00a0 "}
    segments.write_text("\n".join([lines[0], json.dumps(blank), lines[2]]) + "\n", encoding="utf-8")
    labels = write_labels(tmp_path, [row("art-000"), row("art-001"), row("art-002")])
    with pytest.raises(UserInputError, match=rf"^{segments}:2: field 'text' is blank$"):
        validate_labels(labels, segments)


def test_a_segments_folder_is_named_as_a_folder(tmp_path: Path) -> None:
    # It said "not found: run `python -m training ingest` first".
    with pytest.raises(UserInputError, match=rf"^{tmp_path} is a folder: name the segments file$"):
        read_segments(tmp_path)


def test_a_csv_labels_file_is_named_as_such(tmp_path: Path, segments: Path) -> None:
    # Read as JSONL, it gave an invalid-JSON problem for every line and 106 segments without a row.
    labels = tmp_path / "labels.csv"
    labels.write_text("segment_id,topic\nart-000,conflict\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=rf"^{labels}: labels are read as JSONL \(one JSON object per line\), not .csv files$"):
        validate_labels(labels, segments)


def test_an_empty_labels_file_is_named_as_empty(tmp_path: Path, segments: Path) -> None:
    # Every segment was listed as having no row.
    labels = write_labels(tmp_path, [])
    with pytest.raises(UserInputError, match=rf"^{labels} has no labels \(an empty file\)$"):
        validate_labels(labels, segments)


def test_segment_line_missing_a_key_names_the_line_and_keys(tmp_path: Path, segments: Path) -> None:
    lines = segments.read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[1])
    del broken["article_id"], broken["text"]
    segments.write_text("\n".join([lines[0], json.dumps(broken), lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(UserInputError) as raised:
        read_segments(segments)
    assert str(raised.value) == f"{segments}:2: missing article_id, text"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("segment_id", ["art-001"], "segment_id: Input should be a valid string"),
        ("text", None, "text: Input should be a valid string"),
        ("position", "1", "position: Input should be a valid integer (got '1')"),
    ],
)
def test_a_segment_value_of_the_wrong_type_names_the_line_and_key(
    segments: Path, field: str, value: object, expected: str
) -> None:
    # A list id ended in a TypeError traceback (unhashable), a null text was read as a segment.
    lines = segments.read_text(encoding="utf-8").splitlines()
    broken = {**json.loads(lines[1]), field: value}
    segments.write_text("\n".join([lines[0], json.dumps(broken), lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(UserInputError) as raised:
        read_segments(segments)
    assert str(raised.value) == f"{segments}:2: {expected}"


def test_a_segment_key_given_twice_names_the_line_and_key(segments: Path) -> None:
    # The segment's text was the second of the two, without a word.
    lines = segments.read_text(encoding="utf-8").splitlines()
    repeated = lines[1].replace('"text": ', '"text": "First text.", "text": ')
    segments.write_text("\n".join([lines[0], repeated, lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(UserInputError) as raised:
        read_segments(segments)
    assert str(raised.value) == f"{segments}:2: field 'text' is given twice; keep one"


def test_a_segment_id_given_twice_is_named_with_both_lines(segments: Path) -> None:
    lines = segments.read_text(encoding="utf-8").splitlines()
    copy = {**json.loads(lines[0]), "position": 3, "text": "Another text."}
    segments.write_text("\n".join([*lines, json.dumps(copy)]) + "\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"segments.jsonl:4: duplicate segment_id 'art-000' \(first at line 1\)"):
        read_segments(segments)


def test_every_problem_is_reported_at_once(tmp_path: Path, segments: Path) -> None:
    labels = write_labels(tmp_path, [row("art-000", "war"), row("art-000"), row("art-009")])
    with pytest.raises(LabelValidationError) as raised:
        validate_labels(labels, segments)
    bad_topic, *others = raised.value.problems
    assert bad_topic.startswith(f"{labels}:1: topic: Input should be")
    assert others == [
        f"{labels}:2: duplicate row for segment 'art-000' (first at line 1)",
        f"{labels}:3: segment_id 'art-009' is not in {segments}",
        f"{segments}:2: segment 'art-001' has no row in {labels}",
        f"{segments}:3: segment 'art-002' has no row in {labels}",
    ]


def test_a_row_with_a_bad_label_is_not_also_reported_as_missing(tmp_path: Path, segments: Path) -> None:
    labels = write_labels(tmp_path, [row("art-000"), row("art-001", "conflcit"), row("art-002")])
    with pytest.raises(LabelValidationError) as raised:
        validate_labels(labels, segments)
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith(f"{labels}:2: topic: Input should be")


def test_the_message_lists_the_first_twenty_problems_and_counts_the_rest(tmp_path: Path) -> None:
    segments = tmp_path / "segments.jsonl"
    rows = [{"segment_id": f"art-{i:03d}", "article_id": "art", "position": i, "text": f"Text {i}."} for i in range(30)]
    segments.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    labels = write_labels(tmp_path, [row("art-000")])

    result = CliRunner().invoke(app, ["validate-labels", "--labels", str(labels), "--segments", str(segments)])

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 21
    assert lines[0] == f"error: {segments}:2: segment 'art-001' has no row in {labels}"
    assert lines[19] == f"{segments}:21: segment 'art-020' has no row in {labels}"
    assert lines[20] == "... and 9 more problems (29 in all)"


def test_the_seed_labels_are_valid_and_cover_every_segment() -> None:
    rows = validate_labels(locations.LABELS_PATH, locations.SEGMENTS_PATH)
    assert len(rows) == sum(1 for _ in locations.SEGMENTS_PATH.open(encoding="utf-8"))
    targets = {stance.target for r in rows for stance in r.stances}
    assert targets == set(TARGETS)  # every target of the scheme occurs in the corpus


def test_cli_validate_labels_exit_codes(tmp_path: Path, segments: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["validate-labels"]).exit_code == 0
    labels = write_labels(tmp_path, [row("art-000", "war")])
    result = runner.invoke(app, ["validate-labels", "--labels", str(labels), "--segments", str(segments)])
    assert result.exit_code == 1
    assert f"{labels}:1: topic" in result.output


def test_one_problem_past_the_twentieth_is_counted_in_the_singular() -> None:
    problems = [f"labels.jsonl:{line}: bad" for line in range(1, 22)]
    assert str(LabelValidationError(problems)).splitlines()[-1] == "... and 1 more problem (21 in all)"
    assert str(LabelValidationError(problems[:20])).splitlines() == problems[:20]


@pytest.mark.parametrize("which", ["labels", "segments"])
def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path, segments: Path, which: str) -> None:
    labels = write_labels(tmp_path, [row(f"art-{i:03d}") for i in range(3)])
    broken = labels if which == "labels" else segments
    broken.write_bytes(broken.read_bytes() + '{"segment_id": "café"}\n'.encode("latin-1"))
    result = CliRunner().invoke(app, ["validate-labels", "--labels", str(labels), "--segments", str(segments)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"error: {broken}:4: not UTF-8 text: byte 0xe9 at column 20; save the file as UTF-8"
