"""The prediction-time embedding cache: bounded, and shared by encoders of the same weights."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classifiers.embedding_cache import RecentEmbeddings
from classifiers.encoder import MeanPooledEncoder

TEXTS = pd.DataFrame({"text": ["Jets struck the base.", "Ministers met for talks."]})


def test_the_least_recently_used_entry_goes_first() -> None:
    recent = RecentEmbeddings(capacity=2)
    recent.put_many({"a": np.zeros(1), "b": np.ones(1)})
    recent.get_many(["a"])  # "a" is now the most recent
    recent.put_many({"c": np.ones(1)})
    assert set(recent.get_many(["a", "b", "c"])) == {"a", "c"} and len(recent) == 2


def test_encoders_of_the_same_weights_share_what_they_embedded(tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = MeanPooledEncoder(tiny_encoder, max_length=32, batch_size=2)
    second = MeanPooledEncoder(tiny_encoder, max_length=32, batch_size=2)
    expected = first.encode(TEXTS)

    def never(*args: object) -> list[np.ndarray]:
        raise AssertionError("embedded again")

    monkeypatch.setattr(second, "_embed", never)
    assert np.array_equal(second.encode(TEXTS), expected)
    # other settings embed differently, so they do not share
    other = MeanPooledEncoder(tiny_encoder, max_length=8, batch_size=2)
    monkeypatch.setattr(other, "_embed", never)
    with pytest.raises(AssertionError, match="embedded again"):
        other.encode(TEXTS)
