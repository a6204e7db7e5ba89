"""A worker ends when the process that started it is killed: by SIGTERM to its main thread, else outright."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from serving import worker_lifetime
from training import locations

# A supervisor that starts one worker as uvicorn does (multiprocessing, spawn) and waits; the worker writes its pid,
# then sleeps. With "ignore", its main thread ignores SIGTERM, as a worker whose shutdown hangs would never end.
SUPERVISOR = """
import multiprocessing, os, signal, sys, time
from serving.worker_lifetime import end_with_supervisor

def worker(pid_file, on_sigterm, grace_s):
    if on_sigterm == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    end_with_supervisor(grace_s)
    with open(pid_file + ".part", "w") as out:
        out.write(str(os.getpid()))
    os.rename(pid_file + ".part", pid_file)
    while True:
        time.sleep(0.05)

if __name__ == "__main__":
    multiprocessing.get_context("spawn").Process(target=worker, args=(sys.argv[1], sys.argv[2], float(sys.argv[3]))).start()
    time.sleep(600)
"""


def has_ended(pid: int) -> bool:
    """Whether the process is gone or a zombie (its new parent may not reap it at once)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def seconds_to_end_after_supervisor_killed(tmp_path: Path, on_sigterm: str, grace_s: float) -> float:
    """Start the supervisor, kill it once its worker runs, and time how long the worker outlives it."""
    script = tmp_path / "supervisor.py"
    script.write_text(SUPERVISOR)
    pid_file = tmp_path / "worker.pid"
    supervisor = subprocess.Popen(
        [sys.executable, str(script), str(pid_file), on_sigterm, str(grace_s)],
        cwd=locations.PROJECT_ROOT, env={"PYTHONPATH": str(locations.PROJECT_ROOT)},
    )
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists():
            assert supervisor.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        worker = int(pid_file.read_text())
        # Before the kill, not after the wait: the worker sees the supervisor end (and starts its grace period) as
        # soon as the kill lands, which can be well before this process gets back from wait() on a loaded machine.
        killed_at = time.monotonic()
        supervisor.kill()
        supervisor.wait()
        while not has_ended(worker) and time.monotonic() < killed_at + 30:
            time.sleep(0.05)
        assert has_ended(worker), "the worker outlived its supervisor by 30 s"
        return time.monotonic() - killed_at
    finally:
        supervisor.kill()
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_main_thread_gets_sigterm_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    # Well inside the grace period: the worker ended by its own SIGTERM handler, not by the outright exit.
    assert seconds_to_end_after_supervisor_killed(tmp_path, "exit", grace_s=25) < 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_that_does_not_shut_down_exits_after_the_grace_period(tmp_path: Path) -> None:
    outlived = seconds_to_end_after_supervisor_killed(tmp_path, "ignore", grace_s=2)
    assert 2 <= outlived < 15


def test_a_server_without_workers_watches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its parent is a shell or a process manager, whose end must not stop the server.
    watched = threading.Event()
    monkeypatch.setattr(worker_lifetime, "_watch", lambda *_: watched.set())
    worker_lifetime.end_with_supervisor(0)
    assert not watched.wait(0.5)
