"""Stops asked for by a signal (SIGTERM, Ctrl-C), raised where they cannot break the tracking store, and remembered
so the trainer honours them at its checkpoints.

A signal handler's exception is raised wherever the main thread happens to be. Inside a call to MLflow it can leave
a run created but never ended (RUNNING for good), and inside SQLAlchemy a SQLite write transaction that locks the file
against the very calls that mark the runs FAILED; so a stop that lands there waits for the call to return (at most
MAX_WAIT_S), unless the call is waiting on a tracking server or running this project's code. Inside a
garbage-collector or weakref callback (MLflow's model logging runs many) Python prints it as "Exception ignored"
and goes on, so without a second look a stopped training could finish, register and be promoted. Raised as a
`@contextmanager` hands over to its block or back, it would be raised outside both: what the generator opened (an
MLflow run) would stay open, so it waits there too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

# Modules whose calls a stop waits out, unless they are running this project's code (MLflow's log_model calls the
# model's predict) or waiting on a tracking server (MLflow retries a lost one for minutes): a stop raised there
# breaks nothing of the store's, whose every request is done whole or not at all.
STORE_MODULES = ("mlflow", "sqlalchemy")
NOT_WAITED_FOR = ("training", "classifiers", "serving", "requests", "urllib3", "http", "socket", "ssl")
# Long enough for any call to a store to return; not for MLflow's minutes of HTTP retries to a lost server.
MAX_WAIT_S = 10.0
RECHECK_S = 0.05
# contextlib's code that runs between a @contextmanager's generator and the with block: once the generator has
# yielded, entering the block, and before it is resumed, leaving it.
HANDOVER_CODE = (contextlib._GeneratorContextManager.__enter__.__code__, contextlib._GeneratorContextManager.__exit__.__code__)
# The format of the commands' log lines, here so that a stop before training.cli has loaded is said in it too.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_requested: list[int] = []
_first_requested_at: list[float] = []
# True while a signal the handler sent itself is on its way, so that one never raises a second time.
_redelivering = threading.Event()
_raised = threading.Event()
# Set while a stopped training undoes what it registered: a second stop there is remembered, not raised.
_undoing = threading.Event()


class Stopped(BaseException):
    """The process was asked to stop (SIGTERM): raised where it runs, so open runs end FAILED and nothing stays
    half-registered, as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum


def _interruption(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


def said(stop: KeyboardInterrupt | Stopped) -> str:
    """The stop as a command's closing line says it: `interrupted (Ctrl-C)`, `stopped by SIGTERM`."""
    return "interrupted (Ctrl-C)" if isinstance(stop, KeyboardInterrupt) else str(stop)


def exit_code(stop: KeyboardInterrupt | Stopped) -> int:
    """The stop's exit code: SIGTERM's 143; Ctrl-C's 130 (128 + SIGINT), as a shell reports a command Ctrl-C ended."""
    return stop.exit_code if isinstance(stop, Stopped) else 128 + signal.SIGINT


def said_before_command(stop: KeyboardInterrupt | Stopped) -> int:
    """Log the closing line of a stop that came before a command took charge of its own (while the libraries load, the
    command line is parsed or the command's own libraries load), when nothing has been written; return its exit code."""
    logging.basicConfig(format=LOG_FORMAT)  # a stop before the command line's logging options were read
    logging.getLogger("training").error("python -m training %s before its command started: nothing written", said(stop))
    return exit_code(stop)


def stop(signum: int, frame: FrameType | None) -> None:
    """The handler of SIGTERM and SIGINT: remember the request and raise it where the process stands, or, inside a
    call to the tracking store or a @contextmanager's hand-over, as soon as that is done (at most MAX_WAIT_S later)."""
    if _redelivering.is_set():
        _redelivering.clear()
        if _raised.is_set():
            return
    else:
        _requested.append(signum)
        _first_requested_at.append(time.monotonic())
    if _undoing.is_set():
        return
    if _waited_for(frame) and time.monotonic() - _first_requested_at[0] < MAX_WAIT_S:
        timer = threading.Timer(RECHECK_S, _redeliver, (signum,))
        timer.daemon = True
        timer.start()
        return
    _raised.set()
    raise _interruption(signum)


@contextmanager
def undoing() -> Iterator[None]:
    """While the block undoes a failed or stopped training's registration, a stop (a second Ctrl-C) is remembered but
    not raised: raised between two of its calls, it would leave the version registered, or champion. The block ends
    by raising the failure it undoes."""
    _undoing.set()
    try:
        yield
    finally:
        _undoing.clear()


@contextmanager
def held(on_first: Callable[[], None] | None = None) -> Iterator[None]:
    """While the block runs, SIGTERM and Ctrl-C are held (`on_first` is called at the first) and sent again, to the
    handlers they would have reached, as the block ends: for work that must not be cut in the middle. Outside the main
    thread, which alone receives signals (and may set their handlers), nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            if on_first is not None:
                on_first()

    previous = {number: signal.signal(number, hold) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            signal.raise_signal(received[0])


def _redeliver(signum: int) -> None:
    _redelivering.set()
    os.kill(os.getpid(), signum)


def _waited_for(frame: FrameType | None) -> bool:
    # From the innermost frame out: the first frame of a store module, of one not waited for, or of a hand-over decides.
    while frame is not None:
        if _handing_over(frame):
            return True
        package = str(frame.f_globals.get("__name__", "")).partition(".")[0]
        if package in STORE_MODULES:
            return True
        if package in NOT_WAITED_FOR:
            return False
        frame = frame.f_back
    return False


def _handing_over(frame: FrameType) -> bool:
    """Whether the frame is contextlib's, between a @contextmanager's suspended generator and its with block."""
    if frame.f_code not in HANDOVER_CODE:
        return False
    generator = getattr(frame.f_locals.get("self"), "gen", None)
    return bool(getattr(generator, "gi_suspended", False))


def ignored_while_exiting() -> None:
    """From now on the process only exits (MLflow's threads, then the interpreter's teardown: about 2 s): a stop then
    is ignored, so the exit code stays the command's. Python puts back the default action of a signal whose handler is
    a Python function as its teardown begins, so a stop there ended a command whose work was whole, its report
    written, with the signal's exit code (130, 143) and no word; an ignored signal stays ignored."""
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)


def raise_if_pending() -> None:
    """Raise a stop that was asked for and never raised: it was still waiting for a store call when the work ended."""
    if _requested and not _raised.is_set():
        raise_if_requested()


def raise_if_requested() -> None:
    """Raise the stop a signal asked for, if one did (its first raise may have been dropped)."""
    if _requested:
        _raised.set()
        raise _interruption(_requested[0])
