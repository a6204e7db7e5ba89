import json
import logging
import os
from pathlib import Path

import pyarrow as pa
import pytest

from classifiers.errors import UserInputError
from training.scoring import Engine, score

TOPIC = "models:/news-topic@champion"
STANCE = "models:/news-stance@champion"


def bad_input(folder: Path, case: str) -> Path:
    """An input file that scoring must refuse."""
    if case == "no-text":
        path = folder / "bodies.jsonl"
        path.write_text(json.dumps({"id": 1, "body": "Jets struck the city."}) + "\n", encoding="utf-8")
    elif case == "broken-line":
        # the break is on line 7, after three chunks of two rows
        path = folder / "news.jsonl"
        rows = [json.dumps({"id": n, "text": f"Ministers met for ceasefire talks, round {n}."}) for n in range(6)]
        path.write_text("\n".join([*rows, '{"id": 6, "text": "cut off']) + "\n", encoding="utf-8")
    elif case == "scattered-document":
        # article "a" comes back on row 5, after its rows 1-2 were scored and written and article "b" began
        path = folder / "news.jsonl"
        records = [{"document": document, "text": f"Ministers met for ceasefire talks, round {n}."} for n, document in enumerate("abbba")]
        path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    elif case == "document-object":
        path = folder / "news.jsonl"
        path.write_text(json.dumps({"document": {"id": 1}, "text": "Jets struck the city."}) + "\n", encoding="utf-8")
    elif case == "garbage-parquet":
        path = folder / "news.parquet"
        path.write_bytes(b"PAR1 this is not a parquet file")
    else:
        path = folder / "news.csv"
        path.write_text("id,text\n1,Jets struck the city.\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        pytest.param("no-text", r"bodies.jsonl: no 'text' column \(columns: id, body\)", id="no-text"),
        pytest.param("broken-line", r"news.jsonl:7: invalid JSON \(Unterminated string", id="broken-line"),
        pytest.param("garbage-parquet", r"news.parquet: not a readable Parquet file", id="garbage-parquet"),
        pytest.param(
            "scattered-document", r"news.jsonl:5: document 'a' came earlier and ended \(document 'b' at line 2 came between\); the rows of one "
            r"document must be consecutive",
            id="scattered-document",
        ),
        pytest.param(
            "document-object", r"news.jsonl:1: field 'document' must be an id \(a string or an integer\), got \{\"id\": 1\}",
            id="document-object",
        ),
        pytest.param("unsupported-suffix", r"news.csv: unsupported input format '.csv'", id="unsupported-suffix"),
    ],
)
@pytest.mark.parametrize("engine", list(Engine))
def test_bad_input_is_a_clear_error_that_leaves_no_file_behind(
    trained_store_uri: str, inputs_dir: Path, out_dir: Path, case: str, message: str, engine: Engine
) -> None:
    # Neither the model nor Spark is started for these: every record is checked before them
    with pytest.raises(UserInputError, match=message):
        score(TOPIC, bad_input(inputs_dir, case), out_dir / "scores.parquet", engine=engine, chunk_rows=2, progress=False)
    assert list(out_dir.iterdir()) == []


def test_a_stance_model_needs_targets_and_a_model_must_exist(trained_store_uri: str, inputs_dir: Path, out_dir: Path) -> None:
    path = inputs_dir / "news.jsonl"
    path.write_text(json.dumps({"id": 1, "text": "Iran praised the attack."}) + "\n", encoding="utf-8")
    # named as the model's need, as for Parquet: the file may be meant for a topic model
    with pytest.raises(UserInputError, match=r"news.jsonl: a stance model needs column\(s\) text, target; missing: target$"):
        score(STANCE, path, out_dir / "scores.parquet", progress=False)
    # a record further down without it is named by its line
    path.write_text(json.dumps({"id": 1, "text": "Iran praised it.", "target": "Iran"}) + "\n" + path.read_text(), encoding="utf-8")
    with pytest.raises(UserInputError, match=r"news.jsonl:2: missing field\(s\) target"):
        score(STANCE, path, out_dir / "scores.parquet", progress=False)
    with pytest.raises(UserInputError, match=r"cannot load model 'models:/nope@champion'"):
        score("models:/nope@champion", path, out_dir / "scores.parquet", engine=Engine.SPARK, progress=False)
    with pytest.raises(UserInputError, match=r"chunk size must be at least 1 row, got 0"):
        score(TOPIC, path, out_dir / "scores.parquet", chunk_rows=0, progress=False)
    assert list(out_dir.iterdir()) == []


def test_a_failure_after_chunks_were_written_removes_the_partial_file(
    trained_store_uri: str, inputs_dir: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.scoring import local_engine

    seen: list[list[str]] = []
    append = local_engine.with_predictions

    def failing_on_the_fourth_chunk(chunk: pa.Table, predictions: pa.Table) -> pa.Table:
        seen.append(sorted(path.name for path in out_dir.iterdir()))
        if len(seen) == 4:
            raise OSError(28, "No space left on device")
        return append(chunk, predictions)

    monkeypatch.setattr(local_engine, "with_predictions", failing_on_the_fourth_chunk)
    path = inputs_dir / "news.jsonl"
    path.write_text("".join(json.dumps({"id": n, "text": f"Talks resumed, round {n}."}) + "\n" for n in range(8)), encoding="utf-8")
    # A full disk is the user's to free: named in one line, not a traceback.
    with pytest.raises(UserInputError, match=f"cannot write {out_dir / 'scores.parquet'}: No space left on device"):
        score(TOPIC, path, out_dir / "scores.parquet", chunk_rows=2, progress=False)
    # the partial output existed under a hidden temporary name while chunks were written, and is gone now
    assert seen[0] == []
    assert len(seen[3]) == 1 and seen[3][0].startswith(".scores.parquet.") and seen[3][0].endswith(".tmp")
    assert list(out_dir.iterdir()) == []


def test_a_bad_line_far_down_is_named_before_the_model_loads(
    trained_store_uri: str, inputs_dir: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.scoring import local_engine

    monkeypatch.setattr(local_engine, "loaded_model", lambda spec: pytest.fail("the model was loaded"))
    with pytest.raises(UserInputError, match="news.jsonl:7: "):
        score(TOPIC, bad_input(inputs_dir, "broken-line"), out_dir / "scores.parquet", chunk_rows=2, progress=False)
    assert list(out_dir.iterdir()) == []


def test_a_stance_file_given_to_a_topic_model_is_scored_with_a_warning(
    trained_store_uri: str, jsonl_input: Path, out_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The rows have a target: a topic model scores their text and passes the target through, which may be meant.
    caplog.set_level(logging.WARNING, logger="training.scoring.orchestration")
    assert score(TOPIC, jsonl_input, out_dir / "topics.parquet", progress=False).rows == 12
    assert "news.jsonl has column(s) target, which a stance model reads and this topic model does not" in caplog.text
    caplog.clear()
    score(STANCE, jsonl_input, out_dir / "stances.parquet", progress=False)
    assert "model meant?" not in caplog.text


@pytest.mark.parametrize("named", ["output", "parquet input"])
def test_a_path_pyarrow_cannot_take_is_refused_before_anything_starts(
    parquet_input: Path, jsonl_input: Path, out_dir: Path, named: str
) -> None:
    # pyarrow opens paths as UTF-8 text: a name saved in Latin-1 ended in a UnicodeEncodeError traceback.
    latin = os.fsdecode(b"caf\xe9")
    source, output = jsonl_input, out_dir / f"{latin}.parquet"
    if named == "parquet input":
        source, output = parquet_input.rename(parquet_input.with_name(f"{latin}.parquet")), out_dir / "scores.parquet"
    with pytest.raises(UserInputError, match=rf"^{named.split()[-1]} .*caf\ufffd\.parquet: its path is not UTF-8 \(byte 0xe9\)"):
        score(TOPIC, source, output, progress=False)
    assert list(out_dir.iterdir()) == []
