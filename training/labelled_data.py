"""Turn a config's data section into one frame the trainer works on, whatever the source."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from classifiers.contract import REQUIRED_COLUMNS
from classifiers.errors import UserInputError
from training.config.schema import BenchmarkData, JsonlData, SeedData
from training.corpus.hf_datasets import load_stance_dataset, load_topic_dataset
from training.jsonl_table import read_jsonl_table


@dataclass(frozen=True)
class LabelledData:
    """Inputs (`text`, plus `target` for stance), `label` and the `group` that splits keep together."""

    frame: pd.DataFrame
    name: str
    source: str
    task: str

    @property
    def inputs(self) -> pd.DataFrame:
        return self.frame[list(REQUIRED_COLUMNS[self.task])]

    @property
    def labels(self) -> list[str]:
        return sorted(self.frame["label"].unique())


def _check(frame: pd.DataFrame, task: str, where: str) -> pd.DataFrame:
    if frame.empty:
        raise UserInputError(f"{where}: the dataset is empty")
    for column in [*REQUIRED_COLUMNS[task], "label"]:
        blank = frame.index[frame[column].isna() | (frame[column].astype(str).str.strip() == "")]
        if len(blank):
            raise UserInputError(f"{where}: row {blank[0] + 1} has an empty '{column}'")
    classes = frame["label"].unique()
    if len(classes) < 2:
        raise UserInputError(f"{where}: only one class ({classes[0]!r}); a classifier needs at least two")
    return frame


def _read_jsonl(config: JsonlData, task: str) -> pd.DataFrame:
    fields = [*REQUIRED_COLUMNS[task], "label"] + ([config.group_column] if config.group_column else [])
    frame = read_jsonl_table(config.path, fields)
    # Without a group column every row is its own group: plain (ungrouped) splits.
    frame["group"] = frame[config.group_column] if config.group_column else [str(i) for i in range(len(frame))]
    return frame


def load_labelled_data(config: SeedData | JsonlData | BenchmarkData, task: str) -> LabelledData:
    """Load and check the data an experiment trains on."""
    match config:
        case SeedData():
            loader = load_topic_dataset if task == "topic" else load_stance_dataset
            frame = loader(config.segments, config.labels).to_pandas().rename(columns={"article_id": "group"})
            name, source = "seeds", str(config.labels)
        case JsonlData():
            frame, name, source = _read_jsonl(config, task), config.path.stem, str(config.path)
        case BenchmarkData():
            from training.public_datasets.adapters import get_benchmark, load_benchmark

            benchmark = get_benchmark(config.name)
            split = benchmark.resolve_split(config.split)
            frame = load_benchmark(config.name, config.data_dir, split, task, config.limit)
            name, source = f"{config.name}-{split}", str(benchmark.directory(config.data_dir))
    frame = _check(frame.reset_index(drop=True), task, source)
    return LabelledData(frame=frame[[*REQUIRED_COLUMNS[task], "label", "group"]], name=name, source=source, task=task)
