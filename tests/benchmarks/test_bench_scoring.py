"""benchmarks/bench_scoring.py: the input it scores."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq

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
