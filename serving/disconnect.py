"""Work for a client that went away is dropped: its rows never reach the model if they have not yet.

The server does not notice a closed connection by itself until it writes the answer, so a client that timed out
(and perhaps retried) would leave its rows queued for the model, in front of everyone else's. A request's work here
runs beside a watch on its connection; when the client leaves first, the work is cancelled, and the batcher drops the
rows of a cancelled request that it has not yet handed to the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.requests import Request

Result = TypeVar("Result")

# The scope key under which the HTTP protocol (serving.http_protocol) records the status it answered a request with
# itself while the app was still reading its body (408, or 400 for a bad chunk size): the app then only sees a
# disconnect, and counts the request with that status rather than as a client that left.
ANSWERED_BY_SERVER = "news.answered_by_server"


class ClientGone(Exception):
    """The client disconnected before its answer was ready; its remaining work was cancelled."""


async def while_connected(request: Request, work: Coroutine[Any, Any, Result]) -> Result:
    """The result of `work`, a request's own; ClientGone (and `work` cancelled) if its client disconnects first.

    Call it once the body is read: the watch reads the connection's next message, which is its disconnection.
    """
    answer = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnection(request))
    try:
        await asyncio.wait({answer, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not answer.done():
            answer.cancel()
            await asyncio.wait({answer})  # it unwinds: its queued rows' futures are cancelled now
    if answer.cancelled():
        raise ClientGone
    return answer.result()


async def _disconnection(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass  # a late body chunk: the body was read whole already, so only the disconnection is left to come
