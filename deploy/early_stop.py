"""The closing line of `python -m deploy` stopped (Ctrl-C, SIGTERM) before its command started: while its libraries
load, while its command line is parsed. Click ended a Ctrl-C while the libraries loaded in `Aborted!` (exit code 1),
Typer one while parsing in exit code 130 without a word, and SIGTERM's default action ended the process without one.
Once a command runs, its stops are its own (deploy.cli): a start stops what it started, a stop finishes first; their
closing lines say the stop as these do (`said`, `exit_code`).

Its own module, as the tracking stack imports none of the project's packages (serving has the same for its server).
"""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import NoReturn

# deploy.cli's format, which it sets only as a command starts
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

# The closing lines' logger, before and during a command
logger = logging.getLogger("deploy")


class Stopped(BaseException):
    """SIGTERM, raised where the process stands as Ctrl-C's KeyboardInterrupt is (by `stop` before the command
    started, by the command's own handler once it runs)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def stop(signum: int, _frame: FrameType | None) -> NoReturn:
    """SIGTERM's handler until a command starts (`python -m deploy` sets it before its libraries load)."""
    raise Stopped(signum)


def said(stopped: KeyboardInterrupt | Stopped) -> str:
    """The stop as a closing line says it: `interrupted (Ctrl-C)`, `stopped by SIGTERM`."""
    return str(stopped) if isinstance(stopped, Stopped) else "interrupted (Ctrl-C)"


def exit_code(stopped: KeyboardInterrupt | Stopped) -> int:
    """The stop's exit code: Ctrl-C's 130, SIGTERM's 143 (128 + the signal's number, as a shell reports it)."""
    return 128 + (stopped.signum if isinstance(stopped, Stopped) else signal.SIGINT)


def said_before_command(stopped: KeyboardInterrupt | Stopped) -> int:
    """Log the closing line of a stop that came before the command started; return its exit code (130, SIGTERM's 143)."""
    logging.basicConfig(format=LOG_FORMAT)
    logger.error("python -m deploy %s before its command started: the stack left as it was", said(stopped))
    return exit_code(stopped)
