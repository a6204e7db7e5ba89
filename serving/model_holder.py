"""The reference to the current snapshot: loaded at startup, swapped atomically on reload or when an alias moves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio.to_thread
from mlflow.tracking import MlflowClient

from classifiers import store
from classifiers.redaction import redact_text, redact_uri
from serving.metrics import ServiceMetrics
from serving.model_loading import LoadOutcome, load_snapshot, not_served, resolve_versions
from serving.reload_broadcast import ReloadBroadcast
from serving.settings import ServingSettings
from serving.snapshot import TASKS, ModelSnapshot, Task

logger = logging.getLogger(__name__)

STARTING = "the server is still loading its models"
# The longest the poller waits before it tries a version that failed to load again.
MAX_RETRY_DELAY_S = 600.0


def retry_delay(interval: float, failures: int) -> float:
    """Seconds before the poller retries a version that failed `failures` times in a row: doubling, capped."""
    # The exponent is bounded so that years of failures cannot overflow the float.
    return min(interval * 2 ** min(failures, 32), MAX_RETRY_DELAY_S)


class ReloadFailed(Exception):
    """A reload could not load every model that moved; the previous snapshot is still served."""

    def __init__(self, failures: dict[Task, str]) -> None:
        super().__init__("; ".join(failures.values()))
        self.failures = failures


@dataclass(frozen=True)
class Reload:
    """What a successful reload did."""

    previous: ModelSnapshot
    current: ModelSnapshot

    @property
    def changed(self) -> bool:
        """True when a task now serves another version (or gained or lost its model)."""
        return self.previous.versions() != self.current.versions()


@dataclass(frozen=True)
class RegistryCheck:
    """Whether the registry answered the last time this worker asked it, and when."""

    reachable: bool
    checked_at: datetime
    problem: str | None = None


@dataclass(frozen=True)
class FailedLoad:
    """A registered version that could not be loaded: how often in a row, and when to try it again."""

    name: str
    version: str
    failures: int
    retry_at: float  # time.monotonic()


class ModelHolder:
    """Holds the current ModelSnapshot; a request reads `current` once and keeps that snapshot.

    Replacing the snapshot is one attribute assignment, so a request sees either the old or the
    new models, never a mix, and in-flight requests finish on the snapshot they started with.
    """

    def __init__(self, settings: ServingSettings, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self._metrics = metrics
        self.current = self._without_models(STARTING)
        # Reloads are serialised so a manual reload and the poller never load the same version twice.
        self._lock = asyncio.Lock()
        # Per task, the version that failed to load at the last attempt, so the poller backs off from it.
        self.failed_loads: dict[Task, FailedLoad] = {}
        # Tasks whose served model's URI resolved to nothing at the last poll.
        self._vanished: set[Task] = set()
        self.registry: RegistryCheck | None = None
        file = settings.reload_broadcast_file
        self.broadcast = ReloadBroadcast(file) if file is not None else None

    async def load(self) -> ModelSnapshot:
        """Initial load: whatever cannot be loaded stays unavailable with its reason; never raises."""
        async with self._lock:
            try:
                outcome = await self._load_in_thread()
                self.current = outcome.snapshot
                self._remember_failures(outcome)
            # An unusable store (a SQLite file gone or unreadable, a registry away) must not keep the
            # server from starting: it answers 503 with the reason until a reload succeeds.
            except Exception as err:
                uri = self.settings.tracking_uri
                problem = redact_text(f"the model registry at {uri} cannot be read: {type(err).__name__}: {err}", uri)
                self.current = self._without_models(problem)
            for task, problem in self.current.problems.items():
                # A task the server is set up without is as asked, not a fault to warn of.
                level = logging.WARNING if task in self.current.served else logging.INFO
                logger.log(level, "no %s model: %s", task, problem)
            return self.current

    async def reload(self, tasks: Collection[Task] = TASKS) -> Reload:
        """Re-resolve the URIs of `tasks` and swap in a snapshot with their moved models; ReloadFailed keeps the
        old one. The other tasks keep their models as they are."""
        async with self._lock:
            previous = self.current
            outcome = await self._load_in_thread(tasks)
            self._remember_failures(outcome, tasks)
            if outcome.failures:
                self._metrics.reloads.labels("failed").inc()
                logger.error("reload failed, keeping the previous models: %s", "; ".join(outcome.failures.values()))
                # Kept, but no longer what the URI names: /ready and /v1/models say so until a load succeeds.
                self.current = previous.noting(outcome.failures)
                raise ReloadFailed(outcome.failures)
            self.current = outcome.snapshot
            reload = Reload(previous, outcome.snapshot)
            # A version that failed to load for a task without a model does not hold the reload back,
            # but the attempt failed all the same.
            outcome_label = "failed" if outcome.unloadable else "swapped" if reload.changed else "unchanged"
            self._metrics.reloads.labels(outcome_label).inc()
            if reload.changed:
                logger.info("now serving %s", ", ".join(model.uri for model in reload.current.models.values()))
            return reload

    async def due_tasks(self) -> set[Task]:
        """The tasks whose configured URI resolves to a version that is not served and is due to be loaded.

        A version that failed to load is not served, so it stays out of date: a failure can be
        transient (a locked SQLite file, an unreachable artifact store) and must not keep the old
        model in place until the alias moves again. But each try downloads the whole model, so the
        same version is tried again only after a delay that doubles with every failure in a row
        (retry_delay); a move to any other version is loaded at once.
        """
        versions = await anyio.to_thread.run_sync(lambda: resolve_versions(self._registry(), self.settings))
        served = self.current.versions()
        self._note_vanished(versions)
        now = time.monotonic()
        # A served model noted as a fallback whose URI names it again is due too: the reload only clears the note.
        noted = {task for task, model in self.current.models.items() if model.fallback is not None}
        # A URI that no longer resolves has nothing to load: reloading it would only fail again at every poll.
        return {
            task
            for task, version in versions.items()
            if version is not None
            and (version != served[task] or task in noted)
            and not self._backing_off(task, version, now)
        }

    async def poll(self, interval: float) -> None:
        """Every `interval` seconds, reload each task whose URI points at a version due to be loaded; runs until
        cancelled. Each task is reloaded on its own, so a version that fails to load, a task backing off from one,
        or one whose alias was deleted never holds back the other task's new version."""
        failing: str | None = None  # the error the last check ended with, once logged
        while True:
            await asyncio.sleep(interval)
            try:
                due = await self.due_tasks()
                for task in (task for task in TASKS if task in due):
                    with contextlib.suppress(ReloadFailed):  # reload() has logged and counted it; the model stays
                        await self.reload([task])
            # The loaded models keep serving while the registry is away; /ready reports it, and the
            # next check after it returns reloads whatever moved meanwhile.
            except store.RegistryUnreachable:
                pass
            # The registry can be briefly unusable in other ways too (a locked SQLite file);
            # the poller must outlive that and try again at the next interval. A traceback at every
            # poll would bury the log: it is logged once, then a line only when the error changes.
            except Exception as err:
                error = _one_line(err)
                if failing is None:
                    logger.exception("checking the model aliases failed; retrying every %s s", interval)
                elif error != failing:
                    logger.warning("checking the model aliases still fails, now with %s; retrying every %s s", error, interval)
                failing = error
            else:
                if failing is not None:
                    logger.info("checking the model aliases works again")
                failing = None

    def _note_vanished(self, versions: dict[Task, str | None]) -> None:
        # Said once when a served model's URI stops resolving (its alias or name was deleted), not at every poll.
        models = self.current.models
        vanished = {task for task, version in versions.items() if version is None and task in models}
        for task in sorted(vanished - self._vanished):
            logger.warning(
                "%s no longer resolves to a registered version; still serving %s until it does",
                self.settings.model_uri(task),
                models[task].uri,
            )
        self._vanished = vanished

    def _without_models(self, problem: str) -> ModelSnapshot:
        """A snapshot with no model: `problem` for each served task, the others not served."""
        served = self.settings.served_tasks
        problems = {task: problem if task in served else not_served(task) for task in TASKS}
        return ModelSnapshot(problems=problems, served=served)

    def _backing_off(self, task: Task, version: str | None, now: float) -> bool:
        failed = self.failed_loads.get(task)
        return failed is not None and failed.version == version and now < failed.retry_at

    def _remember_failures(self, outcome: LoadOutcome, tried: Collection[Task] = TASKS) -> None:
        # A task that loaded (or kept its model) forgets its failure; a version failing again waits longer;
        # a task not tried this time keeps its record.
        failed = {task: load for task, load in self.failed_loads.items() if task not in tried}
        for task, (name, version) in outcome.unloadable.items():
            previous = self.failed_loads.get(task)
            again = previous is not None and (previous.name, previous.version) == (name, version)
            failures = previous.failures + 1 if previous is not None and again else 1
            delay = retry_delay(self.settings.poll_seconds, failures)
            failed[task] = FailedLoad(name, version, failures, time.monotonic() + delay)
            if self.settings.poll_seconds > 0:
                logger.warning(
                    "%s version %s failed to load %d time(s) in a row; polling tries it again in %.1f s",
                    name,
                    version,
                    failures,
                    delay,
                )
        self.failed_loads = failed

    async def _load_in_thread(self, tasks: Collection[Task] = TASKS) -> LoadOutcome:
        previous = self.current
        return await anyio.to_thread.run_sync(lambda: load_snapshot(self._registry(), self.settings, previous, tasks))

    def _registry(self) -> MlflowClient:
        # Called in a worker thread. Pointing MLflow's global URIs at the store on every call keeps
        # `models:/` loads on this store even when something else in the process (a test, another
        # app) moved them. The server never creates a store (training does): a SQLite file that is
        # missing or cannot be read is a registry that does not answer.
        try:
            client = store.use_store(self.settings.tracking_uri, create=False)
        except store.RegistryUnreachable as err:
            if self.registry is None or self.registry.reachable:
                logger.warning("%s; serving the loaded models until it returns", err)
            self.registry = RegistryCheck(False, datetime.now(UTC), str(err))
            raise
        if self.registry is not None and not self.registry.reachable:
            logger.info("the model registry at %s answers again", redact_uri(self.settings.tracking_uri))
        self.registry = RegistryCheck(True, datetime.now(UTC))
        return client


def _one_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
