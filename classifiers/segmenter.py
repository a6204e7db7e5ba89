"""Split an article body into segments: one per paragraph, short headings joined to what follows, a paragraph far
longer than the models were trained on cut into runs of its sentences.

Ingest and the serving API's article endpoint both call `segment_paragraphs`, so an article
sent to the service is cut exactly as the training corpus was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from classifiers.blank_text import is_blank
from classifiers.target_context import sentences

# A heading is a short line that does not end like a sentence ("Short honeymoon").
HEADING_MAX_WORDS = 8
# Scripts written without spaces (Chinese, Japanese, Thai) make a whole paragraph one "word"; the longest heading of
# BBC News's articles has 68 characters.
HEADING_MAX_CHARS = 80
# Other scripts' full stops and question marks (CJK, Arabic, Devanagari, Armenian, Ethiopic, Myanmar, Khmer) and the
# quotes and brackets that close a sentence in them. A colon is not here: a short line ending in one ("The minister
# said:") introduces the paragraph after it.
_SENTENCE_END = re.compile(r"""[.!?;"'”’)\]…。．！？｡」』）»؟۔।॥։።။។]$""")


# The models were trained on paragraphs (the seed segments: 200 characters on average, the longest 553). A longer one,
# such as a scraped article run together on one line, is cut into runs of whole sentences of at most PART_CHARS each,
# so that every part is paragraph-sized: read as one, the stance default sees only its first 256 word pieces (about
# 1,200 characters) and a target named later gets a stance from text that does not name it.
LONG_PARAGRAPH_CHARS = 1_200
PART_CHARS = 600


def is_heading(line: str) -> bool:
    """True for a short line without sentence-final punctuation."""
    words = line.split()
    return 0 < len(words) <= HEADING_MAX_WORDS and len(line) <= HEADING_MAX_CHARS and not _SENTENCE_END.search(line)


def has_words(paragraph: str) -> bool:
    """True for a paragraph with a letter or digit in any script; false for a divider."""
    return any(character.isalnum() for character in paragraph)


def segment_paragraphs(paragraphs: Iterable[str]) -> list[str]:
    """Turn body paragraphs into segments; a heading is prefixed to the next paragraph.

    Blank paragraphs (nothing visible: `classifiers.blank_text`, the API's rule for a blank text) are skipped, and so
    are dividers (paragraphs without a letter or digit: "* * *", a stray ".") where the body has words elsewhere; a
    heading with nothing after it stays a segment of its own rather than being dropped.
    """
    visible = [raw for raw in paragraphs if not is_blank(raw)]
    # A divider was classified as a paragraph, or prefixed to the next one as its heading. A body of nothing but
    # dividers ("!!!", emoji) keeps them: it is classified as its text, as /v1/classify classifies any visible text.
    worded = [raw for raw in visible if has_words(raw)]
    if worded:
        visible = worded
    segments: list[str] = []
    pending_headings: list[str] = []
    for raw in visible:
        paragraph = raw.strip()
        if is_heading(paragraph):
            pending_headings.append(paragraph)
            continue
        parts = paragraph_parts(paragraph)
        segments.append("\n".join([*pending_headings, parts[0]]))
        segments.extend(parts[1:])
        pending_headings = []
    if pending_headings:
        segments.append("\n".join(pending_headings))
    return segments


def paragraph_parts(paragraph: str) -> list[str]:
    """The paragraph itself, or, past LONG_PARAGRAPH_CHARS, consecutive runs of its sentences of at most PART_CHARS
    each (a longer sentence is a part of its own); nothing is dropped but the spaces between sentences."""
    if len(paragraph) <= LONG_PARAGRAPH_CHARS:
        return [paragraph]
    parts: list[str] = []
    for sentence in sentences(paragraph):
        if parts and len(parts[-1]) + 1 + len(sentence) <= PART_CHARS:
            parts[-1] = f"{parts[-1]} {sentence}"
        else:
            parts.append(sentence)
    return parts


def segment_body(body: str) -> list[str]:
    """Segments of a body given as one string, paragraphs separated by line breaks."""
    return segment_paragraphs(body.splitlines())
