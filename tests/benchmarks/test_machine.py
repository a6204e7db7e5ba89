"""benchmarks/machine.py: the CPU a "Measured" line names."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import machine  # noqa: E402


def test_the_cpu_is_named_by_its_model_and_architecture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n", encoding="utf-8")
    monkeypatch.setattr(machine, "CPUINFO", cpuinfo)

    assert machine.cpu_model() == f"AMD EPYC 9R14 96-Core Processor, {platform.machine()}"
    assert machine.cpu_description().endswith(f"CPU cores (AMD EPYC 9R14 96-Core Processor, {platform.machine()})")


def test_without_a_model_name_the_architecture_alone_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\n", encoding="utf-8")
    monkeypatch.setattr(machine, "CPUINFO", cpuinfo)

    assert machine.cpu_model() == platform.machine()
