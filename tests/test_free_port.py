"""free_port, which every test that starts a server uses: another xdist worker must not be handed the same port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.store import PROJECT_ROOT
from tests import conftest
from tests.conftest import PORT_LEDGER_VARIABLE, free_port


def test_a_port_is_handed_out_once_per_run_even_when_drawn_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(PORT_LEDGER_VARIABLE, str(tmp_path / "ports"))
    first = free_port()
    draws = iter([first, first, first + 1])

    class Replayed:
        """Draws `first` twice, then the next port."""

        def choice(self, _: range) -> int:
            return next(draws)

    monkeypatch.setattr(conftest.random, "SystemRandom", Replayed)

    assert free_port() == first + 1


def test_ports_are_below_the_kernels_ephemeral_range_and_unique_across_processes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PORT_LEDGER_VARIABLE, str(tmp_path / "ports"))
    other = subprocess.run(
        [sys.executable, "-c", "from tests.conftest import free_port; print(*(free_port() for _ in range(100)))"],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    ports = [int(port) for port in other.stdout.split()] + [free_port() for _ in range(100)]

    assert len(set(ports)) == len(ports) == 200
    assert not set(ports) & set(conftest._ephemeral_ports())
