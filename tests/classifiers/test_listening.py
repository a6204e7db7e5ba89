import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.listening import listen_problem

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_a_free_port_has_no_problem() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert listen_problem("127.0.0.1", port, "--port", "--host") is None


def test_a_port_in_use_names_the_port_option() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        problem = listen_problem("127.0.0.1", holder.getsockname()[1], "--port", "--host")
    assert problem == "address already in use (set another with --port)"


def test_an_address_this_machine_does_not_have_names_the_host_option() -> None:
    assert listen_problem("192.0.2.1", 0, "--port", "--host") == "cannot assign requested address (set another with --host)"


def test_a_privileged_port_without_the_right_to_it_names_the_port_option() -> None:
    prefix = []
    if os.geteuid() == 0:
        # Root may listen below 1024: the check runs as root without its capabilities.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root, and setpriv (util-linux) is not there to drop root's capabilities")
        prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]
    check = "from classifiers.listening import listen_problem; print(listen_problem('127.0.0.1', 80, '--port', '--host'))"
    result = subprocess.run([*prefix, sys.executable, "-c", check], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "permission denied (set another with --port)", result.stderr
