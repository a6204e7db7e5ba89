"""Read an experiment YAML, apply `dotted.key=value` overrides, validate and expand sweeps."""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError

from classifiers.config import PACKAGED_ENCODER
from classifiers.errors import UserInputError
from training import locations
from training.config.reference import config_keys
from training.config.schema import ExperimentConfig
from training.mlflow_names import name_taken
from training.path_names import require_utf8_name
from training.text_decoding import decode_text

SWEEP_KEY = "sweep"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# Where a config names an encoder (an ensemble's member is a model section), and the sections on the way to one.
_ENCODER_AT = re.compile(r"model(\.members\.\d+)?\.encoder")
_HOLDS_ENCODER = re.compile(r"model(\.members\.\d+)?")
# The keys of a data section that name files or folders, by its source.
_PATH_KEYS = {"seeds": ("segments", "labels"), "jsonl": ("path",), "benchmark": ("data_dir",)}
# A data path written `project:corpora/x.jsonl` is read from the project's root, wherever the config lies: the form
# the logged config.yaml names a file of the project in, since the folder it is downloaded to says nothing of where
# the checkout that trains it again is.
PROJECT_PREFIX = "project:"
# A data file written `datasets:my_corpus/x.jsonl` (a JSONL file, a seed file) is read from the data directory in effect
# (NEWS_DATA_DIR, else ../shared/datasets beside the project): the form the logged config.yaml names a file kept beside
# the public datasets in, since another machine or checkout keeps its data directory elsewhere.
DATASETS_PREFIX = "datasets:"


class _Anchor(NamedTuple):
    """A folder a path may be written from, as `<prefix><path from it>`."""

    prefix: str
    folder: Callable[[], Path]  # looked up when read: another checkout's, or a test's
    inside: str  # how an error names the folder
    start: str  # how an error names where the path starts
    example: str
    lacking: Callable[[], str]  # where a missing file was looked for, for its error


def _data_dir_in_effect() -> str:
    """The data directory and how it was set, as a missing file's error names them."""
    setting = os.environ.get("NEWS_DATA_DIR")
    how = f"NEWS_DATA_DIR={setting}" if setting else "NEWS_DATA_DIR is not set: ../shared/datasets beside the project"
    return f"in the data directory {locations.DEFAULT_DATA_DIR} ({how})"


_FROM_PROJECT = _Anchor(
    prefix=PROJECT_PREFIX,
    folder=lambda: locations.PROJECT_ROOT,
    inside="the project",
    start="the project's root",
    example="corpora/guideline_written/stance.jsonl",
    lacking=lambda: "in this checkout",
)
_FROM_DATASETS = _Anchor(
    prefix=DATASETS_PREFIX,
    folder=lambda: locations.DEFAULT_DATA_DIR,
    inside="the data directory",
    start="the data directory",
    example="my_corpus/stance.jsonl",
    lacking=_data_dir_in_effect,
)
# The folders each source's paths may be written from, by source; the first that holds a file names it in the logged
# config.yaml (the project, were the data directory inside it). A benchmark's data_dir is the data directory itself,
# left to the default where it is the one in effect: only data files are read from the data directory.
_ANCHORS = {
    "seeds": (_FROM_PROJECT, _FROM_DATASETS),
    "jsonl": (_FROM_PROJECT, _FROM_DATASETS),
    "benchmark": (_FROM_PROJECT,),
}


def _default_locations(source: str) -> dict[str, Path]:
    """The data locations a source's paths default to, which a logged config leaves out (their whole paths name this
    checkout's or machine's): the seed files, and the data directory in effect (NEWS_DATA_DIR, else
    ../shared/datasets), looked up when a config is written."""
    return {
        "seeds": {"segments": locations.SEGMENTS_PATH, "labels": locations.LABELS_PATH},
        "benchmark": {"data_dir": locations.DEFAULT_DATA_DIR},
    }.get(source, {})


def parse_override(text: str) -> tuple[str, Any]:
    """`model.C=0.5` -> ("model.C", 0.5); the value is read as YAML (numbers, lists, null...)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserInputError(f"override '{text}' is not of the form dotted.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
        read = [token for token in yaml.scan(raw) if not isinstance(token, yaml.StreamStartToken | yaml.StreamEndToken)]
    except yaml.YAMLError as err:
        raise UserInputError(f"override '{text}': value is not valid YAML ({err})") from err
    if read and read[-1].end_mark.index < len(raw.rstrip()):
        # Only a comment is read past: `data.path=topic #2.jsonl` named the file `topic`.
        raise UserInputError(
            f"override '{text}': YAML reads ' #' as the start of a comment and drops what follows: quote a value that "
            f"holds it, {key.strip()}='\"...\"', or leave the comment out"
        )
    return key.strip(), value


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> str | None:
    """Set `a.b.c` in nested dicts, creating levels as needed; a number indexes a list that is there
    (`model.members.1.C`). Keys under `sweep` keep their dots. Returns the level it created where the next key is a
    number (`extra_training` for `extra_training.0.weight`): a list the config lacks, unless it is a mapping."""
    parts = key.split(".")
    if parts[0] == SWEEP_KEY and len(parts) > 1:
        parts = [SWEEP_KEY, ".".join(parts[1:])]
    node: Any = tree
    made_for_index = None
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if not isinstance(node, dict | list):
            where = ".".join(parts[:depth])
            raise UserInputError(f"override '{key}': {where} is a value ({node!r}), not a section with keys")
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                where = ".".join(parts[:depth])
                raise UserInputError(f"override '{key}': {where} is a list of {len(node)}; '{part}' is not an index in it")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
            continue
        if not last and not isinstance(node.get(part), dict | list):
            node[part] = {}
            if parts[depth + 1].isdigit():
                made_for_index = ".".join(parts[: depth + 1])
        if last:
            node[part] = value
        else:
            node = node[part]
    return made_for_index


def _user_path(raw: Any, loc: tuple[str | int, ...]) -> str:
    """The error location as the user wrote it: pydantic adds union tags ("model.tfidf.C") that are not keys."""
    parts: list[str] = []
    node = raw
    tag_skipped_in = None
    for part in loc:
        # The tag follows its section once, even where a key has the same name (the `descriptions` family's
        # `descriptions`), and only once (`model.descriptions.descriptions.economy`).
        if isinstance(node, Mapping) and node is not tag_skipped_in and part == node.get("family", node.get("source")):
            tag_skipped_in = node
            continue
        parts.append(str(part))
        if isinstance(node, Mapping):
            node = node.get(part)
        else:
            # A list item (`extra_training.0.data`) is a section of its own, whose union tag is skipped as well.
            node = node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
    return ".".join(parts) or "(top level)"


def _spelt_like(loc: tuple[str | int, ...]) -> str:
    """' (did you mean X?)' for an unknown key spelt like one that its section (or the top level) takes, else ''."""
    name, section = str(loc[-1]), str(loc[0]) if len(loc) > 1 else None
    known: set[str] = set()
    for key in config_keys():
        parts = key.key.split(".")
        head = parts[0].split("[")[0]  # model[family=tfidf].C is a key of the section model
        if section is None:
            known.add(head)
        elif head == section:
            known.add(parts[-1])
    close = difflib.get_close_matches(name, sorted(known - {name}), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _is_section(value: Any) -> bool:
    """A mapping or a list of mappings: too long to echo in an error, which names its key instead."""
    return isinstance(value, Mapping) or (isinstance(value, list) and any(isinstance(item, Mapping) for item in value))


def _validate(raw: Mapping[str, Any], where: str, made_for_index: Mapping[str, str] | None = None) -> ExperimentConfig:
    """The config raw holds; `made_for_index`: the levels overrides made to set an entry of (level -> override)."""
    made = made_for_index or {}
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        problems = []
        for issue in err.errors():
            level = _user_path(raw, issue["loc"])
            if issue["type"] in ("list_type", "tuple_type") and level in made:
                # The override made a mapping ({"0": {...}}) where the config has no list: "Input should be a valid
                # list" would not say why.
                text = made[level]
                index = text.partition("=")[0].strip().removeprefix(f"{level}.").split(".")[0]
                problems.append(
                    f"  {level}: override '{text}' sets entry {index} of {level}, which the config does not have: give "
                    f"the whole list ('{level}=[...]', here or in the file; `python -m training config-keys` says what it takes)"
                )
                continue
            if issue["type"] == "union_tag_not_found":
                missing = _missing_tag(raw, issue["loc"], issue["ctx"]["discriminator"])
                problems.append(f"  {_user_path(raw, issue['loc'])}: {missing}")
                continue
            if issue["loc"][-1:] == ("[key]",) and isinstance(issue["input"], int | float | bool | date):
                # The key's own place is its value's number (True is 1): `labels.1.[key]` named no key of the file.
                mapping, read = _user_path(raw, issue["loc"][:-2]), json.dumps(issue["input"], default=str)
                problems.append(
                    f"  {mapping}: a key YAML reads as {read}, not as text (yes, no, on and off unquoted are true or "
                    "false, digits a number): quote it ('yes': ...)"
                )
                continue
            shown = "" if _is_section(issue["input"]) or issue["type"] == "extra_forbidden" else f" (got {issue['input']!r})"
            if issue["type"] == "extra_forbidden":
                shown = _spelt_like(issue["loc"])
            if issue["type"] in ("string_type", "path_type") and isinstance(issue["input"], int | float | bool | date):
                # YAML reads 1234, 1.10, no and 2024-01-05 as a number, a boolean and a date, in a file or an override.
                key = _user_path(raw, issue["loc"])
                shown += f"; YAML reads it so unquoted: quote it, {key}: '...' in the file, {key}='\"...\"' on the command line"
            if not issue["loc"]:
                # A rule over several keys (a model validator): its message names them.
                problems.append(f"  {issue['msg'].removeprefix('Value error, ')}")
                continue
            problems.append(f"  {_user_path(raw, issue['loc'])}: {issue['msg']}{shown}")
        raise UserInputError(f"{where}: invalid config\n" + "\n".join(problems)) from err
    flags = _flags_taken_for_numbers(raw, config)
    if flags:
        problems = [
            f"  {key}: Input should be a number, not true or false (got {str(value).lower()}; YAML reads true, yes and on unquoted as "
            "true, false, no and off as false)"
            for key, value in flags
        ]
        raise UserInputError(f"{where}: invalid config\n" + "\n".join(problems))
    return config


def _flags_taken_for_numbers(raw: Any, validated: Any, key: str = "") -> list[tuple[str, bool]]:
    """(dotted key, value) wherever raw gives true or false and the config holds a number: pydantic reads true as 1 and
    false as 0 unseen (`evaluation.parallel_folds: true` fitted the folds one at a time)."""
    if isinstance(raw, bool):
        return [(key, raw)] if isinstance(validated, int | float) and not isinstance(validated, bool) else []
    if isinstance(raw, Mapping):
        pairs = [
            (name, value, validated.get(name) if isinstance(validated, Mapping) else getattr(validated, name, None))
            for name, value in raw.items()
            if isinstance(name, str)
        ]
    elif isinstance(raw, list) and isinstance(validated, list | tuple) and len(raw) == len(validated):
        pairs = [(str(index), value, inner) for index, (value, inner) in enumerate(zip(raw, validated, strict=True))]
    else:
        return []
    return [flag for name, value, inner in pairs for flag in _flags_taken_for_numbers(value, inner, f"{key}.{name}" if key else name)]


def _missing_tag(raw: Mapping[str, Any], loc: tuple[str | int, ...], quoted_tag: str) -> str:
    """What to give where a section lacks the key that says its kind (`data.source`, `model.family`), with the choices:
    pydantic lists them only for a wrong value, so one is tried on a copy."""
    tag = quoted_tag.strip("'")
    probe = copy.deepcopy(dict(raw))
    section: Any = probe
    try:
        for part in loc:
            section = section[part]
        section[tag] = "?"
    # A location through a union tag (an ensemble's member) is not a path in the raw config.
    except (KeyError, IndexError, TypeError):
        return f"give its {tag}"
    try:
        ExperimentConfig.model_validate(probe)
    except ValidationError as err:
        for issue in err.errors():
            if issue["type"] == "union_tag_invalid" and issue["loc"] == loc:
                choices = issue["ctx"]["expected_tags"]
                fitting = _kinds_taking(probe, loc, tag, _QUOTED.findall(choices))
                return f"give its {tag}: one of {choices}{fitting}"
    return f"give its {tag}"


# A choice in pydantic's list of a union's tags: 'seeds', 'jsonl', 'benchmark'.
_QUOTED = re.compile(r"'([^']*)'")


def _kinds_taking(probe: dict[str, Any], loc: tuple[str | int, ...], tag: str, kinds: list[str]) -> str:
    """Which of a section's kinds take every key it gives (`data.limit=5` on a config whose data is the default seeds
    made a section of `limit` alone: the key is a benchmark's), said after the choices; "" where none or all do."""
    section: Any = probe
    for part in loc:
        section = section[part]
    given = sorted(str(key) for key in section if key != tag)
    taking = []
    for kind in kinds:
        section[tag] = kind
        try:
            ExperimentConfig.model_validate(probe)
        except ValidationError as err:
            if any(issue["type"] == "extra_forbidden" and issue["loc"][: len(loc)] == loc for issue in err.errors()):
                continue
        taking.append(kind)
    if not given or not taking or len(taking) == len(kinds):
        return ""
    keys = "keys" if len(given) > 1 else "a key"
    return f" ({', '.join(given)}: {keys} of {tag} {' or '.join(map(repr, taking))} only)"


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping, which plain YAML loading resolves silently to the
    last (a second `model:` section would replace the first unseen)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Checked before its merge keys (`<<: *anchor`) are flattened into it: the keys they copy give way to the
        # mapping's own, as YAML means, rather than being given twice. A mapping is flattened once for itself and again
        # wherever it is merged, by then with the keys it copied: only its own are checked, the first time.
        if id(node) not in self._checked:
            self._checked.add(id(node))
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue  # an unhashable key is the base loader's to refuse
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping", node.start_mark, f"the key {key!r} is given twice", key_node.start_mark
                    )
                seen.add(key)
        super().flatten_mapping(node)


def load_raw(path: Path) -> dict[str, Any]:
    """The YAML mapping in path."""
    if path.is_dir():
        raise UserInputError(f"config {path} is a folder: name one YAML file in it")
    if not path.is_file():
        raise UserInputError(f"config file {path} not found")
    # The name becomes the run's name and `config_path` tag: refused before any run.
    require_utf8_name(path, "config", "MLflow cannot record as the run's name and `config_path` tag")
    text = decode_text(path, path.read_bytes())
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader that also refuses repeated keys
    except yaml.YAMLError as err:
        raise UserInputError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise UserInputError(f"{path}: the top level must be a mapping of config keys")
    return raw


def _anchor_paths(raw: dict[str, Any], folder: Path, config: str) -> list[tuple[str, str, Path]]:
    """Make the relative paths of raw's data sections relative to folder: a path written in a config file names a
    file beside the config, whatever folder the command runs in; one written `project:<path>`, relative to the
    project's root, and a data file (JSONL, seeds) written `datasets:<path>`, to the data directory. Returns the JSONL
    files so anchored, the paths read from the project's root or the data directory and the encoder folders read from
    the project's root: (dotted key, the path as written, the file or folder it names). Encoder folders are made
    relative to folder too. `config` names the config in an error."""
    anchored = _anchor_encoders(raw, folder, config)
    sections = [("data", raw.get("data"))]
    extras = raw.get("extra_training")
    if isinstance(extras, list):
        sections += [(f"extra_training.{index}.data", extra.get("data")) for index, extra in enumerate(extras) if isinstance(extra, dict)]
    for where, section in sections:
        if not isinstance(section, dict) or not isinstance(section.get("source"), str):
            continue
        kind = section["source"]
        for key in _PATH_KEYS.get(kind, ()):
            value = section.get(key)
            if not isinstance(value, str) or not value or Path(value).is_absolute():
                continue
            anchor = _anchor_of(value, _ANCHORS[kind])
            if anchor is not None:
                section[key] = str(_from_anchor(anchor, value, f"{config}: {where}.{key}"))
            else:
                section[key] = str((folder / value).resolve())
            if kind == "jsonl" or anchor is not None:
                anchored.append((f"{where}.{key}", value, Path(section[key])))
    return anchored


def _anchor_of(value: str, anchors: Sequence[_Anchor]) -> _Anchor | None:
    """The one of anchors whose prefix value is written with, if any."""
    return next((anchor for anchor in anchors if value.startswith(anchor.prefix)), None)


def _from_anchor(anchor: _Anchor, value: str, where: str) -> Path:
    """The path `<prefix><path>` names, from its anchor's folder; one that leaves it (`..`) is refused, as the folder
    is all another checkout or machine is known to have."""
    inside = value.removeprefix(anchor.prefix)
    if not inside or Path(inside).is_absolute() or Path(os.path.normpath(inside)).parts[:1] == ("..",):
        raise UserInputError(
            f"{where}: {value} names no path inside {anchor.inside}: write {anchor.prefix}<path from {anchor.start}>, "
            f"as {anchor.prefix}{anchor.example}"
        )
    return (anchor.folder() / inside).resolve()


def _anchor_encoders(raw: dict[str, Any], folder: Path, config: str) -> list[tuple[str, str, Path]]:
    """Make the relative encoder folders of raw (`model.encoder`, an ensemble member's, those a sweep gives) relative
    to folder, and those written `project:<path>` relative to the project's root, as `_anchor_paths` does the data's.
    Returns the folders read from the project's root: (dotted key, the value as written, the folder it names)."""
    from_root: list[tuple[str, str, Path]] = []

    def anchored(key: str, value: Any) -> Any:
        if not _names_encoder_folder(value) or Path(value).is_absolute():
            return value
        if value.startswith(PROJECT_PREFIX):
            named = _from_anchor(_FROM_PROJECT, value, f"{config}: {key}")
            from_root.append((key, value, named))
            return str(named)
        return str((folder / value).resolve())

    _replace_encoders(raw, anchored)
    return from_root


def _names_encoder_folder(value: Any) -> bool:
    """Whether an encoder setting names a model folder: not the packaged encoder's name, nor null (no encoder)."""
    return isinstance(value, str) and bool(value) and value != PACKAGED_ENCODER


def _replace_encoders(tree: dict[str, Any], replace: Callable[[str, Any], Any]) -> None:
    """Replace every encoder setting of a config's tree (`model.encoder`, an ensemble member's, those in each value of
    a swept key: `model.encoder`, or a whole section, `model` or `model.members.1`) by `replace(dotted key, value)`; a
    swept one is named by its sweep key (`sweep.model`), which an override replaces whole."""

    def visit(node: Any, at: str, swept: str | None) -> Any:
        if _ENCODER_AT.fullmatch(at):
            return replace(swept or at, node)
        if isinstance(node, dict) and _HOLDS_ENCODER.fullmatch(at):
            return {name: visit(value, f"{at}.{name}", swept) for name, value in node.items()}
        if isinstance(node, list) and at == "model.members":
            return [visit(value, f"{at}.{index}", swept) for index, value in enumerate(node)]
        return node

    if "model" in tree:
        tree["model"] = visit(tree["model"], "model", None)
    sweep = tree.get(SWEEP_KEY)
    if isinstance(sweep, dict):
        for key, values in sweep.items():
            if isinstance(values, list):
                sweep[key] = [visit(value, key, f"{SWEEP_KEY}.{key}") for value in values]


def _check_anchored_files(path: Path, anchored: list[tuple[str, str, Path]], overridden: list[str]) -> None:
    """A data file written relative to the config, the project or the data directory, or an encoder folder written from
    the project's root, that is not there: say where it was looked for, since a config copied to another folder takes
    its relative paths along, and a logged config.yaml trained again on another checkout or machine reads its files
    (the error at reading, or the encoder's, would name only the result)."""
    for key, written, file in anchored:
        if any(key == name or key.startswith(f"{name}.") for name in overridden) or file.exists():
            continue
        anchor = _anchor_of(written, (_FROM_PROJECT, _FROM_DATASETS))
        if anchor is not None:
            given = f"{key}=PATH"
            if key.startswith(f"{SWEEP_KEY}."):
                # A swept key takes its values as a list; a swept section (`sweep.model`), as a list of sections.
                given = f"{key}=[PATH, ...]" if _ENCODER_AT.fullmatch(key.removeprefix(f"{SWEEP_KEY}.")) else f"{key}=[...]"
            raise UserInputError(
                f"{path}: {key}: {written} is read from {anchor.start}, as {file}, which does not exist "
                f"{anchor.lacking()}; give it on the command line ({given})"
            )
        raise UserInputError(
            f"{path}: {key}: {written} is read from the config's folder, as {file}, which does not exist; "
            f"write it relative to {path.parent} or as an absolute path"
        )


def load_config(path: Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Validated config from a YAML file plus command-line overrides. Relative paths in the file are read from the
    file's folder, those in overrides from the current one, `project:<path>` from the project's root and a data
    file's `datasets:<path>` from the data directory."""
    raw = load_raw(path)
    anchored = _anchor_paths(raw, path.parent, str(path))
    parsed = [parse_override(text) for text in overrides]
    repeated = sorted({key for key, _ in parsed if sum(_overlap(key, other) for other, _ in parsed) > 1})
    if repeated:
        # As a key given twice in the YAML file is refused: the last would win unseen (a section given whole, beside
        # one of its keys, too).
        raise UserInputError(f"override(s) {', '.join(repeated)} given more than once; give each key once")
    made_for_index: dict[str, str] = {}
    for (key, value), text in zip(parsed, overrides, strict=True):
        level = set_dotted(raw, key, value)
        if level is not None:
            made_for_index[level] = text
    _check_swept_overrides(path, raw, [key for key, _ in parsed])
    _check_anchored_files(path, anchored, [key for key, _ in parsed])
    # Paths the overrides gave relative are made whole here, so the logged config.yaml trains again from any folder.
    _anchor_paths(raw, Path.cwd(), config_source(path, overrides))
    return _validate(raw, config_source(path, overrides), made_for_index)


def config_source(path: Path, overrides: Sequence[str] = ()) -> str:
    """How an error names the config it found a bad setting in: the file, and the overrides it was loaded with (the
    setting may be the command line's rather than the file's: both are named)."""
    return f"{path} with {', '.join(overrides)}" if overrides else str(path)


def _overlap(key: str, other: str) -> bool:
    """Whether two dotted keys set the same value: the same key, or a section and a key inside it."""
    return key == other or key.startswith(f"{other}.") or other.startswith(f"{key}.")


def _check_swept_overrides(path: Path, raw: Mapping[str, Any], overridden: list[str]) -> None:
    """An override of a key the sweep gives values to, or of a key inside a section it sweeps whole (`model.C` under
    `sweep.model`), would be replaced by each of them, unseen."""
    sweep = raw.get(SWEEP_KEY)
    if not isinstance(sweep, Mapping):
        return
    for key in overridden:
        swept = next((name for name in sweep if key == name or key.startswith(f"{name}.")), None)
        if swept == key:
            raise UserInputError(
                f"{path}: {key}: the config sweeps it, so each run would replace this value: give the values as "
                f"'{SWEEP_KEY}.{key}=[...]', or turn the sweep off with '{SWEEP_KEY}={{}}'"
            )
        if swept is not None:
            raise UserInputError(
                f"{path}: {key}: the config sweeps the whole section {swept}, so each run would replace this value: "
                f"give it in each of the section's values ('{SWEEP_KEY}.{swept}=[...]'), or turn the sweep off with "
                f"'{SWEEP_KEY}={{}}'"
            )


def expand_sweep(config: ExperimentConfig) -> list[tuple[dict[str, Any], ExperimentConfig]]:
    """Every combination of the sweep grid as (assignments, config); one entry when there is no sweep."""
    if not config.sweep:
        return [({}, config)]
    base = config.model_dump(mode="json", exclude={SWEEP_KEY})
    keys = list(config.sweep)
    expanded = []
    for values in itertools.product(*(config.sweep[key] for key in keys)):
        assignments = dict(zip(keys, values, strict=True))
        raw = yaml.safe_load(yaml.safe_dump(base))  # deep copy of plain data
        for key, value in assignments.items():
            set_dotted(raw, key, value)
        expanded.append((assignments, _validate(raw, f"sweep combination {assignments}")))
    read: dict[str, dict[str, Any]] = {}
    for assignments, combination in expanded:
        settings = json.dumps(combination.model_dump(mode="json"), sort_keys=True)
        if settings in read:
            # Values written apart and read as one (model.C 1 and 1.0): two children of the same settings, one trained
            # for nothing (the config's own check compares values as written).
            shown = [", ".join(f"{key}={json.dumps(value)}" for key, value in each.items()) for each in (read[settings], assignments)]
            raise UserInputError(f"sweep: {shown[0]} and {shown[1]} are the same settings once read: list each value once")
        read[settings] = assignments
    return expanded


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping -> {"a.b": value}; what MLflow params look like. A mapping with a key MLflow refuses in a param
    name (an extra source's label `war (armed)`) stays one value, as a config writes it inline."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and all(name_taken(f"{name}.{inner}") for inner in value):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            for index, item in enumerate(value):
                flat.update(flatten(item, f"{name}.{index}."))
        else:
            flat[name] = value
    return flat


def to_yaml(config: ExperimentConfig) -> str:
    """The resolved config as YAML: every default filled in but the default data locations (the seed files, the data
    directory in effect), left to the default, any other data path or encoder folder inside the
    project written `project:<path from its root>` and a data file in the data directory `datasets:<path from it>`,
    so that the file reads the checkout's or machine's own wherever it is trained again: a colleague's checkout at
    another path, another machine. Other paths stay whole."""
    tree = config.model_dump(mode="json")
    extras = tree["extra_training"]
    for section in [tree["data"], *(extra["data"] for extra in extras)]:
        defaults = _default_locations(section["source"])
        for key in _PATH_KEYS[section["source"]]:
            named = Path(section[key]).resolve()
            if key in defaults and named == defaults[key].resolve():
                del section[key]
            else:
                section[key] = _written_from(named, _ANCHORS[section["source"]], section[key])
    _replace_encoders(tree, lambda _, value: _logged_encoder(value))
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def _logged_encoder(value: Any) -> Any:
    """An encoder setting as the logged config.yaml writes it: a model folder inside the project from its root, as a
    data file, anything else as it is."""
    if not _names_encoder_folder(value):
        return value
    return _written_from(Path(value).resolve(), (_FROM_PROJECT,), value)


def _written_from(path: Path, anchors: Sequence[_Anchor], value: str) -> str:
    """A path inside the first of anchors' folders that holds it as `<prefix><path from it>`; else value as it is."""
    for anchor in anchors:
        if path.is_relative_to(anchor.folder()):
            return anchor.prefix + path.relative_to(anchor.folder()).as_posix()
    return value
