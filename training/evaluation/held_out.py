"""Score a registered (or any) model on labelled data it has never seen."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PyFuncModel

from classifiers.contract import DOCUMENT_COLUMN, REQUIRED_COLUMNS
from classifiers.errors import UserInputError
from classifiers.pyfunc import predicted_frame
from training import locations
from training.config.resolve import flatten
from training.evaluation.metrics import group_bootstrap_interval, summary_metrics
from training.evaluation.recording import Evaluation, record_evaluation
from training.evaluation.seen_rows import rows_trained_on
from training.jsonl_table import check_data_file, jsonl_lines, read_jsonl_table
from training.labelled_data import benchmark_data_name, file_data_name
from training.scoring.inputs import DocumentOrder
from training.scoring.model import ModelSpec, describe_model
from training.scoring.model import loaded_model as load_scoring_model

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluatedModel:
    """A loaded model with what it carries, and what the evaluation reports of it (`identity`)."""

    model: PyFuncModel
    task: str
    labels: list[str]
    identity: dict[str, str | None]


@contextmanager
def loaded_model(spec: ModelSpec) -> Iterator[EvaluatedModel]:
    """The pyfunc of a model `describe_model` read, with the task and label set it carries, from a copy of the model
    removed when the block ends (a remote store's); an alias was pinned to a version by `describe_model`, so the figures
    belong to the version reported even when the alias moves meanwhile."""
    with load_scoring_model(spec) as model:
        yield EvaluatedModel(model, spec.task, list(spec.labels), dict(spec.identity))


def predict_labels(model: PyFuncModel, task: str, labels: list[str], frame: pd.DataFrame) -> list[str]:
    """The model's label for every row of a frame with inputs and `label` (and, if it has one, the contract's
    `document` column: rows of one document read beside each other); gold labels must be known to the model."""
    check_known_labels(frame, labels, "the rows")
    return _model_labels(model, task, frame)


def check_known_labels(frame: pd.DataFrame, labels: list[str], source: object) -> None:
    """Refuse gold labels the model does not know, naming them and their data (a label map relabels them)."""
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        raise UserInputError(
            f"{source}: labels the model does not know: {', '.join(unknown)} (model labels: {', '.join(labels)}); "
            "map them with --label-map DATA_LABEL=MODEL_LABEL"
        )


def _model_labels(model: PyFuncModel, task: str, frame: pd.DataFrame) -> list[str]:
    """The model's label for every row of the frame, those of a document read beside each other."""
    inputs = [*REQUIRED_COLUMNS[task], *([DOCUMENT_COLUMN] if DOCUMENT_COLUMN in frame.columns else [])]
    return predicted_frame(model, frame[inputs])["label"].tolist()


def scored(
    gold: list[str],
    predicted: list[str],
    labels: list[str],
    groups: Sequence[object],
    unit: str,
    gold_labels_only: bool = False,
) -> dict[str, object]:
    """`summary_metrics` plus a 95% interval for macro-F1 from resampling `groups` (null with fewer than two).

    `gold_labels_only`: rows read through a label map, whose macro-F1 averages over the labels of the gold rows only.
    """
    metrics = summary_metrics(gold, predicted, labels, gold_labels_only)
    without = metrics.get("predicted_without_gold")
    if isinstance(without, dict) and without:
        logger.info(
            "macro-F1 averages over the labels of the gold rows; predicted with no gold row, so not averaged: %s",
            ", ".join(f"{label} ({rows} rows)" for label, rows in without.items()),
        )
    interval = group_bootstrap_interval(gold, predicted, groups, metrics["labels"], seed=0)  # type: ignore[arg-type]
    return {**metrics, "macro_f1_interval": list(interval) if interval else None, "interval_resamples": unit}


def evaluate_file(
    model_uri: str,
    path: Path,
    group_column: str | None = None,
    record_in: str | None = None,
    label_map: dict[str, str] | None = None,
) -> dict[str, object]:
    """Metrics of the model on a JSONL file of `text`, `label` (and `target` for stance); the macro-F1 interval
    resamples the values of `group_column` (e.g. an article id) when given, else single rows. Rows that give a
    `document` are read as that document's segments in file order, each beside its neighbours (as `training score`
    and the pyfunc read them; its rows must be consecutive); the others alone, and resampled alone where the
    interval resamples documents. `label_map` scores a model whose labels are not the file's, as for a benchmark:
    rows of the labels it names are relabelled, the others left out (`left_out` in the result). With `record_in`,
    also a run of that MLflow experiment (`run` in the result)."""
    check_data_file(path)  # a missing file or another format is named before the model loads
    # The MLmodel file first (task, labels, the version an alias names), then the rows, then the weights (seconds to a
    # minute): a missing column, a bad line or a label map that does not fit is named before that wait.
    spec = describe_model(model_uri)
    rows = _rows_to_score(spec.task, list(spec.labels), path, group_column, label_map)
    # The model's copy lives until its predictions are made.
    with loaded_model(spec) as loaded:
        frame, predicted, metrics = _scored_rows_of(loaded, rows, group_column)
    seen = _trained_on(loaded, frame)
    result = {"model": loaded.identity, **metrics, "trained_on": seen}
    if record_in is None:
        return result
    source = str(path.resolve())
    # Named as the dataset and training's params name a file (from the project root, the data directory as
    # `$NEWS_DATA_DIR`): this checkout's whole path made two checkouts' evaluations of one file differ in the compare view.
    params: dict[str, str] = {"data": str(locations.shown(path)), **({"group_column": group_column} if group_column else {})}
    params["trained_on"] = _shown(seen)
    params |= _label_map_params(label_map)
    evaluation = Evaluation(
        model=loaded,
        rows=_scored_rows(frame, loaded.task),
        predicted=predicted,
        data_name=file_data_name(path),
        data_source=source,
        params=params,
        official={},
        result=result,
    )
    return {**result, "run": record_evaluation(record_in, evaluation)}


def _scored_rows(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """The rows as they were scored, the data a recorded evaluation names: inputs, gold label, documents if any."""
    return frame[[*REQUIRED_COLUMNS[task], "label", *([DOCUMENT_COLUMN] if DOCUMENT_COLUMN in frame.columns else [])]]


@dataclass(frozen=True)
class _RowsToScore:
    """A labelled file's rows as they will be scored: `frame` (relabelled, with the rows a label map leaves out
    dropped), their resampling `groups`, the label map's `extra` figures, and `every_row` where the map left rows out
    of documents that are still read as their neighbours' context."""

    frame: pd.DataFrame
    groups: list[object]
    extra: dict[str, object]
    every_row: pd.DataFrame | None


def _rows_to_score(
    task: str, labels: list[str], path: Path, group_column: str | None, label_map: dict[str, str] | None
) -> _RowsToScore:
    """`evaluate_file`'s rows, read and checked before the model's weights load."""
    by_document = group_column == DOCUMENT_COLUMN
    frame = read_jsonl_table(
        path,
        [*REQUIRED_COLUMNS[task], "label"],
        [group_column] if group_column and not by_document else [],
        optional_ids=[DOCUMENT_COLUMN],
        # As training refuses it: a blank text would be scored as if it said something.
        nonblank=[*REQUIRED_COLUMNS[task], "label"],
    )
    if frame.empty:
        raise UserInputError(f"{path}: no rows to evaluate")
    documents = [None if pd.isna(document) else document for document in frame[DOCUMENT_COLUMN]]
    order = DocumentOrder(path, "line")
    # The rows are the file's non-blank lines: an error names the line an editor shows.
    for (line, _), document in zip(jsonl_lines(path), documents, strict=True):
        order.see(document, line)
    groups: list[Any]  # the group column's values as the file gives them, of any JSON type
    if by_document and all(document is None for document in documents):
        # Any other group column missing is an error; this one resampled single rows, reported as by document.
        raise UserInputError(
            f"{path}: no row has a {DOCUMENT_COLUMN!r} field, which --group-column {DOCUMENT_COLUMN} resamples by"
        )
    if by_document:
        groups = [f"row {row}" if document is None else f"document {document}" for row, document in enumerate(documents)]
    else:
        groups = frame[group_column].tolist() if group_column else [str(row) for row in range(len(frame))]
    if all(document is None for document in documents):
        frame = frame.drop(columns=DOCUMENT_COLUMN)
    if not label_map:
        check_known_labels(frame, labels, path)
        return _RowsToScore(frame, groups, {}, None)
    # The groups travel with their rows: a row left out takes its group entry with it.
    every_row = frame.assign(_group=groups)
    kept, left_out = mapped_to_model_labels(every_row, label_map, tuple(sorted(set(frame["label"]))), labels, "the file's")
    groups = kept.pop("_group").tolist()
    # Every row is read, those the map leaves out too: a kept segment is read beside its neighbours in the file, as
    # `training score` reads it, not beside the next kept row of its document.
    context = every_row.drop(columns="_group") if DOCUMENT_COLUMN in frame.columns else None
    return _RowsToScore(kept, groups, {"label_map": label_map, "left_out": left_out}, context)


def _scored_rows_of(
    loaded: EvaluatedModel, rows: _RowsToScore, group_column: str | None
) -> tuple[pd.DataFrame, list[str], dict[str, object]]:
    """`evaluate_file` with the model loaded: the rows scored, their predictions, the metrics."""
    model, task, labels, frame = loaded.model, loaded.task, loaded.labels, rows.frame
    if rows.every_row is not None:
        read = pd.Series(_model_labels(model, task, rows.every_row), index=rows.every_row.index)
        predicted = read[frame.index].tolist()
    else:
        predicted = predict_labels(model, task, labels, frame)
    metrics = scored(frame["label"].tolist(), predicted, labels, rows.groups, group_column or "rows", "label_map" in rows.extra)
    return frame, predicted, {**metrics, **rows.extra}


def mapped_to_model_labels(
    frame: pd.DataFrame,
    label_map: dict[str, str],
    benchmark_labels: tuple[str, ...],
    model_labels: list[str],
    whose: str = "the benchmark's",
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows whose benchmark (or file) label `label_map` names, relabelled with the model's label; and how many rows
    of each unnamed label were left out."""
    unknown = sorted(set(label_map) - set(benchmark_labels))
    if unknown:
        raise UserInputError(f"--label-map: {', '.join(unknown)} not among {whose} labels ({', '.join(benchmark_labels)})")
    foreign = sorted(set(label_map.values()) - set(model_labels))
    if foreign:
        raise UserInputError(f"--label-map: {', '.join(foreign)} not among the model's labels ({', '.join(model_labels)})")
    kept = frame["label"].isin(list(label_map))
    if not kept.any():
        raise UserInputError(f"--label-map: no row has the label(s) {', '.join(label_map)}")
    left_out = frame.loc[~kept, "label"].value_counts().sort_index()
    return frame[kept].assign(label=frame.loc[kept, "label"].map(label_map)), {str(k): int(v) for k, v in left_out.items()}


def evaluate_benchmark(
    model_uri: str,
    name: str,
    data_dir: Path,
    split: str | None,
    label_map: dict[str, str] | None = None,
    record_in: str | None = None,
) -> dict[str, object]:
    """Metrics of the model on a benchmark split in its official layout (default: the training split), official
    metrics included.

    `label_map` scores a model whose labels are not the benchmark's (the topic model on BBC News: business →
    economy): rows of the labels it names are relabelled, the others left out. The official metrics need the
    benchmark's own labels, so they come only when the map pairs every benchmark label with a model label of its own
    and every prediction maps back. With `record_in`, also a run of that MLflow experiment (`run` in the result).
    """
    from training.public_datasets.adapters import get_benchmark, load_benchmark

    benchmark = get_benchmark(name)
    split = benchmark.resolve_split(split)
    # The data first: a name, split or folder not found is reported before the model loads (seconds).
    frame = load_benchmark(name, data_dir, split, benchmark.task)
    spec = describe_model(model_uri)
    task, labels = spec.task, list(spec.labels)
    if task != benchmark.task:
        raise UserInputError(f"{name} is a {benchmark.task} dataset; model '{model_uri}' is a {task} model")
    extra: dict[str, object] = {}
    if label_map:
        frame, left_out = mapped_to_model_labels(frame, label_map, benchmark.labels, labels)
        extra = {"label_map": label_map, "left_out": left_out}
    else:
        check_known_labels(frame, labels, f"{name} ({split} split)")
    # The model's copy lives until its predictions are made.
    with loaded_model(spec) as loaded:
        gold, predicted = frame["label"].tolist(), predict_labels(loaded.model, task, labels, frame)
    # The benchmark's own groups (a VAST topic, an FNC-1 story) are the unit its dev splits keep together.
    figures = scored(gold, predicted, labels, frame["group"].tolist(), "groups", bool(label_map))
    metrics = {"model": loaded.identity, **figures, **extra}
    metrics["trained_on"] = _trained_on(loaded, frame)
    # BBC News's official figure is accuracy, which the result holds already.
    official = _official(name, benchmark.labels, frame, gold, predicted, label_map)
    official = {key: value for key, value in official.items() if key not in metrics}
    result = {**metrics, **official}
    if record_in is None:
        return result
    # The public datasets beside the project named as training's params name them: two machines' runs compare.
    shown_dir = str(locations.shown(data_dir))
    params = {"dataset": name, "split": split, "data_dir": shown_dir, "trained_on": _shown(metrics["trained_on"])}
    params |= _label_map_params(label_map)
    evaluation = Evaluation(
        model=loaded,
        rows=_scored_rows(frame, task),
        predicted=predicted,
        data_name=benchmark_data_name(name, split, data_dir),
        data_source=str(benchmark.directory(data_dir).resolve()),
        params=params,
        official=official,
        result=result,
    )
    return {**result, "run": record_evaluation(record_in, evaluation)}


def _trained_on(loaded: EvaluatedModel, frame: pd.DataFrame) -> int | None:
    """`rows_trained_on`, said as a warning where the model saw any of the rows."""
    seen = rows_trained_on(loaded.identity.get("run_id"), frame, loaded.task)
    if seen:
        logger.warning(
            "%d of the %d rows scored are rows the model was trained on (its run's data or extra sources): its figures "
            "on them are training figures, not held-out ones",
            seen, len(frame),
        )
    return seen


def _label_map_params(label_map: dict[str, str] | None) -> dict[str, str]:
    """The label map as run params: `label_map.<label>`, or one `label_map` in JSON where MLflow refuses a label in a
    param name (`war (armed)`), as the training runs log an extra source's labels."""
    params = flatten({"label_map": label_map}) if label_map else {}
    return {key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) for key, value in params.items()}


def _shown(trained_on: object) -> str:
    """`trained_on` as a run param: the count, or `unknown`."""
    return "unknown" if trained_on is None else str(trained_on)


def _official(
    name: str,
    benchmark_labels: tuple[str, ...],
    frame: pd.DataFrame,
    gold: list[str],
    predicted: list[str],
    label_map: dict[str, str] | None,
) -> dict[str, float]:
    """The benchmark's official metrics of the predictions, none where a label map makes them unknowable."""
    from training.public_datasets.scorers import official_metrics

    if label_map:
        back = {model_label: label for label, model_label in label_map.items()}
        one_to_one = len(back) == len(label_map) == len(benchmark_labels)
        if not one_to_one or set(predicted) - set(back):
            return {}
        gold, predicted = [back[label] for label in gold], [back[label] for label in predicted]
    # A benchmark scored per subset (VAST: zero-shot, few-shot) has a `subset` column; the others have none.
    subsets = frame["subset"].tolist() if "subset" in frame else None
    return official_metrics(name, gold, predicted, subsets)
