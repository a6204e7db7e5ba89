"""What names a target: whole-phrase aliases from the package's alias file, tried on the seed corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import classifiers
from classifiers.target_context import (
    ALIASES_FILE,
    TargetAliases,
    alias_table,
    conjoin,
    known_targets,
    mask_mentions,
    mentions,
    sentences,
    target_context,
    target_identity,
    target_names,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def seed_rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (SEEDS / name).read_text(encoding="utf-8").splitlines() if line.strip()]


# Sentences quoted from seeds/segments.jsonl (the id starts with the end of the segment id), and the
# target each one names by an alias.
TRUE_MENTIONS = [
    pytest.param(
        "Experts predict Baghdad could turn unfriendly to Washington if forces withdraw due to the rising tensions.",
        "United States",
        id="f47f4c-000 Washington",
    ),
    pytest.param(
        (
            "Two drones hit targets, and US and Israeli defenses had to intercept many others, according to "
            "American officials and the Israeli military."
        ),
        "United States",
        id="00f117-002 US, American",
    ),
    pytest.param(
        (
            "Two drones hit targets, and US and Israeli defenses had to intercept many others, according to "
            "American officials and the Israeli military."
        ),
        "Israel",
        id="00f117-002 Israeli",
    ),
    pytest.param(
        (
            "Faily explains, “If the Americans leave, Arab and foreign embassies might also depart, along with "
            "NATO forces, and Iraq could face sanctions as a country diverging from the international order.”"
        ),
        "United States",
        id="f47f4c-018 Americans",
    ),
    pytest.param(
        (
            "Israeli forces have blocked supply routes to the southern Lebanese border city of al-Khiam ahead of "
            "storming it."
        ),
        "Israel",
        id="1d5932-000 Israeli forces",
    ),
    pytest.param(
        (
            "Hezbollah’s al-Manar television said Israeli forces tried to carry out a new incursion towards "
            "Khiam’s northern neighborhoods."
        ),
        "Hezbollah",
        id="1d5932-008 Hezbollah’s",
    ),
    pytest.param(
        "Hizbullah fighters fired anti-tank missiles across the border.",
        "Hezbollah",
        id="spelling Hizbullah (not in the corpus)",
    ),
    pytest.param(
        (
            "Following the airstrike, the Iraqi government vowed to “protect the Iraqi people” and labeled the "
            "attack on the army and Popular Mobilization Forces (PMF) as “aggressive.”"
        ),
        "Iraqi armed factions",
        id="f47f4c-001 Popular Mobilization Forces",
    ),
    pytest.param(
        "In Al-Qaim, one member of the PMF was reported dead.",
        "Iraqi armed factions",
        id="f47f4c-008 PMF",
    ),
    pytest.param(
        (
            "On Wednesday, US forces targeted Kataeb Hezbollah sites in response to attacks by the Iranian-backed"
            " militia, including the assault on the Ain Al-Asad Air Base on January 20."
        ),
        "Iraqi armed factions",
        id="f47f4c-003 Kataeb Hezbollah",
    ),
    pytest.param(
        (
            "Head of the pro-Iran Asa'ib Ahl al-Haq Qais al-Khazali said on a post on the X platform that his "
            "movement was “closely monitoring the developments and was ready” for any action."
        ),
        "Iraqi armed factions",
        id="860f91-010 Asa'ib Ahl al-Haq",
    ),
    pytest.param(
        (
            "Furthermore, reports have suggested that Iran has reduced its military presence in Syria due to "
            "increased Israeli airstrikes targeting Iranian forces and commanders since the start of the Israel-"
            "Hamas conflict in Gaza."
        ),
        "Hamas",
        id="caf2a2-006 Israel-Hamas",
    ),
    pytest.param(
        "On Thursday, Yemen’s Houthi group claimed drone attacks on Haifa port.",
        "Houthis",
        id="00f117-001 Houthi",
    ),
    pytest.param(
        (
            "Araghchi, along with his delegation, met with Syrian President Bashar al-Assad and other top "
            "officials, including Prime Minister Mohammad Ghazi Jalali and Foreign Minister Bassam Sabbagh."
        ),
        "Assad government",
        id="caf2a2-001 al-Assad",
    ),
    pytest.param(
        (
            "Araghchi, along with his delegation, met with Syrian President Bashar al-Assad and other top "
            "officials, including Prime Minister Mohammad Ghazi Jalali and Foreign Minister Bassam Sabbagh."
        ),
        "Iran",
        id="caf2a2-001 Araghchi",
    ),
    pytest.param(
        "He added: “Tehran always had direct contacts with the Syrian opposition delegation.",
        "Iran",
        id="a9d90a-004 Tehran",
    ),
    pytest.param(
        "He added: “Tehran always had direct contacts with the Syrian opposition delegation.",
        "Syrian opposition",
        id="a9d90a-004 Syrian opposition",
    ),
    pytest.param(
        "Iran remains one of the few countries criticized by Ahmed al-Sharaa, the Hayat Tahrir al-Sham (HTS) leader.",
        "Syrian opposition",
        id="a9d90a-006 al-Sharaa, HTS",
    ),
    pytest.param(
        (
            "Many Iranian officials are claiming the current victory lap being enjoyed by Türkiye in Syria may be"
            " brief as Ankara’s interests will start to diverge from the government led by the HTS."
        ),
        "Türkiye",
        id="a9d90a-007 Türkiye, Ankara’s",
    ),
    pytest.param(
        "ANKARA AND TÜRKİYE",
        "Türkiye",
        id="capitals TÜRKİYE",
    ),
    pytest.param(
        (
            "Saied, elected in 2019, seized most powers in 2021 when he dissolved the elected parliament and "
            "rewrote the constitution, a move the opposition described as a coup."
        ),
        "Kais Saied",
        id="cda92b-004 Saied",
    ),
]

# Word prefixes, single words of multi-word targets, words that only look like an acronym, and
# longer names that contain a target's name.
FALSE_MENTIONS = [
    pytest.param(
        "Government forces shelled the city of Hama overnight.",
        "Hamas",
        id="Hama is not Hamas",
    ),
    pytest.param(
        "The district was part of the state for a century.",
        "United States",
        id="state is not United States",
    ),
    pytest.param(
        "The Tunisian government denied the report.",
        "Assad government",
        id="Tunisian government is not Assad government",
    ),
    pytest.param(
        "Salaries are paid in the Iraqi dinar.",
        "Iraqi armed factions",
        id="Iraqi dinar is not Iraqi armed factions",
    ),
    pytest.param(
        "In fact, a military unit was moved north.",
        "Iraqi armed factions",
        id="fact is not factions",
    ),
    pytest.param(
        "In fact, a military unit was moved north.",
        "United States",
        id="unit is not United States",
    ),
    pytest.param(
        "The talks took place under heavy guard.",
        "UN",
        id="under is not UN",
    ),
    pytest.param(
        "Cruise missiles, used more frequently since May, are harder to destroy.",
        "US",
        id="used is not US",
    ),
    pytest.param(
        "Cruise missiles, used more frequently since May, are harder to destroy.",
        "United States",
        id="used is not United States",
    ),
    pytest.param(
        "The minister told us nothing new.",
        "United States",
        id="us is not US",
    ),
    pytest.param(
        "Disraeli was a prime minister.",
        "Israel",
        id="Disraeli is not Israel",
    ),
    pytest.param(
        (
            "On Wednesday, US forces targeted Kataeb Hezbollah sites in response to attacks by the Iranian-backed"
            " militia, including the assault on the Ain Al-Asad Air Base on January 20."
        ),
        "Hezbollah",
        id="f47f4c-003 Kataeb Hezbollah is not Hezbollah",
    ),
    pytest.param(
        (
            "Last Saturday, the US military disclosed that Iran-backed factions launched “multiple ballistic "
            "missiles” at Ain Al-Asad, causing one Iraqi casualty and potential injuries among US forces."
        ),
        "Assad government",
        id="f47f4c-005 Al-Asad is not Assad",
    ),
    pytest.param(
        "Exports to Latin America rose.",
        "United States",
        id="Latin America is not the United States",
    ),
    pytest.param(
        "The Iraqi government and the Coordination Framework met.",
        "Iraqi armed factions",
        id="Iraqi government is not Iraqi armed factions",
    ),
    pytest.param(
        "Climate activists marched in Berlin.",
        "Climate Change is a Real Concern",
        id="a free-text target only as a whole phrase",
    ),
]


def test_sentences_split_on_sentence_ends_and_line_breaks() -> None:
    text = "Assad praised Iran. He met U.S. envoys? “Yes,” he said.\nHeading"
    assert sentences(text) == ["Assad praised Iran.", "He met U.S. envoys?", "“Yes,” he said.", "Heading"]


@pytest.mark.parametrize(("text", "target"), TRUE_MENTIONS)
def test_an_alias_of_the_target_is_a_mention(text: str, target: str) -> None:
    assert mentions(text, target)


@pytest.mark.parametrize(("text", "target"), FALSE_MENTIONS)
def test_text_that_does_not_name_the_target_is_no_mention(text: str, target: str) -> None:
    assert not mentions(text, target)


def test_acronyms_keep_their_case_and_other_aliases_ignore_it() -> None:
    assert mentions("The U.S. envoy left.", "United States")
    assert mentions("NATO met.", "NATO") and not mentions("nato met.", "NATO")
    assert mentions("THE ISRAELI ARMY", "Israel") and mentions("israeli army", "Israel")


def test_an_excluded_phrase_hides_only_its_own_occurrence() -> None:
    assert not mentions("Kataib Hezbollah and the Hezbollah Brigades fired.", "Hezbollah")
    assert mentions("Kataeb Hezbollah and Lebanon's Hezbollah fired.", "Hezbollah")
    assert mentions("The Washington Post said Washington agreed.", "United States")
    assert not mentions("The Washington Post said so.", "United States")


def test_a_free_text_target_is_named_by_itself_as_a_whole_phrase() -> None:
    target = "Climate Change is a Real Concern"
    assert target_names(target).aliases == (target,)
    assert mentions("Many say climate change is a real\nconcern.", target)
    assert not mentions("!!!", "!!!")  # a target without a letter or digit is never named


def test_known_targets_are_looked_up_regardless_of_case_and_spacing() -> None:
    assert mentions("Washington said no.", "united  states")


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("Iran", "iran", True),
        ("Iran", " Iran  ", True),
        ("Climate change", "climate  CHANGE", True),
        ("United States", "united states", True),
        ("US", "us", False),  # an all-caps name is matched in its case: "us" is found in "Let us go"
        ("Israel", "Israeli", False),
    ],
)
def test_targets_that_find_the_same_mentions_share_an_identity(first: str, second: str, same: bool) -> None:
    assert (target_identity(first) == target_identity(second)) is same
    text = "Let us go, said the Israeli envoy; iran and the US disagree on climate change."
    if same:
        assert mask_mentions(text, first, "X") == mask_mentions(text, second, "X")


def test_every_seed_target_has_aliases_including_its_own_name() -> None:
    targets = {stance["target"] for label in seed_rows("labels.jsonl") for stance in label["stances"]}
    assert len(targets) == 11
    for target in targets:
        assert target_names(target).aliases[0] == target
        assert len(target_names(target).aliases) > 1
    assert set(json.loads(ALIASES_FILE.read_text(encoding="utf-8"))) == targets
    assert len(alias_table()) == len(targets)
    assert ALIASES_FILE.parent == Path(classifiers.__file__).parent  # travels with the package (code_paths)


def test_on_the_seed_corpus_every_mention_is_a_labelled_target() -> None:
    """The word-prefix rule found 38 unlabelled (segment, target) mentions here; the aliases find one."""
    labels = {row["segment_id"]: {stance["target"] for stance in row["stances"]} for row in seed_rows("labels.jsonl")}
    unlabelled = {
        (segment["segment_id"], target)
        for segment in seed_rows("segments.jsonl")
        for target in json.loads(ALIASES_FILE.read_text(encoding="utf-8"))
        if mentions(segment["text"], target) and target not in labels[segment["segment_id"]]
    }
    # Araghchi (Iran's foreign minister) is named, but the annotators gave that segment no Iran row.
    assert unlabelled == {("assad-to-araghchi-iranian-response-to-caf2a2-007", "Iran")}


def test_context_keeps_mention_sentences_and_their_neighbours() -> None:
    text = "One about Iran. Two is neutral. Three is neutral. Four about Israel."
    assert target_context(text, "Iran", window=0) == "One about Iran."
    assert target_context(text, "Iran", window=1) == "One about Iran. Two is neutral."
    assert target_context(text, "Hamas") == text  # no mention: the whole text


def test_context_finds_a_target_by_alias_and_not_by_prefix() -> None:
    text = "Shelling hit the city of Hama. Washington condemned it. Prices rose."
    assert target_context(text, "United States", window=0) == "Washington condemned it."
    assert target_context(text, "Hamas", window=0) == text  # "Hama" is no mention: the whole text


def test_conjoin_tags_context_words_with_the_target() -> None:
    assert conjoin("United States", "US strikes") == "united_states|us united_states|strikes"


def test_masking_replaces_every_mention_of_the_target_and_nothing_else() -> None:
    text = "Washington reaffirmed strong support for Israel; US and Israeli officials met. Tell us more."
    assert mask_mentions(text, "Israel", "X") == "Washington reaffirmed strong support for X; US and X officials met. Tell us more."
    assert mask_mentions(text, "United States", "X") == "X reaffirmed strong support for Israel; X and Israeli officials met. Tell us more."
    assert mask_mentions(text, "Iran", "X") == text  # no mention: the text as it is


def test_masking_leaves_excluded_phrases_and_word_prefixes_alone() -> None:
    text = "Kataeb Hezbollah fired; Hezbollah denied it. Shelling hit Hama, Hamas said."
    assert mask_mentions(text, "Hezbollah", "X") == "Kataeb Hezbollah fired; X denied it. Shelling hit Hama, Hamas said."
    assert mask_mentions(text, "Hamas", "the group") == "Kataeb Hezbollah fired; Hezbollah denied it. Shelling hit Hama, the group said."


def test_masking_a_free_text_target_replaces_the_whole_phrase_in_any_case() -> None:
    text = "Gun control works. GUN\nCONTROL now, say the gun-control groups."
    assert mask_mentions(text, "gun control", "X") == "X works. X now, say the gun-control groups."


def test_a_name_matches_whatever_its_unicode_composition() -> None:
    # "ü" typed as one character (NFC) or as u and a combining diaeresis (NFD), as text copied from macOS spells it.
    composed_name, decomposed_name = "T\u00fcrkiye", "Tu\u0308rkiye"
    text = f"{decomposed_name} condemned the strikes; Ankara recalled its ambassador."
    assert mentions(text, composed_name) and mentions(f"{composed_name} condemned it.", decomposed_name)
    assert mentions("Protests in Mu\u0308nchen grew.", "M\u00fcnchen")  # a free-text target too
    assert mask_mentions(text, composed_name, "X") == "X condemned the strikes; X recalled its ambassador."
    assert target_identity(decomposed_name) == target_identity(composed_name)


def test_a_name_typed_without_its_accents_finds_it_with_them_and_the_other_way() -> None:
    # A client's "Erdogan" missed "Erdoğan" in an article; "Turkiye" is Türkiye, whose aliases it now has.
    assert mentions("Erdo\u011fan vowed to respond.", "Erdogan")
    assert mask_mentions("Erdo\u011fan vowed to respond.", "Erdogan", "X") == "X vowed to respond."
    assert mentions("Ankara recalled its envoy.", "Turkiye") and target_identity("Turkiye") == target_identity("T\u00fcrkiye")
    assert mentions("Protests in Munchen grew.", "M\u00fcnchen")
    # Letters Unicode gives no base letter stay as they are, and the text keeps its length: masks cut it by offsets.
    assert not mentions("Lodz", "\u0141\u00f3d\u017a") and mentions("\u0141odz", "\u0141\u00f3d\u017a")
    assert mask_mentions("In \u00c7anakkale, \u0130zmir and Izmir.", "Izmir", "X") == "In \u00c7anakkale, X and X."


def test_a_models_own_aliases_name_a_free_text_target_and_add_to_a_shipped_one() -> None:
    own = TargetAliases.of({"Russia": ["Moscow", "the Kremlin"], "iran": ["Persian Gulf state"]})
    text = "The Kremlin warned Kyiv. Moscow later denied it."

    assert not mentions(text, "Russia")  # shipped: a free-text target is named only by itself
    assert mentions(text, "Russia", own) and mentions(text, "RUSSIA ", own)  # looked up as targets are
    assert mask_mentions(text, "Russia", "X", own) == "X warned Kyiv. X later denied it."
    assert target_context("Markets fell. The Kremlin warned Kyiv. Oil rose.", "Russia", 0, own) == "The Kremlin warned Kyiv."
    # A shipped target keeps its aliases and exclusions, and gains the model's.
    assert mentions("A Persian Gulf state said so.", "Iran", own) and not mentions("A Persian Gulf state said so.", "Iran")
    assert mentions("Tehran said so.", "Iran", own)
    assert not mentions("Kataeb Hezbollah fired.", "Hezbollah", TargetAliases.of({"Hezbollah": ["Nasrallah"]}))
    # Two models' tables do not share compiled matchers.
    assert not mentions(text, "Russia", TargetAliases.of({"Russia": ["Russian"]}))


def test_a_models_aliases_read_back_as_they_were_saved() -> None:
    own = TargetAliases.of({"Türkiye": ["Turkey", "Ankara"], "türkiye": ["Ankara", "Erdogan"]})
    assert own.as_dict() == {"turkiye": ["Turkey", "Ankara", "Erdogan"]}  # one target, whatever its case and accents
    assert TargetAliases.of(own.as_dict()) == own
    assert hash(own) == hash(TargetAliases.of(own.as_dict()))


def test_known_targets_give_every_name_each_target_is_found_by() -> None:
    table = json.loads(ALIASES_FILE.read_text(encoding="utf-8"))
    extra = TargetAliases.of({"Iran": ["Persian Gulf state"], "Russia": ["Moscow"]})

    known = known_targets(extra)

    assert list(known) == [*table, "russia"]  # the table's names as it spells them, then the model's own targets
    assert known["Israel"] == list(dict.fromkeys(["Israel", *table["Israel"]["aliases"]]))
    assert known["Iran"] == list(dict.fromkeys(["Iran", *table["Iran"]["aliases"], "Persian Gulf state"]))
    assert known["russia"] == ["russia", "Moscow"]
    assert all(mentions(f"Reports from {name} today.", target, extra) for target, names in known.items() for name in names)
