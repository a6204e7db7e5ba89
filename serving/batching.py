"""Dynamic batching: the rows of requests waiting on the same model go through one model call.

A TF-IDF model spends most of a single-row call in fixed per-call overhead, so sixteen
concurrent single-item requests cost little more as one call than one request alone. There is
no waiting window: whatever queued while the previous call ran forms the next call, so an idle
server answers at once and a busy one batches more. A request's rows are never split across
calls, and requests are grouped by the model object they hold, so a request that started before
a reload is still answered by the model it started with.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from serving.metrics import ServiceMetrics
from serving.prediction import Scored, predict_rows
from serving.snapshot import LoadedModel


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
        if not columns["text"]:
            return []
        job = _Job(model, columns, endpoint)
        self._waiting.append(job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return await job.result

    async def _work(self) -> None:
        while self._waiting:
            for jobs in self._next_calls():
                await self._call(jobs)

    def _next_calls(self) -> list[list[_Job]]:
        """Take waiting jobs (up to max_rows rows, at least one job) grouped by model."""
        taken, rows = 0, 0
        for job in self._waiting:
            if taken and rows + job.rows > self._max_rows:
                break
            taken, rows = taken + 1, rows + job.rows
        jobs, self._waiting = self._waiting[:taken], self._waiting[taken:]
        groups: dict[int, list[_Job]] = {}
        for job in jobs:
            groups.setdefault(id(job.model), []).append(job)
        return list(groups.values())

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
