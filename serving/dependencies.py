"""FastAPI dependencies and their `Annotated` aliases.

All are `async def` although none awaits: FastAPI runs a plain `def` dependency in the thread
pool, and a thread hop per dependency would cost more than the dependencies themselves.
"""

from __future__ import annotations

from secrets import compare_digest
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader

from serving.article_analysis import SegmentedArticle
from serving.batching import PredictionBatcher
from serving.limits import check_classify_request, segment_article
from serving.model_holder import ModelHolder
from serving.request_body import body_error, read_json_body
from serving.schemas import ClassifyRequest
from serving.settings import ENV_PREFIX, ServingSettings
from serving.snapshot import ModelSnapshot

API_KEY_HEADER = "X-API-Key"


async def get_settings(request: Request) -> ServingSettings:
    """The settings the app was created with."""
    return request.app.state.settings


async def get_holder(request: Request) -> ModelHolder:
    """The app's model holder (the current snapshot and reloading)."""
    return request.app.state.model_holder


async def get_batcher(request: Request) -> PredictionBatcher:
    """The app's batcher: every model call goes through it."""
    return request.app.state.batcher


SettingsDep = Annotated[ServingSettings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
BatcherDep = Annotated[PredictionBatcher, Depends(get_batcher)]


async def get_snapshot(holder: HolderDep) -> ModelSnapshot:
    """The models this request is served with, read once: a reload during the request does not affect it."""
    return holder.current


SnapshotDep = Annotated[ModelSnapshot, Depends(get_snapshot)]


async def classify_request(request: Request, settings: SettingsDep) -> ClassifyRequest:
    """The request body, checked against the configured limits and validated."""
    return await read_json_body(request, lambda data: check_classify_request(data, settings))


async def article_request(request: Request, settings: SettingsDep) -> SegmentedArticle:
    """The article body, checked against the configured limits, validated and cut into segments."""
    return await read_json_body(request, lambda data: segment_article(data, settings))


ClassifyBody = Annotated[ClassifyRequest, Depends(classify_request)]
ArticleBody = Annotated[SegmentedArticle, Depends(article_request)]

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="The admin key (NEWS_ADMIN_API_KEY).")


async def require_admin(settings: SettingsDep, key: Annotated[str | None, Security(_api_key)]) -> None:
    """401 without a key, 403 with a wrong one, 403 for everyone when no admin key is configured."""
    if settings.admin_api_key is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"admin endpoints are disabled: set {ENV_PREFIX}ADMIN_API_KEY to enable them"
        )
    # HTTP does not count spaces and tabs around a header value as part of it (RFC 9110, 5.5); a key never holds any.
    key = (key or "").strip(" \t")
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"missing {API_KEY_HEADER} header",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    if not compare_digest(key.encode(), settings.admin_api_key.get_secret_value().encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"wrong {API_KEY_HEADER}")


AdminDep = Annotated[None, Depends(require_admin)]


async def reload_takes_no_body(request: Request) -> None:
    """A 422 for a reload request with a body: one such as {"task": "topic"} was taken for a choice it does not make."""
    if await request.body():
        raise RequestValidationError(
            [body_error("body_not_taken", "a reload takes none: it re-resolves every task's model URI")]
        )


NoBody = Annotated[None, Depends(reload_takes_no_body)]
