"""What the family registry says about a model config."""

from __future__ import annotations

import pytest

from classifiers.registry import embeds_text, get_family


@pytest.mark.parametrize(
    ("model", "embeds"),
    [
        ({"family": "tfidf"}, False),
        ({"family": "frozen_encoder"}, True),
        ({"family": "descriptions", "descriptions": {"economy": ["Markets."], "conflict": ["Fighting."]}}, True),
        ({"family": "ensemble", "members": [{"family": "tfidf"}, {"family": "tfidf", "C": 2}]}, False),
        ({"family": "ensemble", "members": [{"family": "tfidf"}, {"family": "frozen_encoder"}]}, True),
    ],
    ids=["tfidf", "frozen_encoder", "descriptions", "tfidf-ensemble", "mixed-ensemble"],
)
def test_a_config_embeds_text_when_any_of_its_families_runs_the_encoder(model: dict[str, object], embeds: bool) -> None:
    config = get_family(str(model["family"])).config.model_validate(model)
    assert embeds_text(config) is embeds
