import pytest

from classifiers.segmenter import is_heading, segment_body, segment_paragraphs


def test_headings_are_short_lines_without_sentence_punctuation() -> None:
    assert is_heading("Short honeymoon")
    assert is_heading("Reliance on Türkiye")
    assert not is_heading("In Al-Qaim, one member of the PMF was reported dead.")
    assert not is_heading("He said: “We will respond”")
    assert not is_heading("a heading-like line that has far too many words to be a heading")


def test_heading_joins_the_paragraph_that_follows() -> None:
    segments = segment_paragraphs(["First paragraph.", "Short honeymoon", "Many officials say so.", "Last one."])
    assert segments == ["First paragraph.", "Short honeymoon\nMany officials say so.", "Last one."]


def test_blank_lines_are_not_segments_and_a_trailing_heading_is_kept() -> None:
    assert segment_body("One.\n\n\nTwo.\n  \nClosing words") == ["One.", "Two.", "Closing words"]


@pytest.mark.parametrize("invisible", ["\u0000", "\u200b", "\u00ad\u200b", "\u2800 \ufeff"])
def test_a_paragraph_of_invisible_characters_is_not_a_segment(invisible: str) -> None:
    assert segment_body(f"Iran struck targets in Iraq overnight.\n\n{invisible}\nClosing words") == [
        "Iran struck targets in Iraq overnight.",
        "Closing words",
    ]
