"""Small news inputs for batch scoring, as JSONL and Parquet, in a folder apart from the outputs' folder."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training import locations

TARGETS = ["Israel", "Iran", "Hamas"]


@pytest.fixture(scope="session")
def news_rows() -> list[dict[str, object]]:
    """Twelve real seed paragraphs with an integer id, a string id and a stance target."""
    lines = locations.SEGMENTS_PATH.read_text(encoding="utf-8").splitlines()[:12]
    return [
        {"row_id": 100 + number, "segment_id": record["segment_id"], "text": record["text"], "target": TARGETS[number % 3]}
        for number, record in enumerate(json.loads(line) for line in lines)
    ]


@pytest.fixture
def inputs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """Where outputs go: after a failed run it must still be empty (no output, no temporary file)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def jsonl_input(inputs_dir: Path, news_rows: list[dict[str, object]]) -> Path:
    path = inputs_dir / "news.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in news_rows), encoding="utf-8")
    return path


@pytest.fixture
def parquet_input(inputs_dir: Path, news_rows: list[dict[str, object]]) -> Path:
    path = inputs_dir / "news.parquet"
    pq.write_table(pa.Table.from_pylist(news_rows), path)
    return path

