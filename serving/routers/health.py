"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from serving.dependencies import SnapshotDep
from serving.schemas import ErrorResponse, Health, ModelStatus, Ready
from serving.snapshot import TASKS, ModelUnavailable

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> Health:
    """The process is up (models may still be missing)."""
    return Health()


@router.get("/ready", responses={503: {"model": ErrorResponse, "description": "A model is not loaded; says why."}})
async def ready(snapshot: SnapshotDep) -> Ready:
    """200 only when every task has a loaded model."""
    if not snapshot.ready:
        raise ModelUnavailable("; ".join(f"{task}: {reason}" for task, reason in snapshot.problems.items()))
    return Ready(models=[ModelStatus.of(snapshot.models[task]) for task in TASKS])
