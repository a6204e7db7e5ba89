"""Classify a batch of texts: topic for each, stance toward the target where one is given."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serving.classification import classify_items
from serving.dependencies import BatcherDep, ClassifyBody, SnapshotDep
from serving.disconnect import while_connected
from serving.openapi import RETRY_AFTER, request_body
from serving.schemas import ClassifyRequest, ClassifyResponse, ErrorResponse, ValidationErrorResponse

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post(
    "/classify",
    openapi_extra=request_body(ClassifyRequest),
    responses={
        422: {
            "model": ValidationErrorResponse,
            "description": "The body is not a valid request; each error names its field.",
        },
        413: {"model": ErrorResponse, "description": "The body is over NEWS_MAX_BODY_BYTES."},
        501: {"model": ErrorResponse, "description": "The request needs a task this server is configured without."},
        503: {"model": ErrorResponse, "description": "A needed model is not loaded.", "headers": RETRY_AFTER},
    },
)
async def classify(request: Request, body: ClassifyBody, snapshot: SnapshotDep, batcher: BatcherDep) -> ClassifyResponse:
    """One model call per task for the whole batch (shared with concurrent requests), in a worker thread."""
    return await while_connected(request, classify_items(batcher, snapshot, body.items))
