"""Liveness and readiness."""

from __future__ import annotations

import os
import socket

from fastapi import APIRouter

from serving.dependencies import HolderDep, SnapshotDep
from serving.openapi import RETRY_AFTER
from serving.routers import answer_head_as_get
from serving.schemas import ErrorResponse, Health, ModelStatus, Ready, RegistryStatus
from serving.snapshot import TASKS, ModelUnavailable

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> Health:
    """The process is up (models may still be missing)."""
    return Health()


@router.get(
    "/ready",
    responses={
        503: {"model": ErrorResponse, "description": "A model is not loaded; says why.", "headers": RETRY_AFTER}
    },
)
async def ready(snapshot: SnapshotDep, holder: HolderDep) -> Ready:
    """200 only when every served task has a loaded model; says which worker answered and whether the registry did."""
    if not snapshot.ready:
        missing = {task: reason for task, reason in snapshot.problems.items() if task in snapshot.served}
        raise ModelUnavailable("; ".join(f"{task}: {reason}" for task, reason in missing.items()))
    return Ready(
        models=[ModelStatus.of(snapshot.models[task]) for task in TASKS if task in snapshot.models],
        # Read per request: a worker process is forked or spawned after this module is imported.
        worker=f"{socket.gethostname()}:{os.getpid()}",
        registry=RegistryStatus.of(holder.registry),
    )


answer_head_as_get(router)
