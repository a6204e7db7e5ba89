"""What the family registry says about a model config."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path
from typing import Literal, get_args

import pytest
from packaging.requirements import Requirement

import classifiers
from classifiers.config import FamilyConfig
from classifiers.families.tfidf import TfidfClassifier
from classifiers.registry import BASE_REQUIREMENTS, Family, embeds_text, families, get_family, register


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


class _Config(FamilyConfig):
    family: Literal["mine"] = "mine"


class _Predictor(TfidfClassifier):
    """A family module copied from tfidf.py that kept its predictor's name."""


def test_every_registered_family_is_named_alike_in_its_registration_config_and_predictor() -> None:
    for family in families():
        assert family.predictor.family == family.name
        assert get_args(family.config.model_fields["family"].annotation) == (family.name,)


def test_a_family_whose_predictor_or_config_names_another_family_is_refused_at_registration() -> None:
    # Else it trains, registers and serves, and is then loaded back as the other family's class.
    with pytest.raises(ValueError, match=r"model family 'mine': its predictor _Predictor says family = 'tfidf'; set family = 'mine'"):
        register(Family("mine", _Config, _Predictor, requirements=(), trainer=None))

    class Named(_Predictor):
        family = "mine"

    class OtherKey(FamilyConfig):
        family: Literal["nb"] = "nb"

    with pytest.raises(ValueError, match=r'its config OtherKey must declare family: Literal\["mine"\] \(it declares \(\'nb\',\)\)'):
        register(Family("mine", OtherKey, Named, requirements=(), trainer=None))
    assert "mine" not in {family.name for family in families()}


def _with_dependencies(packages: tuple[str, ...]) -> set[str]:
    """The distributions `packages` need installed, theirs included (extras left out), as normalised names."""
    needed: set[str] = set()
    waiting = [canonical(package) for package in packages]
    while waiting:
        package = waiting.pop()
        if package in needed:
            continue
        needed.add(package)
        for line in requires(package) or []:
            requirement = Requirement(line)
            # Extras and other platforms' requirements (colorama on Windows) are not installed with the package.
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                waiting.append(canonical(requirement.name))
    return needed


def canonical(name: str) -> str:
    return name.lower().replace("_", "-")


def test_what_the_package_imports_when_a_model_loads_is_among_every_models_requirements() -> None:
    # Loading any saved model imports every family's module; a module-level import outside the base requirements
    # (and what they need) fails where only a model's requirements.txt was installed, as tqdm once did for TF-IDF models.
    installed = _with_dependencies(BASE_REQUIREMENTS)
    distributions = packages_distributions()
    missing = []
    for path in sorted(Path(classifiers.__file__).parent.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only, not TYPE_CHECKING blocks
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names} - set(sys.stdlib_module_names) - {"classifiers"}:
                if not any(canonical(dist) in installed for dist in distributions.get(top, [top])):
                    missing.append(f"{path.name}: {top}")
    assert missing == []


@pytest.mark.parametrize(("installed", "index_line"), [("2.13.0+cpu", True), ("2.13.0", False)])
def test_a_cpu_build_of_torch_is_pinned_with_the_index_that_serves_it(
    installed: str, index_line: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PyPI holds no `torch==2.13.0+cpu`: an environment built from the model's requirements.txt (`mlflow models
    # serve`'s default virtualenv, `spark_udf` with one) failed to install it; without the local label it would pull
    # PyPI's CUDA build, gigabytes a CPU server never uses.
    from classifiers import registry
    from classifiers.families.frozen_encoder import FrozenEncoderModel

    real = registry.version
    monkeypatch.setattr(registry, "version", lambda package: installed if package == "torch" else real(package))
    pins = registry.requirement_pins(FrozenEncoderModel(family="frozen_encoder"))
    assert f"torch=={installed}" in pins
    assert ("--extra-index-url https://download.pytorch.org/whl/cpu" in pins) is index_line
    if index_line:
        assert pins.index("--extra-index-url https://download.pytorch.org/whl/cpu") < pins.index(f"torch=={installed}")
