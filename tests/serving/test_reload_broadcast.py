"""The token file through which one worker's manual reload reaches its siblings."""

from __future__ import annotations

from pathlib import Path

from serving.reload_broadcast import ReloadBroadcast


def test_a_worker_hears_a_siblings_announcement_once_and_never_its_own(tmp_path: Path) -> None:
    file = tmp_path / "reload"
    announcer, listener = ReloadBroadcast(file), ReloadBroadcast(file)

    quiet = listener.heard()
    announcer.announce()
    heard = [listener.heard(), listener.heard()]
    own = announcer.heard()

    assert quiet is False
    assert heard == [True, False]
    assert own is False
    assert list(tmp_path.iterdir()) == [file]  # no scratch file left behind


def test_a_worker_started_after_an_announcement_does_not_replay_it(tmp_path: Path) -> None:
    file = tmp_path / "reload"
    ReloadBroadcast(file).announce()

    latecomer = ReloadBroadcast(file)

    assert latecomer.heard() is False


def test_every_new_announcement_is_heard(tmp_path: Path) -> None:
    file = tmp_path / "reload"
    first, second, listener = ReloadBroadcast(file), ReloadBroadcast(file), ReloadBroadcast(file)

    first.announce()
    after_first = listener.heard()
    second.announce()
    after_second = listener.heard()

    assert (after_first, after_second) == (True, True)
    assert first.heard() is True  # the second worker's announcement reaches the first
