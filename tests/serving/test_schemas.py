"""serving/schemas.py: what a request body may hold, and what the API reports about a loaded model. The same
refusals through the app's endpoints: test_limits.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from classifiers.target_context import TargetAliases
from serving.model_holder import RegistryCheck
from serving.schemas import ArticleRequest, ClassifyItem, ClassifyRequest, ModelInfo, ModelsUsed, RegistryStatus
from tests.serving.conftest import loaded_model


def only_error(model: type[ClassifyItem | ClassifyRequest | ArticleRequest], data: Mapping[str, object]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data)
    [error] = refused.value.errors()
    return error["type"], error["msg"]


@pytest.mark.parametrize("field", ["text", "target", "document"])
@pytest.mark.parametrize("value", ["", " \n\t", "\u200b"])
def test_an_item_field_that_is_blank_is_refused(field: str, value: str) -> None:
    item = {"text": "Talks resumed.", field: value}
    assert only_error(ClassifyItem, item) == ("blank_text", "must not be empty or whitespace")


def test_a_lone_surrogate_or_an_unknown_field_is_refused() -> None:
    assert only_error(ClassifyItem, {"text": "Talks \ud800 resumed."}) == (
        "invalid_unicode",
        "must be valid Unicode (it contains a lone surrogate)",
    )
    assert only_error(ClassifyItem, {"text": "Talks resumed.", "lang": "en"})[0] == "extra_forbidden"
    assert only_error(ClassifyRequest, {"items": []})[0] == "too_short"


def test_an_article_target_given_twice_is_named_with_its_first_spelling() -> None:
    body = {"title": "", "body": "Iran and Israel traded strikes."}
    assert only_error(ArticleRequest, {**body, "targets": ["Iran", "Israel", "Iran"]}) == (
        "duplicate_target",
        "target 'Iran' is given twice",
    )
    assert only_error(ArticleRequest, {**body, "targets": ["Iran", " iran "]}) == (
        "duplicate_target",
        "target ' iran ' is given twice (as 'Iran')",
    )
    # An all-caps name is matched in its case: US and us find different mentions.
    assert ArticleRequest.model_validate({**body, "targets": ["US", "us"]}).targets == ["US", "us"]


def test_a_loaded_model_is_reported_with_how_it_reads_texts_and_its_own_aliases() -> None:
    model = loaded_model("stance", ("against", "favor"), version="3")
    model.classifier.target_aliases = TargetAliases.of({"Russia": ["Kremlin"]})

    info = ModelInfo.of(model)

    assert (info.uri, info.configured_uri, info.version, info.labels) == (
        "models:/news-stance/3",
        "models:/news-stance@champion",
        "3",
        ["against", "favor"],
    )
    # A model without an encoder reads every word of a text.
    assert (info.long_texts, info.max_length, info.neighbour_weight) == ("whole", None, 0.0)
    assert info.target_aliases == {"russia": ["Kremlin"]}  # by target, case-folded
    assert info.metrics == {"macro_f1": 0.5}


def test_the_models_used_and_the_registry_status_say_null_for_what_is_not_there() -> None:
    used = ModelsUsed.of(loaded_model("topic", ("conflict", "economy")), None)
    assert used.model_dump() == {"topic": {"name": "news-topic", "version": "1"}, "stance": None}
    assert RegistryStatus.of(None).model_dump() == {"reachable": None, "checked_at": None, "problem": None}
    checked = datetime(2026, 1, 1, tzinfo=UTC)
    assert RegistryStatus.of(RegistryCheck(False, checked, "gone")).model_dump() == {
        "reachable": False,
        "checked_at": checked,
        "problem": "gone",
    }
