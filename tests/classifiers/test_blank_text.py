import re

import pytest

from classifiers.blank_text import NON_BLANK_PATTERN, is_blank


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\u001e",  # Schemathesis generated it: blank to Python's str.isspace, a character to ECMA's \s
        "\x85 ",
        "\ufeff",
        " \u3000\t",
        "\u200b",
        "\u0000\u0000",
        "\u00ad\u200d\u2060",
        "\u200e\x7f",
        "\ufe0f\u034f",
        "\u2800\u3164",
        "\u202a\u202e\u2066\u2069",  # bidi embeddings, overrides and isolates
        "\U000e0001\U000e0041\U000e007f",  # tag characters
        "\ufe00\U000e0100\U000e01ef",  # variation selectors, the supplementary ones too
        "\U0001d173\U0001d17a",  # musical beam and phrase marks
        "\u0301\u0302",  # combining marks with no letter to mark
        "\u093e\u0903",  # Devanagari vowel and visarga signs, alone
    ],
)
def test_whitespace_invisible_characters_and_lone_marks_are_blank(text: str) -> None:
    assert is_blank(text)
    assert re.search(NON_BLANK_PATTERN, text) is None


@pytest.mark.parametrize(
    "text",
    [
        "a",
        "\u200bIran",
        "\u05d0",
        "\u0627\u0644",
        "\U0001f600",
        "\u00e9",
        "e\u0301",  # a letter with a combining accent
        "\u2764\ufe0f",
        "\u0928\u092e\u0938\u094d\u0924\u0947",  # Devanagari, vowel signs and virama among the letters
        "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd",  # Hebrew with points
        "\u0633\u064e\u0644\u064e\u0627\u0645",  # Arabic with harakat
        "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",  # Thai
        "\U0001f469\u200d\U0001f467",  # an emoji sequence joined by ZWJ
        "\u202bIran\u202c",  # a word inside a bidi embedding
    ],
)
def test_text_with_one_visible_character_is_not_blank(text: str) -> None:
    assert not is_blank(text)
    assert re.search(NON_BLANK_PATTERN, text) is not None
