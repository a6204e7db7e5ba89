"""Bytes of a user's file decoded as text; a byte the encoding cannot read is an error naming its line and column."""

from __future__ import annotations

from pathlib import Path

from classifiers.errors import UserInputError


def not_encoded(place: str, byte: int, column: int, encoding: str = "utf-8") -> UserInputError:
    """The error for a byte at `place` (a file and line) and `column` that `encoding` cannot read."""
    name = encoding.upper()
    return UserInputError(f"{place}: not {name} text: byte 0x{byte:02x} at column {column}; save the file as {name}")


def decode_text(path: Path, data: bytes, encoding: str = "utf-8") -> str:
    """`data`, the bytes of the file at `path`, decoded whole."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        # Counted in the whole file's bytes: a decoder fed a stream in chunks reports offsets within its chunk.
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - data.rfind(b"\n", 0, err.start)
        raise not_encoded(f"{path}:{line}", data[err.start], column, encoding) from err
