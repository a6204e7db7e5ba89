"""Dynamic batching: the rows of requests waiting on the same model go through one model call.

A TF-IDF model spends most of a single-row call in fixed per-call overhead, so sixteen
concurrent single-item requests cost little more as one call than one request alone. There is
no waiting window: whatever queued while the previous call ran forms the next call, so an idle
server answers at once and a busy one batches more. Calls are at most `max_rows` rows. A request
of up to that many rows is never split across calls; a larger one (an article's stance pairs
number up to segments x targets) goes in chunks of `max_rows`, each queued when the one before is
answered, so requests that arrive meanwhile share the calls in between instead of waiting for it
all. Requests are grouped by the model object they hold, so a request that started before a
reload is still answered by the model it started with.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from classifiers.contract import Scored
from serving.metrics import ServiceMetrics
from serving.prediction import predict_rows
from serving.snapshot import LoadedModel

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    model: LoadedModel
    columns: dict[str, list[str]]
    endpoint: str
    result: asyncio.Future[list[Scored]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def rows(self) -> int:
        return len(self.columns["text"])


class PredictionBatcher:
    """Runs model calls one at a time in a worker thread, each for every waiting request of one model."""

    def __init__(self, metrics: ServiceMetrics, max_rows: int) -> None:
        self._metrics = metrics
        self._max_rows = max_rows
        self._waiting: list[_Job] = []
        self._worker: asyncio.Task[None] | None = None

    async def predict(self, model: LoadedModel, columns: dict[str, list[str]], endpoint: str) -> list[Scored]:
        """Predictions for the rows of `columns` (text, and target for stance), in order."""
        scored: list[Scored] = []
        for start in range(0, len(columns["text"]), self._max_rows):
            chunk = {name: values[start : start + self._max_rows] for name, values in columns.items()}
            scored += await self._submit(_Job(model, chunk, endpoint))
        return scored

    async def _submit(self, job: _Job) -> list[Scored]:
        self._waiting.append(job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return await job.result

    async def _work(self) -> None:
        while self._waiting:
            # Empty only where every waiting job was cancelled, which leaves none waiting: the loop ends.
            taken = self._take()
            try:
                for jobs in _by_model(taken):
                    await self._call(jobs)
            # _call hands a model's errors to its requests; anything else is a fault of this loop, which must
            # still go on serving the queue.
            except Exception:
                logger.exception("prediction batching failed; its requests get an error")
            # Also on cancellation: a request must never wait forever on a future nothing will resolve.
            finally:
                for job in taken:
                    if not job.result.done():
                        job.result.set_exception(RuntimeError("prediction batching failed; see the server log"))

    def _take(self) -> list[_Job]:
        """Take waiting jobs: up to max_rows rows, at least one job (none when all that waited were cancelled)."""
        # A cancelled request (its client went away: serving.disconnect) is answered by nobody: its rows are dropped.
        self._waiting = [job for job in self._waiting if not job.result.cancelled()]
        taken, rows = 0, 0
        for job in self._waiting:
            if taken and rows + job.rows > self._max_rows:
                break
            taken, rows = taken + 1, rows + job.rows
        jobs, self._waiting = self._waiting[:taken], self._waiting[taken:]
        return jobs

    async def _call(self, jobs: list[_Job]) -> None:
        model = jobs[0].model
        columns = {name: [value for job in jobs for value in job.columns[name]] for name in jobs[0].columns}
        try:
            scored = await run_in_threadpool(predict_rows, model, columns, self._metrics)
        # Whatever the model raised belongs to the requests that asked for it, not to the batching loop,
        # which must keep serving everyone else.
        except Exception as err:
            for job in jobs:
                if not job.result.done():
                    job.result.set_exception(err)
            return
        start = 0
        for job in jobs:
            self._metrics.items_classified.labels(model.task, job.endpoint).inc(job.rows)
            # A client that went away leaves a cancelled future behind.
            if not job.result.done():
                job.result.set_result(scored[start : start + job.rows])
            start += job.rows


def _by_model(jobs: list[_Job]) -> list[list[_Job]]:
    """The jobs grouped by the model object they hold, in order of first appearance."""
    groups: dict[int, list[_Job]] = {}
    for job in jobs:
        groups.setdefault(id(job.model), []).append(job)
    return list(groups.values())
