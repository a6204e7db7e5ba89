"""classifiers/saved_settings.py: a saved model's settings files, written and read back with their types checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers.saved_settings import SavedModelError, SavedSettings


class Example(SavedSettings):
    size: int
    weight: float = 0.5  # what files saved before the setting existed read as


def test_settings_read_back_as_written_and_a_missing_key_takes_its_default(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    Example(size=3, weight=0.25).write(path)
    assert Example.read(path) == Example(size=3, weight=0.25)
    Example(size=3).write(path, exclude_defaults=True)
    assert path.read_text() == '{\n  "size": 3\n}'
    assert Example.read(path).weight == 0.5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"weight": 1}', r"settings.json: size: Field required; the model was saved by another version"),
        ('{"size": "three", "weight": []}', r"settings.json: size: Input should be a valid integer.* \(and 1 more\)"),
        ('{"size": 3, "window": 2}', r"settings.json: window: Extra inputs are not permitted"),
        ("[3]", r"settings.json: the file: Input should be a valid dictionary"),
        ('{"size": 3', r"settings.json: not the JSON this project writes .*: the saved model is damaged"),
    ],
)
def test_a_file_that_is_not_these_settings_is_named_with_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(SavedModelError, match=message):
        Example.read(path)
