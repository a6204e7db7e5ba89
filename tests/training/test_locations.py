"""training.locations.shown: paths as docs and results files name them."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import locations


def test_a_path_inside_the_project_is_shown_from_its_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(locations.CONFIGS_DIR)
    assert locations.shown(locations.CONFIGS_DIR / "topic" / "descriptions.yaml") == Path("configs/topic/descriptions.yaml")
    assert locations.shown(Path("stance") / ".." / "topic" / "descriptions.yaml") == Path("configs/topic/descriptions.yaml")


def test_a_path_outside_the_project_is_shown_whole(tmp_path: Path) -> None:
    assert locations.shown(tmp_path / "mine.yaml") == (tmp_path / "mine.yaml").resolve()
