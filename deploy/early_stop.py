"""The closing line of `python -m deploy` stopped (Ctrl-C, SIGTERM) before its command started: while its libraries
load, while its command line is parsed. Click ended a Ctrl-C while the libraries loaded in `Aborted!` (exit code 1),
Typer one while parsing in exit code 130 without a word, and SIGTERM's default action ended the process without one.
Once a command runs, its stops are its own (deploy.cli): a start stops what it started, a stop finishes first.

Its own module, as the tracking stack imports none of the project's packages (serving has the same for its server).
"""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import NoReturn

# deploy.cli's format, which it sets only as a command starts
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class Stopped(BaseException):
    """SIGTERM before the command started, raised where the process stands as Ctrl-C's KeyboardInterrupt is."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def stop(signum: int, _frame: FrameType | None) -> NoReturn:
    """SIGTERM's handler until a command starts (`python -m deploy` sets it before its libraries load)."""
    raise Stopped(signum)


def said_before_command(stopped: KeyboardInterrupt | Stopped) -> int:
    """Log the closing line of a stop that came before the command started; return its exit code (130, SIGTERM's 143)."""
    signum = stopped.signum if isinstance(stopped, Stopped) else signal.SIGINT
    said = "interrupted (Ctrl-C)" if signum == signal.SIGINT else str(stopped)
    logging.basicConfig(format=LOG_FORMAT)
    logging.getLogger("deploy").error("python -m deploy %s before its command started: the stack left as it was", said)
    return 128 + signum
