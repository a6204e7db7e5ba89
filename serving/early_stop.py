"""The closing line of `python -m serving` stopped (Ctrl-C, SIGTERM) before its server starts: while its libraries
load, while its command line is parsed, while `serve` checks its settings, port and store. Typer would end a Ctrl-C
there in exit code 130 without a word, and SIGTERM's default action ended the process without one. Once uvicorn runs,
both signals are its own: it shuts the server down and says so, so SIGTERM's handler is handed back before it starts.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import NoReturn


class Stopped(BaseException):
    """SIGTERM before the server started, raised where the process stands as Ctrl-C's KeyboardInterrupt is."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def stop(signum: int, _frame: FrameType | None) -> NoReturn:
    """SIGTERM's handler until uvicorn runs (`python -m serving` sets it before its libraries load)."""
    raise Stopped(signum)


def before_start() -> bool:
    """Whether `python -m serving` has not handed its signals over to uvicorn yet: its SIGTERM handler is still set."""
    return signal.getsignal(signal.SIGTERM) is stop


def hand_over() -> None:
    """Give SIGTERM its default action back, as uvicorn must find it: it sets its own while it serves, then puts back
    the one it found and raises the signal again, which would otherwise be said as a stop before the server started."""
    if before_start():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def said_before_start(stopped: KeyboardInterrupt | Stopped) -> int:
    """Log the closing line of a stop that came before the server started; return its exit code (130, SIGTERM's 143)."""
    signum = stopped.signum if isinstance(stopped, Stopped) else signal.SIGINT
    said = "interrupted (Ctrl-C)" if signum == signal.SIGINT else str(stopped)
    logging.basicConfig(format="%(levelname)s:    %(message)s")  # uvicorn's look: its logging is not set up yet
    logging.getLogger("serving").error(
        "python -m serving %s before its server started: nothing loaded or listening", said
    )
    return 128 + signum
