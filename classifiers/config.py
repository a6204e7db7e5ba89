"""The base of every model-family config: frozen pydantic models that reject unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

PACKAGED_ENCODER = "all-MiniLM-L6-v2"


class Strict(BaseModel):
    """A config section: immutable, and a misspelt key is an error that names it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
