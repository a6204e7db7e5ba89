"""Fixtures shared by the training tests."""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path

import pytest

from training import stop_requests


@pytest.fixture
def fresh_stop_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """No stop asked for, raised or on its way, as in a new process; what a test asks for goes with it."""
    monkeypatch.setattr(stop_requests, "_requested", [])
    monkeypatch.setattr(stop_requests, "_first_requested_at", [])
    monkeypatch.setattr(stop_requests, "_redelivering", threading.Event())
    monkeypatch.setattr(stop_requests, "_raised", threading.Event())
    monkeypatch.setattr(stop_requests, "_undoing", threading.Event())


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder, empty at first, that every temporary file and folder of this test is made in (MLflow's downloads
    included), in this process and in the commands it starts."""
    root = tmp_path / "temp-root"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    monkeypatch.setenv("TMPDIR", str(root))
    return root


def drop_a_stop() -> None:
    """Ask the process to stop (SIGTERM) where Python drops the exception, as a signal landing in a finaliser does:
    Python prints "Exception ignored" and the work goes on."""

    class Collected:
        def __del__(self) -> None:
            stop_requests.stop(signal.SIGTERM, None)

    Collected()  # collected at once
