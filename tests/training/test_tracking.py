"""training.tracking: a run that fails says why in its `error` tag."""

from __future__ import annotations

import mlflow
import pytest

from training.tracking import ERROR_TAG, tracked_run


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
