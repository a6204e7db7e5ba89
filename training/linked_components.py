"""Which things are linked, directly or through others: connected components of a graph of two kinds of node
(headlines and bodies, groups and inputs), which held-out splits keep whole."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def linked_components(
    left: Sequence[str], right: Sequence[str], linked: Sequence[bool] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The component of each pair's left node and of its right node, in a graph whose edges link `left[i]` to
    `right[i]` where `linked[i]` (default: every pair). A left and a right node are two nodes whatever their names; a
    node of no linked pair is a component of its own. Components are numbered from 0."""
    left_codes, left_nodes = pd.factorize(pd.Series(left, dtype=object))
    right_codes, right_nodes = pd.factorize(pd.Series(right, dtype=object))
    right_codes = right_codes + len(left_nodes)
    edges = np.ones(len(left_codes), dtype=bool) if linked is None else np.asarray(linked, dtype=bool)
    size = len(left_nodes) + len(right_nodes)
    graph = coo_matrix((np.ones(int(edges.sum())), (left_codes[edges], right_codes[edges])), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    return component[left_codes], component[right_codes]
