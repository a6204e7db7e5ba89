"""What counts as blank text: the one rule of the serving API's validation and of the segmenter.

A text with no visible character says nothing: classified, it got the answer of an empty text (with confidence).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable

# Invisible on their own: controls (NUL among them), format characters (zero-width, direction and bidi controls, the
# soft hyphen, tags, invisible operators, musical beam marks), separators (every whitespace), and combining marks,
# which mark a letter and say nothing without one (variation selectors are marks too).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Mc", "Me"})
# What else renders as nothing: the rest of Unicode's Default_Ignorable_Code_Point (the Hangul fillers, which are
# letters, and the code points reserved to be ignorable) and the braille blank.
INVISIBLE_RANGES = (
    (0x115F, 0x1160),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),
)


def _invisible_code_points() -> list[int]:
    found = {
        code
        for code in range(sys.maxunicode + 1)
        # isspace adds \x1c-\x1f and \x85, which Python calls whitespace (already controls, as NUL is).
        if unicodedata.category(chr(code)) in INVISIBLE_CATEGORIES or chr(code).isspace()
    }
    found.update(code for low, high in INVISIBLE_RANGES for code in range(low, high + 1))
    return sorted(found)


def _spans(codes: Iterable[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for code in codes:
        if spans and spans[-1][1] == code - 1:
            spans[-1] = (spans[-1][0], code)
        else:
            spans.append((code, code))
    return spans


def _in_class(code: int) -> str:
    # ECMA regexes know \uXXXX only; a character beyond the BMP stands as itself (one code point in Python and under
    # the u flag that JSON Schema asks of ECMA regexes).
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


def _pattern(spans: list[tuple[int, int]]) -> str:
    ranges = "".join(_in_class(low) + (f"-{_in_class(high)}" if high > low else "") for low, high in spans)
    return f"[^{ranges}]"


# "Not blank": one character that is not invisible. The serving API puts the pattern into its schema, so generated
# clients and the server agree; it spells every character out, as Python's regexes have no Unicode categories.
NON_BLANK_PATTERN = _pattern(_spans(_invisible_code_points()))
_NON_BLANK = re.compile(NON_BLANK_PATTERN)


def is_blank(text: str) -> bool:
    """True when the text has no visible character: empty, or whitespace, invisible characters and marks only."""
    return _NON_BLANK.search(text) is None
