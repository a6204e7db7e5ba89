"""Paths in 422 messages."""

from __future__ import annotations

import pytest

from serving.errors import error_path


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "items", 3, "text"), "items[3].text"),
        (("body", "targets", 0), "targets[0]"),
        (("body",), "body"),
        (("body", "title"), "title"),
        (("header", "x-api-key"), "header.x-api-key"),
    ],
)
def test_error_path(loc: tuple[str | int, ...], path: str) -> None:
    assert error_path(loc) == path
