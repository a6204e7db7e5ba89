"""Write measured tables into the docs, between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers."""

from __future__ import annotations

from pathlib import Path

from training.atomic_files import write_texts_atomically


def write_between_markers(doc: Path, marker: str, text: str) -> None:
    """Replace what stands between the doc's start and end markers called `marker` with text."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    content = doc.read_text(encoding="utf-8")
    if start not in content or end not in content:
        raise ValueError(f"{doc} has no {start} ... {end} markers")
    before, _, rest = content.partition(start)
    _, _, after = rest.partition(end)
    write_texts_atomically({doc: f"{before}{start}\n{text}\n{end}{after}"})
