"""What counts as blank text: the one rule of the serving API's validation and of the segmenter.

A text with no visible character says nothing: classified, it got the answer of an empty text (with confidence).
"""

from __future__ import annotations

import re

# "Not blank": one character that is neither whitespace nor invisible. Whitespace is the union of what Python
# (str.isspace) and the ECMA regexes of OpenAPI tools (`\s`) call so; they differ in \x1c-\x1f, \x85 and \ufeff.
# Invisible: control characters (NUL among them), the soft hyphen, zero-width and direction marks, the word joiner,
# invisible operators, the combining grapheme joiner, variation selectors, the Hangul fillers, the braille blank and
# other characters that render as nothing. The serving API puts the same pattern into its schema, so generated clients
# and the server agree.
NON_BLANK_PATTERN = (
    r"[^\s\x00-\x1f\x7f-\x9f\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u2060-\u2064\u2800\u3164"
    r"\ufe00-\ufe0f\ufeff\uffa0]"
)
_NON_BLANK = re.compile(NON_BLANK_PATTERN)


def is_blank(text: str) -> bool:
    """True when the text has no visible character (empty, whitespace or invisible characters only)."""
    return _NON_BLANK.search(text) is None
