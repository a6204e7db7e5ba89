"""The MLflow pyfunc every registered model is, and loading one with a clear error for old layouts."""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow.artifacts
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature, infer_signature
from mlflow.models.model import MLMODEL_FILE_NAME
from mlflow.pyfunc import PyFuncModel, PythonModel, PythonModelContext  # by name: mypy sees `mlflow.pyfunc` as a LazyLoader
from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository
from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, DataType, Schema
from mlflow.utils.file_utils import local_file_uri_to_path
from mlflow.utils.uri import append_to_uri_path

from classifiers.contract import DOCUMENT_COLUMN, predict
from classifiers.errors import UserInputError
from classifiers.interface import RETRAIN_ADVICE, OutdatedModelError, load_predictor

ARTIFACT_KEY = "classifier"
# What reading a model from a URI raises where the URI or the model is at fault (a caller's own UserInputError, such
# as OutdatedModelError, comes first): MLflow's errors, a path or network error, a URI MLflow's HTTP artifact store
# cannot split (a bare ValueError), a store whose client package is not installed (s3:// without botocore).
LOAD_ERRORS: tuple[type[Exception], ...] = (MlflowException, OSError, ValueError, ImportError)
URI_FORMS = "models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/MODEL_NAME or a model folder"
# A registered model's name given alone (`news-topic`, `models:/news-topic`): MLflow reads it as a folder or as a
# logged model's id.
BARE_NAME = re.compile(r"^(?:models:/)?(?P<name>[^/:@]+)$")


def load_error_reason(err: Exception, uri: str | None = None) -> str:
    """What a LOAD_ERRORS error says to the user: a bare ValueError's own words ("not enough values to unpack") say
    nothing of the URI, so the forms that load are named beside them; so are a registered model's where `uri` is a
    bare name, of which MLflow says only that no folder or logged model has it."""
    if isinstance(err, ValueError):
        return f"MLflow cannot read a model from it ({err}); give {URI_FORMS}"
    bare = BARE_NAME.match(uri or "")
    if bare is not None:
        name = bare["name"]
        return f"{str(err).rstrip('.')}; for a registered model give models:/{name}@ALIAS (e.g. @champion) or models:/{name}/VERSION"
    if uri is not None and RunsArtifactRepository.is_runs_uri(uri):
        return _run_models_reason(err, uri) or str(err)
    return str(err)


def _run_models_reason(err: Exception, uri: str) -> str | None:
    """Where a runs:/ URI names no model of its run, the URIs of those it logged: MLflow says only that no MLmodel file
    is there, and models logged before 2026-12-07 were all named `model`, later ones after their config. None where
    the run cannot be read or the model is there."""
    run_id, path = RunsArtifactRepository.parse_runs_uri(uri)
    try:
        client = MlflowClient()
        outputs = client.get_run(run_id).outputs
        names = [client.get_logged_model(output.model_id).name for output in (outputs.model_outputs if outputs else [])]
    except MlflowException:
        return None
    if path in names:
        return None
    if not names:
        return f"{str(err).rstrip('.')}; run {run_id} logged no model"
    given = ", ".join(f"runs:/{run_id}/{name}" for name in dict.fromkeys(names))
    return f"run {run_id} logged no model {'at its root' if not path else repr(path)}: give {given}"


# Where models saved before the classifiers package imported their code from.
_OLD_PACKAGE = "training"


class ClassifierModel(PythonModel):
    """Pyfunc wrapper around a saved classifier (any family)."""

    def load_context(self, context: PythonModelContext) -> None:
        self.classifier = load_predictor(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        try:
            return predict(self.classifier, model_input)
        except UserInputError as err:
            # MLflow's scoring server (`mlflow models serve`) answers any other error with "an unexpected error while
            # evaluating the model", the reason left in a traceback; its own error's message is the answer (400).
            raise MlflowException.invalid_parameter_value(str(err)) from err


def model_signature(inputs: pd.DataFrame, outputs: pd.DataFrame) -> ModelSignature:
    """The signature inferred from an example, with the contract's optional `document` column added: MLflow drops
    an input column its signature does not name, so `mlflow models serve` and `spark_udf` would never pass it on."""
    inferred = infer_signature(inputs.drop(columns=DOCUMENT_COLUMN, errors="ignore"), outputs)
    assert inferred.inputs is not None, "an example frame always gives an input schema"
    columns = [*inferred.inputs.inputs, ColSpec(DataType.string, DOCUMENT_COLUMN, required=False)]
    return ModelSignature(inputs=Schema(columns), outputs=inferred.outputs)


def load_pyfunc(uri: str, dst_path: str | None = None) -> PyFuncModel:
    """`mlflow.pyfunc.load_model` (copying the model into `dst_path` when given), with OutdatedModelError for a model
    of the old `training.models` layout."""
    try:
        return mlflow.pyfunc.load_model(uri, dst_path=dst_path)
    except Exception as err:
        # MLflow wraps the import error of a models-from-code entry file in an MlflowException.
        missing = _missing_module(err)
        if missing is not None and missing.split(".")[0] == _OLD_PACKAGE:
            raise OutdatedModelError(
                f"{uri} was saved by an older version of this project (it imports {missing}): {RETRAIN_ADVICE}"
            ) from err
        raise


@contextmanager
def loaded_pyfunc(uri: str) -> Iterator[PyFuncModel]:
    """`load_pyfunc`, from a copy in a temporary folder removed (and taken off sys.path) when the block ends, however
    it ends, where the model is in a remote store or named by a run; in place where it is on this machine. Predict
    inside the block."""
    if _read_in_place(uri):
        yield load_pyfunc(uri)
        return
    # Without dst_path MLflow downloads a remote store's model (an artifact server, S3) into a new temporary folder
    # at every load and never removes it. The block, not the load, is the copy's lifetime, so that a model that
    # reads its files after loading still finds them when it predicts (this project's families read them while
    # loading, the encoder's ONNX export included, but nothing holds the next one to that).
    with tempfile.TemporaryDirectory(prefix="news-model-") as folder:
        try:
            yield load_pyfunc(uri, dst_path=folder)
        finally:
            # MLflow put the model's copy of the classifiers package on sys.path; the package is imported from
            # this project already, and a path into a removed folder would only pile up with every load.
            sys.path[:] = [entry for entry in sys.path if not entry.startswith(folder)]


def predicted_frame(model: PyFuncModel, inputs: pd.DataFrame) -> pd.DataFrame:
    """`model.predict(inputs)` of a model this project saved: ClassifierModel's frame, where MLflow types a pyfunc's
    output as any of several shapes."""
    predictions = model.predict(inputs)
    assert isinstance(predictions, pd.DataFrame), "ClassifierModel.predict gives a frame"
    return predictions


def read_mlmodel(uri: str) -> Model:
    """The model's MLmodel file (flavours, signature, metadata, no weights), read without asking the tracking store:
    `mlflow.models.get_model_info` looks the logged model up by its id in the current store, so a model folder failed
    against any store but the one it was logged to. From a remote store it is read from a copy removed afterwards,
    where MLflow's own read leaves it in a new temporary folder."""
    if _read_in_place(uri):
        # Model.load takes a path: a file: URI, which load_model reads, was "no MLmodel file at file:///...".
        return Model.load(local_file_uri_to_path(uri) if urlparse(uri).scheme == "file" else uri)
    # A models:/ URI names a registry entry, not a folder the file's name can be appended to; a runs:/ URI is resolved
    # by MLflow's runs repository (the model's files may live apart from the run's, as a logged model's do).
    location = ModelsArtifactRepository.get_underlying_uri(uri) if ModelsArtifactRepository.is_models_uri(uri) else uri
    with tempfile.TemporaryDirectory(prefix="news-mlmodel-") as folder:
        local = mlflow.artifacts.download_artifacts(artifact_uri=append_to_uri_path(location, MLMODEL_FILE_NAME), dst_path=folder)
        return Model.load(local)


def _read_in_place(uri: str) -> bool:
    """Whether MLflow reads the model the URI names where it lies, without a copy. Not a runs:/ URI, even of a store on
    this machine: MLflow's runs repository copies the model into a new temporary folder at every load."""
    return not RunsArtifactRepository.is_runs_uri(uri) and _is_local(_artifact_location(uri))


def _artifact_location(uri: str) -> str:
    """Where the files of the model a URI names are, near enough to tell this machine from a remote store: a models:/
    or runs:/ URI names a registry entry or a run, not a folder."""
    if ModelsArtifactRepository.is_models_uri(uri):
        return ModelsArtifactRepository.get_underlying_uri(uri)
    if RunsArtifactRepository.is_runs_uri(uri):
        return RunsArtifactRepository.get_underlying_uri(uri)
    return uri


def _is_local(location: str) -> bool:
    """Whether an artifact location is a folder of this machine (a path, file:), which MLflow reads in place."""
    return urlparse(location).scheme in ("", "file")


def _missing_module(err: BaseException | None) -> str | None:
    """The module name of the first ModuleNotFoundError in an exception's chain of causes."""
    while err is not None:
        if isinstance(err, ModuleNotFoundError):
            return err.name
        err = err.__cause__ or err.__context__
    return None
