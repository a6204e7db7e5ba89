"""The closing line of `python -m serving` stopped by Ctrl-C before its server starts (while its libraries load, while
its command line is parsed), which Typer would end in exit code 130 without a word. Once uvicorn runs, a Ctrl-C is
its own: it shuts the server down and says so."""

from __future__ import annotations

import logging
import signal


def said_before_start() -> int:
    """Log the closing line of a Ctrl-C that came before the server started; return its exit code (130)."""
    logging.basicConfig(format="%(levelname)s:    %(message)s")  # uvicorn's look: its logging is not set up yet
    logging.getLogger("serving").error(
        "python -m serving interrupted (Ctrl-C) before its server started: nothing loaded or listening"
    )
    return 128 + signal.SIGINT
