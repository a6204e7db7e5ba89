"""What a saved model writes beside its weights (its metadata, a family's settings), read back with its types checked.

A file from another version of the project, or a damaged one, is named with the key that is wrong; read as a plain dict
it failed later with a bare KeyError, or took a value of the wrong type. Keys a newer version added are refused rather
than ignored: a model read without a setting it was trained with would answer otherwise than it was measured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from classifiers.errors import UserInputError


class SavedModelError(UserInputError):
    """A saved model's file that this version of the project cannot read."""


class SavedSettings(BaseModel):
    """The base of every saved settings file: frozen, unknown keys refused; defaults give what older models lacked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def write(self, path: Path, *, exclude_defaults: bool = False) -> None:
        """Write the settings as a JSON object into path (`exclude_defaults`: leave out keys at their default)."""
        path.write_text(json.dumps(self.model_dump(mode="json", exclude_defaults=exclude_defaults), indent=2), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Self:
        """The settings written into path."""
        return cls.of(path, read_json(path))

    @classmethod
    def of(cls, path: Path, data: Any) -> Self:
        """The settings of a JSON value read from path (named in the error)."""
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "the file"
            more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
            raise SavedModelError(
                f"{path}: {key}: {first['msg']}{more}; the model was saved by another version of this project, or the "
                "file is damaged"
            ) from err


def read_json(path: Path) -> Any:
    """The JSON value a saved model's file holds."""
    try:
        return json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SavedModelError(f"{path}: not the JSON this project writes ({err}): the saved model is damaged") from err
