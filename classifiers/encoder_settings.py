"""How this process's encoders compute: the NEWS_ENCODER_* variables, read by the process that runs a model (the
server, training, `mlflow models serve`), never stored in the model (its weights are saved in float32 either way).

The environment is the one channel into a model MLflow loads, so the server passes its own settings on through it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, PositiveInt, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from classifiers.errors import UserInputError

ENV_PREFIX = "NEWS_ENCODER_"
PRECISION_VARIABLE = f"{ENV_PREFIX}PRECISION"
RUNTIME_VARIABLE = f"{ENV_PREFIX}RUNTIME"
ROWS_VARIABLE = f"{ENV_PREFIX}ROWS_PER_CALL"


def _any_case_blank_for_auto(value: object) -> object:
    # As a shell user writes them: `BFloat16`, ` torch `, and `NEWS_ENCODER_PRECISION=` for the default.
    return (value.strip().lower() or "auto") if isinstance(value, str) else value


_LOOSE = BeforeValidator(_any_case_blank_for_auto)
Precision = Annotated[Literal["auto", "float32", "bfloat16"], _LOOSE]
# Which library runs a prediction-time encoder (classifiers.onnx_encoder).
Runtime = Annotated[Literal["auto", "torch", "onnxruntime", "onnxruntime-int8"], _LOOSE]
# How many rows one forward pass takes at prediction time: a server's batch holds texts of mixed lengths, and on some
# CPUs a call of 16-32 such rows is much slower per row than calls of 8 (benchmarks/bench_encoder_runtime.py).
RowsPerCall = Annotated[Literal["auto"] | PositiveInt, _LOOSE]

# What each variable takes, said in the refusal of a value it does not (pydantic's words for a union are two errors).
_TAKES = {
    "precision": "must be one of auto, float32, bfloat16",
    "runtime": "must be one of auto, torch, onnxruntime, onnxruntime-int8",
    "rows_per_call": "must be auto or a positive whole number of rows",
}


class EncoderSettings(BaseSettings):
    """The NEWS_ENCODER_* variables; `auto` where one is unset or blank."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    precision: Precision = "auto"
    runtime: Runtime = "auto"
    rows_per_call: RowsPerCall = "auto"


def encoder_settings() -> EncoderSettings:
    """The settings in this process's environment now; a UserInputError naming each variable it cannot take."""
    try:
        return EncoderSettings()
    except ValidationError as err:
        refused = {str(error["loc"][0]): error["input"] for error in err.errors()}
        raise UserInputError(
            "; ".join(f"{ENV_PREFIX}{field.upper()}={value!r}: {_TAKES[field]}" for field, value in refused.items())
        ) from None
