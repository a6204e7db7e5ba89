"""Copies of one input in the data: kept on one side of every split, so no held-out figure scores a seen input.

A corpus may hold one text twice (BBC News holds 64 articles twice, under two file names): split apart, the copy in
training gives its twin's label away and inflates the held-out figures. Inputs (the text, and for stance the target)
are compared as a reader would, case and spacing aside.
"""

from __future__ import annotations

import logging

import pandas as pd

from classifiers.contract import REQUIRED_COLUMNS
from training.linked_components import linked_components

logger = logging.getLogger(__name__)


def input_keys(frame: pd.DataFrame, task: str) -> pd.Series:
    """Each row's input as one string, case-folded with its spacing collapsed."""
    keys = pd.Series([""] * len(frame), index=frame.index)
    for position, column in enumerate(REQUIRED_COLUMNS[task]):
        part = frame[column].astype(str).str.split().str.join(" ").str.casefold()
        keys = part if position == 0 else keys + "\x1f" + part
    return keys


def join_groups_sharing_inputs(frame: pd.DataFrame, keys: pd.Series) -> tuple[pd.DataFrame, int]:
    """The frame with every two groups that share an input (`keys`: its rows' `input_keys`) made one (under the name of
    the one that comes first), and how many groups were joined into another."""
    groups = frame["group"].astype(str)
    component, _ = linked_components(groups.tolist(), keys.tolist())
    # Each component is named after its group that comes first.
    first = pd.Series(groups.to_numpy()).groupby(component).first()
    joined = groups.nunique() - len(first)
    if not joined:
        return frame, 0
    return frame.assign(group=first[component].to_numpy()), joined


def without_copies_of(extra: pd.DataFrame, task: str, data_keys: set[str]) -> tuple[pd.DataFrame, int]:
    """An extra source's rows less those whose input is one of the data's (`data_keys`: their `input_keys`; on every
    fold's training side they would give the held-out row's label away, and the data's own copy trains the final
    model), and how many were left out."""
    copies = input_keys(extra, task).isin(data_keys)
    return extra[~copies].reset_index(drop=True), int(copies.sum())


def warn_of_conflicting_copies(frame: pd.DataFrame, keys: pd.Series, source: str) -> int:
    """Say where one input (`keys`: the rows' `input_keys`) has rows of different labels (a labelling slip, or a
    reprint labelled twice), and how many such inputs there are; both rows stay, and the model learns from both."""
    labels = frame.groupby(keys.to_numpy())["label"].agg(lambda found: sorted(set(found)))
    conflicting = labels[labels.map(len) > 1]
    if len(conflicting):
        key, found = conflicting.index[0], conflicting.iloc[0]
        logger.warning(
            "%s: %d input(s) have rows of different labels (first: %r as %s): a labelling slip, or a copy labelled twice?",
            source, len(conflicting), key.split("\x1f")[0][:80], " and ".join(found),
        )
    return len(conflicting)
