"""The descriptions family on a tiny locally built encoder: prototypes, zero-shot, bad descriptions."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from classifiers.errors import UserInputError
from classifiers.families.descriptions import DescriptionClassifier, DescriptionsModel
from classifiers.interface import Trainable, load_predictor
from classifiers.registry import classifier_factory

DESCRIPTIONS = {
    "conflict": ["Armed attacks, strikes and fighting."],
    "diplomacy": ["Talks and meetings between states.", "A minister visits another country."],
}
TEXTS = pd.DataFrame({"text": ["Jets struck the base.", "The envoys met in Cairo.", "Rockets hit a town.", "Talks resumed."]})
LABELS = ["conflict", "diplomacy", "conflict", "diplomacy"]


def model(tiny_encoder: Path, **changes: object) -> DescriptionsModel:
    config = DescriptionsModel(family="descriptions", descriptions=DESCRIPTIONS, encoder=str(tiny_encoder), max_length=32)
    return config.model_copy(update=changes)


def test_fits_predicts_saves_and_loads(tiny_encoder: Path, tmp_path: Path) -> None:
    classifier = classifier_factory(model(tiny_encoder), "topic", seed=0)()
    classifier.fit(TEXTS, LABELS)
    assert classifier.labels == ["conflict", "diplomacy"]
    probabilities = classifier.predict_proba(TEXTS)
    assert probabilities.shape == (4, 2) and np.allclose(probabilities.sum(axis=1), 1.0)
    classifier.save(tmp_path)
    loaded = load_predictor(tmp_path)
    assert (loaded.family, loaded.labels) == ("descriptions", ["conflict", "diplomacy"])
    assert np.allclose(loaded.predict_proba(TEXTS), probabilities, atol=1e-5)


def test_zero_shot_uses_no_labelled_row_and_may_add_a_label(tiny_encoder: Path) -> None:
    config = model(tiny_encoder, description_weight=1.0, descriptions={**DESCRIPTIONS, "economy": ["Oil prices and trade."]})
    zero_shot = classifier_factory(config, "topic", seed=0)
    first, second = zero_shot(), zero_shot()
    first.fit(TEXTS, LABELS)
    second.fit(TEXTS.iloc[:2], ["diplomacy", "conflict"])  # other rows, other labels: same model
    assert first.labels == ["conflict", "diplomacy", "economy"]
    assert np.allclose(first.predict_proba(TEXTS), second.predict_proba(TEXTS))


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def expected_prototypes(classifier: Trainable, weight: float, sample_weight: np.ndarray) -> np.ndarray:
    """unit(weight * unit(mean description embedding) + (1 - weight) * unit(weighted mean row embedding)), per label."""
    assert isinstance(classifier, DescriptionClassifier)
    encode = classifier.encoder.encode  # the classifier's own frozen encoder, so only the mixing is under test
    prototypes = []
    for label in sorted(DESCRIPTIONS):
        description = _unit(encode(pd.DataFrame({"text": DESCRIPTIONS[label]})).mean(axis=0))
        rows = np.array(LABELS) == label
        row_weights = sample_weight[rows]
        examples = _unit((encode(TEXTS[rows]) * row_weights[:, None]).sum(axis=0) / row_weights.sum())
        prototypes.append(_unit(weight * description + (1 - weight) * examples))
    return np.stack(prototypes)


def test_labelled_rows_move_the_few_shot_prototypes(tiny_encoder: Path) -> None:
    few_shot, zero_shot = (classifier_factory(model(tiny_encoder, description_weight=w), "topic", 0)() for w in (0.5, 1.0))
    few_shot.fit(TEXTS, LABELS)
    zero_shot.fit(TEXTS, LABELS)
    assert not np.allclose(few_shot.predict_proba(TEXTS), zero_shot.predict_proba(TEXTS))


def test_a_prototype_mixes_description_and_rows_by_the_description_weight(tiny_encoder: Path) -> None:
    """0.7 is asymmetric, so giving the description's share to the rows (or the reverse) shows."""
    classifier = classifier_factory(model(tiny_encoder, description_weight=0.7), "topic", 0)()
    assert isinstance(classifier, DescriptionClassifier)
    classifier.fit(TEXTS, LABELS)
    assert np.allclose(classifier.prototypes, expected_prototypes(classifier, 0.7, np.ones(len(LABELS))), atol=1e-5)
    assert not np.allclose(classifier.prototypes, expected_prototypes(classifier, 0.3, np.ones(len(LABELS))), atol=1e-5)


def test_sample_weights_move_the_prototypes(tiny_encoder: Path) -> None:
    factory = classifier_factory(model(tiny_encoder, description_weight=0.7), "topic", 0)
    even, tilted = factory(), factory()
    assert isinstance(even, DescriptionClassifier) and isinstance(tilted, DescriptionClassifier)
    # Unequal weights within each label, so the weighted mean of its rows differs from the plain mean.
    sample_weight = np.array([5.0, 1.0, 0.1, 3.0])
    even.fit(TEXTS, LABELS)
    tilted.fit(TEXTS, LABELS, sample_weight=sample_weight)
    assert np.allclose(tilted.prototypes, expected_prototypes(tilted, 0.7, sample_weight), atol=1e-5)
    assert not np.allclose(tilted.prototypes, even.prototypes, atol=1e-5)


def test_a_label_without_description_names_it(tiny_encoder: Path) -> None:
    with pytest.raises(UserInputError, match="no description for label\\(s\\) economy found in the data; even"):
        model(tiny_encoder).check_labels(["conflict", "diplomacy", "economy"])
    # Beside a described label the data lacks, it is most likely misspelt.
    with pytest.raises(UserInputError, match="diplomacy found in the data; it describes diplomcy, which the data does not have"):
        model(tiny_encoder, descriptions={"conflict": ["x"], "diplomcy": ["y"]}).check_labels(["conflict", "diplomacy"])
    with pytest.raises(UserInputError, match="no description for label\\(s\\) economy"):
        classifier_factory(model(tiny_encoder), "topic", seed=0)().fit(TEXTS, [*LABELS[:3], "economy"])


def test_a_described_label_without_rows_is_refused_unless_zero_shot(tiny_encoder: Path) -> None:
    config = model(tiny_encoder, descriptions={**DESCRIPTIONS, "economy": ["Oil prices and trade."]})
    with pytest.raises(UserInputError, match="names label\\(s\\) economy that the data does not have") as refused:
        config.check_labels(LABELS)
    assert str(refused.value).endswith("replace the config's descriptions whole: 'model.descriptions={label: [sentence, ...], ...}'")
    config.model_copy(update={"description_weight": 1.0}).check_labels(LABELS)


def test_a_fold_without_rows_of_a_label_keeps_its_description(tiny_encoder: Path) -> None:
    classifier = classifier_factory(model(tiny_encoder), "topic", seed=0)()
    classifier.fit(TEXTS.iloc[[0, 2]], ["conflict", "conflict"])
    assert classifier.labels == ["conflict", "diplomacy"]


@pytest.mark.parametrize(
    ("descriptions", "message"),
    [
        ({"conflict": ["x"], "diplomacy": [" "]}, "empty description for label\\(s\\) diplomacy"),
        ({"conflict": ["x"]}, "at least two labels"),
        ({"conflict": ["x", ""], "diplomacy": ["y"]}, "blank description sentence\\(s\\): conflict #2: remove them"),
    ],
)
def test_empty_descriptions_are_refused(descriptions: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DescriptionsModel(family="descriptions", descriptions=descriptions, description_weight=1.0)


def test_a_head_mixes_its_probabilities_with_the_prototypes_and_travels_with_the_model(
    tiny_encoder: Path, tmp_path: Path
) -> None:
    prototypes, mixed, head_only = (classifier_factory(model(tiny_encoder, head_weight=w), "topic", 0)() for w in (0.0, 0.5, 1.0))
    for classifier in (prototypes, mixed, head_only):
        classifier.fit(TEXTS, LABELS)
    expected = 0.5 * prototypes.predict_proba(TEXTS) + 0.5 * head_only.predict_proba(TEXTS)
    assert np.allclose(mixed.predict_proba(TEXTS), expected)
    assert not np.allclose(mixed.predict_proba(TEXTS), prototypes.predict_proba(TEXTS))
    mixed.save(tmp_path)
    assert np.allclose(load_predictor(tmp_path).predict_proba(TEXTS), expected, atol=1e-5)


def test_the_head_reads_row_weights_and_learns_every_label_from_the_descriptions(tiny_encoder: Path) -> None:
    head = classifier_factory(model(tiny_encoder, head_weight=1.0), "topic", 0)
    even, tilted = head(), head()
    even.fit(TEXTS, LABELS)
    tilted.fit(TEXTS, LABELS, sample_weight=np.array([5.0, 0.1, 5.0, 0.1]))
    assert not np.allclose(even.predict_proba(TEXTS), tilted.predict_proba(TEXTS))
    one_label = head()
    one_label.fit(TEXTS.iloc[[0, 2]], ["conflict", "conflict"])  # a fold with rows of one label only
    assert one_label.predict_proba(TEXTS).shape == (4, 2)


def test_a_model_saved_before_the_head_existed_still_loads(tiny_encoder: Path, tmp_path: Path) -> None:
    classifier = classifier_factory(model(tiny_encoder), "topic", seed=0)()
    classifier.fit(TEXTS, LABELS)
    classifier.save(tmp_path)
    settings = next(tmp_path.rglob("prototype_settings.json"))
    settings.write_text('{"temperature": 0.05}', encoding="utf-8")
    assert np.allclose(load_predictor(tmp_path).predict_proba(TEXTS), classifier.predict_proba(TEXTS), atol=1e-5)


def test_a_zero_shot_model_refuses_a_head() -> None:
    with pytest.raises(ValidationError, match="head_weight needs labelled rows"):
        DescriptionsModel(family="descriptions", descriptions=DESCRIPTIONS, description_weight=1.0, head_weight=0.5)
