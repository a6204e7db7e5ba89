"""The NEWS_ENCODER_* variables read by pydantic-settings: any case, blank for auto, a refusal naming each variable."""

from __future__ import annotations

import pytest

from classifiers.encoder_settings import PRECISION_VARIABLE, ROWS_VARIABLE, RUNTIME_VARIABLE, encoder_settings
from classifiers.errors import UserInputError


def test_unset_or_blank_variables_are_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRECISION_VARIABLE, raising=False)
    monkeypatch.setenv(RUNTIME_VARIABLE, "")
    monkeypatch.setenv(ROWS_VARIABLE, "  ")

    settings = encoder_settings()

    assert (settings.precision, settings.runtime, settings.rows_per_call) == ("auto", "auto", "auto")


def test_values_are_read_in_any_case_and_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, " BFloat16 ")
    monkeypatch.setenv(RUNTIME_VARIABLE, "ONNXRuntime-INT8")
    monkeypatch.setenv(ROWS_VARIABLE, " 12 ")

    settings = encoder_settings()

    assert (settings.precision, settings.runtime, settings.rows_per_call) == ("bfloat16", "onnxruntime-int8", 12)


def test_every_bad_variable_is_named_in_one_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "fp8")
    monkeypatch.setenv(RUNTIME_VARIABLE, "torch")
    monkeypatch.setenv(ROWS_VARIABLE, "0")

    with pytest.raises(UserInputError) as refused:
        encoder_settings()

    # One message for the rows, though pydantic reports a union's refusal once per member.
    assert str(refused.value) == (
        f"{PRECISION_VARIABLE}='fp8': must be one of auto, float32, bfloat16; "
        f"{ROWS_VARIABLE}='0': must be auto or a positive whole number of rows"
    )
