"""The config reference: every key, read from the config models, is one a config accepts, and says what it does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifiers.errors import UserInputError
from classifiers.registry import families
from training import locations
from training.cli import app
from training.config.reference import config_keys
from training.config.resolve import load_config


def _config_of(family: str) -> Path:
    """A shipped config of the family."""
    for path in sorted(locations.CONFIGS_DIR.rglob("*.yaml")):
        if load_config(path).model.family == family:
            return path
    raise AssertionError(f"no config of {family}")


@pytest.mark.parametrize("family", [family.name for family in families()])
def test_every_model_key_listed_takes_its_listed_default_as_an_override(family: str) -> None:
    config = _config_of(family)
    # A family without settings (a prior baseline) lists none, and has nothing to check.
    keys = [key for key in config_keys(family) if key.key.startswith("model.") and key.default is not None]
    for key in keys:
        # The listed default, as a dotted override writes it (JSON is YAML), validates.
        loaded = load_config(config, [f"{key.key}={key.default}"])
        assert json.dumps(getattr(loaded.model, key.key.removeprefix("model.")), default=str) == key.default


def test_every_key_says_what_it_does_and_unknown_keys_are_not_listed() -> None:
    keys = config_keys()
    undescribed = [key.key for key in keys if not key.description and key.key.split(".")[-1] not in ("family", "source")]
    assert undescribed == []
    listed = {key.key for key in config_keys("tfidf")}
    assert {"model.C", "model.min_df", "evaluation.holdout_fraction", "extra_training.N.weight"} <= listed
    assert "model.learning_rate" not in listed
    # An ensemble's members are sections of any family: listed as such, not left out.
    assert [(key.key, key.kind, key.default) for key in config_keys("ensemble") if key.key == "model.members"] == [
        ("model.members", "list of section", None)
    ]


def test_the_command_lists_the_keys_and_names_an_unknown_family() -> None:
    result = CliRunner().invoke(app, ["config-keys", "--family", "tfidf"])
    assert result.exit_code == 0, result.output
    assert "model.min_df  integer  default 1\n    Rows an n-gram must occur in" in result.output
    unknown = CliRunner().invoke(app, ["config-keys", "--family", "nope"])
    assert unknown.exit_code == 1
    known = ", ".join(sorted(family.name for family in families()))
    assert f"unknown model family 'nope' (known: {known})" in unknown.output


def test_a_data_sections_source_is_listed_as_required_as_validation_requires_it(tmp_path: Path) -> None:
    # It was listed as `default "seeds"`, yet a `data` section without it is refused: only a config without `data`
    # reads the seeds.
    sources = [key for key in config_keys("tfidf") if key.key.endswith(".source")]
    assert sources and all(key.default is None for key in sources)
    seeds = next(key for key in sources if key.key == "data[source=seeds].source")
    assert "a config without `data` reads the seed corpus" in seeds.description
    path = tmp_path / "config.yaml"
    path.write_text("task: topic\nmodel: {family: tfidf}\ndata: {labels: seeds/labels.jsonl}\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="data: give its source"):
        load_config(path)


def test_a_family_s_keys_list_only_the_tasks_it_does() -> None:
    # A topic-only family was listed as taking `task: stance` too, which its configs refuse.
    (topic_only,) = [key for key in config_keys("descriptions") if key.key == "task"]
    assert topic_only.kind == '"topic"'
    (both,) = [key for key in config_keys("tfidf") if key.key == "task"]
    assert both.kind == '"topic" | "stance"'
    (every,) = [key for key in config_keys() if key.key == "task"]
    assert every.kind == both.kind
