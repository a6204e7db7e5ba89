"""Classify a batch of texts: topic for each, stance toward the target where one is given."""

from __future__ import annotations

from fastapi import APIRouter

from serving.classification import classify_items
from serving.dependencies import BatcherDep, ClassifyBody, SnapshotDep
from serving.schemas import ClassifyResponse, ErrorResponse

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post(
    "/classify",
    responses={
        413: {"model": ErrorResponse, "description": "The body is over NEWS_MAX_BODY_BYTES."},
        503: {"model": ErrorResponse, "description": "A needed model is not loaded."},
    },
)
async def classify(body: ClassifyBody, snapshot: SnapshotDep, batcher: BatcherDep) -> ClassifyResponse:
    """One model call per task for the whole batch (shared with concurrent requests), in a worker thread."""
    return await classify_items(batcher, snapshot, body.items)
