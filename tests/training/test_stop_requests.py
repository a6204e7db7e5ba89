"""A stop (SIGTERM, Ctrl-C) waits out a call to the tracking store, then is raised where the process stands."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from training import stop_requests

# A user signal stands for SIGTERM: the handler sends the signal it got to the process again.
SIGNAL = signal.SIGUSR1


@pytest.fixture(autouse=True)
def handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """stop() as the handler of SIGNAL, with a fresh record of requests."""
    monkeypatch.setattr(stop_requests, "_requested", [])
    monkeypatch.setattr(stop_requests, "_first_requested_at", [])
    monkeypatch.setattr(stop_requests, "_redelivering", threading.Event())
    monkeypatch.setattr(stop_requests, "_raised", threading.Event())
    previous = signal.signal(SIGNAL, stop_requests.stop)
    yield
    signal.signal(SIGNAL, previous)


STORE_CALL = """
import os, time

def call(signum, seconds):
    os.kill(os.getpid(), signum)  # the stop lands in the middle of the call
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    return "returned"
"""


def store_call(module: str) -> Callable[[int, float], str]:
    """A call that signals the process and then works for a while, its code in `module` (MLflow's, SQLAlchemy's)."""
    namespace: dict[str, Any] = {"__name__": module}
    exec(STORE_CALL, namespace)  # noqa: S102 - the module the code runs in is the point
    return cast(Callable[[int, float], str], namespace["call"])


def raised_within(seconds: float) -> BaseException | None:
    """The stop raised into this loop (outside any store call) within `seconds`, if one is."""
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.01)
    except stop_requests.Stopped as stopped:
        return stopped
    return None


@pytest.mark.parametrize("module", ["sqlalchemy.engine.default", "mlflow.tracking.fluent"])
def test_a_stop_inside_a_store_call_waits_for_it_to_return(module: str) -> None:
    assert store_call(module)(SIGNAL, 0.3) == "returned"

    stopped = raised_within(5.0)

    assert isinstance(stopped, stop_requests.Stopped) and stopped.exit_code == 128 + SIGNAL
    # Raised once: the signal the handler sent itself does not raise it a second time.
    assert raised_within(0.5) is None


def test_a_stop_elsewhere_is_raised_at_once() -> None:
    with pytest.raises(stop_requests.Stopped, match="stopped by SIGUSR1"):
        store_call("training.trainer")(SIGNAL, 5.0)


def test_a_store_call_that_does_not_return_is_waited_for_only_so_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stop_requests, "MAX_WAIT_S", 0.2)
    # Say, MLflow retrying a lost tracking server for minutes: the stop is raised inside the call.
    with pytest.raises(stop_requests.Stopped):
        store_call("mlflow.utils.rest_utils")(SIGNAL, 10.0)


def test_a_stop_is_remembered_for_the_checkpoints() -> None:
    stop_requests.raise_if_requested()  # nothing asked yet
    with pytest.raises(stop_requests.Stopped):
        store_call("training.trainer")(SIGNAL, 5.0)
    with pytest.raises(stop_requests.Stopped):
        stop_requests.raise_if_requested()


def test_a_stop_raised_at_a_checkpoint_is_not_raised_again_when_the_store_call_returns() -> None:
    assert store_call("sqlalchemy.orm.session")(SIGNAL, 0.0) == "returned"  # its stop is still waiting
    with pytest.raises(stop_requests.Stopped):
        stop_requests.raise_if_requested()
    assert raised_within(0.5) is None
