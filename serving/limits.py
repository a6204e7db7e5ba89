"""Input limits that are runtime settings, reported as 422s in FastAPI's validation error format.

Counts are checked on the parsed JSON before any item is validated, so a request over a count
limit costs no more than its parsing; lengths are checked on the validated request.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from classifiers.segmenter import segment_body
from serving.article_analysis import SegmentedArticle
from serving.request_body import body_error, reported, validate
from serving.schemas import ArticleRequest, ClassifyRequest
from serving.settings import ServingSettings

Loc = tuple[str | int, ...]


def _too_long(loc: Loc, text: str, limit: int) -> list[dict[str, Any]]:
    if len(text) <= limit:
        return []
    # No "input": echoing a 20,000-character text back would only make the error harder to read.
    return [body_error("string_too_long", f"must be at most {limit} characters, got {len(text)}", *loc)]


def _raise_if_any(errors: list[dict[str, Any]]) -> None:
    if errors:
        raise RequestValidationError(reported(errors))


def _refuse_over_count(data: object, field: str, limit: int, kind: str, what: str) -> None:
    """422 when a top-level list of the raw body is longer than limit; missing or not a list is validation's to say."""
    value = data.get(field) if isinstance(data, dict) else None
    count = len(value) if isinstance(value, list) else 0
    if count > limit:
        _raise_if_any([body_error(kind, f"at most {limit} {what}, got {count}", field)])


def check_classify_request(data: object, settings: ServingSettings) -> ClassifyRequest:
    """The parsed body as a request, or a 422 naming every item over a limit."""
    _refuse_over_count(data, "items", settings.max_items, "too_many_items", "items per request")
    request = validate(ClassifyRequest, data)
    errors = []
    for index, item in enumerate(request.items):
        errors += _too_long(("items", index, "text"), item.text, settings.max_text_chars)
        if item.target is not None:
            errors += _too_long(("items", index, "target"), item.target, settings.max_target_chars)
        if item.document is not None:
            errors += _too_long(("items", index, "document"), item.document, settings.max_target_chars)
    _raise_if_any(errors)
    total = sum(len(item.text) for item in request.items)
    if total > settings.max_request_chars:
        message = (
            f"the texts hold {total} characters in all; a request may hold at most {settings.max_request_chars} "
            "(send the items in several requests)"
        )
        _raise_if_any([body_error("too_many_characters", message, "items")])
    return request


def segment_article(data: object, settings: ServingSettings) -> SegmentedArticle:
    """Cut the parsed body's article into segments, or a 422 when it or its targets are over a limit."""
    _refuse_over_count(data, "targets", settings.max_targets, "too_many_targets", "targets")
    request = validate(ArticleRequest, data)
    # The title is echoed back, so it is bounded like any other text.
    errors = _too_long(("title",), request.title, settings.max_text_chars)
    errors += _too_long(("body",), request.body, settings.max_article_chars)
    for index, target in enumerate(request.targets):
        errors += _too_long(("targets", index), target, settings.max_target_chars)
    _raise_if_any(errors)
    segments = segment_body(request.body)
    if len(segments) > settings.max_items:
        message = f"splits into {len(segments)} segments; at most {settings.max_items} are classified per request"
        _raise_if_any([body_error("too_many_segments", message, "body")])
    return SegmentedArticle(title=request.title, segments=segments, targets=list(request.targets))
