import numpy as np
import pytest

from classifiers.document_context import mix_neighbours

# Three segments of one article: conflict, then diplomacy, then conflict again.
ARTICLE = np.array([[0.9, 0.1], [0.4, 0.6], [0.8, 0.2]])


def test_a_segment_takes_its_share_from_the_mean_of_the_segments_before_and_after_it() -> None:
    mixed = mix_neighbours(ARTICLE, 0.3)

    # The middle segment: 0.7 x its own + 0.3 x the mean of the first and the last.
    np.testing.assert_allclose(mixed[1], 0.7 * ARTICLE[1] + 0.3 * (ARTICLE[0] + ARTICLE[2]) / 2)
    assert mixed[1].argmax() == 0  # its neighbours outvote a weak diplomacy reading
    # The first and the last have one neighbour each.
    np.testing.assert_allclose(mixed[0], 0.7 * ARTICLE[0] + 0.3 * ARTICLE[1])
    np.testing.assert_allclose(mixed[2], 0.7 * ARTICLE[2] + 0.3 * ARTICLE[1])
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    np.testing.assert_array_equal(ARTICLE, [[0.9, 0.1], [0.4, 0.6], [0.8, 0.2]])  # the input is not changed


def test_segments_of_different_articles_do_not_mix() -> None:
    probabilities = np.vstack([ARTICLE, [[0.0, 1.0], [0.2, 0.8]]])
    documents = ["a", "a", "a", "b", "b"]

    mixed = mix_neighbours(probabilities, 0.5, documents)

    np.testing.assert_allclose(mixed[:3], mix_neighbours(ARTICLE, 0.5))
    np.testing.assert_allclose(mixed[3], [0.1, 0.9])  # 0.5 x its own + 0.5 x the one other segment of "b"
    np.testing.assert_allclose(mixed[4], [0.1, 0.9])


def test_neighbours_are_the_nearest_rows_of_the_same_document_in_order() -> None:
    # Two articles' segments interleaved: each row's neighbours are the rows of its own article around it.
    interleaved = np.array([ARTICLE[0], [0.0, 1.0], ARTICLE[1], [0.5, 0.5], ARTICLE[2]])

    mixed = mix_neighbours(interleaved, 0.3, ["a", "b", "a", "b", "a"])

    np.testing.assert_allclose(mixed[[0, 2, 4]], mix_neighbours(ARTICLE, 0.3))


@pytest.mark.parametrize(
    ("probabilities", "weight", "documents"),
    [(ARTICLE, 0.0, None), (ARTICLE[:1], 0.5, None), (ARTICLE, 0.5, ["a", "b", "c"])],
    ids=["weight 0", "one segment", "each segment its own document"],
)
def test_a_segment_without_neighbours_or_weight_keeps_its_probabilities(
    probabilities: np.ndarray, weight: float, documents: list[str] | None
) -> None:
    np.testing.assert_array_equal(mix_neighbours(probabilities, weight, documents), probabilities)


def test_any_hashable_names_a_document() -> None:
    probabilities = np.vstack([ARTICLE, [[0.0, 1.0]]])

    mixed = mix_neighbours(probabilities, 0.3, [("given", "a"), ("given", "a"), ("given", "a"), ("alone", 3)])

    np.testing.assert_allclose(mixed[:3], mix_neighbours(ARTICLE, 0.3))
    np.testing.assert_array_equal(mixed[3], [0.0, 1.0])


def test_a_row_without_a_document_is_read_alone() -> None:
    probabilities = np.vstack([ARTICLE[:2], [[0.0, 1.0]], ARTICLE[2:]])

    mixed = mix_neighbours(probabilities, 0.3, ["a", "a", None, "a"])

    np.testing.assert_allclose(mixed[[0, 1, 3]], mix_neighbours(ARTICLE, 0.3))
    np.testing.assert_array_equal(mixed[2], [0.0, 1.0])
    # Two rows without a document are not one document either.
    np.testing.assert_array_equal(mix_neighbours(ARTICLE[:2], 0.5, [None, None]), ARTICLE[:2])
