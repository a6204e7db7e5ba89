"""A manual reload that reaches every worker process of one server, not only the one that answered it.

uvicorn's workers share a listening socket but nothing else, and `POST /v1/models/reload` lands
on one of them. That worker reloads, then writes a fresh token to a file all its siblings watch
(the CLI creates one per server); each sibling that reads a token it has not seen reloads too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

logger = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.5


class ReloadBroadcast:
    """The shared token file of one server's workers, and the last token this worker has acted on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._read()

    def announce(self) -> None:
        """Tell the sibling workers to reload (this worker has already done so)."""
        token = uuid.uuid4().hex
        scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        scratch.write_text(token)
        # A rename is atomic, so a sibling reads the old token or the new one, never half of it.
        scratch.replace(self.path)
        self._seen = token

    def heard(self) -> bool:
        """True once per token announced by another worker since this one last looked."""
        token = self._read()
        if token is None or token == self._seen:
            return False
        self._seen = token
        return True

    async def watch(self, reload: Callable[[], Awaitable[object]], interval: float = WATCH_INTERVAL_S) -> None:
        """Call `reload` whenever a sibling announces; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            if not self.heard():
                continue
            logger.info("another worker reloaded its models; reloading here too")
            try:
                await reload()
            # The reload logs and counts its own failure; the watcher must keep listening.
            except Exception:
                logger.exception("reloading after another worker's reload failed")

    def _read(self) -> str | None:
        try:
            return self.path.read_text()
        except FileNotFoundError:
            return None
