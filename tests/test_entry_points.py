"""The `python -m` entry points, as a user starts them."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from classifiers.store import PROJECT_ROOT

# A stop while the command's libraries load, made exact: the process sends itself the signal as its CLI module is
# imported.
SIGNALLED_IMPORT = """
import os, runpy, sys

package, signum = sys.argv.pop(1), int(sys.argv.pop(1))

class Signalled:
    def find_spec(self, name, path=None, target=None):
        if name == f"{package}.cli":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signum)

sys.meta_path.insert(0, Signalled())
runpy.run_module(package, run_name="__main__", alter_sys=True)
"""


# The closing line of a stop before the command took charge of its own: nothing written, nothing started.
BEFORE_COMMAND = {
    "training": "ERROR training: python -m training {said} before its command started: nothing written",
    "serving": "ERROR:    python -m serving {said} before its server started: nothing loaded or listening",
    "deploy": "ERROR deploy: python -m deploy {said} before its command started: the stack left as it was",
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


@pytest.mark.parametrize("package", ["training", "serving", "deploy"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_while_a_command_loads_ends_it_in_one_line(package: str, signum: int) -> None:
    # `python -m deploy` ended a Ctrl-C in "Aborted!" and exit code 1; SIGTERM ended serving and deploy where they stood.
    assert_said_before_command(run_entry_point(SIGNALLED_IMPORT, package, str(int(signum)), "--help"), package, signum)


# A stop as Typer builds `python -m training`'s commands from their functions, before it reads the command line, made
# exact: the process sends itself the signal as the build starts.
SIGNALLED_BUILD = """
import os, runpy, sys
import typer.main

signum = int(sys.argv.pop(1))
build = typer.main.get_command

def signalled(typer_instance):
    os.kill(os.getpid(), signum)
    return build(typer_instance)

typer.main.get_command = signalled
runpy.run_module("training", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_while_the_commands_are_built_ends_it_in_one_line(signum: int) -> None:
    # Ctrl-C ended it in "Aborted!" and exit code 1; SIGTERM in "error: stopped by SIGTERM (a run it had started ends
    # FAILED, ...)", though no command had started.
    result = run_entry_point(SIGNALLED_BUILD, str(int(signum)), "config-keys")
    assert_said_before_command(result, "training", signum)


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
        # SIGTERM ended it where it stood.
        ("serving", signal.SIGTERM, 1, ["--port", "1"]),
        # Ctrl-C ended it in exit code 130 without a word; SIGTERM where it stood (`python -m deploy`'s options), or in
        # exit code 143 without a word (its command's: the command's own handler was set before they were parsed).
        ("deploy", signal.SIGINT, 1, ["status", "--data-dir", "no-such-stack"]),
        ("deploy", signal.SIGINT, 2, ["status", "--data-dir", "no-such-stack"]),
        ("deploy", signal.SIGTERM, 1, ["status", "--data-dir", "no-such-stack"]),
        ("deploy", signal.SIGTERM, 2, ["status", "--data-dir", "no-such-stack"]),
    ],
    ids=[
        "training-options", "training-command", "training-options-sigterm", "training-command-sigterm",
        "serving", "serving-sigterm",
        "deploy-options", "deploy-command", "deploy-options-sigterm", "deploy-command-sigterm",
    ],
)
def test_a_stop_while_the_command_line_is_parsed_ends_it_in_one_line(
    store_uri: str, package: str, signum: int, call: int, arguments: list[str]
) -> None:
    # It ended in exit code 130 without a word: Typer ends a KeyboardInterrupt so.
    result = run_entry_point(SIGNALLED_PARSE, package, str(int(signum)), str(call), *arguments)
    assert_said_before_command(result, package, signum)


# A stop as `serve` checks what it will serve, before uvicorn runs, made exact: the process sends itself the signal as
# serving.cli calls the check.
SIGNALLED_CHECK = """
import os, runpy, sys
import serving.cli

signum, check = int(sys.argv.pop(1)), sys.argv.pop(1)
checked = getattr(serving.cli, check)

def signalled(*args, **kwargs):
    os.kill(os.getpid(), signum)
    return checked(*args, **kwargs)

setattr(serving.cli, check, signalled)
runpy.run_module("serving", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("check", ["listen_error", "missing_store"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_while_the_server_checks_its_port_and_store_ends_it_in_one_line(
    store_uri: str, check: str, signum: int
) -> None:
    # Ctrl-C ended it in exit code 130 without a word, SIGTERM where it stood. (Were the stop lost, the store that does
    # not exist would end it in exit code 2.)
    result = run_entry_point(SIGNALLED_CHECK, str(int(signum)), check, "--port", "0")
    assert_said_before_command(result, "serving", signum)
