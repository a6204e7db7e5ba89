"""Recently computed embeddings, shared by every loaded encoder with the same weights and settings.

A request with a target is classified by the topic model (which embeds the text) and by a stance
model that embeds the text and the target apart: with both models on the same encoder, the text is
embedded once and the stance model reuses it, as do repeated targets across requests.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

# A caller's own kind of key (an encoder's are tuples), given back as it was given.
Key = TypeVar("Key", bound=Hashable)

RECENT_ENTRIES = 4096
_CHUNK = 1 << 20


class RecentEmbeddings:
    """A thread-safe map from input to embedding that, when bounded, forgets the least recently used first."""

    def __init__(self, capacity: int | None = RECENT_ENTRIES) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[Key]) -> dict[Key, np.ndarray]:
        """The embeddings known for keys (the others are absent from the result)."""
        with self._lock:
            found: dict[Key, np.ndarray] = {}
            for key in keys:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    found[key] = self._entries[key]
            return found

    def put_many(self, embeddings: Mapping[Key, np.ndarray]) -> None:
        """Remember embeddings, forgetting the oldest beyond capacity."""
        with self._lock:
            for key, embedding in embeddings.items():
                self._entries[key] = embedding
                self._entries.move_to_end(key)
            while self.capacity is not None and len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


_SHARED: dict[str, RecentEmbeddings] = {}
_SHARED_LOCK = threading.Lock()


def fingerprint(folder: Path) -> str:
    """What makes two encoders embed alike, besides their settings: their weight and tokenizer files."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("tokenizer*.json")):
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def shared_recent(key: str) -> RecentEmbeddings:
    """The cache shared by every encoder with this fingerprint."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(key, RecentEmbeddings())
