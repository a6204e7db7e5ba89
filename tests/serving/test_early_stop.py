"""serving/early_stop.py: a stop before the server started is said in one line; once uvicorn runs, the signals are its."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator

import pytest

from serving import early_stop


@pytest.fixture
def sigterm_kept() -> Iterator[None]:
    """SIGTERM's handler as the test found it, put back after."""
    found = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, found)


@pytest.mark.usefixtures("sigterm_kept")
def test_the_handler_is_handed_back_to_its_default_before_uvicorn_runs() -> None:
    signal.signal(signal.SIGTERM, early_stop.stop)
    assert early_stop.before_start()
    with pytest.raises(early_stop.Stopped, match="stopped by SIGTERM"):
        early_stop.stop(signal.SIGTERM, None)
    early_stop.hand_over()
    # uvicorn finds the default action, and puts it back when it ends: a SIGTERM then is not said as before the start.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and not early_stop.before_start()


@pytest.mark.usefixtures("sigterm_kept")
def test_handing_over_leaves_a_handler_set_by_someone_else() -> None:
    def elsewhere(signum: int, frame: object) -> None:
        """A handler the launcher did not set."""

    signal.signal(signal.SIGTERM, elsewhere)
    early_stop.hand_over()
    assert signal.getsignal(signal.SIGTERM) is elsewhere


@pytest.mark.parametrize(
    ("stopped", "said", "code"),
    [(KeyboardInterrupt(), "interrupted (Ctrl-C)", 130), (early_stop.Stopped(signal.SIGTERM), "stopped by SIGTERM", 143)],
    ids=["Ctrl-C", "SIGTERM"],
)
def test_a_stop_before_the_start_is_said_with_the_code_a_shell_reports(
    stopped: KeyboardInterrupt | early_stop.Stopped, said: str, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="serving"):
        assert early_stop.said_before_start(stopped) == code
    assert caplog.messages == [f"python -m serving {said} before its server started: nothing loaded or listening"]
