"""classifiers/config.py: what every family config shares: immutable, strict about keys and numbers, and which
settings count as changed."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, ValidationError

from classifiers.config import FamilyConfig


class _Family(FamilyConfig):
    family: Literal["example"] = "example"
    C: float = 1.0
    stop_words: list[str] = Field(default_factory=lambda: ["the"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"Cee": 2.0}, r"Cee\n  Extra inputs are not permitted"),
        ({"C": float("inf")}, r"C\n  Input should be a finite number"),
        ({"C": float("nan")}, r"C\n  Input should be a finite number"),
    ],
)
def test_a_misspelt_key_or_a_number_that_is_not_finite_is_refused_naming_it(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _Family(**settings)


def test_a_config_cannot_be_changed_once_made() -> None:
    config = _Family()
    with pytest.raises(ValidationError, match="frozen"):
        config.C = 2.0  # type: ignore[misc]


def test_only_settings_given_another_value_than_their_default_count_as_changed() -> None:
    # A logged config.yaml writes every default: written out, a default is not a change.
    assert _Family().changed() == set()
    assert _Family(family="example", C=1.0, stop_words=["the"]).changed() == set()
    assert _Family(C=0.5).changed() == {"C"}
    assert _Family(C=1.0, stop_words=[]).changed() == {"stop_words"}


def test_by_default_a_family_runs_only_itself_takes_any_labels_and_is_not_fitted_in_threads() -> None:
    config = _Family()
    assert config.family_names() == ("example",)
    config.check_labels(["any", "labels"])
    assert not config.fits_in_threads()
