"""A stop (SIGTERM, Ctrl-C) waits out a call to the tracking store, then is raised where the process stands."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, cast

import pytest

from training import stop_requests

# A user signal stands for SIGTERM: the handler sends the signal it got to the process again.
SIGNAL = signal.SIGUSR1


@pytest.fixture(autouse=True)
def handler(fresh_stop_requests: None) -> Iterator[None]:
    """stop() as the handler of SIGNAL, with a fresh record of requests."""
    previous = signal.signal(SIGNAL, stop_requests.stop)
    yield
    # A signal the handler re-sent must reach it, not the default action, which ends the process (the xdist worker):
    # wait for the re-sends still on their way, however late a loaded machine runs their timer threads.
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer) and thread.function is stop_requests._redeliver:
            thread.join(timeout=60)
    time.sleep(4 * stop_requests.RECHECK_S)
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


def store_call(*modules: str) -> Callable[[int, float], str]:
    """A call that signals the process and then works for a while, its code in the last of `modules` (MLflow's,
    SQLAlchemy's), reached through a function in each of the others, outermost first."""
    namespace: dict[str, Any] = {"__name__": modules[-1]}
    exec(STORE_CALL, namespace)  # noqa: S102 - the module the code runs in is the point
    call = namespace["call"]
    for module in reversed(modules[:-1]):
        namespace = {"__name__": module, "inner": call}
        exec("def call(signum, seconds):\n    return inner(signum, seconds)", namespace)  # noqa: S102
        call = namespace["call"]
    return cast(Callable[[int, float], str], call)


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


@pytest.mark.parametrize(
    "modules",
    [
        ["training.trainer"],
        # MLflow's log_model runs the model's predict: nothing of the store's is half done there.
        ["mlflow.pyfunc", "classifiers.pyfunc"],
        # MLflow waiting on a tracking server, which it may retry for minutes: each request is whole or not at all.
        ["mlflow.store.tracking.rest_store", "urllib3.connectionpool"],
    ],
)
def test_a_stop_elsewhere_is_raised_at_once(modules: list[str]) -> None:
    with pytest.raises(stop_requests.Stopped, match="stopped by SIGUSR1"):
        store_call(*modules)(SIGNAL, 5.0)


def test_a_stop_still_waiting_when_the_work_ends_is_raised_then() -> None:
    stop_requests.raise_if_pending()  # nothing asked yet
    assert store_call("sqlalchemy.orm.session")(SIGNAL, 0.0) == "returned"  # the command's last call
    with pytest.raises(stop_requests.Stopped):
        stop_requests.raise_if_pending()
    stop_requests.raise_if_pending()  # raised once: not again
    assert raised_within(0.5) is None  # nor by the signal the handler re-sent


def test_a_store_call_that_does_not_return_is_waited_for_only_so_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stop_requests, "MAX_WAIT_S", 0.2)
    # Say, MLflow copying a model of gigabytes: the stop is raised inside the call.
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


def test_a_stop_while_a_training_is_undone_is_remembered_and_not_raised() -> None:
    with stop_requests.undoing():
        signal.raise_signal(SIGNAL)  # a second Ctrl-C while the registration is undone: the undoing goes on
    with pytest.raises(stop_requests.Stopped):
        stop_requests.raise_if_pending()  # where the command ends, as training/__main__.py asks


@contextmanager
def signalled_at_handover(where: str) -> Iterator[None]:
    """Send SIGNAL the moment contextlib hands the block of the next @contextmanager over to it (`enter`: its generator
    has yielded) or back (`exit`: before the generator is resumed), made exact by a profile hook."""
    handover = getattr(contextlib._GeneratorContextManager, f"__{where}__").__code__
    sent: list[int] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if sent or frame.f_code is not handover:
            return
        if (where == "enter" and event == "c_return" and arg is next) or (where == "exit" and event == "call"):
            sent.append(1)
            signal.raise_signal(SIGNAL)

    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(None)


def working_for(seconds: float) -> None:
    """Work that a stop raised into it ends."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("where", ["enter", "exit"])
def test_a_stop_as_a_context_manager_hands_its_block_over_waits_for_the_block_or_the_end(where: str) -> None:
    ended: list[str] = []

    @contextmanager
    def opened() -> Iterator[None]:
        try:
            yield
        except stop_requests.Stopped:
            ended.append("stopped")
            raise
        ended.append("ended")

    with signalled_at_handover(where), pytest.raises(stop_requests.Stopped):
        with opened():
            working_for(5.0 if where == "enter" else 0.0)
        working_for(5.0)
    # It was raised there, outside both the block and the generator, which stayed suspended: what it had opened (an
    # MLflow run) was never ended by it.
    assert ended == (["stopped"] if where == "enter" else ["ended"])
