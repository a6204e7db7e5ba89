from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.config.schema import PairFeaturesModel
from training.errors import UserInputError
from training.models.base import load_classifier
from training.models.families import classifier_factory
from training.models.pair_features import PairFeaturizer

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


def test_related_pairs_score_higher_on_relatedness_features() -> None:
    config = PairFeaturesModel(family="pair_features", encoder=None, svd_components=2)
    featurizer = PairFeaturizer(config, seed=0).fit(PAIRS)
    features = featurizer.transform(PAIRS, encoder=None)
    names = featurizer.feature_names(encoder=None)
    assert features.shape == (len(PAIRS), len(names))
    for name in ("target_words_in_text", "tfidf_cosine", "best_sentence_cosine"):
        column = names.index(name)
        assert features[0, column] > features[2, column], name  # meteor headline: meteor body vs apple body
    refuting = names.index("text_refuting")
    assert features[1, refuting] > features[0, refuting]  # the hoax body refutes


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
    assert probabilities.shape[1] == 4
    featurizer = classifier.featurizer  # type: ignore[attr-defined]
    assert featurizer.transform(PAIRS, classifier.encoder).shape[1] == len(featurizer.feature_names(classifier.encoder))  # type: ignore[attr-defined]
    classifier.save(tmp_path)
    loaded = load_classifier(tmp_path)
    assert loaded.family == "pair_features"
    assert np.allclose(loaded.predict_proba(PAIRS), probabilities, atol=1e-5)


def test_pair_features_refuse_the_topic_task() -> None:
    with pytest.raises(UserInputError, match="use it for stance"):
        classifier_factory(PairFeaturesModel(family="pair_features", encoder=None), "topic", seed=0)
