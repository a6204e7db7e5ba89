import pytest

from classifiers.errors import UserInputError
from training import locations
from training.config.resolve import load_config
from training.defaults import DEFAULT_CONFIGS, train_defaults


def test_only_the_default_stance_config_can_take_the_champion_by_its_metric() -> None:
    # Leave-one-article-out alone does not pick the stance model: another config that beats the default there must
    # not replace it unasked (docs/training.md, "Why LOAO alone does not pick the stance model").
    promotes = {path.name: load_config(path).promote for path in sorted((locations.CONFIGS_DIR / "stance").glob("*.yaml"))}
    assert promotes.pop(DEFAULT_CONFIGS["stance"].name) == "auto"
    assert promotes and set(promotes.values()) == {"never"}, promotes


def test_a_promote_override_beside_retrain_is_refused_naming_retrain() -> None:
    # --retrain is promote=always: the override was refused as "given more than once", though given once.
    with pytest.raises(UserInputError, match=r"^--retrain makes the new versions champion \(promote=always\): leave out 'promote=never'$"):
        train_defaults(retrain=True, overrides=["promote=never"])


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ("model.head_weight=0.5", r"minilm_masked_written\.yaml with model\.head_weight=0\.5: invalid config"),
        ("model.encoder=no-such-encoder", r"descriptions_written\.yaml with model\.encoder=no-such-encoder: model\.encoder: "),
    ],
)
def test_a_bad_override_beside_retrain_is_named_without_the_promote_retrain_sets(override: str, error: str) -> None:
    # --retrain's promote=always was named beside the user's override, as if typed.
    with pytest.raises(UserInputError, match=error) as refused:
        train_defaults(retrain=True, overrides=[override])
    assert "promote" not in str(refused.value)
