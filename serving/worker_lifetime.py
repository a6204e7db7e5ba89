"""A worker process that ends with the `python -m serving` process that started it.

uvicorn's supervisor restarts a worker that dies, but nothing stops the workers when the supervisor itself is killed
(SIGKILL, the OOM killer): they went on serving the port, so the replica could not be started again on it.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys

logger = logging.getLogger(__name__)

# <linux/prctl.h>: the signal the kernel sends this process when its parent ends.
PR_SET_PDEATHSIG = 1


def end_with_supervisor() -> None:
    """In a worker uvicorn started, have the kernel send SIGTERM when the supervisor ends (Linux); elsewhere, and in a
    server running without workers (whose parent is a shell or a process manager), nothing changes."""
    parent = multiprocessing.parent_process()
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        logger.warning("cannot ask to end with the supervisor: %s", os.strerror(ctypes.get_errno()))
        return
    # The supervisor may have ended before the request was made: the kernel would then never send the signal.
    if os.getppid() != parent.pid:
        os.kill(os.getpid(), signal.SIGTERM)
