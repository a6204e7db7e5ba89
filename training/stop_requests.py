"""Stops asked for by a signal (SIGTERM, Ctrl-C), remembered so the trainer honours them at its checkpoints.

A signal handler's exception is raised wherever the main thread happens to be; inside a garbage-collector or weakref
callback (MLflow's model logging runs many) Python prints it as "Exception ignored" and goes on, so without a second
look a stopped training could finish, register and be promoted.
"""

from __future__ import annotations

import signal
from types import FrameType

_requested: list[int] = []


class Stopped(BaseException):
    """The process was asked to stop (SIGTERM): raised where it runs, so open runs end FAILED and nothing stays
    half-registered, as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum


def _interruption(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


def stop(signum: int, _frame: FrameType | None) -> None:
    """The handler of SIGTERM and SIGINT: remember the request and raise it where the process stands."""
    _requested.append(signum)
    raise _interruption(signum)


def raise_if_requested() -> None:
    """Raise the stop a signal asked for, if one did (its first raise may have been dropped)."""
    if _requested:
        raise _interruption(_requested[0])
