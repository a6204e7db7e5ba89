"""What is loaded, and reloading it when an alias moved."""

from __future__ import annotations

from fastapi import APIRouter

from serving.dependencies import AdminDep, HolderDep, NoBody, SnapshotDep
from serving.routers import answer_head_as_get
from serving.schemas import (
    ErrorResponse,
    ModelChange,
    ModelInfo,
    ModelsResponse,
    ReloadError,
    ReloadResponse,
    Unavailable,
    ValidationErrorResponse,
)
from serving.snapshot import ModelSnapshot

router = APIRouter(prefix="/v1/models", tags=["models"])


def _unavailable(snapshot: ModelSnapshot) -> list[Unavailable]:
    return [Unavailable(task=task, reason=reason) for task, reason in snapshot.problems.items()]


@router.get("")
async def models(snapshot: SnapshotDep) -> ModelsResponse:
    """The loaded models with their run's key metrics and label sets, and why any task has none."""
    return ModelsResponse(
        models=[ModelInfo.of(model) for model in snapshot.models.values()], unavailable=_unavailable(snapshot)
    )


@router.post(
    "/reload",
    responses={
        401: {"model": ErrorResponse, "description": "No X-API-Key header."},
        422: {"model": ValidationErrorResponse, "description": "A request body: a reload takes none."},
        403: {"model": ErrorResponse, "description": "Wrong key, or no admin key configured."},
        502: {"model": ReloadError, "description": "A model could not be loaded; the previous models stay."},
        503: {"model": ErrorResponse, "description": "The registry cannot be reached; the loaded models stay."},
    },
)
async def reload(_: AdminDep, __: NoBody, holder: HolderDep) -> ReloadResponse:
    """Re-resolve the configured URIs and atomically swap in the versions they now point at.

    With several workers, the others are told to do the same (they reload within a second).
    """
    done = await holder.reload()
    if holder.broadcast is not None:
        holder.broadcast.announce()
    previous = done.previous.versions()
    changes = [
        ModelChange(task=task, name=model.name, version=model.version, previous_version=previous[task])
        for task, model in done.current.models.items()
    ]
    return ReloadResponse(
        changed=done.changed,
        models=changes,
        unavailable=_unavailable(done.current),
        workers_notified=holder.broadcast is not None,
    )


answer_head_as_get(router)
