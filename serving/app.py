"""The application factory: settings in, a FastAPI app whose lifespan loads the champion models."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from classifiers.encoder_settings import PRECISION_VARIABLE, ROWS_VARIABLE, RUNTIME_VARIABLE
from serving import request_id
from serving.batching import PredictionBatcher
from serving.errors import JsonBodyLimitMiddleware, add_exception_handlers
from serving.http_protocol import ConcurrencyLimitAnswer
from serving.metrics import ServiceMetrics, instrument
from serving.model_holder import ModelHolder
from serving.openapi import install as install_openapi
from serving.routers import articles, classify, docs, health, models
from serving.settings import ServingSettings, unknown_variables
from serving.worker_lifetime import end_with_supervisor

API_VERSION = "1.0.0"
logger = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the models (a missing one is reported, not fatal); poll the aliases and hear siblings' reloads."""
    holder: ModelHolder = app.state.model_holder
    settings: ServingSettings = app.state.settings
    # Encoders read their precision, runtime and rows per call from the environment when a model loads, here and on
    # every reload.
    os.environ[PRECISION_VARIABLE] = settings.encoder_precision
    os.environ[RUNTIME_VARIABLE] = settings.encoder_runtime
    os.environ[ROWS_VARIABLE] = str(settings.encoder_rows_per_call)
    await holder.load()
    watchers: list[asyncio.Task[None]] = []
    if settings.poll_seconds > 0:
        watchers.append(asyncio.create_task(holder.poll(settings.poll_seconds)))
    if holder.broadcast is not None:
        watchers.append(asyncio.create_task(holder.broadcast.watch(holder.reload)))
    try:
        yield
    finally:
        for watcher in watchers:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher


def create_app(settings: ServingSettings) -> FastAPI:
    """A service for the models the settings name; each app has its own metrics registry."""
    app = FastAPI(
        title="News classification service",
        summary="Topic and target stance of news text, from the champion models in the MLflow registry.",
        version=API_VERSION,
        lifespan=lifespan,
        # FastAPI's pages load their assets from a CDN; the docs router serves them from an installed package.
        docs_url=None,
        redoc_url=None,
        # A path with a trailing slash is a 404 naming the endpoint (serving.errors.not_found), not a 307 to it.
        redirect_slashes=False,
    )
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    holder = ModelHolder(settings, metrics)
    metrics.watch(lambda: holder.current)
    app.state.settings = settings
    app.state.model_holder = holder
    app.state.batcher = PredictionBatcher(metrics, max_rows=settings.max_items)

    for router in (health.router, classify.router, articles.router, models.router, docs.router):
        app.include_router(router)
    app.mount(docs.ASSETS_URL, StaticFiles(directory=docs.ASSETS_DIR), name="docs-assets")
    install_openapi(app, settings)
    add_exception_handlers(app)
    app.add_middleware(JsonBodyLimitMiddleware, max_body_size=settings.max_body_bytes)
    app.add_middleware(ConcurrencyLimitAnswer)
    # Added last, so outermost: rejected requests (413, and 503 over the concurrency limit) are counted too.
    instrument(app, registry)
    # Outside even that, so those answers carry their ID too (a 500 is answered outside every middleware: its
    # handler adds the header itself).
    app.add_middleware(CorrelationIdMiddleware, header_name=request_id.HEADER, validator=request_id.is_usable)
    return app


def app_from_environment() -> FastAPI:
    """The uvicorn factory: settings from the environment, where `python -m serving` also puts its options (each
    worker process calls it); a NEWS_* variable that nothing reads is logged as a warning."""
    end_with_supervisor()
    # A warning, not an error: a misspelt variable must not stop a running deployment from restarting.
    for name, closest in unknown_variables(os.environ).items():
        hint = f"; did you mean {closest}?" if closest else ""
        logger.warning("%s is set but is not a setting: nothing reads it%s", name, hint)
    return create_app(ServingSettings())
