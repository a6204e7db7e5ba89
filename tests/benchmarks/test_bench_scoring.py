"""benchmarks/bench_scoring.py: the input it scores."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_scoring


def test_the_input_has_unique_paragraphs_and_articles_of_consecutive_rows_when_asked(tmp_path: Path) -> None:
    bench_scoring.write_input(tmp_path / "plain.parquet", 7)
    plain = pq.read_table(tmp_path / "plain.parquet")
    assert plain.column_names == ["id", "text", "target"]
    assert len(set(plain.column("text").to_pylist())) == 7

    bench_scoring.write_input(tmp_path / "articles.parquet", 7, segments_per_document=3)
    articles = pq.read_table(tmp_path / "articles.parquet")
    assert articles.column_names == ["id", "text", "target", "document"]
    assert articles.column("document").to_pylist() == ["article-0"] * 3 + ["article-1"] * 3 + ["article-2"]
    assert articles.column("text").to_pylist() == plain.column("text").to_pylist()


def test_the_table_has_a_row_per_run_and_the_notes_below_it() -> None:
    runs = [bench_scoring.Run("topic", "local", 1000, 12.6, 900.4), bench_scoring.Run("stance", "spark", 1000, 40.0, 2500.0)]
    text = bench_scoring.markdown(runs, ["first note", "second note"], rows=1000, chunk_rows=100)
    before, _, rest = text.partition("\n\n")
    assert before.startswith("Measured ") and "--chunk-rows 100" in before
    # The command that measured it, as a reader would run it again: the rows are not the default's 100,000.
    assert "by `python benchmarks/bench_scoring.py --rows 1000`: 1000 unique" in before
    table, _, notes = rest.partition("\n\n")
    header, separator, *rows = table_lines(table)
    assert header == ["model", "engine", "rows", "wall s", "rows/s", "peak RSS MB"]
    assert alignments(separator) == ["left", "left", "right", "right", "right", "right"]
    assert rows == [["topic", "local", "1000", "13", "79", "900"], ["stance", "spark", "1000", "40", "25", "2500"]]
    assert notes == "- first note\n- second note\n"
