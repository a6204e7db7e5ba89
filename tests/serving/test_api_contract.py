"""The API keeps its OpenAPI contract under generated input (schemathesis, derandomized): no 5xx, no
answer the schema does not describe, nothing the schema allows refused."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import ADMIN_KEY

SettingsFactory = Callable[..., ServingSettings]
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(autouse=True)
def _no_gc_callback_left_behind() -> Iterator[None]:
    """Hypothesis times garbage collection with a gc callback it leaves installed for the rest of the process. The
    later tests of this worker that stop themselves with a signal would lose it when its handler ran inside that
    callback (Python swallows an exception raised there), as a KeyboardInterrupt was once in CI."""
    before = list(gc.callbacks)
    yield
    gc.callbacks[:] = [callback for callback in gc.callbacks if callback in before]


@pytest.mark.slow
def test_every_operation_keeps_its_contract(trained_store: str, make_settings: SettingsFactory) -> None:
    app = create_app(make_settings(trained_store))
    # The lifespan loads the models; schemathesis then calls the app in-process.
    with TestClient(app):
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result.err()  # an operation schemathesis could not read
            operations.append(result.ok())

        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def keeps_contract(case: schemathesis.Case) -> None:
                case.call_and_validate(headers={"X-API-Key": ADMIN_KEY})

            keeps_contract()

    assert {operation.label for operation in operations} >= {"POST /v1/classify", "POST /v1/articles"}
