import re

import pytest

from classifiers.blank_text import NON_BLANK_PATTERN, is_blank


@pytest.mark.parametrize(
    "text",
    ["", "\u001e", "\x85 ", "\ufeff", " \u3000\t", "\u200b", "\u0000\u0000", "\u00ad\u200d\u2060", "\u200e\x7f",
     "\ufe0f\u034f", "\u2800\u3164"],
)
def test_what_python_or_ecma_call_whitespace_and_invisible_characters_are_blank_for_both(text: str) -> None:
    # Schemathesis generated "\u001e": blank to Python's str.isspace, a character to ECMA's \s.
    assert is_blank(text)
    assert re.search(NON_BLANK_PATTERN, text) is None


@pytest.mark.parametrize("text", ["a", "\u200bIran", "\u05d0", "\u0627\u0644", "\U0001f600", "\u00e9", "\u2764\ufe0f"])
def test_text_with_one_visible_character_is_not_blank(text: str) -> None:
    assert not is_blank(text)
    assert re.search(NON_BLANK_PATTERN, text) is not None
