import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from training.atomic_files import write_texts_atomically


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_gets_the_mode_open_would_give(tmp_path: Path, umask_027: None) -> None:
    path = tmp_path / "out" / "segments.jsonl"
    write_texts_atomically({path: "{}\n"})
    assert path.read_text(encoding="utf-8") == "{}\n"
    assert _mode(path) == 0o640  # 0o666 less the umask, not mkstemp's 0o600


def test_replaced_file_keeps_its_mode(tmp_path: Path, umask_027: None) -> None:
    path = tmp_path / "counts.md"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o664)
    write_texts_atomically({path: "new"})
    assert path.read_text(encoding="utf-8") == "new"
    assert _mode(path) == 0o664
    assert [p.name for p in tmp_path.iterdir()] == ["counts.md"]  # no temporary file left
