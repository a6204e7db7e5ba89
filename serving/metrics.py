"""Prometheus metrics in a per-app registry: HTTP metrics from the instrumentator plus the service's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator

from serving.routers import answer_head_as_get
from serving.snapshot import TASKS, ModelSnapshot

# A TF-IDF call takes milliseconds, a transformer batch up to seconds.
PREDICTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class LoadedModelsCollector(Collector):
    """Reads the current snapshot at scrape time, so the exported versions can never be stale."""

    def __init__(self, snapshot: Callable[[], ModelSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        current = self._snapshot()
        info = InfoMetricFamily("news_model_version", "The registered model version loaded per task.", labels=["task"])
        ready = GaugeMetricFamily("news_model_loaded", "1 when the task has a loaded model, else 0.", labels=["task"])
        for task in TASKS:
            model = current.models.get(task)
            ready.add_metric([task], 0.0 if model is None else 1.0)
            if model is not None:
                info.add_metric([task], {"name": model.name, "version": model.version, "run_id": model.run_id or ""})
        yield info
        yield ready


class ServiceMetrics:
    """The service's own counters, registered in the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.items_classified = Counter(
            "news_items_classified", "Texts classified, by task and endpoint.", ["task", "endpoint"], registry=registry
        )
        self.prediction_seconds = Histogram(
            "news_prediction_seconds",
            "Duration of one model call on a whole batch, by task.",
            ["task"],
            buckets=PREDICTION_BUCKETS,
            registry=registry,
        )
        self.prediction_rows = Histogram(
            "news_prediction_rows",
            "Rows per model call (concurrent requests are batched together), by task.",
            ["task"],
            buckets=ROW_BUCKETS,
            registry=registry,
        )
        self.reloads = Counter(
            "news_model_reloads", "Model reload attempts, by outcome.", ["outcome"], registry=registry
        )

    def watch(self, snapshot: Callable[[], ModelSnapshot]) -> None:
        """Export the loaded model versions of whatever snapshot is current."""
        self.registry.register(LoadedModelsCollector(snapshot))


def instrument(app: FastAPI, registry: CollectorRegistry) -> None:
    """Request counts and latencies per endpoint (and GET and HEAD /metrics) from prometheus-fastapi-instrumentator."""
    Instrumentator(should_group_status_codes=False, registry=registry).instrument(app).expose(app, tags=["monitoring"])
    # /metrics is the app's own route, the only GET one: the others come with their routers.
    answer_head_as_get(app.router)
