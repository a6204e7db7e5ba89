"""The model-family registry: each family declares its config, classes and inference requirements once.

A family is one module under `classifiers/families/` that ends with one `register(Family(...))`.
Training builds its config schema and its models from here; loading a saved model finds its
class here; logging a model takes its pip requirements from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, get_args

from classifiers.config import FamilyConfig
from classifiers.errors import UserInputError
from classifiers.interface import Predictor, Trainable

# What every saved model imports at prediction time: what this package's modules import when loaded (loading a model
# imports every family's module), the pyfunc and the contract (tests/classifiers/test_registry.py checks it).
BASE_REQUIREMENTS = ("mlflow", "numpy", "pandas", "pydantic", "pydantic-settings", "scikit-learn", "joblib", "tqdm")

Factory = Callable[[], Trainable]


@dataclass(frozen=True)
class Family:
    """One model family.

    `trainer(config, task, seed)` returns a function that makes a fresh untrained model (shared,
    expensive parts such as an encoder are built once, before it); None for a family that is only
    built or exported, never fitted from a config. `requirements` are the packages its saved models
    import at prediction time, besides BASE_REQUIREMENTS.
    """

    name: str
    config: type[FamilyConfig]
    predictor: type[Predictor]
    requirements: tuple[str, ...]
    trainer: Callable[[Any, str, int], Factory] | None
    tasks: tuple[str, ...] = ("topic", "stance")


_FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family; its config class must declare `family: Literal["<name>"]`, the key that picks it in a YAML file,
    and its predictor class `family = "<name>"`, the name its saved models are loaded back by."""
    if family.name in _FAMILIES:
        raise ValueError(f"model family '{family.name}' is registered twice")
    # Checked here, at import: a predictor that kept another family's name (copied from its module) trains, registers
    # and serves, and is then loaded back as that other family's class.
    named = getattr(family.predictor, "family", None)
    if named != family.name:
        raise ValueError(
            f"model family '{family.name}': its predictor {family.predictor.__name__} says family = {named!r}; "
            f"set family = {family.name!r} (saved models are loaded back by that name)"
        )
    keys = get_args(family.config.model_fields["family"].annotation) if "family" in family.config.model_fields else ()
    if keys != (family.name,):
        raise ValueError(
            f"model family '{family.name}': its config {family.config.__name__} must declare "
            f'family: Literal["{family.name}"] (it declares {keys or "no family field"}), the key a YAML file picks it by'
        )
    _FAMILIES[family.name] = family
    return family


def families() -> list[Family]:
    """Every registered family (importing the catalogue registers them)."""
    import classifiers.families  # noqa: F401  (its modules register themselves)

    return list(_FAMILIES.values())


def get_family(name: str) -> Family:
    """The family called name, or an error listing the known ones."""
    known = {family.name: family for family in families()}
    if name not in known:
        raise UserInputError(f"unknown model family '{name}' (known: {', '.join(sorted(known))})")
    return known[name]


def classifier_factory(config: FamilyConfig, task: str, seed: int) -> Factory:
    """A function returning a new untrained classifier for a model config."""
    family = get_family(config.family)
    if family.trainer is None:
        raise UserInputError(f"the {family.name} family is built, not trained from a config")
    if task not in family.tasks:
        raise UserInputError(f"the {family.name} family does not do {task} (it does: {', '.join(family.tasks)})")
    return family.trainer(config, task, seed)


def embeds_text(config: FamilyConfig) -> bool:
    """Whether a model of the config runs the sentence encoder (one of its families imports transformers), so that
    its figures depend on the precision the encoder computes in."""
    return any("transformers" in get_family(name).requirements for name in config.family_names())


# The index that serves a build named by its local version label (PyTorch's `2.13.0+cpu`), which PyPI does not hold.
LOCAL_BUILD_INDEXES = {"cpu": "https://download.pytorch.org/whl/cpu"}


def requirement_pins(config: FamilyConfig) -> list[str]:
    """`package==version` for everything a saved model of the config imports, as installed now, after the
    `--extra-index-url` line of the index a local build (torch's `+cpu`) comes from."""
    pins: dict[str, str] = {}
    indexes: list[str] = []
    for name in config.family_names():
        for package in (*BASE_REQUIREMENTS, *get_family(name).requirements):
            try:
                installed = version(package)
            except PackageNotFoundError as err:
                raise UserInputError(f"the {name} family needs '{package}', which is not installed") from err
            pins[package] = f"{package}=={installed}"
            # PyPI holds no `torch==2.13.0+cpu`: an environment made from requirements.txt (`mlflow models serve`'s
            # default virtualenv) could not install the pin; dropping the label would pull PyPI's CUDA build.
            index = LOCAL_BUILD_INDEXES.get(installed.partition("+")[2])
            if index is not None and f"--extra-index-url {index}" not in indexes:
                indexes.append(f"--extra-index-url {index}")
    return [*indexes, *pins.values()]
