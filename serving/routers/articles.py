"""Classify a whole article segment by segment and summarise it."""

from __future__ import annotations

from fastapi import APIRouter

from serving.article_analysis import analyse_article
from serving.dependencies import ArticleBody, BatcherDep, SnapshotDep
from serving.schemas import ArticleResponse, ErrorResponse, ModelRef, ModelsUsed

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post("/articles", responses={503: {"model": ErrorResponse, "description": "A needed model is not loaded."}})
async def articles(article: ArticleBody, snapshot: SnapshotDep, batcher: BatcherDep) -> ArticleResponse:
    """Segments as ingest cuts them, each classified; topic distribution and stance per target."""
    topic = snapshot.require("topic")
    stance = snapshot.require("stance") if article.targets else None
    segments, summary = await analyse_article(batcher, article, topic, stance)
    used = ModelsUsed(topic=ModelRef.of(topic), stance=ModelRef.of(stance) if stance is not None else None)
    return ArticleResponse(models=used, title=article.title, segments=segments, summary=summary)
