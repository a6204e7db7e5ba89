"""Turn a config's data section into one frame the trainer works on, whatever the source."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.data.digest_utils import MAX_ROWS, compute_pandas_digest, get_normalized_md5_digest
from mlflow.utils.validation import MAX_DATASET_NAME_SIZE

from classifiers.blank_text import is_blank
from classifiers.contract import REQUIRED_COLUMNS
from classifiers.errors import UserInputError
from training import locations
from training.config.schema import BenchmarkData, ExtraTraining, JsonlData, SeedData
from training.corpus.hf_datasets import load_stance_dataset, load_topic_dataset
from training.input_copies import input_keys, join_groups_sharing_inputs, warn_of_conflicting_copies, without_copies_of
from training.jsonl_table import jsonl_lines, read_jsonl_table

logger = logging.getLogger(__name__)


def frame_digest(frame: pd.DataFrame) -> str:
    """MLflow's dataset digest, over every row: MLflow's own reads only the first MAX_ROWS (10,000) and the row count,
    so two benchmark frames that differ only further down (FNC-1 has 49,972 rows) would count as the same data when
    promotion compares digests."""
    if len(frame) <= MAX_ROWS:
        # MLflow's own value, which covers every row here: versions registered before keep comparing with new ones.
        return compute_pandas_digest(frame)
    chunks = [compute_pandas_digest(frame.iloc[start : start + MAX_ROWS]) for start in range(0, len(frame), MAX_ROWS)]
    return get_normalized_md5_digest([np.int64(len(frame)), *(chunk.encode() for chunk in chunks)])


def file_data_name(path: Path) -> str:
    """A data file's MLflow dataset name: its path from the project root, or whole outside it, so that files of one
    name (`topic.jsonl` of each outside set) are told apart in the runs table."""
    return _within_name_limit(str(locations.shown(path)))


def seed_data_name(config: SeedData) -> str:
    """`seeds` for the project's seed corpus; with other files, their paths too."""
    files = (config.segments.resolve(), config.labels.resolve())
    if files == (locations.SEGMENTS_PATH.resolve(), locations.LABELS_PATH.resolve()):
        return "seeds"
    return _within_name_limit(f"seeds ({', '.join(str(locations.shown(path)) for path in files)})")


def benchmark_data_name(name: str, split: str, data_dir: Path, limit: int | None = None) -> str:
    """`<benchmark>-<split>`, `-limit<N>` for a slice of N groups, and the folder it was read from where that is not
    ../shared/datasets (BBC News's withheld 20% is an `all` split too)."""
    shown = f"{name}-{split}" if limit is None else f"{name}-{split}-limit{limit}"
    if data_dir.resolve() != locations.SHARED_DATA_DIR:
        shown += f" ({locations.shown(data_dir)})"
    return _within_name_limit(shown)


def _within_name_limit(name: str) -> str:
    """The name, or its end after "…" where MLflow would refuse it as too long (a path deep in a folder tree)."""
    return name if len(name) <= MAX_DATASET_NAME_SIZE else "…" + name[-(MAX_DATASET_NAME_SIZE - 1) :]


@dataclass(frozen=True)
class ExtraSource:
    """Rows of an extra training source, already under the experiment's labels; `copies_left_out` counts its rows
    whose input is one of the data's."""

    frame: pd.DataFrame
    name: str
    source: str
    weight: float = 1.0
    copies_left_out: int = 0


@dataclass(frozen=True)
class LabelledData:
    """Inputs (`text`, plus `target` for stance), `label` and the `group` that splits keep together (groups that
    share an input are one: `groups_joined` were joined into another), and the extra sources that only ever sit on
    the training side."""

    frame: pd.DataFrame
    name: str
    source: str
    task: str
    extra: tuple[ExtraSource, ...] = ()
    groups_joined: int = 0

    @property
    def inputs(self) -> pd.DataFrame:
        """The data's columns a model reads (`text`; and `target` for stance)."""
        return self.frame[list(REQUIRED_COLUMNS[self.task])]

    @property
    def labels(self) -> list[str]:
        """The data's labels, sorted (the extra sources' are not counted)."""
        return sorted(self.frame["label"].unique())

    def training_side(self, rows: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
        """Inputs, labels and row weights to fit on: the given rows of the data (all when None) plus every extra
        source; the weights are None when every row counts the same."""
        own = self.frame if rows is None else self.frame.iloc[rows]
        joined = pd.concat([own, *(extra.frame for extra in self.extra)], ignore_index=True)
        weights = None
        if any(extra.weight != 1 for extra in self.extra):
            weights = np.concatenate([np.ones(len(own)), *(np.full(len(extra.frame), extra.weight) for extra in self.extra)])
        return joined[list(REQUIRED_COLUMNS[self.task])], joined["label"].to_numpy(), weights


def _check(frame: pd.DataFrame, task: str, where: str, two_classes: bool = True) -> pd.DataFrame:
    if frame.empty:
        raise UserInputError(f"{where}: the dataset is empty")
    for column in [*REQUIRED_COLUMNS[task], "label"]:
        # The server's rule of blank (invisible characters too): the model refuses such a text at prediction.
        blank = frame.index[frame[column].isna() | frame[column].astype(str).map(is_blank)]
        if len(blank):
            raise UserInputError(f"{where}: row {blank[0] + 1} has an empty '{column}'")
    classes = frame["label"].unique()
    if two_classes and len(classes) < 2:
        raise UserInputError(f"{where}: only one class ({classes[0]!r}); a classifier needs at least two")
    return frame


def _read_jsonl(config: JsonlData, task: str) -> pd.DataFrame:
    ids = [config.group_column] if config.group_column else []
    fields = [*REQUIRED_COLUMNS[task], "label"]
    # Checked here rather than in _check, so that the message names the line an editor shows.
    frame = read_jsonl_table(config.path, fields, ids, config.labels, nonblank=fields)
    _check_label_spelling(frame["label"], config.path, declared=config.labels is not None)
    absent = [label for label in config.labels or [] if label not in set(frame["label"])]
    if absent:
        # Declared, so expected; but a model learns only the labels its rows have, and would never answer these.
        logger.warning(
            "%s: declared label(s) %s have no row: the model will not know them", config.path, ", ".join(absent)
        )
    # Without a group column every row is its own group: plain (ungrouped) splits.
    frame["group"] = frame[config.group_column] if config.group_column else [str(i) for i in range(len(frame))]
    return frame


# Fewer rows than this, beside labels with many, make a label look like a typo of another.
_RARE_LABEL_ROWS = 3


def _check_label_spelling(labels: pd.Series, path: Path, declared: bool) -> None:
    """Refuse labels that can only be slips (spaces around one; two that differ only in case), naming the line;
    where the labels are not `declared`, warn of a label so rare beside the others that it may be a typo."""
    first: dict[str, int] = {}
    for row, label in enumerate(labels):
        first.setdefault(label, row)

    def line(row: int) -> int:
        # The file is read again for its line numbers only where a label is refused.
        return next(number for index, (number, _) in enumerate(jsonl_lines(path)) if index == row)

    by_case: dict[str, str] = {}
    for label, row in first.items():
        if label != label.strip():
            raise UserInputError(f"{path}:{line(row)}: label {label!r} has spaces around it; write {label.strip()!r}")
        other = by_case.setdefault(label.casefold(), label)
        if other != label:
            raise UserInputError(
                f"{path}:{line(row)}: label {label!r} differs from {other!r} (line {line(first[other])}) only in case: "
                "write one of them (data.labels=[...] refuses any label outside the list)"
            )
    counts = labels.value_counts()
    # Rare beside the largest label: one row beside ten, two beside twenty.
    rare = sorted(str(label) for label, count in counts.items() if count < _RARE_LABEL_ROWS and counts.max() >= 10 * count)
    if rare and not declared:
        common = [str(label) for label, count in counts.items() if count >= _RARE_LABEL_ROWS]
        guesses = {label: difflib.get_close_matches(label, common, n=1) for label in rare}
        logger.warning(
            "%s: label(s) %s have fewer than %d rows beside others with %d: a typo? data.labels=[...] refuses any label "
            "outside the list",
            path,
            ", ".join(f"{label!r} ({guesses[label][0]!r}?)" if guesses[label] else repr(label) for label in rare),
            _RARE_LABEL_ROWS,
            counts.max(),
        )


def load_labelled_data(
    config: SeedData | JsonlData | BenchmarkData, task: str, extra: Sequence[ExtraTraining] = ()
) -> LabelledData:
    """Load and check the data an experiment trains and is evaluated on, and its extra training sources."""
    frame, name, source = _load_frame(config, task)
    frame = _check(frame.reset_index(drop=True), task, source)
    # Computed once: on FNC-1's 49,972 bodies it takes seconds.
    keys = input_keys(frame, task)
    warn_of_conflicting_copies(frame, keys, source)
    frame, joined = join_groups_sharing_inputs(frame, keys)
    if joined:
        logger.warning(
            "%s: %d group(s) share an input with another group and are kept on one side of every split with it, so "
            "that no held-out row is scored on an input its model trained on",
            source, joined,
        )
    frame = frame[[*REQUIRED_COLUMNS[task], "label", "group"]]
    labels, known = set(frame["label"]), set(keys)
    return LabelledData(
        frame=frame,
        name=name,
        source=source,
        task=task,
        extra=tuple(_without_data_copies(_load_extra(source_config, task, labels), task, known) for source_config in extra),
        groups_joined=joined,
    )


def _without_data_copies(extra: ExtraSource, task: str, data_keys: set[str]) -> ExtraSource:
    """The source less its copies of the data's inputs (`data_keys`), said where there are any."""
    frame, copies = without_copies_of(extra.frame, task, data_keys)
    if not copies:
        return extra
    if frame.empty:
        raise UserInputError(f"extra_training {extra.source}: every row is a copy of a row of the experiment's data")
    logger.warning(
        "extra_training %s: %d row(s) left out, copies of inputs of the experiment's data (on every fold's training "
        "side they would give the held-out row's label away)",
        extra.source, copies,
    )
    return replace(extra, frame=frame, copies_left_out=copies)


def _load_extra(config: ExtraTraining, task: str, labels: set[str]) -> ExtraSource:
    frame, name, source = _load_frame(config.data, task)
    found = set(frame["label"])
    unmapped = sorted(found - set(config.labels))
    if unmapped:
        raise UserInputError(
            f"extra_training {source}: label(s) {', '.join(unmapped)} have no mapping in `labels` "
            f"(map each to one of {', '.join(sorted(labels))}, or to null to leave those rows out)"
        )
    unknown = sorted({target for target in config.labels.values() if target is not None} - labels)
    if unknown:
        raise UserInputError(
            f"extra_training {source}: `labels` maps to {', '.join(unknown)}, which the experiment's data does not have "
            f"(its labels: {', '.join(sorted(labels))}); map those to null to leave their rows out, or train without "
            "the config's extra sources: 'extra_training=[]'"
        )
    frame = frame.assign(label=frame["label"].map(config.labels)).dropna(subset=["label"])
    if frame.empty:
        raise UserInputError(f"extra_training {source}: `labels` maps every row to null, so the source adds nothing")
    # One label is enough here: a source may only add examples of a rare class (news -> economy);
    # the experiment's own data still needs two.
    frame = _check(frame.reset_index(drop=True), task, source, two_classes=False)
    # Extra groups never meet the data's groups: the prefix keeps them apart should the ids coincide.
    frame = frame.assign(group="extra:" + frame["group"].astype(str))
    return ExtraSource(frame=frame[[*REQUIRED_COLUMNS[task], "label", "group"]], name=name, source=source, weight=config.weight)


def _load_frame(config: SeedData | JsonlData | BenchmarkData, task: str) -> tuple[pd.DataFrame, str, str]:
    match config:
        case SeedData():
            loader = load_topic_dataset if task == "topic" else load_stance_dataset
            frame = loader(config.segments, config.labels).to_pandas().rename(columns={"article_id": "group"})
            name, source = seed_data_name(config), str(config.labels)
        case JsonlData():
            frame, name, source = _read_jsonl(config, task), file_data_name(config.path), str(config.path)
        case BenchmarkData():
            from training.public_datasets.adapters import get_benchmark, load_benchmark

            benchmark = get_benchmark(config.name)
            split = benchmark.resolve_split(config.split)
            frame = load_benchmark(config.name, config.data_dir, split, task, config.limit)
            name = benchmark_data_name(config.name, split, config.data_dir, config.limit)
            source = str(benchmark.directory(config.data_dir))
    return frame, name, source
