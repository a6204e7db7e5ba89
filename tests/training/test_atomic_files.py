import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from classifiers.errors import UserInputError
from training.atomic_files import write_texts_atomically


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_gets_the_mode_open_would_give(tmp_path: Path, umask_027: None) -> None:
    path = tmp_path / "segments.jsonl"
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


@pytest.mark.parametrize("depth", [1, 2])
def test_a_missing_folder_is_refused_and_not_made(tmp_path: Path, depth: int) -> None:
    # It was made (with its parents), where `score` refuses a missing output folder: a mistyped path, not one to make.
    folder = tmp_path / "missing" / ("sub/" * (depth - 1))
    with pytest.raises(UserInputError, match=rf"^cannot write {folder / 'out.md'}: folder {folder} does not exist$"):
        write_texts_atomically({tmp_path / "here.md": "text", folder / "out.md": "text"})
    assert list(tmp_path.iterdir()) == []  # neither the folder nor the other file, nor a temporary file


@pytest.mark.parametrize("depth", [1, 2])
def test_a_folder_that_is_a_file_is_named_as_such(tmp_path: Path, depth: int) -> None:
    # `ingest --out-dir segments.jsonl` said only "File exists" (or "Not a directory" one level down).
    (tmp_path / "taken.jsonl").write_text("x", encoding="utf-8")
    target = tmp_path / "taken.jsonl" / ("sub/" * (depth - 1)) / "out.md"
    with pytest.raises(UserInputError, match=rf"cannot write {target}: {tmp_path / 'taken.jsonl'} is a file, not a folder"):
        write_texts_atomically({target: "text"})
    assert (tmp_path / "taken.jsonl").read_text(encoding="utf-8") == "x"


def test_ctrl_c_while_writing_leaves_the_old_files_and_no_temporary_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    segments, articles = tmp_path / "segments.jsonl", tmp_path / "articles.jsonl"
    segments.write_text("old segments", encoding="utf-8")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_texts_atomically({segments: "new segments", articles: "new articles"})
    assert [path.name for path in tmp_path.iterdir()] == ["segments.jsonl"]
    assert segments.read_text(encoding="utf-8") == "old segments"


class _Stopped(BaseException):
    """What a stop handler raises (as stop_requests's Stopped does for SIGTERM)."""


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_between_two_moves_lands_after_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: signal.Signals
) -> None:
    # A Ctrl-C raised after the first move left new segments beside the old articles, and the articles' staged file
    # was removed: the pair stayed torn.
    segments, articles = tmp_path / "segments.jsonl", tmp_path / "articles.jsonl"
    segments.write_text("old segments", encoding="utf-8")
    articles.write_text("old articles", encoding="utf-8")
    handlers = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _stopped}
    previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}
    real_replace = os.replace

    def replace_then_stop(source: str, target: Path) -> None:
        real_replace(source, target)
        signal.raise_signal(signum)

    monkeypatch.setattr(os, "replace", replace_then_stop)
    try:
        with pytest.raises(KeyboardInterrupt if signum == signal.SIGINT else _Stopped):
            write_texts_atomically({segments: "new segments", articles: "new articles"})
        assert {number: signal.getsignal(number) for number in handlers} == handlers  # put back
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert segments.read_text(encoding="utf-8") == "new segments"
    assert articles.read_text(encoding="utf-8") == "new articles"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["articles.jsonl", "segments.jsonl"]


def test_a_move_that_fails_after_another_says_the_files_no_longer_belong_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said only "cannot write articles.jsonl: Permission denied" (a sticky folder's file of another user), as if
    # nothing had been replaced: the new segments.jsonl beside the old articles.jsonl went unnoticed.
    segments, articles = tmp_path / "segments.jsonl", tmp_path / "articles.jsonl"
    segments.write_text("old segments", encoding="utf-8")
    articles.write_text("old articles", encoding="utf-8")
    real_replace = os.replace

    def refused_for_articles(source: str, target: Path) -> None:
        if target == articles:
            raise PermissionError(1, "Operation not permitted")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", refused_for_articles)
    with pytest.raises(UserInputError) as raised:
        write_texts_atomically({segments: "new segments", articles: "new articles"})
    assert str(raised.value) == (
        f"cannot write {articles}: Operation not permitted, and {segments} is replaced already: "
        "the files no longer belong together, run the command again"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["articles.jsonl", "segments.jsonl"]
