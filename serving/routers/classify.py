"""Classify a batch of texts: topic for each, stance toward the target where one is given."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serving.classification import classify_items
from serving.dependencies import BatcherDep, ClassifyBody, SnapshotDep
from serving.disconnect import while_connected
from serving.openapi import CLASSIFY_ERRORS, request_body
from serving.schemas import ClassifyRequest, ClassifyResponse

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post(
    "/classify",
    openapi_extra=request_body(ClassifyRequest),
    responses=CLASSIFY_ERRORS,
)
async def classify(request: Request, body: ClassifyBody, snapshot: SnapshotDep, batcher: BatcherDep) -> ClassifyResponse:
    """One model call per task for the whole batch (shared with concurrent requests), in a worker thread."""
    return await while_connected(request, classify_items(batcher, snapshot, body.items))
