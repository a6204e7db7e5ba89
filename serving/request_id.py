"""The X-Request-ID every answer of the app carries: the caller's own where it sent a usable one, else a new one.

The ID ties a caller's report of an answer to the server's log of it (the access log, the error logged for a 500);
asgi-correlation-id keeps it for the request's duration and puts it on the answer.
"""

from __future__ import annotations

import re

from asgi_correlation_id.context import correlation_id

HEADER = "X-Request-ID"
# Gateways send IDs of their own shapes (nginx's 32 hex digits, UUIDs, AWS's `Root=1-...`): any visible ASCII is kept,
# to a length a log line can hold. The library's default takes UUIDs alone and would replace the others.
_USABLE = re.compile(r"[!-~]{1,128}")


def is_usable(request_id: str) -> bool:
    """Whether a request ID sent by the caller is kept: 1 to 128 visible ASCII characters."""
    return _USABLE.fullmatch(request_id) is not None


def current() -> str | None:
    """The ID of the request being answered; None outside one."""
    return correlation_id.get()

