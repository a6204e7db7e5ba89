"""deploy/early_stop.py: a stop before a `python -m deploy` command started is said in one line, with its exit code."""

from __future__ import annotations

import logging
import signal

import pytest

from deploy import early_stop


def test_sigterm_s_handler_raises_the_stop_where_the_process_stands() -> None:
    with pytest.raises(early_stop.Stopped) as raised:
        early_stop.stop(signal.SIGTERM, None)
    assert str(raised.value) == "stopped by SIGTERM" and raised.value.signum == signal.SIGTERM


@pytest.mark.parametrize(
    ("stopped", "said", "code"),
    [(KeyboardInterrupt(), "interrupted (Ctrl-C)", 130), (early_stop.Stopped(signal.SIGTERM), "stopped by SIGTERM", 143)],
    ids=["Ctrl-C", "SIGTERM"],
)
def test_a_stop_before_the_command_is_said_with_the_code_a_shell_reports(
    stopped: KeyboardInterrupt | early_stop.Stopped, said: str, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    assert (early_stop.said(stopped), early_stop.exit_code(stopped)) == (said, code)
    with caplog.at_level(logging.ERROR, logger="deploy"):
        assert early_stop.said_before_command(stopped) == code
    assert caplog.messages == [f"python -m deploy {said} before its command started: the stack left as it was"]
