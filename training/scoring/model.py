"""The registered model a batch is scored with: what it reads, what it writes, and one chunk's predictions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from mlflow.pyfunc import PyFuncModel
from mlflow.store.artifact.utils.models import get_model_name_and_version
from mlflow.tracking import MlflowClient

from classifiers.contract import DOCUMENT_COLUMN, PROBA_PREFIX, REQUIRED_COLUMNS
from classifiers.errors import UserInputError
from classifiers.pyfunc import LOAD_ERRORS, load_error_reason, loaded_pyfunc, predicted_frame, read_mlmodel
from classifiers.store import REGISTERED_MODEL_URI, registered_version
from training.scoring.inputs import plain_strings

# The contract's first two output columns (classifiers.contract.prediction_frame); one proba_<label> per class follows.
LABEL_COLUMN = "label"
SCORE_COLUMN = "score"


# What names the model that scored an output (`ModelSpec.identity`, as JSON): a key of the local engine's Parquet
# metadata, a file in the Spark engine's output folder.
MODEL_METADATA_KEY = b"news_classify.model"
MODEL_FILE = "_model.json"
# `models:/NAME/latest` (any case), MLflow's name for a registered model's newest version.
_NEWEST_VERSION_URI = re.compile(r"^models:/[^/@]+/latest$", re.IGNORECASE)


@dataclass(frozen=True)
class ModelSpec:
    """A model's URI (a registry alias read once, pinned to its version) with the task and label set its MLmodel
    metadata carries, and what an output reports of it (`identity`: the URI as given, name, version, run)."""

    uri: str
    task: str
    labels: tuple[str, ...]
    identity: Mapping[str, str | None] = field(default_factory=dict)

    def describe(self) -> str:
        """`news-topic version 3 (models:/news-topic@champion)`, or the URI where it names no registered version."""
        if self.identity.get("version") is None:
            return self.uri
        return f"{self.identity['name']} version {self.identity['version']} ({self.identity['uri']})"

    @property
    def required_columns(self) -> tuple[str, ...]:
        """The input columns the model reads (`text`, and `target` for stance)."""
        return REQUIRED_COLUMNS[self.task]

    @property
    def output_fields(self) -> list[pa.Field]:
        """The columns scoring adds, in the contract's order and types."""
        return [
            pa.field(LABEL_COLUMN, pa.string()),
            pa.field(SCORE_COLUMN, pa.float64()),
            *(pa.field(f"{PROBA_PREFIX}{label}", pa.float64()) for label in self.labels),
        ]

    @property
    def output_columns(self) -> list[str]:
        """The names of `output_fields`."""
        return [field.name for field in self.output_fields]


def pinned(model_uri: str) -> tuple[str, dict[str, str | None]]:
    """The URI of the registered version a models:/ URI names now, and the uri, name and version to report; any other
    URI as it is, reported as given. Whatever reads the model through the pinned URI reads one version, even where
    the alias moves meanwhile."""
    if _NEWEST_VERSION_URI.match(model_uri):
        # MLflow's own reading of the keyword (the name's highest version), once: `latest` moves as versions are made.
        name, version = get_model_name_and_version(MlflowClient(), model_uri)
        return f"models:/{name}/{version}", {"uri": model_uri, "name": name, "version": str(version)}
    if not REGISTERED_MODEL_URI.match(model_uri):
        return model_uri, {"uri": model_uri}
    found = registered_version(MlflowClient(), model_uri)
    return f"models:/{found.name}/{found.version}", {"uri": model_uri, "name": found.name, "version": str(found.version)}


def describe_model(uri: str) -> ModelSpec:
    """The model's task and labels, from its MLmodel file alone (no weights are loaded)."""
    try:
        uri_of_version, identity = pinned(uri)
        mlmodel = read_mlmodel(uri_of_version)
    except UserInputError:
        raise
    except LOAD_ERRORS as err:
        raise UserInputError(f"cannot load model '{uri}': {load_error_reason(err, uri)}") from err
    meta = mlmodel.metadata or {}
    if meta.get("task") not in REQUIRED_COLUMNS or "labels" not in meta:
        raise UserInputError(f"model '{uri}' was not trained by this project (no task/labels metadata)")
    return ModelSpec(uri_of_version, meta["task"], tuple(meta["labels"]), {**identity, "run_id": mlmodel.run_id})


@contextmanager
def loaded_model(spec: ModelSpec) -> Iterator[PyFuncModel]:
    """The pyfunc itself (weights included), from a copy of the model removed when the block ends (predict inside
    it); a load failure is the user's bad URI, not a crash."""
    with ExitStack() as stack:
        # Only the load's errors are the user's bad URI: one raised while scoring stays what it is.
        try:
            model = stack.enter_context(loaded_pyfunc(spec.uri))
        except UserInputError:
            raise
        except LOAD_ERRORS as err:
            # The URI as given (an alias), not the version it was pinned to.
            given = str(spec.identity.get("uri", spec.uri))
            raise UserInputError(f"cannot load model '{given}': {load_error_reason(err, given)}") from err
        yield model


def predict_table(model: PyFuncModel, spec: ModelSpec, chunk: pa.Table) -> pa.Table:
    """The model's output columns for a chunk, one row per input row, typed as `spec.output_fields`."""
    required = list(spec.required_columns)
    inputs = pa.Table.from_pydict({name: plain_strings(chunk.column(name)) for name in required})
    if DOCUMENT_COLUMN in chunk.column_names:
        # The signature's document column is a string: an integer article id names its document as well.
        inputs = inputs.append_column(DOCUMENT_COLUMN, _as_strings(chunk.column(DOCUMENT_COLUMN)))
    predictions = predicted_frame(model, inputs.to_pandas())
    # Casting to the fixed schema keeps every chunk's columns identical, which one ParquetWriter needs.
    table = pa.Table.from_pandas(predictions[spec.output_columns], schema=pa.schema(spec.output_fields), preserve_index=False)
    if table.num_rows != chunk.num_rows:
        raise RuntimeError(f"model '{spec.uri}' returned {table.num_rows} rows for {chunk.num_rows} inputs")
    return table


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A document column (strings or integers, maybe dictionary-encoded: `inputs.whole_documents` checked) as strings;
    nulls stay null."""
    return pc.cast(column, pa.string())


def with_predictions(chunk: pa.Table, predictions: pa.Table) -> pa.Table:
    """The input chunk, every column unchanged, with the prediction columns appended."""
    for output_field, column in zip(predictions.schema, predictions.columns, strict=True):
        chunk = chunk.append_column(output_field, column)
    return chunk
