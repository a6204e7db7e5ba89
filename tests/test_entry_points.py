"""The `python -m` entry points, as a user starts them."""

from __future__ import annotations

import signal
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


# The closing line of a stop before the command took charge of its own: nothing written, nothing started.
BEFORE_COMMAND = {
    "training": "ERROR training: python -m training {said} before its command started: nothing written",
    "serving": "ERROR:    python -m serving interrupted (Ctrl-C) before its server started: nothing loaded or listening",
}


def run_entry_point(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -c SCRIPT ARGS` from the project's root, as a real process."""
    return subprocess.run(
        [sys.executable, "-c", script, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def assert_said_before_command(result: subprocess.CompletedProcess[str], package: str, signum: int) -> None:
    """The process ended with the signal's exit code and one line on stderr, which says the stop came before it started."""
    said = "interrupted (Ctrl-C)" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    (line,) = result.stderr.splitlines()
    assert line.endswith(BEFORE_COMMAND[package].format(said=said)), result.stderr
    assert (result.returncode, result.stdout) == (128 + signum, "")


@pytest.mark.parametrize("package", ["training", "serving"])
def test_ctrl_c_while_a_command_loads_ends_it_in_one_line(package: str) -> None:
    # It ended in "Aborted!" and exit code 1, unlike a stop once the command had started.
    assert_said_before_command(run_entry_point(INTERRUPTED_IMPORT, package, f"{package}.cli", "--help"), package, signal.SIGINT)


def test_ctrl_c_while_the_stack_command_loads_ends_it_in_one_line() -> None:
    result = run_entry_point(INTERRUPTED_IMPORT, "deploy", "deploy.cli", "--help")
    assert (result.returncode, result.stderr, result.stdout) == (1, "Aborted!\n", "")


# A stop while the command line is parsed, made exact: the process sends itself the signal as Typer starts to parse
# the arguments of the CALLth command of the line (1: `python -m training`'s own options, 2: its command's).
SIGNALLED_PARSE = """
import os, runpy, sys
from typer.core import TyperCommand, TyperGroup

package, signum, call = sys.argv.pop(1), int(sys.argv.pop(1)), int(sys.argv.pop(1))
calls = []

def signalled(real):
    def make_context(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), signum)
        return real(self, *args, **kwargs)
    return make_context

for command in (TyperCommand, TyperGroup):
    command.make_context = signalled(command.make_context)
runpy.run_module(package, run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    ("package", "signum", "call", "arguments"),
    [
        ("training", signal.SIGINT, 1, ["config-keys"]),
        ("training", signal.SIGINT, 2, ["config-keys"]),
        # SIGTERM ended the process where it stood (`python -m training`'s options), or in "error: stopped by SIGTERM (a
        # run it had started ends FAILED, ...)" (its command's).
        ("training", signal.SIGTERM, 1, ["config-keys"]),
        ("training", signal.SIGTERM, 2, ["config-keys"]),
        ("serving", signal.SIGINT, 1, ["--port", "1"]),
    ],
    ids=["training-options", "training-command", "training-options-sigterm", "training-command-sigterm", "serving"],
)
def test_a_stop_while_the_command_line_is_parsed_ends_it_in_one_line(
    store_uri: str, package: str, signum: int, call: int, arguments: list[str]
) -> None:
    # It ended in exit code 130 without a word: Typer ends a KeyboardInterrupt so.
    result = run_entry_point(SIGNALLED_PARSE, package, str(int(signum)), str(call), *arguments)
    assert_said_before_command(result, package, signum)
