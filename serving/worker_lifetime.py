"""A worker process that ends with the `python -m serving` process that started it.

uvicorn's supervisor restarts a worker that dies, but nothing stops the workers when the supervisor itself is killed
(SIGKILL, the OOM killer): they went on serving the port, so the replica could not be started again on it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.process import BaseProcess

logger = logging.getLogger(__name__)

# Time for in-flight requests to be answered once the supervisor has gone; past it the worker exits outright, so
# that a shutdown that hangs cannot keep the port.
SHUTDOWN_GRACE_S = 20.0


def end_with_supervisor(grace_s: float = SHUTDOWN_GRACE_S) -> None:
    """In a worker uvicorn started, shut down as on SIGTERM when the supervisor ends, and exit outright if that has
    not ended the process within grace_s; a server running without workers (whose parent is a shell or a process
    manager) is left alone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    threading.Thread(target=_watch, args=(parent, grace_s), name="supervisor-watch", daemon=True).start()


def _watch(parent: BaseProcess, grace_s: float) -> None:
    # The sentinel becomes readable when the supervisor ends, however it ends; it is ready at once if it has already.
    parent.join()
    logger.warning("the supervisor (process %s) has ended: shutting down", parent.pid)
    # To the main thread itself: a process-wide signal may land on another thread, and Python runs handlers only in
    # the main thread, whenever it next notices the signal.
    main = threading.main_thread().ident
    if main is not None:
        signal.pthread_kill(main, signal.SIGTERM)
    # Reached only while the process is still running: a finished interpreter ends this daemon thread.
    threading.Event().wait(grace_s)
    logger.error("still running %.0f s after the supervisor ended: exiting now", grace_s)
    os._exit(1)
