"""Classify a whole article segment by segment and summarise it."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serving.article_analysis import analyse_article
from serving.dependencies import ArticleBody, BatcherDep, SettingsDep, SnapshotDep
from serving.disconnect import while_connected
from serving.openapi import CLASSIFY_ERRORS, request_body
from serving.schemas import ArticleRequest, ArticleResponse

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post(
    "/articles",
    openapi_extra=request_body(ArticleRequest),
    responses=CLASSIFY_ERRORS,
)
async def articles(
    request: Request, article: ArticleBody, snapshot: SnapshotDep, batcher: BatcherDep, settings: SettingsDep
) -> ArticleResponse:
    """Segments as ingest cuts them, each classified; topic distribution and stance per target."""
    # A stance row per (segment, target) pair: at most as many as the items of a /v1/classify request.
    return await while_connected(request, analyse_article(batcher, snapshot, article, settings.max_items))
