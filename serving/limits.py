"""Input limits that are runtime settings, reported as 422s in FastAPI's validation error format.

Counts are checked on the parsed JSON before any item is validated, so a request over a count limit costs no more
than its parsing; lengths are checked by validation itself (serving.schemas reads them from the validation context),
so a request's too-long texts are named beside its other errors, in one answer.
"""

from __future__ import annotations

from typing import Any, NoReturn

from fastapi.exceptions import RequestValidationError

from classifiers.segmenter import segment_body
from serving.article_analysis import SegmentedArticle
from serving.request_body import body_error, validate
from serving.schemas import ArticleRequest, ClassifyRequest
from serving.settings import ServingSettings

# The settings serving.schemas' length validators read from the validation context.
LENGTH_SETTINGS = frozenset({"max_text_chars", "max_target_chars", "max_article_chars"})


def _lengths(settings: ServingSettings) -> dict[str, Any]:
    return settings.model_dump(include=set(LENGTH_SETTINGS))


def _refuse(kind: str, message: str, field: str) -> NoReturn:
    raise RequestValidationError([body_error(kind, message, field)])


def _refuse_over_count(data: object, field: str, limit: int, kind: str, what: str) -> None:
    """422 when a top-level list of the raw body is longer than limit; missing or not a list is validation's to say."""
    value = data.get(field) if isinstance(data, dict) else None
    count = len(value) if isinstance(value, list) else 0
    if count > limit:
        _refuse(kind, f"at most {limit} {what}, got {count}", field)


def check_classify_request(data: object, settings: ServingSettings) -> ClassifyRequest:
    """The parsed body as a request, or a 422 naming every item at fault (over a length limit among them)."""
    _refuse_over_count(data, "items", settings.max_items, "too_many_items", "items per request")
    request = validate(ClassifyRequest, data, _lengths(settings))
    total = sum(len(item.text) for item in request.items)
    if total > settings.max_request_chars:
        message = (
            f"the texts hold {total} characters in all; a request may hold at most {settings.max_request_chars} "
            "(send the items in several requests)"
        )
        _refuse("too_many_characters", message, "items")
    return request


def segment_article(data: object, settings: ServingSettings) -> SegmentedArticle:
    """Cut the parsed body's article into segments, or a 422 when it or its targets are at fault or over a limit."""
    _refuse_over_count(data, "targets", settings.max_targets, "too_many_targets", "targets")
    request = validate(ArticleRequest, data, _lengths(settings))
    segments = segment_body(request.body)
    if len(segments) > settings.max_items:
        message = f"splits into {len(segments)} segments; at most {settings.max_items} are classified per request"
        _refuse("too_many_segments", message, "body")
    return SegmentedArticle(title=request.title, segments=segments, targets=list(request.targets))
