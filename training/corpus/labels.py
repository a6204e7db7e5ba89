"""The seed corpus label scheme and the validator for `seeds/labels.jsonl`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from classifiers.blank_text import is_blank
from classifiers.errors import UserInputError
from training.jsonl_table import NOT_JSONL, json_object, jsonl_lines

Topic = Literal["conflict", "diplomacy", "domestic_politics", "economy", "humanitarian"]
Stance = Literal["favor", "against", "none"]
Target = Literal[
    "Iran",
    "Israel",
    "United States",
    "Hezbollah",
    "Iraqi armed factions",
    "Hamas",
    "Houthis",
    "Assad government",
    "Syrian opposition",
    "Türkiye",
    "Kais Saied",
]
TOPICS: tuple[str, ...] = get_args(Topic)
STANCES: tuple[str, ...] = get_args(Stance)
TARGETS: tuple[str, ...] = get_args(Target)


class StanceLabel(BaseModel):
    """The stance a segment takes toward one target (an entry of a labels line's `stances`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Target
    stance: Stance


class SegmentLabels(BaseModel):
    """One line of labels.jsonl."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segment_id: str
    topic: Topic
    stances: tuple[StanceLabel, ...]

    @field_validator("stances")
    @classmethod
    def _one_row_per_target(cls, stances: tuple[StanceLabel, ...]) -> tuple[StanceLabel, ...]:
        seen = [row.target for row in stances]
        repeated = sorted({target for target in seen if seen.count(target) > 1})
        if repeated:
            raise ValueError(f"target listed more than once: {', '.join(repeated)}")
        return stances


# A labels file of the wrong corpus would otherwise print a line for every segment.
MAX_PROBLEMS_SHOWN = 20


class LabelValidationError(UserInputError):
    """Every problem found in a labels file (`problems`); the message lists the first MAX_PROBLEMS_SHOWN, one per line."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            more = len(problems) - len(shown)
            shown.append(f"... and {more} more problem{'s' if more > 1 else ''} ({len(problems)} in all)")
        super().__init__("\n".join(shown))
        self.problems = problems


SEGMENT_KEYS = ("segment_id", "article_id", "position", "text")


class Segment(BaseModel):
    """One line of segments.jsonl, as ingest writes it (its other keys, such as the title, are not read)."""

    # Strict: a number where an id or a text belongs is a mistake in the file, not a value to convert.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    segment_id: str
    article_id: str
    position: int
    text: str


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | UserInputError]]:
    """Each non-blank line's JSON object, or the error naming its line: invalid JSON, not an object, or a key given
    twice (`json.loads` keeps the last of the two values without a word)."""
    for number, line in jsonl_lines(path):
        try:
            yield number, json_object(line, f"{path}:{number}")
        except UserInputError as err:
            yield number, err


def read_segments(path: Path) -> list[Segment]:
    """Segments written by ingest."""
    return [segment for _, segment in numbered_segments(path)]


def numbered_segments(path: Path) -> list[tuple[int, Segment]]:
    """Segments written by ingest, each with its line in the file (blank lines are skipped, and counted)."""
    _refuse_other_format(path, "segments")
    if path.is_dir():
        raise UserInputError(f"{path} is a folder: name the segments file")
    if not path.is_file():
        raise UserInputError(f"{path} not found: run `python -m training ingest` first")
    segments: list[tuple[int, Segment]] = []
    first_line: dict[str, int] = {}
    for number, record in _json_lines(path):
        if isinstance(record, UserInputError):
            raise record
        missing = [key for key in SEGMENT_KEYS if key not in record]
        if missing:
            raise UserInputError(f"{path}:{number}: missing {', '.join(missing)}")
        try:
            segment = Segment.model_validate({key: record[key] for key in SEGMENT_KEYS})
        except ValidationError as err:
            raise UserInputError(f"{path}:{number}: {_describe(err)}") from err
        if is_blank(segment.text):
            # It passed validate-labels, and training named a row of its own table in the labels file.
            raise UserInputError(f"{path}:{number}: field 'text' is blank")
        # Labels are joined to segments by id: a second segment of one id would silently lose its text.
        if segment.segment_id in first_line:
            raise UserInputError(
                f"{path}:{number}: duplicate segment_id '{segment.segment_id}' (first at line {first_line[segment.segment_id]})"
            )
        first_line[segment.segment_id] = number
        segments.append((number, segment))
    return segments


def _refuse_other_format(path: Path, what: str) -> None:
    """A CSV (or other table) file is named as such: read as JSONL it gave a JSON error for every line."""
    if path.suffix.lower() in NOT_JSONL:
        raise UserInputError(f"{path}: {what} are read as JSONL (one JSON object per line), not {path.suffix} files")


def _describe(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or 'row'}: {issue['msg']}{_given(issue.get('input'))}"
        for issue in err.errors()
    )


def _given(value: object) -> str:
    # A misspelt label is found faster when the message quotes it; a whole row or list is not worth repeating.
    return f" (got {value!r})" if isinstance(value, str | int | float) else ""


def validate_labels(labels_path: Path, segments_path: Path) -> list[SegmentLabels]:
    """Parse and check labels against the segments; raise LabelValidationError listing every problem.

    Rejected: malformed JSON, unknown topic, stance or target, unknown or repeated segment ids,
    a target given twice for one segment, and segments that have no labels row.
    """
    _refuse_other_format(labels_path, "labels")
    if labels_path.is_dir():
        raise UserInputError(f"{labels_path} is a folder: name the labels file")
    if not labels_path.is_file():
        raise UserInputError(f"{labels_path} not found")
    # The lines as the file numbers them: counted from the segments, blank lines put them off.
    known = {segment.segment_id: number for number, segment in numbered_segments(segments_path)}
    if not any(True for _ in jsonl_lines(labels_path)):
        # Else every segment was listed as having no row.
        raise UserInputError(f"{labels_path} has no labels (an empty file)")
    problems: list[str] = []
    rows: list[SegmentLabels] = []
    first_line: dict[str, int] = {}
    for number, record in _json_lines(labels_path):
        where = f"{labels_path}:{number}"
        if isinstance(record, UserInputError):
            problems.append(str(record))
            continue
        try:
            row = SegmentLabels.model_validate(record)
        except ValidationError as err:
            problems.append(f"{where}: {_describe(err)}")
            # The row is there, only wrong: its segment is not also reported as having no row.
            segment_id = record.get("segment_id")
            if isinstance(segment_id, str) and segment_id in known:
                first_line.setdefault(segment_id, number)
            continue
        if row.segment_id not in known:
            problems.append(f"{where}: segment_id '{row.segment_id}' is not in {segments_path}")
        elif row.segment_id in first_line:
            problems.append(
                f"{where}: duplicate row for segment '{row.segment_id}' (first at line {first_line[row.segment_id]})"
            )
        else:
            first_line[row.segment_id] = number
            rows.append(row)
    missing = sorted(known - first_line.keys())
    problems.extend(
        f"{segments_path}:{known[segment_id]}: segment '{segment_id}' has no row in {labels_path}"
        for segment_id in missing
    )
    if problems:
        raise LabelValidationError(problems)
    return rows
