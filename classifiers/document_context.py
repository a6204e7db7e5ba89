"""A segment read beside its neighbours: the segments of one article share their topic far more often than
not (94 of the 106 seed segments share it with a neighbour), so a model's probabilities for a segment are mixed
with those of the segments just before and after it in the same article."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def mix_neighbours(probabilities: np.ndarray, weight: float, documents: Iterable[object] | None = None) -> np.ndarray:
    """Each row's probabilities times (1 - weight), plus weight times the mean of its neighbours' (the rows just
    before and after it with the same document, rows of a document in reading order; all rows form one document
    when `documents` is None, and a row whose document is None is one of its own). A row alone in its document keeps
    its own."""
    if weight == 0 or len(probabilities) < 2:
        return probabilities
    # Any hashable names a document; numbering them keeps numpy from reading tuples as rows, and a row without a
    # document gets a number (negative) that no other row has.
    numbers: dict[object, int] = {}
    keys = np.zeros(len(probabilities), dtype=int)
    if documents is not None:
        keys = np.array([
            -1 - index if document is None else numbers.setdefault(document, len(numbers))
            for index, document in enumerate(documents)
        ])
    mixed = probabilities.copy()
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        if len(rows) < 2:
            continue
        own = probabilities[rows]
        # Sum and count of the (one or two) neighbours of each row of this document.
        total, count = np.zeros_like(own), np.zeros((len(rows), 1))
        total[1:] += own[:-1]
        total[:-1] += own[1:]
        count[1:] += 1
        count[:-1] += 1
        mixed[rows] = (1 - weight) * own + weight * total / count
    return mixed
