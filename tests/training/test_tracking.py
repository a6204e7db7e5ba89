"""training.tracking: a run that fails says why in its `error` tag."""

from __future__ import annotations

import signal

import mlflow
import pytest

from training.stop_requests import Stopped
from training.tracking import ERROR_TAG, TrackingServerLost, tracked_run


@pytest.mark.parametrize(
    ("error", "reason"),
    [(ValueError("no rows"), "ValueError: no rows"), (KeyboardInterrupt(), "stopped by SIGINT (Ctrl-C)")],
)
def test_a_failed_run_ends_failed_with_its_reason(store_uri: str, error: BaseException, reason: str) -> None:
    with pytest.raises(type(error)), tracked_run(run_name="doomed"):
        raise error

    (run,) = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert run.info.status == "FAILED"
    assert run.data.tags[ERROR_TAG] == reason


@pytest.mark.parametrize(
    ("stop", "exit_code"), [(None, 1), (KeyboardInterrupt(), 130), (Stopped(signal.SIGTERM), 143)], ids=["none", "ctrl-c", "sigterm"]
)
def test_a_server_lost_while_stopping_exits_with_the_stop_s_code(store_uri: str, stop: BaseException | None, exit_code: int) -> None:
    # Ctrl-C exited 1 here, where it exits 130 with the server up.
    assert TrackingServerLost("connection refused", stop=stop).exit_code == exit_code
