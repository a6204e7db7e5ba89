import json
import logging
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifiers.errors import UserInputError
from training import locations
from training.cli import app
from training.corpus.seed_files import SeedFormatError, build_corpus, ingest, parse_seed_file

ARTICLE = """Title One

Caption one (Reuters)
Caption one (Reuters)
TT

Title One

Caption one (Reuters)
Caption one (Reuters)

First paragraph of one.

Subheading here

Second paragraph of one.


Title Two
Caption two
Caption two
TT
Title Two
Caption two
Caption two
Only paragraph of two.
Another paragraph of two."""


def write(folder: Path, name: str, content: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_parses_structure_without_fixed_line_numbers(tmp_path: Path) -> None:
    articles = parse_seed_file(write(tmp_path, "a.txt", ARTICLE))
    assert [a.title for a in articles] == ["Title One", "Title Two"]
    assert [a.caption for a in articles] == ["Caption one (Reuters)", "Caption two"]
    assert articles[0].paragraphs == ("First paragraph of one.", "Subheading here", "Second paragraph of one.")
    assert articles[1].paragraphs == ("Only paragraph of two.", "Another paragraph of two.")


def test_duplicate_articles_across_files_are_merged_and_ids_are_stable(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw, "001.txt", ARTICLE)
    write(raw, "002.txt", ARTICLE.split("\n\n\n")[0])  # article one again
    articles, segments = build_corpus(raw)
    assert [a["title"] for a in articles] == ["Title One", "Title Two"]
    assert articles[0]["source_files"] == ["001.txt", "002.txt"]
    first = [s for s in segments if s["article_id"] == articles[0]["article_id"]]
    assert [s["position"] for s in first] == [0, 1]
    assert first[1]["text"] == "Subheading here\nSecond paragraph of one."
    assert first[1]["segment_id"] == f"{articles[0]['article_id']}-001"
    # Ids depend on content, not on which file or run order found them.
    write(raw, "000.txt", ARTICLE.split("\n\n\n")[1])
    _, again = build_corpus(raw)
    assert {s["segment_id"] for s in segments} == {s["segment_id"] for s in again}


def test_a_seed_file_whose_suffix_is_upper_or_mixed_case_is_read_in_order_of_name(tmp_path: Path) -> None:
    # A scraped article saved as ARTICLE.TXT was skipped unseen (the files were found by `*.txt`).
    raw = tmp_path / "raw"
    one, two = ARTICLE.split("\n\n\n")
    write(raw, "b.TXT", one)
    write(raw, "a.Txt", two)
    write(raw, "c.txt", one)
    write(raw, "notes.md", "not a seed file")
    articles, _ = build_corpus(raw)
    assert [(a["title"], a["source_files"]) for a in articles] == [("Title Two", ["a.Txt"]), ("Title One", ["b.TXT", "c.txt"])]


def test_a_byte_order_mark_and_windows_line_endings_change_nothing(tmp_path: Path) -> None:
    # Notepad saves UTF-8 with a byte order mark; the title before TT then differed from the one after it.
    write(tmp_path / "plain", "a.txt", ARTICLE)
    write(tmp_path / "windows", "a.txt", ("\ufeff" + ARTICLE.replace("\n", "\r\n")).encode("utf-8"))
    assert build_corpus(tmp_path / "windows") == build_corpus(tmp_path / "plain")


def test_old_mac_line_endings_change_nothing(tmp_path: Path) -> None:
    # A lone CR ends a line for the server's article endpoint; ingest read such a file as one line, with no 'TT'.
    write(tmp_path / "plain", "a.txt", ARTICLE)
    write(tmp_path / "mac", "a.txt", ARTICLE.replace("\n", "\r"))
    assert build_corpus(tmp_path / "mac") == build_corpus(tmp_path / "plain")


def test_files_joined_each_with_its_byte_order_mark_read_as_one(tmp_path: Path) -> None:
    # `cat` of two Notepad files puts a mark inside: "after TT the title and the caption (twice) should repeat".
    other = ARTICLE.replace("Title One", "Title Two").replace("First paragraph of one.", "First paragraph of two.")
    write(tmp_path / "apart", "a.txt", ARTICLE)
    write(tmp_path / "apart", "b.txt", other)
    write(tmp_path / "joined", "a.txt", ("\ufeff" + ARTICLE + "\n\ufeff" + other).encode("utf-8"))
    apart, joined = build_corpus(tmp_path / "apart"), build_corpus(tmp_path / "joined")
    assert [segment["text"] for segment in joined[1]] == [segment["text"] for segment in apart[1]]
    assert len(joined[0]) == len(apart[0])


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("", 1, "file is empty"),
        ("\n  \n", 1, "file is empty"),
        ("Title\nCaption\nCaption\nBody without a marker.", 1, "no 'TT' marker"),
        ("\ufeff\n  \n", 1, "file is empty"),
        ("Title\nCaption\nOther caption\nTT\nTitle\nCaption\nCaption\nBody.", 3, "caption should appear twice"),
        ("Title\nCaption\nCaption\nTT\nWrong title\nCaption\nCaption\nBody.", 5, "title and the caption"),
        ("Title\nCaption\nCaption\nTT\nTitle\nCaption\nCaption\n", 4, "no body paragraphs"),
        ("Stray line\nTitle\nCaption\nCaption\nTT\nTitle\nCaption\nCaption\nBody.", 1, "before the first article"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, content: str | bytes, line: int, message: str) -> None:
    path = write(tmp_path, "bad.txt", content)
    with pytest.raises(SeedFormatError, match=message) as raised:
        parse_seed_file(path)
    assert raised.value.line == line
    assert str(raised.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize("mark", [b"", b"\xef\xbb\xbf"])
def test_a_file_that_is_not_utf8_names_the_byte_its_line_and_column(tmp_path: Path, mark: bytes) -> None:
    path = write(tmp_path, "bad.txt", mark + b"Title\nCaption\nCaption\nTT\nTitle\nCaption\nCaption\nBody \xff here.")
    with pytest.raises(UserInputError) as raised:
        parse_seed_file(path)
    assert str(raised.value) == f"{path}:8: not UTF-8 text: byte 0xff at column 6; save the file as UTF-8"


def test_ingest_is_byte_identical_across_runs(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    ingest(locations.RAW_SEEDS_DIR, first)
    ingest(locations.RAW_SEEDS_DIR, second)
    for name in ("segments.jsonl", "articles.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_committed_segments_and_articles_match_the_raw_seeds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Both: nothing reads articles.jsonl, so a stale one committed beside new segments would go unnoticed.
    caplog.set_level(logging.INFO, logger="training.corpus.seed_files")
    ingest(locations.RAW_SEEDS_DIR, tmp_path)
    # The log names both files written, as the command's help does.
    segments, articles = tmp_path / "segments.jsonl", tmp_path / "articles.jsonl"
    counts = [len(path.read_text(encoding="utf-8").splitlines()) for path in (segments, articles)]
    assert f"wrote {counts[0]} segments to {segments} and {counts[1]} articles to {articles}" in caplog.text
    assert (tmp_path / "segments.jsonl").read_bytes() == locations.SEGMENTS_PATH.read_bytes()
    assert (tmp_path / "articles.jsonl").read_bytes() == (locations.SEEDS_DIR / "articles.jsonl").read_bytes()


def text_of(record: dict[str, object], field: str) -> str:
    """A record's field that must be text."""
    value = record[field]
    assert isinstance(value, str)
    return value


def test_seed_corpus_has_eight_articles_and_every_paragraph() -> None:
    articles, segments = build_corpus(locations.RAW_SEEDS_DIR)
    assert len(articles) == 8
    assert next(a for a in articles if text_of(a, "title").startswith("Iraq: Imminent"))["source_files"] == [
        "000_bf822242978cf93a.txt",
        "001_a6074477bba3ed50.txt",
        "002_834060fb453e30a0.txt",
    ]
    texts = [text_of(s, "text") for s in segments]
    assert not any(text in {"TT"} | {a["title"] for a in articles} | {a["caption"] for a in articles} for text in texts)
    assert any(text.startswith("Short honeymoon\nMany Iranian officials") for text in texts)
    assert any(text.startswith("Reliance on Türkiye\nFormer Iranian President") for text in texts)
    # Single-newline paragraphs (the Tunisia article) are separate segments too.
    tunisia = [s for s in segments if text_of(s, "title").startswith("Tunisians Vote")]
    assert len(tunisia) == 5


def test_cli_failure_leaves_previous_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    missing = runner.invoke(app, ["ingest", "--out-dir", str(out)])
    assert missing.exit_code == 1
    assert missing.output.endswith(f"error: cannot write {out / 'segments.jsonl'}: folder {out} does not exist\n")
    assert not out.exists()
    out.mkdir()
    assert runner.invoke(app, ["ingest", "--out-dir", str(out)]).exit_code == 0
    before = (out / "segments.jsonl").read_bytes()

    raw = tmp_path / "raw"
    write(raw, "000.txt", ARTICLE)
    write(raw, "001.txt", b"Title\nCaption\nCaption\nTT\nTitle\nCaption\nCaption\n\xc3\x28 broken")
    result = runner.invoke(app, ["ingest", "--raw-dir", str(raw), "--out-dir", str(out)])
    assert result.exit_code == 1
    assert f"{raw / '001.txt'}:8: not UTF-8 text: byte 0xc3 at column 1" in result.output
    assert (out / "segments.jsonl").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["articles.jsonl", "segments.jsonl"]  # no temp files left


def test_cli_ingest_writes_one_json_object_per_segment(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "segments.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert {"segment_id", "article_id", "position", "text", "title"} <= set(records[0])
    assert len({r["segment_id"] for r in records}) == len(records)


def test_other_raw_files_never_replace_the_seed_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A copy of the seed corpus stands in for it, so that a failure of this test cannot replace the real one.
    seeds, raw = tmp_path / "seeds", tmp_path / "raw"
    seeds.mkdir()
    raw.mkdir()
    for name in ("segments.jsonl", "articles.jsonl", "labels.jsonl"):
        (seeds / name).write_bytes((locations.SEEDS_DIR / name).read_bytes())
    monkeypatch.setattr(locations, "SEEDS_DIR", seeds)
    monkeypatch.setattr(locations, "LABELS_PATH", seeds / "labels.jsonl")
    first = sorted(locations.RAW_SEEDS_DIR.glob("*.txt"))[0]
    (raw / first.name).write_bytes(first.read_bytes())
    before = {path: path.read_bytes() for path in seeds.iterdir()}

    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(raw), "--out-dir", str(seeds)])

    # They replaced seeds/segments.jsonl, and seeds/labels.jsonl then labelled segments that were gone.
    assert result.exit_code == 1
    assert result.output.endswith(
        f"error: --raw-dir {raw} would replace the seed corpus in {seeds} (the segments {seeds / 'labels.jsonl'} labels): "
        "give other files an --out-dir of their own\n"
    )
    assert {path: path.read_bytes() for path in seeds.iterdir()} == before
    assert CliRunner().invoke(app, ["ingest", "--raw-dir", str(raw), "--out-dir", str(tmp_path)]).exit_code == 0


def test_a_raw_folder_that_is_missing_or_a_file_is_named_as_such(tmp_path: Path) -> None:
    # Both said "no seed files (*.txt) found", as an empty folder does: a mistyped path read as an empty corpus.
    (tmp_path / "seed.txt").write_text("text", encoding="utf-8")
    for raw, problem in ((tmp_path / "missing", "no such folder"), (tmp_path / "seed.txt", "not a folder")):
        result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(raw), "--out-dir", str(tmp_path)])
        assert result.exit_code == 1
        assert result.output.endswith(f"error: --raw-dir {raw}: {problem}\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(empty), "--out-dir", str(tmp_path)])
    assert result.output.endswith(f"error: {empty}: no seed files found (names ending in .txt, in any case)\n")


def test_a_seed_file_whose_name_is_not_utf8_is_named_before_anything_is_written(tmp_path: Path) -> None:
    # articles.jsonl records each article's file names: a Latin-1 one failed as the output was written, in a traceback.
    raw, out = tmp_path / "raw", tmp_path / "out"
    write(raw, os.fsdecode(b"caf\xe9.txt"), ARTICLE)
    out.mkdir()
    result = CliRunner().invoke(app, ["ingest", "--raw-dir", str(raw), "--out-dir", str(out)])
    assert result.exit_code == 1
    assert result.output.endswith(
        f"error: seed file {raw}/caf\ufffd.txt: its path is not UTF-8 (byte 0xe9), which articles.jsonl (UTF-8 JSON "
        "naming each article's source files) cannot record: rename it\n"
    )
    assert not list(out.iterdir())
