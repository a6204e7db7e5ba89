"""classifiers/families/frozen_encoder.py: the frozen-encoder family's stance inputs, heads, stance descriptions and the
settings it refuses, on a tiny locally built encoder."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from classifiers.errors import UserInputError
from classifiers.families.frozen_encoder import FrozenEncoderClassifier, FrozenEncoderModel, PerTargetHeads
from classifiers.interface import load_predictor
from classifiers.mlp_head import BalancedMLPClassifier
from classifiers.registry import classifier_factory
from classifiers.target_context import TargetAliases

INPUTS = pd.DataFrame(
    {
        "text": ["Rockets hit the base.", "Ministers met for talks.", "Drones struck a convoy.", "Envoys signed a deal."],
        "target": ["Israel", "Iran", "Israel", "Iran"],
    }
)
LABELS = ["against", "favor", "against", "favor"]


def stance_classifier(config: FrozenEncoderModel) -> FrozenEncoderClassifier:
    """The config's untrained stance classifier, typed as the family's own class (the factory's is Trainable)."""
    classifier = classifier_factory(config, "stance", seed=0)()
    assert isinstance(classifier, FrozenEncoderClassifier)
    return classifier


def load_classifier(directory: Path) -> FrozenEncoderClassifier:
    """A saved classifier of this family, typed as its own class (load_predictor's is Predictor)."""
    loaded = load_predictor(directory)
    assert isinstance(loaded, FrozenEncoderClassifier)
    return loaded


def test_separate_stance_input_reads_the_target_apart_from_the_text(tiny_encoder: Path) -> None:
    config = FrozenEncoderModel(family="frozen_encoder", encoder=str(tiny_encoder), max_length=32, stance_input="separate")
    classifier = stance_classifier(config)
    features = classifier.features(INPUTS)
    text = classifier.encoder.encode(INPUTS[["text"]])
    target = classifier.encoder.encode(pd.DataFrame({"text": INPUTS["target"]}))
    assert np.allclose(features, np.hstack([text, target, text * target]), atol=1e-6)


def test_per_target_heads_serve_known_targets_and_the_shared_head_the_rest(tiny_encoder: Path) -> None:
    config = FrozenEncoderModel(
        family="frozen_encoder", encoder=str(tiny_encoder), max_length=32, stance_input="per_target", min_target_rows=3
    )
    texts = ["Rockets hit the base.", "Ministers met for talks.", "Drones struck a convoy.", "Envoys signed a deal."]
    inputs = pd.DataFrame({"text": texts * 2 + texts[:2], "target": ["Israel"] * 4 + ["Iran"] * 4 + ["Hamas"] * 2})
    labels = ["against", "favor", "against", "favor", "favor", "against", "favor", "against", "none", "none"]
    classifier = stance_classifier(config)
    with pytest.raises(NotFittedError, match="call fit first"):
        classifier.predict_proba(inputs)
    classifier.fit(inputs, labels)
    heads = classifier.head
    assert isinstance(heads, PerTargetHeads)
    # Hamas has two rows (under min_target_rows) and one label: no head of its own.
    assert sorted(heads.by_target) == ["iran", "israel"]
    query = pd.DataFrame({"text": texts[:2] * 3, "target": [" ISRAEL ", "Israel", "Iran", "Iran", "Hezbollah", "Hezbollah"]})
    probabilities = classifier.predict_proba(query)
    block = classifier.features(query)
    text = block[:, :32]
    # Israel's head knows against and favor only: none gets 0, the others its probabilities; case and spaces do not matter.
    columns = [classifier.labels.index(label) for label in heads.by_target["israel"].classes_]
    assert np.allclose(probabilities[:2][:, columns], heads.by_target["israel"].predict_proba(text[:2]))
    assert np.allclose(probabilities[:2, classifier.labels.index("none")], 0.0)
    # A target never seen in training takes the shared head over [text, target, text * target].
    assert heads.shared is not None
    assert np.allclose(probabilities[4:], heads.shared.predict_proba(block[4:]))
    assert classifier.labels == ["against", "favor", "none"]


def fitted_saved_and_loaded(
    classifier: FrozenEncoderClassifier, folder: Path
) -> tuple[FrozenEncoderClassifier, LogisticRegression]:
    """The classifier fitted on INPUTS, saved and loaded again, answering as it did; and its logistic-regression head."""
    classifier.fit(INPUTS, LABELS)
    classifier.save(folder)
    loaded = load_classifier(folder)
    assert isinstance(loaded.head, LogisticRegression)
    assert np.allclose(loaded.predict_proba(INPUTS), classifier.predict_proba(INPUTS), atol=1e-5)
    return loaded, loaded.head


def test_matching_features_add_the_distance_and_cosine_of_text_and_target(tiny_encoder: Path, tmp_path: Path) -> None:
    config = FrozenEncoderModel(
        family="frozen_encoder", encoder=str(tiny_encoder), max_length=32, stance_input="separate", matching_features=True
    )
    classifier = stance_classifier(config)
    text = classifier.encoder.encode(INPUTS[["text"]])
    target = classifier.encoder.encode(pd.DataFrame({"text": INPUTS["target"]}))
    cosine = [[float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))] for a, b in zip(text, target, strict=True)]
    expected = np.hstack([text, target, text * target, np.abs(text - target), cosine])
    assert np.allclose(classifier.features(INPUTS), expected, atol=1e-5)
    loaded, head = fitted_saved_and_loaded(classifier, tmp_path)
    assert loaded.matching_features and head.n_features_in_ == 4 * 32 + 1


def test_the_pair_embedding_adds_the_target_and_text_read_together(tiny_encoder: Path, tmp_path: Path) -> None:
    config = FrozenEncoderModel(
        family="frozen_encoder", encoder=str(tiny_encoder), max_length=32, stance_input="separate",
        matching_features=True, pair_embedding=True,
    )
    classifier = stance_classifier(config)
    pair = classifier.encoder.encode(INPUTS[["text", "target"]])
    features = classifier.features(INPUTS)
    assert features.shape == (len(INPUTS), 5 * 32 + 1)
    assert np.allclose(features[:, 4 * 32 + 1 :], pair, atol=1e-6)
    # Read together, the pair is not the text alone: the block holds something the text-and-target columns do not.
    assert not np.allclose(pair, features[:, :32], atol=1e-3)
    loaded, head = fitted_saved_and_loaded(classifier, tmp_path)
    assert loaded.pair_embedding and head.n_features_in_ == 5 * 32 + 1


def test_a_target_mask_adds_the_text_embedded_with_the_target_masked(tiny_encoder: Path, tmp_path: Path) -> None:
    config = FrozenEncoderModel(
        family="frozen_encoder", encoder=str(tiny_encoder), max_length=32, stance_input="separate", target_mask="X"
    )
    classifier = stance_classifier(config)
    inputs = pd.DataFrame(
        {
            "text": ["Washington backs Israel.", "Washington backs Israel.", "Ministers met for talks."],
            "target": ["Israel", "United States", "Iran"],
        }
    )
    encode = classifier.encoder.encode
    text = encode(inputs[["text"]])
    target = encode(pd.DataFrame({"text": inputs["target"]}))
    # The same paragraph reads differently toward each actor it names; a text that names no target keeps its own.
    masked = encode(pd.DataFrame({"text": ["Washington backs X.", "X backs Israel.", "Ministers met for talks."]}))
    assert np.allclose(classifier.features(inputs), np.hstack([text, target, text * target, masked]), atol=1e-6)
    assert not np.allclose(masked[0], masked[1]) and np.allclose(masked[2], text[2])
    classifier.fit(INPUTS, LABELS)
    classifier.save(tmp_path)
    loaded = load_classifier(tmp_path)
    assert isinstance(loaded.head, LogisticRegression)
    assert loaded.target_mask == "X" and loaded.head.n_features_in_ == 4 * 32
    assert np.allclose(loaded.predict_proba(inputs), classifier.predict_proba(inputs), atol=1e-6)

    # Aliases of the model's own (its experiment config's target_aliases) are masked too.
    classifier.target_aliases = TargetAliases.of({"Iran": ["Ministers"]})
    masked_too = encode(pd.DataFrame({"text": ["X met for talks."]}))
    assert np.allclose(classifier.features(inputs)[2, 3 * 32 :], masked_too[0], atol=1e-6)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"target_mask": "X", "stance_input": "pair"}, "target_mask needs the text embedded apart from the target"),
        ({"target_mask": "  "}, "give a word that stands for the target"),
        ({"target_mask": " X"}, "without leading or trailing spaces"),
        ({"matching_features": True, "stance_input": "pair"}, "matching_features needs the text embedded apart"),
        ({"pair_embedding": True, "stance_input": "pair"}, "pair_embedding needs the text embedded apart"),
        ({"min_target_rows": 20}, "min_target_rows is a setting of stance_input per_target, not of 'separate'"),
    ],
)
def test_a_setting_the_stance_input_would_ignore_is_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FrozenEncoderModel(family="frozen_encoder", **{"stance_input": "separate", **settings})


@pytest.mark.parametrize("setting", [{"target_mask": "X"}, {"matching_features": True}, {"pair_embedding": True}])
def test_target_settings_are_for_stance_only(tiny_encoder: Path, setting: dict[str, object]) -> None:
    config = FrozenEncoderModel(family="frozen_encoder", encoder=str(tiny_encoder), stance_input="separate", **setting)
    with pytest.raises(UserInputError, match=f"model.{next(iter(setting))} is a setting for stance models"):
        classifier_factory(config, "topic", seed=0)()


def test_mlp_head_fits_saves_and_loads(tiny_encoder: Path, tmp_path: Path) -> None:
    config = FrozenEncoderModel(
        family="frozen_encoder", encoder=str(tiny_encoder), max_length=32, stance_input="separate",
        matching_features=True, head="mlp", hidden_units=8,
    )
    classifier = stance_classifier(config)
    # Early stopping holds out 10% of the rows, stratified: repeat the four rows so both labels have some.
    inputs, labels = pd.concat([INPUTS] * 5, ignore_index=True), LABELS * 5
    classifier.fit(inputs, labels)
    assert isinstance(classifier.head, BalancedMLPClassifier)
    assert classifier.labels == ["against", "favor"] and classifier.head.networks_[0].hidden_layer_sizes == (8,)
    classifier.save(tmp_path)
    loaded = load_classifier(tmp_path)
    assert np.allclose(loaded.predict_proba(INPUTS), classifier.predict_proba(INPUTS), atol=1e-6)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"head": "mlp", "C": 10}, "C: a setting of head 'logreg', not of head 'mlp'"),
        ({"alpha": 0.1, "hidden_units": 64}, "alpha, hidden_units: a setting of head 'mlp', not of head 'logreg'"),
    ],
)
def test_a_setting_of_the_other_head_is_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FrozenEncoderModel(family="frozen_encoder", **settings)


def test_a_setting_of_the_other_head_is_told_how_to_set_it_aside() -> None:
    # A config with C: 10 switched to the mlp head by `model.head=mlp`: an override cannot delete C, only give it its
    # default, which counts as not set.
    expected = r"C: a setting of head 'logreg', not of head 'mlp': leave it out, or give it its default \(model\.C=1\.0\)"
    with pytest.raises(ValueError, match=expected):
        FrozenEncoderModel(family="frozen_encoder", head="mlp", C=10)
    assert FrozenEncoderModel(family="frozen_encoder", head="mlp", C=1.0).head == "mlp"


def test_the_mlp_head_has_its_own_epoch_default() -> None:
    assert FrozenEncoderModel(family="frozen_encoder").max_iter == 5000
    assert FrozenEncoderModel(family="frozen_encoder", head="mlp").max_iter == 200
    assert FrozenEncoderModel(family="frozen_encoder", head="mlp", max_iter=50).make_head(seed=0).max_iter == 50


STANCE_SENTENCES = {"favor": ["{target} is praised."], "against": ["{target} is condemned."]}


def test_stance_descriptions_mix_into_the_head_and_travel_with_the_model(tiny_encoder: Path, tmp_path: Path) -> None:
    settings = {"family": "frozen_encoder", "encoder": str(tiny_encoder), "max_length": 32, "stance_input": "separate"}
    plain = stance_classifier(FrozenEncoderModel(**settings))
    described_config = FrozenEncoderModel(**settings, stance_descriptions=STANCE_SENTENCES, description_weight=0.5)
    described = stance_classifier(described_config)
    plain.fit(INPUTS, LABELS)
    described.fit(INPUTS, LABELS)
    head = plain.predict_proba(INPUTS)
    assert described.descriptions is not None
    expected = described.descriptions.mix(described.encoder, described.encoder.encode(INPUTS[["text"]]),
                                           list(INPUTS["target"]), described.labels, head)
    mixed = described.predict_proba(INPUTS)
    assert np.allclose(mixed, expected, atol=1e-6) and not np.allclose(mixed, head)
    described.save(tmp_path)
    loaded = load_classifier(tmp_path)
    assert loaded.descriptions == described.descriptions
    assert np.allclose(loaded.predict_proba(INPUTS), mixed, atol=1e-6)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"description_weight": 0.3}, "description_weight is set but stance_descriptions are not"),
        ({"stance_descriptions": STANCE_SENTENCES}, "description_weight is 0"),
        ({"stance_descriptions": STANCE_SENTENCES, "description_weight": 1.0}, "less than 1"),
        ({"stance_descriptions": STANCE_SENTENCES, "description_weight": 0.3, "stance_input": "pair"}, "stance_input separate"),
        ({"stance_descriptions": {"favor": ["Israel is praised."]}, "description_weight": 0.3}, r"\{target\}"),
    ],
)
def test_inconsistent_stance_description_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FrozenEncoderModel(family="frozen_encoder", **{"stance_input": "separate", **settings})


def test_stance_descriptions_must_describe_exactly_the_data_labels_and_only_for_stance(tiny_encoder: Path) -> None:
    config = FrozenEncoderModel(
        family="frozen_encoder", encoder=str(tiny_encoder), stance_input="separate",
        stance_descriptions=STANCE_SENTENCES, description_weight=0.3,
    )
    config.check_labels(["against", "favor"])
    with pytest.raises(UserInputError, match="no sentences for label\\(s\\) none found in the data"):
        config.check_labels(["against", "favor", "none"])
    with pytest.raises(UserInputError, match="names label\\(s\\) favor that the data does not have"):
        config.check_labels(["against"])
    with pytest.raises(UserInputError, match="for stance models"):
        classifier_factory(config, "topic", seed=0)()
