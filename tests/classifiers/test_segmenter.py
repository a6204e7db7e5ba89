import pytest

from classifiers.segmenter import LONG_PARAGRAPH_CHARS, PART_CHARS, is_heading, paragraph_parts, segment_body, segment_paragraphs


def test_headings_are_short_lines_without_sentence_punctuation() -> None:
    assert is_heading("Short honeymoon")
    assert is_heading("Reliance on Türkiye")
    assert not is_heading("In Al-Qaim, one member of the PMF was reported dead.")
    assert not is_heading("He said: “We will respond”")
    assert not is_heading("a heading-like line that has far too many words to be a heading")
    assert is_heading("中东局势")
    # A paragraph of a script written without spaces is one "word", however long.
    assert not is_heading(
        "以色列军队周四对黎巴嫩南部的真主党阵地发动空袭，军方表示此次行动针对武器库以及指挥中心，多处目标被摧毁，"
        "当地居民被要求撤离至北部地区，联合国呼吁各方保持克制并尽快恢复谈判以避免局势进一步升级"
    )


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


@pytest.mark.parametrize(
    "paragraphs",
    [
        # Chinese and Japanese end sentences with their own full stop and write no spaces: a paragraph is one "word".
        ["以色列军队周四对黎巴嫩南部的真主党阵地发动空袭。", "伊朗谴责以色列的空袭，并警告战争可能扩大。", "援助机构表示，数千个家庭已逃离家园。"],
        ["イスラエル軍は木曜日、レバノン南部のヒズボラ拠点を空爆した。", "イランは空爆を非難した。"],
        ["ईरान ने हमलों की निंदा की।", "इज़राइली विमानों ने दक्षिणी लेबनान में हिज़्बुल्लाह के ठिकानों पर हमला किया।"],
        ["هل ستتسع الحرب؟", "أدانت إيران الغارات الإسرائيلية على جنوب لبنان."],
        # Thai marks no sentence end and spaces only between phrases.
        [
            "เครื่องบินรบของอิสราเอลโจมตีที่มั่นของกลุ่มฮิซบอลเลาะห์ทางตอนใต้ของเลบานอนเมื่อคืนนี้ กองทัพระบุ",
            "อิหร่านประณามการโจมตีของอิสราเอลและเตือนว่าสงครามอาจขยายวงกว้างออกไปในภูมิภาค",
        ],
    ],
)
def test_paragraphs_of_other_scripts_are_segments_of_their_own(paragraphs: list[str]) -> None:
    assert segment_paragraphs(paragraphs) == paragraphs



def test_a_short_line_that_introduces_the_next_joins_it() -> None:
    # The speaker named in one line and the quote in the next are one segment: stance needs both.
    assert segment_body("Israel's foreign minister said:\n“We will not stop until they are disarmed.”") == [
        "Israel's foreign minister said:\n“We will not stop until they are disarmed.”"
    ]
    assert is_heading("Key points:")


def test_a_paragraph_of_paragraph_size_is_kept_whole() -> None:
    paragraph = " ".join(["Iran and Israel exchanged fire near the border again."] * 20)  # 1,079 characters
    assert len(paragraph) <= LONG_PARAGRAPH_CHARS
    assert paragraph_parts(paragraph) == [paragraph]


def test_a_long_paragraph_is_cut_into_runs_of_whole_sentences() -> None:
    # A scraped article run together on one line: read as one segment, a model saw only its first 256 word pieces.
    sentences = [f"Sentence {number} reports that the talks in Doha went on for another day." for number in range(40)]
    line = " ".join(sentences)
    parts = paragraph_parts(line)
    assert len(parts) > 1
    assert all(len(part) <= PART_CHARS for part in parts)
    assert " ".join(parts) == line  # nothing dropped, nothing reordered
    assert all(part.startswith("Sentence ") and part.endswith(".") for part in parts)  # cut between sentences only


def test_a_sentence_longer_than_a_part_is_a_part_of_its_own() -> None:
    long_sentence = "The minister listed " + ", ".join(f"item {number}" for number in range(120)) + "."
    line = f"First short sentence. {long_sentence} Last short sentence here. " * 2
    parts = paragraph_parts(line.strip())
    assert long_sentence in parts
    assert " ".join(parts) == line.strip()


def test_a_heading_joins_the_first_part_of_a_long_paragraph() -> None:
    line = " ".join(f"Sentence {number} says the ceasefire held overnight in the south." for number in range(40))
    segments = segment_body(f"Short honeymoon\n{line}\nA closing paragraph.")
    assert segments[0].startswith("Short honeymoon\nSentence 0 ")
    assert segments[-1] == "A closing paragraph."
    assert " ".join([segments[0].removeprefix("Short honeymoon\n"), *segments[1:-1]]) == line


@pytest.mark.parametrize("divider", [".", "* * *", "---", "•", "…", "🔥"])
def test_a_divider_between_paragraphs_is_not_a_segment(divider: str) -> None:
    assert segment_body(f"Iran struck targets in Iraq overnight.\n{divider}\nTalks resume in Doha on Monday.") == [
        "Iran struck targets in Iraq overnight.",
        "Talks resume in Doha on Monday.",
    ]


def test_a_body_of_nothing_but_dividers_keeps_them() -> None:
    assert segment_body("!!!\n🔥 🔥") == ["!!!", "🔥 🔥"]
