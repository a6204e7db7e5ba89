import json
from pathlib import Path

from training import locations
from training.corpus.label_counts import label_counts


def rows(text: str) -> list[list[str]]:
    """The cells of every table row in the Markdown, stripped of their padding."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]


def test_committed_counts_are_up_to_date() -> None:
    committed = (locations.SEEDS_DIR / "LABEL_COUNTS.md").read_text(encoding="utf-8")
    assert committed == label_counts(locations.LABELS_PATH, locations.SEGMENTS_PATH)


def test_totals_match_the_labels() -> None:
    text = label_counts(locations.LABELS_PATH, locations.SEGMENTS_PATH)
    n_segments = sum(1 for _ in locations.SEGMENTS_PATH.open(encoding="utf-8"))
    topic_total = next(row for row in rows(text) if row[0] == "total")
    assert topic_total[-1] == str(n_segments)


def test_corpus_without_stance_rows_gets_zero_tables(tmp_path: Path) -> None:
    segments, labels = tmp_path / "segments.jsonl", tmp_path / "labels.jsonl"
    segments.write_text(
        "".join(json.dumps({"segment_id": f"s{i}", "article_id": f"a{i // 2}", "position": i, "text": "t"}) + "\n" for i in range(3)),
        encoding="utf-8",
    )
    labels.write_text(
        "".join(json.dumps({"segment_id": f"s{i}", "topic": "economy", "stances": []}) + "\n" for i in range(3)),
        encoding="utf-8",
    )
    text = label_counts(labels, segments)
    assert "3 segments in 2 articles; 0 stance rows." in text
    assert ["a0", "0", "0", "0", "2", "0", "2"] in rows(text)
    stance_sections = text.split("## Stance per")[1:]
    assert len(stance_sections) == 2
    assert all(rows(section)[-1] == ["total", "0", "0", "0", "0"] for section in stance_sections)
