"""Write measured tables into the docs, between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers."""

from __future__ import annotations

from pathlib import Path

from training.atomic_files import write_texts_atomically


def write_between_markers(doc: Path, marker: str, text: str) -> None:
    """Replace what stands between the doc's start and end markers called `marker` with text."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    content = doc.read_text(encoding="utf-8")
    before, found, rest = content.partition(start)
    # The end must follow the start: an end marker only above it would have everything below the start dropped.
    if not found or end not in rest:
        raise ValueError(f"{doc} has no {start} ... {end} markers")
    _, _, after = rest.partition(end)
    write_texts_atomically({doc: f"{before}{start}\n{text}\n{end}{after}"})
