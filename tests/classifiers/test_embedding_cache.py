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


def test_encoders_reading_long_texts_differently_share_only_the_texts_within_one_window(tiny_encoder: Path) -> None:
    # The topic default reads long texts whole and the stance default cuts them: a text of one window embeds alike in
    # both, so the second reuses it; a longer one does not.
    whole = MeanPooledEncoder(tiny_encoder, max_length=16, batch_size=2, long_texts="windows")
    cut = MeanPooledEncoder(tiny_encoder, max_length=16, batch_size=2, long_texts="truncate")
    short, long = "Jets struck the base.", " ".join(["Ministers met for talks in the capital again."] * 6)
    embedded: list[list[str]] = []
    for encoder in (whole, cut):
        embed = encoder._embed

        def counted(keys: list[tuple[str, str | None]], progress: bool, embed=embed) -> tuple[list[np.ndarray], list[bool]]:
            embedded.append([text for text, _ in keys])
            return embed(keys, progress)

        encoder._embed = counted  # type: ignore[method-assign]
    frame = pd.DataFrame({"text": [short, long]})

    whole_vectors = whole.encode(frame)
    cut_vectors = cut.encode(frame)

    assert embedded == [[short, long], [long]]
    np.testing.assert_array_equal(cut_vectors[0], whole_vectors[0])
    assert float(cut_vectors[1] @ whole_vectors[1]) < 0.9999
    # Each reading finds its own embedding of the long text again.
    assert np.array_equal(whole.encode(frame), whole_vectors) and np.array_equal(cut.encode(frame), cut_vectors)
    assert embedded == [[short, long], [long]]
