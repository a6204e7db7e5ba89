"""Whether a server could listen on an address: checked before the slow part of a start, not after it."""

from __future__ import annotations

import errno
import socket


def listen_problem(host: str, port: int, port_option: str, host_option: str) -> str | None:
    """Why a server could not listen on host:port (a port in use, an address not of this host), with the option that
    picks another, found by binding it as the server will; None when it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:
        # A port in use, or one below 1024 for a user without the right to it: another port; anything else is the host.
        option = port_option if err.errno in (errno.EADDRINUSE, errno.EACCES) else host_option
        return f"{(err.strerror or str(err)).lower()} (set another with {option})"
    return None
