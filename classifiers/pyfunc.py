"""The MLflow pyfunc every registered model is, and loading one with a clear error for old layouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, DataType, Schema

from classifiers.contract import DOCUMENT_COLUMN, predict
from classifiers.interface import RETRAIN_ADVICE, OutdatedModelError, load_predictor

ARTIFACT_KEY = "classifier"
# Where models saved before the classifiers package imported their code from.
_OLD_PACKAGE = "training"


class ClassifierModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper around a saved classifier (any family)."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.classifier = load_predictor(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict(self.classifier, model_input)


def model_signature(inputs: pd.DataFrame, outputs: pd.DataFrame) -> ModelSignature:
    """The signature inferred from an example, with the contract's optional `document` column added: MLflow drops
    an input column its signature does not name, so `mlflow models serve` and `spark_udf` would never pass it on."""
    inferred = infer_signature(inputs.drop(columns=DOCUMENT_COLUMN, errors="ignore"), outputs)
    assert inferred.inputs is not None, "an example frame always gives an input schema"
    columns = [*inferred.inputs.inputs, ColSpec(DataType.string, DOCUMENT_COLUMN, required=False)]
    return ModelSignature(inputs=Schema(columns), outputs=inferred.outputs)


def load_pyfunc(uri: str) -> mlflow.pyfunc.PyFuncModel:
    """`mlflow.pyfunc.load_model`, with OutdatedModelError for a model of the old `training.models` layout."""
    try:
        return mlflow.pyfunc.load_model(uri)
    except Exception as err:
        # MLflow wraps the import error of a models-from-code entry file in an MlflowException.
        missing = _missing_module(err)
        if missing is not None and missing.split(".")[0] == _OLD_PACKAGE:
            raise OutdatedModelError(
                f"{uri} was saved by an older version of this project (it imports {missing}): {RETRAIN_ADVICE}"
            ) from err
        raise


def _missing_module(err: BaseException | None) -> str | None:
    """The module name of the first ModuleNotFoundError in an exception's chain of causes."""
    while err is not None:
        if isinstance(err, ModuleNotFoundError):
            return err.name
        err = err.__cause__ or err.__context__
    return None
