"""Copies of one input kept on one side of every split, and left out of extra sources."""

import pandas as pd
import pytest

from training.input_copies import input_keys, join_groups_sharing_inputs, warn_of_conflicting_copies, without_copies_of


def test_inputs_compare_case_and_spacing_aside_and_a_stance_input_is_text_and_target() -> None:
    frame = pd.DataFrame({"text": ["Jets  struck.", "jets struck.", "Jets struck."], "target": ["Iran", "iran ", "Israel"]})
    keys = input_keys(frame, "stance")
    assert keys[0] == keys[1] != keys[2]
    assert input_keys(frame, "topic").nunique() == 1


def test_groups_sharing_an_input_become_the_first_ones_and_others_stay() -> None:
    frame = pd.DataFrame(
        {
            "text": ["a", "b", "c", "B", "d", "C", "e"],
            "group": ["g1", "g1", "g2", "g3", "g3", "g4", "g5"],
            "label": ["x"] * 7,
        }
    )
    joined, count = join_groups_sharing_inputs(frame, input_keys(frame, "topic"))
    # g3 shares "b" with g1; g4 shares "c" with g2; g5 shares nothing.
    assert joined["group"].tolist() == ["g1", "g1", "g2", "g1", "g1", "g2", "g5"]
    assert count == 2


def test_a_chain_of_shared_inputs_joins_every_group_in_it() -> None:
    frame = pd.DataFrame({"text": ["a", "b", "b", "c", "c", "a"], "group": ["g3", "g3", "g2", "g2", "g1", "g1"]})
    joined, count = join_groups_sharing_inputs(frame, input_keys(frame, "topic"))
    assert set(joined["group"]) == {"g3"} and count == 2


def test_data_without_copies_is_returned_as_it_is() -> None:
    frame = pd.DataFrame({"text": ["a", "a", "b"], "group": ["g1", "g1", "g2"]})
    joined, count = join_groups_sharing_inputs(frame, input_keys(frame, "topic"))
    assert joined is frame and count == 0


def test_an_extra_sources_copies_of_the_datas_inputs_are_left_out() -> None:
    data = pd.DataFrame({"text": ["Jets struck.", "Talks began."], "target": ["Iran", "Iran"]})
    extra = pd.DataFrame({"text": ["jets struck.", "Jets struck.", "New text."], "target": ["IRAN", "Israel", "Iran"]})
    kept, copies = without_copies_of(extra, "stance", set(input_keys(data, "stance")))
    assert kept["text"].tolist() == ["Jets struck.", "New text."] and copies == 1


def test_copies_labelled_differently_are_said(caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame(
        {
            "text": ["NATO expands.", "nato  expands.", "Talks began.", "Talks began."],
            "target": ["Russia"] * 4,
            "label": ["against", "favor", "none", "none"],
        }
    )
    assert warn_of_conflicting_copies(frame, input_keys(frame, "stance"), "ours.jsonl") == 1
    assert "ours.jsonl: 1 input(s) have rows of different labels (first: 'nato expands.' as against and favor)" in caplog.text
