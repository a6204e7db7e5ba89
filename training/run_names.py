"""How runs are named: after their config file and the overrides they were trained with, so that the runs of two
configs, and two runs of one config, are told apart in the UI's lists."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from training.config.schema import ExperimentConfig
from training.evaluation.seen_rows import CONFIG_ARTIFACT

# Longer overrides (an alias table, a grid) are cut in the run name: the UI shows its start, the params say it whole.
MAX_OVERRIDE_IN_NAME = 60


def config_name(config: ExperimentConfig, config_path: Path | None) -> str:
    """The config file's name (a logged config.yaml's own: the start of its run name), or for a config made in code its
    task, family and data ("topic-tfidf-seeds")."""
    if config_path is not None and config_path.name == CONFIG_ARTIFACT and config.run_name:
        # A run's logged config trained again: the file is named config.yaml, its run name starts with its config's
        # ("tfidf_logreg (model.C=0.5)"). Its model was listed as `config`, which runs:/<id>/tfidf_logreg missed.
        return config.run_name.split(" (", 1)[0]
    return config_path.stem if config_path is not None else f"{config.task}-{config.model.family}-{config.dataset_name}"


def default_run_name(config: ExperimentConfig, config_path: Path | None, overrides: Sequence[str] = ()) -> str:
    """The config file's name ("tfidf_svm"), so runs of different configs are told apart in the UI, followed by the
    overrides it was trained with ("tfidf_svm (model.C=0.5, seed=7)"), so that its runs are told apart too."""
    return with_overrides(config_name(config, config_path), overrides)


def with_overrides(name: str, overrides: Sequence[str]) -> str:
    """The name followed by the overrides ("tfidf_svm (model.C=0.5, seed=7)"), each cut at MAX_OVERRIDE_IN_NAME. A
    name that already ends in overrides (a logged config.yaml's, trained again) takes the new ones after them, as one
    command line would give them all: "tfidf_svm (seed=7)" and `model.C=0.5` make "tfidf_svm (seed=7, model.C=0.5)"."""
    shown = [text if len(text) <= MAX_OVERRIDE_IN_NAME else f"{text[: MAX_OVERRIDE_IN_NAME - 1]}…" for text in overrides]
    if not shown:
        return name
    if (given := _NAMED_OVERRIDES.fullmatch(name)) is not None:
        return f"{given['name']} ({given['overrides']}, {', '.join(shown)})"
    return f"{name} ({', '.join(shown)})"


# A name as `with_overrides` writes it: the config's name (no parenthesis), its overrides (each `key=value`) in brackets.
_NAMED_OVERRIDES = re.compile(r"(?P<name>[^(]+) \((?P<overrides>[^=()]+=.*)\)")


def sets_the_sweep(override: str) -> bool:
    """Whether a dotted override sets the sweep's grid (`sweep.model.C=[1, 2]`)."""
    key = override.split("=", 1)[0].strip()
    return key == "sweep" or key.startswith("sweep.")


def child_name(
    given: str | None, config: ExperimentConfig, config_path: Path | None, named: Sequence[str], assigned: Sequence[str]
) -> str:
    """A sweep child's run name: the `run_name` given with its values (`assigned`, as overrides write them), else the
    default name of the config trained with its values as overrides (`tfidf_logreg (seed=7, model.C=10.0)`)."""
    if given:
        return with_overrides(given, assigned)
    return default_run_name(config, config_path, [*named, *assigned])
