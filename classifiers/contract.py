"""The output contract every registered model answers, implemented once.

Input: a DataFrame with `text` (and `target` for stance models), and optionally `document`: rows that name the same
document are segments of one article in reading order, each read beside its neighbours by the model's neighbour
weight (a null document, or no column, reads a row alone). Output: one row per input with `label` (the most probable
label, from the model's own label set), `score` (that label's probability) and one `proba_<label>` column per class.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import sklearn

from classifiers.blank_text import is_blank
from classifiers.errors import UserInputError
from classifiers.interface import Predictor

PROBA_PREFIX = "proba_"
REQUIRED_COLUMNS = {"topic": ("text",), "stance": ("text", "target")}
DOCUMENT_COLUMN = "document"


class Scored(NamedTuple):
    """One row's prediction: the label, its probability and every label's probability."""

    label: str
    score: float
    probabilities: dict[str, float]


# How many rows without a usable value an error names: enough to find them, not a page of numbers.
NULL_ROWS_SHOWN = 10


def check_inputs(inputs: pd.DataFrame, task: str) -> pd.DataFrame:
    """The columns the model reads, as strings; a UserInputError when one is missing or a row's value is null, not a
    string or blank."""
    missing = [column for column in REQUIRED_COLUMNS[task] if column not in inputs.columns]
    if missing:
        raise UserInputError(
            f"a {task} model needs column(s) {', '.join(REQUIRED_COLUMNS[task])}; missing: {', '.join(missing)}"
        )
    for column in REQUIRED_COLUMNS[task]:
        values = inputs[column]
        # MLflow's schema check lets a null through a required string column (it asks only for the column), and
        # astype(str) keeps it null: each family then failed on it in its own words, deep inside the model.
        _refuse_rows(task, column, values.isna().to_numpy(), "has no value")
        # It lets any value of an object column through too (`mlflow models serve` builds one from JSON), and reads
        # a dict of lists as one row of lists: astype(str) read a number, bytes or a list as its printed form, which
        # the server and `score` refuse. The first one's type is named, since a list there means such a dict.
        strings = values.map(_is_string).to_numpy(dtype=bool)
        if not strings.all():
            kind = type(values.iloc[int(np.argmin(strings))]).__name__
            _refuse_rows(task, column, ~strings, f"is not a string (the first: {kind})")
        # As the server (422) and `score` refuse it: a model answers a blank text, or toward a blank target, with a
        # confident label that means nothing.
        _refuse_rows(task, column, values.map(is_blank).to_numpy(dtype=bool), "is blank")
    return inputs[list(REQUIRED_COLUMNS[task])].astype(str)


def _is_string(value: object) -> bool:
    """Whether a column's value is a string (numpy's and pandas' strings are `str` too)."""
    return isinstance(value, str)


def _refuse_rows(task: str, column: str, bad: np.ndarray, fault: str) -> None:
    """A UserInputError naming the first rows where `bad` holds, if any."""
    _refuse(f"a {task} model needs a string in every row of {', '.join(REQUIRED_COLUMNS[task])}: column {column} {fault}", bad)


def _refuse(what: str, bad: np.ndarray) -> None:
    """A UserInputError saying `what` of the first rows where `bad` holds, if any."""
    rows = np.flatnonzero(bad)
    if len(rows):
        shown = ", ".join(str(row) for row in rows[:NULL_ROWS_SHOWN])
        shown += ", ..." if len(rows) > NULL_ROWS_SHOWN else ""
        raise UserInputError(f"{what} in row(s) {shown} (counted from 0; {len(rows)} in all)")


def check_shape(labels: tuple[str, ...] | list[str], probabilities: np.ndarray, rows: int) -> None:
    """ValueError when a probability matrix does not hold one row per input and one column per label."""
    if probabilities.shape != (rows, len(labels)):
        raise ValueError(
            f"the model gave probabilities of shape {probabilities.shape} for {rows} row(s) and {len(labels)} labels"
        )


def scored_rows(labels: tuple[str, ...] | list[str], probabilities: np.ndarray, rows: int) -> list[Scored]:
    """The contract's rows from a probability matrix; ValueError when it does not fit rows x labels."""
    check_shape(labels, probabilities, rows)
    best = probabilities.argmax(axis=1).tolist() if rows else []
    return [
        Scored(labels[index], row[index], dict(zip(labels, row, strict=True)))
        for index, row in zip(best, probabilities.tolist(), strict=True)
    ]


def prediction_frame(labels: list[str], probabilities: np.ndarray) -> pd.DataFrame:
    """The contract's output frame (the rows of `scored_rows`, probabilities as columns)."""
    rows = scored_rows(labels, probabilities, len(probabilities))
    frame = pd.DataFrame(
        {
            "label": pd.Series([row.label for row in rows], dtype=object),
            "score": pd.Series([row.score for row in rows], dtype=float),
        }
    )
    for index, label in enumerate(labels):
        frame[f"{PROBA_PREFIX}{label}"] = probabilities[:, index].astype(float)
    return frame


def documents_of(inputs: pd.DataFrame) -> list[object] | None:
    """The `document` column's values (None where null, an integer as its string), or None when the frame has no such
    column; a UserInputError naming the rows whose document is neither a string nor an integer, or is blank."""
    if DOCUMENT_COLUMN not in inputs.columns:
        return None
    column = inputs[DOCUMENT_COLUMN].astype(object)
    # An integer id is its string, as `score` reads one: `mlflow models serve` passes a JSON integer as an int in
    # dataframe_records and dataframe_split, as its string in inputs and instances.
    documents = [_as_id(document) for document in column.where(column.notna(), None).tolist()]
    # MLflow's schema check passes any value of an object column: a list failed inside the model ("unhashable type").
    odd = np.array([document is not None and not isinstance(document, str) for document in documents], dtype=bool)
    if odd.any():
        kind = type(documents[int(np.argmax(odd))]).__name__
        _refuse(f"column {DOCUMENT_COLUMN} is not a string (the first: {kind})", odd)
    # As the server and `score` refuse it: a blank is no article (some exports write a missing id so), and the rows
    # "in" it were read beside each other.
    blank = [isinstance(document, str) and is_blank(document) for document in documents]
    _refuse(f"column {DOCUMENT_COLUMN} is blank (leave it null for a row read alone)", np.array(blank, dtype=bool))
    return documents


def _as_id(document: object) -> object:
    """An integer document id as its string (a bool is no id); any other value as it is."""
    if isinstance(document, (int, np.integer)) and not isinstance(document, bool):
        return str(document)
    return document


def predict(predictor: Predictor, inputs: pd.DataFrame) -> pd.DataFrame:
    """Apply a predictor under the contract, rows that name a document read beside their neighbours in it."""
    checked = check_inputs(inputs, predictor.task)
    documents = documents_of(inputs)
    if checked.empty:
        # Nothing to ask the model: a family's vectorizer or encoder fails on no rows ("Found array with 0 sample(s)").
        probabilities = np.zeros((0, len(predictor.labels)))
    elif documents is None:
        probabilities = predictor.predict_proba(checked)
    else:
        # Without a document a row is one of its own (mix_neighbours' None), not a segment of one shared article.
        probabilities = predictor.predict_proba_in_documents(checked, documents)
    # One row out per row in, whatever the family: checked here, where MLflow, `score` and `mlflow models serve` call.
    check_shape(predictor.labels, probabilities, len(checked))
    return prediction_frame(predictor.labels, probabilities)


def score_columns(predictor: Predictor, labels: tuple[str, ...], columns: dict[str, list[str]]) -> list[Scored]:
    """The contract's rows for validated string columns, in one model call.

    The server's path: it skips the output DataFrame, whose column-by-column construction cost a
    fifth of the service's throughput on the small batches of a busy server.
    """
    # The inputs are validated strings, so sklearn's per-call parameter and finiteness checks only cost time.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        probabilities = predictor.predict_proba(pd.DataFrame(columns))
    return scored_rows(labels, probabilities, len(columns["text"]))
