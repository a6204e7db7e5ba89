"""File names that are not UTF-8 (saved in Latin-1 on an older system), which MLflow, pyarrow and Spark cannot take."""

from __future__ import annotations

import os
from pathlib import Path

from classifiers.errors import UserInputError


def require_utf8_name(path: Path, role: str, unable: str) -> None:
    """UserInputError naming the first byte of path that is not UTF-8; `unable` says what cannot take such a path."""
    name = os.fsencode(path)
    try:
        name.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserInputError(
            f"{role} {name.decode('utf-8', 'replace')}: its path is not UTF-8 (byte 0x{name[err.start]:02x}), which "
            f"{unable}: rename it"
        ) from err
