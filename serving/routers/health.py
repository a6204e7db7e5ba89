"""Liveness and readiness."""

from __future__ import annotations

import os
import socket

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving.dependencies import HolderDep, SettingsDep, SnapshotDep
from serving.errors import retry_after
from serving.openapi import RETRY_AFTER
from serving.routers import answer_head_as_get
from serving.schemas import Health, ModelStatus, NotReady, Ready, RegistryStatus
from serving.snapshot import TASKS

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> Health:
    """The process is up (models may still be missing)."""
    return Health()


@router.get(
    "/ready",
    # The 503 is a response of its own (a JSONResponse), passed through as it is.
    response_model=Ready,
    responses={
        503: {"model": NotReady, "description": "A model is not loaded; says why.", "headers": RETRY_AFTER}
    },
)
async def ready(snapshot: SnapshotDep, holder: HolderDep, settings: SettingsDep) -> Ready | JSONResponse:
    """200 only when every served task has a loaded model; says which worker answered and whether the registry did."""
    models = [ModelStatus.of(snapshot.models[task]) for task in TASKS if task in snapshot.models]
    # Read per request: a worker process is forked or spawned after this module is imported.
    worker = f"{socket.gethostname()}:{os.getpid()}"
    registry = RegistryStatus.of(holder.registry)
    if not snapshot.ready:
        missing = {task: reason for task, reason in snapshot.problems.items() if task in snapshot.served}
        detail = "; ".join(f"{task}: {reason}" for task, reason in missing.items())
        # The same fields as a 200 (an unreachable registry is a frequent cause): a probe's log shows why.
        body = NotReady(detail=detail, models=models, worker=worker, registry=registry)
        return JSONResponse(body.model_dump(mode="json"), status_code=503, headers=retry_after(settings.poll_seconds))
    return Ready(models=models, worker=worker, registry=registry)


answer_head_as_get(router)
