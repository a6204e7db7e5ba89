"""What a benchmark ran on, as its "Measured" lines say it: bfloat16 figures differ between CPU models."""

from __future__ import annotations

import os
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else the architecture alone."""
    if CPUINFO.is_file():
        for line in CPUINFO.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return f"{value.strip()}, {platform.machine()}"
    return platform.machine()


def cpu_description() -> str:
    """"2 CPU cores (AMD EPYC 9R14 96-Core Processor, x86_64)": the cores this process may use and their model."""
    return f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} CPU cores ({cpu_model()})"
