"""The `python -m` entry points, as a user starts them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from classifiers.store import PROJECT_ROOT

# Ctrl-C pressed while the command's libraries load, made exact: the import of its CLI module is interrupted.
INTERRUPTED_IMPORT = """
import runpy, sys

class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == sys.argv[2]:
            raise KeyboardInterrupt

sys.meta_path.insert(0, CtrlC())
runpy.run_module(sys.argv[1], run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("package", ["training", "serving", "deploy"])
def test_ctrl_c_while_a_command_loads_ends_it_in_one_line(package: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IMPORT, package, f"{package}.cli", "--help"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert (result.returncode, result.stderr, result.stdout) == (1, "Aborted!\n", "")
