"""The article summary: topic distribution, target mentions, stance aggregated over the mentioning segments."""

from __future__ import annotations

import pytest

from classifiers.contract import Scored
from classifiers.target_context import mentions
from serving.article_analysis import mention_pairs, target_stance, topic_distribution

STANCES = ("against", "favor", "none")


def scored(label: str, probabilities: dict[str, float]) -> Scored:
    return Scored(label, probabilities[label], probabilities)


def test_topic_distribution_orders_by_count_then_label_order() -> None:
    topics = [scored(label, {label: 1.0}) for label in ("economy", "conflict", "economy")]

    shares = topic_distribution(topics, ("conflict", "diplomacy", "economy"))

    assert [(share.label, share.count) for share in shares] == [("economy", 2), ("conflict", 1), ("diplomacy", 0)]
    assert [share.share for share in shares] == pytest.approx([2 / 3, 1 / 3, 0.0])


def test_mentions_match_whole_aliases_like_the_stance_features() -> None:
    segments = ["Israeli troops advanced.", "Talks in Cairo.", "ISRAEL said no.", "Disraeli was a prime minister."]

    pairs = mention_pairs(segments, ["Israel", "the Houthi movement", "Cairo"])

    assert pairs == [(0, "Israel"), (2, "Israel"), (1, "Cairo")]


def test_a_segment_spelling_the_target_decomposed_mentions_it() -> None:
    segments = ["Tu\u0308rkiye condemned the strikes.", "Markets rose."]  # u and a combining diaeresis

    assert mention_pairs(segments, ["T\u00fcrkiye"]) == [(0, "T\u00fcrkiye")]


def test_a_word_that_only_starts_like_the_target_is_no_mention() -> None:
    segments = ["Shelling hit the city of Hama.", "Hamas rejected the plan.", "It was part of the state."]

    assert mention_pairs(segments, ["Hamas", "United States"]) == [(1, "Hamas")]


SEGMENTS = [
    "Israeli troops advanced.",
    "The Houthis fired at ships; the Houthi movement's leader spoke.",
    "Iran's envoy met the group in Doha.",
    "Isra said nothing. Unit 8200 and the IDF's unit_x.",
    "İstanbul talks: TÜRKİYE and the EU.",
    "The.",
    "",
    "Washington and the United Nations Security Council disagreed; the US abstained, the UN did not.",
    "An anti-Hamas protest; Hamasniks; HAMAS; the city of Hama.",
    "US forces struck Kataeb Hezbollah; Hezbollah was not hit. Kataib Hezbollah replied.",
    "Asa’ib Ahl al-Haq and Asa'ib Ahl al-Haq; Latin America; told us; used.",
]
TARGETS = [
    "Israel",
    "the Houthi movement",
    "Iran",
    "Isra",
    "The",
    "movement",
    "group",
    "United Nations",
    "US",
    "UN",
    "United States",
    "Türkiye",
    "istanbul",
    "Hamas",
    "Hezbollah",
    "Iraqi armed factions",
    "8200",
    "unit_x",
    "!!!",
]


def test_mention_pairs_agree_with_the_stance_features_mentions() -> None:
    """mention_pairs tokenises each segment once but must match exactly what `mentions` matches."""
    expected = [
        (position, target)
        for target in TARGETS
        for position, segment in enumerate(SEGMENTS)
        if mentions(segment, target)
    ]

    assert mention_pairs(SEGMENTS, TARGETS) == expected
    assert len(expected) > len(TARGETS)  # the cases do match, not only miss


def test_target_stance_is_the_mean_of_the_segment_probabilities() -> None:
    evidence = [
        (0, scored("against", {"against": 0.6, "favor": 0.1, "none": 0.3})),
        (3, scored("none", {"against": 0.4, "favor": 0.0, "none": 0.6})),
    ]

    stance = target_stance("Iran", evidence)

    assert stance.mentioned
    assert stance.label == "against"  # mean 0.5 beats none's 0.45
    assert stance.score == pytest.approx(0.5)
    assert stance.probabilities == pytest.approx({"against": 0.5, "favor": 0.05, "none": 0.45})
    assert [(entry.position, entry.label, entry.score) for entry in stance.segments] == [
        (0, "against", 0.6),
        (3, "none", 0.6),
    ]


def test_an_unmentioned_target_gets_no_stance() -> None:
    stance = target_stance("Hamas", [])

    assert (stance.mentioned, stance.label, stance.score, stance.probabilities, stance.segments) == (
        False,
        None,
        None,
        None,
        [],
    )
