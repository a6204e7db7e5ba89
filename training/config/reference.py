"""Every key an experiment config accepts, read from the config models themselves: their types, defaults and
descriptions, so the reference cannot drift from what is validated."""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from classifiers.registry import families, get_family
from training.config.schema import BenchmarkData, ExperimentConfig, ExtraTraining, JsonlData, SeedData
from training.locations import shown

# The data sources' sections, by their `source`: one of them is a config's `data` (and an extra source's).
_DATA_SOURCES: dict[str, type[BaseModel]] = {"seeds": SeedData, "jsonl": JsonlData, "benchmark": BenchmarkData}


@dataclass(frozen=True)
class ConfigKey:
    """One dotted key: the values it takes, its default (None where it must be given) and what it does."""

    key: str
    kind: str
    default: str | None
    description: str


def config_keys(family: str | None = None) -> list[ConfigKey]:
    """Every key of an experiment config, a section's keys under its dotted name; `model.*` for one family, or for
    each family under `model[family=...]` when none is named (KeyError for an unknown family)."""
    configs: list[type[BaseModel]] = [get_family(family).config] if family else [registered.config for registered in families()]
    keys: list[ConfigKey] = []
    for name, info in ExperimentConfig.model_fields.items():
        if name == "model":
            for config in configs:
                label = "model" if family else f"model[family={_family_name(config)}]"
                keys += _section(config, label)
        elif name in ("data",):
            for source, config in _DATA_SOURCES.items():
                keys += _section(config, f"data[source={source}]")
        elif name == "extra_training":
            keys.append(_key(name, info))
            keys += _section(ExtraTraining, "extra_training.N")
        elif isinstance(info.default, BaseModel):
            keys += _section(type(info.default), name)
        elif name == "task" and family:
            # The tasks the named family does: a topic-only family was listed as taking a stance config too.
            tasks = get_family(family).tasks
            keys.append(replace(_key(name, info), kind=_kind(Literal[tasks])))
        else:
            keys.append(_key(name, info))
    return keys


def render(keys: list[ConfigKey]) -> str:
    """The keys as aligned text: key, values, default, then the description on its own indented line."""
    lines = []
    for key in keys:
        default = "(required)" if key.default is None else f"default {key.default}"
        lines.append(f"{key.key}  {key.kind}  {default}")
        if key.description:
            lines.append(f"    {key.description}")
    return "\n".join(lines)


def _section(config: type[BaseModel], prefix: str) -> list[ConfigKey]:
    keys = []
    for name, info in config.model_fields.items():
        nested = _model_in(info.annotation)
        if nested is not None and not nested.model_fields:
            # A list of any family's sections (an ensemble's members): each takes that family's keys.
            keys.append(_key(f"{prefix}.{name}", info))
        elif nested is not None and nested not in _DATA_SOURCES.values():
            keys += _section(nested, f"{prefix}.{name}")
        elif nested is not None:  # an extra source's `data`: any of the sources but the seeds
            for source, data_config in _DATA_SOURCES.items():
                if source != "seeds":
                    keys += _section(data_config, f"{prefix}.{name}[source={source}]")
        else:
            keys.append(_key(f"{prefix}.{name}", info))
    return keys


# A data section's `source` picks its kind, so a section given without it is refused ("give its source"); the seeds'
# model defaults it only so that a config without `data` reads them.
_SOURCE_HELP = "Which data the section reads: required in a `data` section (a config without `data` reads the seed corpus)."


def _key(key: str, info: FieldInfo) -> ConfigKey:
    if key.endswith(".source"):
        help_text = _SOURCE_HELP if key.startswith("data[") else "Which data the section reads."
        return ConfigKey(key, _kind(info.annotation), None, help_text)
    return ConfigKey(key, _kind(info.annotation), _default(info), info.description or "")


def _default(info: FieldInfo) -> str | None:
    if info.default is PydanticUndefined and info.default_factory is None:
        return None
    value = info.get_default(call_default_factory=True)
    if isinstance(value, Path):
        return str(shown(value))
    return json.dumps(value, default=str)


def _kind(annotation: Any) -> str:
    """The values a key takes, as a config writes them."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin is Literal:
        return " | ".join(json.dumps(value) for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_kind(arg) for arg in typing.get_args(annotation))
    if origin in (list, tuple, dict):
        args = [arg for arg in typing.get_args(annotation) if arg is not Ellipsis]
        shape = {list: "list", tuple: "pair" if len(args) == 2 else "list", dict: "map"}[origin]
        if not args:
            return shape
        inner = _kind(args[-1])
        return f"{shape} of ({inner})" if " | " in inner else f"{shape} of {inner}"
    if annotation is Any:
        return "any value"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if isinstance(annotation, type):
        return {"str": "string", "int": "integer", "float": "number", "bool": "true | false", "Path": "path"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The config section a field holds, where it holds one (the data sources: the first of them)."""
    for candidate in (annotation, *typing.get_args(annotation)):
        for inner in (candidate, *typing.get_args(candidate)):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def _family_name(config: type[BaseModel]) -> str:
    return str(typing.get_args(config.model_fields["family"].annotation)[0])

