"""benchmarks/doc_markers.py: measured tables written between a doc's named markers, and nothing else touched."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from doc_markers import write_between_markers

BEFORE = "# Results\n\nMeasured on a laptop.\n\n"
# Another table's markers, so the test shows only the named pair is used.
AFTER = "\n\nSee also:\n<!-- bench:other:start -->\nother table\n<!-- bench:other:end -->\n"
DOC = f"{BEFORE}<!-- bench:speed:start -->\n| old | table |\n<!-- bench:speed:end -->{AFTER}"


def test_the_text_between_the_named_markers_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(DOC, encoding="utf-8")
    write_between_markers(doc, "bench:speed", "| new | table |\n| 1 | 2 |")
    expected = f"{BEFORE}<!-- bench:speed:start -->\n| new | table |\n| 1 | 2 |\n<!-- bench:speed:end -->{AFTER}"
    assert doc.read_text(encoding="utf-8") == expected
    # Writing again replaces, rather than stacks, the table.
    write_between_markers(doc, "bench:speed", "| new | table |\n| 1 | 2 |")
    assert doc.read_text(encoding="utf-8") == expected


@pytest.mark.parametrize(
    "kept",
    ["<!-- bench:speed:start -->\n", "<!-- bench:speed:end -->\n", "<!-- bench:speed:end -->\n<!-- bench:speed:start -->\n"],
    ids=["start only", "end only", "end above start"],
)
def test_a_doc_without_both_markers_is_refused_and_left_as_it_was(tmp_path: Path, kept: str) -> None:
    doc = tmp_path / "doc.md"
    content = f"{BEFORE}{kept}{AFTER}"
    doc.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="doc.md has no <!-- bench:speed:start --> ... <!-- bench:speed:end --> markers"):
        write_between_markers(doc, "bench:speed", "| new |")
    assert doc.read_text(encoding="utf-8") == content
