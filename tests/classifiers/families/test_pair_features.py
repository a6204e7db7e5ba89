from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classifiers.errors import UserInputError
from classifiers.families.pair_features import PairFeaturesModel, PairFeaturizer
from classifiers.interface import TextReading, load_predictor
from classifiers.registry import classifier_factory

BODY_METEOR = "A meteorite crashed near Managua. Officials confirmed the crater. Residents heard a boom."
BODY_HOAX = "Experts say the meteorite story is a hoax. The crater photos were fake. No meteorite fell."
BODY_APPLE = "Apple is in talks with HBO about a streaming deal. Terms were not disclosed."
PAIRS = pd.DataFrame(
    {
        "text": [BODY_METEOR, BODY_HOAX, BODY_APPLE, BODY_METEOR, BODY_HOAX, BODY_APPLE] * 2,
        "target": ["Meteorite crashes in Managua", "Meteorite crashes in Managua", "Meteorite crashes in Managua",
                   "Apple and HBO talk streaming", "Apple and HBO talk streaming", "Apple and HBO talk streaming"] * 2,
    }
)
LABELS = ["agree", "disagree", "unrelated", "unrelated", "unrelated", "discuss"] * 2


# Columns of PairFeaturizer.transform: 11 relatedness features, then 5 cue rates each for target, text, top sentences.
TFIDF_COSINE, BEST_SENTENCE_COSINE, TARGET_WORDS_IN_TEXT, TEXT_REFUTING = 0, 1, 4, 11 + 5
LEXICAL_COLUMNS = 11 + 3 * 5


def test_related_pairs_score_higher_on_relatedness_features() -> None:
    config = PairFeaturesModel(family="pair_features", encoder=None, svd_components=2)
    featurizer = PairFeaturizer(config, seed=0).fit(PAIRS)
    features = featurizer.transform(PAIRS, encoder=None)
    assert features.shape == (len(PAIRS), LEXICAL_COLUMNS + 1 + 2 * 2)  # + SVD cosine, target and text SVD
    for column in (TARGET_WORDS_IN_TEXT, TFIDF_COSINE, BEST_SENTENCE_COSINE):
        assert features[0, column] > features[2, column], column  # meteor headline: meteor body vs apple body
    assert features[1, TEXT_REFUTING] > features[0, TEXT_REFUTING]  # the hoax body refutes


def test_svd_components_are_lowered_to_fit_a_small_vocabulary(caplog: pytest.LogCaptureFixture) -> None:
    config = PairFeaturesModel(family="pair_features", encoder=None, svd_components=100)
    featurizer = PairFeaturizer(config, seed=0).fit(PAIRS)
    n_terms = len(featurizer.vectorizer.vocabulary_)
    assert n_terms < 100
    assert featurizer.svd.n_components == n_terms - 1
    assert f"svd_components 100 is lowered to {n_terms - 1}" in caplog.text
    assert featurizer.transform(PAIRS, encoder=None).shape == (len(PAIRS), LEXICAL_COLUMNS + 1 + 2 * (n_terms - 1))


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["alpha beta", "gamma delta"], "no vocabulary in 4 training texts"),
        (["alpha beta", "alpha delta"], "share only 1 term"),
    ],
    ids=["no-term", "one-term"],
)
def test_too_small_a_vocabulary_is_a_clear_error(texts: list[str], expected: str) -> None:
    config = PairFeaturesModel(family="pair_features", encoder=None)
    pairs = pd.DataFrame({"text": texts, "target": ["epsilon", "zeta"]})
    with pytest.raises(UserInputError, match=expected):
        PairFeaturizer(config, seed=0).fit(pairs)


@pytest.mark.parametrize("with_encoder", [False, True], ids=["lexical", "with-encoder"])
def test_fit_predict_save_load(tiny_encoder: Path, tmp_path: Path, with_encoder: bool) -> None:
    config = PairFeaturesModel(
        family="pair_features", encoder=str(tiny_encoder) if with_encoder else None, svd_components=2, max_iter=5
    )
    classifier = classifier_factory(config, "stance", seed=0)()
    classifier.fit(PAIRS, LABELS)
    assert classifier.labels == ["agree", "disagree", "discuss", "unrelated"]
    probabilities = classifier.predict_proba(PAIRS)
    assert probabilities.shape == (len(PAIRS), 4)
    classifier.save(tmp_path)
    loaded = load_predictor(tmp_path)
    assert loaded.family == "pair_features"
    assert np.allclose(loaded.predict_proba(PAIRS), probabilities, atol=1e-5)
    # Its TF-IDF and cue features read every word; an encoder reads each sentence to max_length.
    assert loaded.reading() == TextReading(whole=True, max_length=config.max_length if with_encoder else None)


def test_pair_features_refuse_the_topic_task() -> None:
    with pytest.raises(UserInputError, match="the pair_features family does not do topic"):
        classifier_factory(PairFeaturesModel(family="pair_features", encoder=None), "topic", seed=0)


def test_claim_cues_add_refutation_near_the_target_words() -> None:
    plain = PairFeaturesModel(family="pair_features", encoder=None, svd_components=2)
    cued = PairFeaturesModel(family="pair_features", encoder=None, svd_components=2, claim_cues=True)
    base = PairFeaturizer(plain, seed=0).fit(PAIRS).transform(PAIRS, encoder=None)
    features = PairFeaturizer(cued, seed=0).fit(PAIRS).transform(PAIRS, encoder=None)
    assert features.shape == (len(PAIRS), base.shape[1] + 10)
    near_refuting = LEXICAL_COLUMNS  # share of target-word mentions with a refuting word close by
    # the hoax body refutes the meteorite claim next to its words; the confirming body does not
    assert features[1, near_refuting] > 0 == features[0, near_refuting]
    assert np.allclose(features[:, :LEXICAL_COLUMNS], base[:, :LEXICAL_COLUMNS])


def test_svd_coordinates_can_be_left_out_keeping_the_cosine() -> None:
    with_coordinates = PairFeaturesModel(family="pair_features", encoder=None, svd_components=2)
    without = PairFeaturesModel(family="pair_features", encoder=None, svd_components=2, svd_coordinates=False)
    full = PairFeaturizer(with_coordinates, seed=0).fit(PAIRS).transform(PAIRS, encoder=None)
    cosine_only = PairFeaturizer(without, seed=0).fit(PAIRS).transform(PAIRS, encoder=None)
    assert cosine_only.shape == (len(PAIRS), LEXICAL_COLUMNS + 1)
    assert np.allclose(cosine_only, full[:, : LEXICAL_COLUMNS + 1])
