"""Input limits that are runtime settings, reported as 422s in FastAPI's validation error format."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from classifiers.segmenter import segment_body
from serving.article_analysis import SegmentedArticle
from serving.schemas import ArticleRequest, ClassifyRequest
from serving.settings import ServingSettings

Loc = tuple[str | int, ...]


def _error(loc: Loc, kind: str, message: str) -> dict[str, Any]:
    # No "input": echoing a 20,000-character text back would only make the error harder to read.
    return {"type": kind, "loc": ("body", *loc), "msg": message}


def _too_long(loc: Loc, text: str, limit: int) -> list[dict[str, Any]]:
    if len(text) <= limit:
        return []
    return [_error(loc, "string_too_long", f"must be at most {limit} characters, got {len(text)}")]


def _raise_if_any(errors: list[dict[str, Any]]) -> None:
    if errors:
        raise RequestValidationError(errors)


def check_classify_request(request: ClassifyRequest, settings: ServingSettings) -> ClassifyRequest:
    """The request, or a 422 naming every item over a limit."""
    if len(request.items) > settings.max_items:
        message = f"at most {settings.max_items} items per request, got {len(request.items)}"
        _raise_if_any([_error(("items",), "too_many_items", message)])
    errors = []
    for index, item in enumerate(request.items):
        errors += _too_long(("items", index, "text"), item.text, settings.max_text_chars)
        if item.target is not None:
            errors += _too_long(("items", index, "target"), item.target, settings.max_target_chars)
    _raise_if_any(errors)
    return request


def segment_article(request: ArticleRequest, settings: ServingSettings) -> SegmentedArticle:
    """Cut the body into segments, or a 422 when the article or its targets are over a limit."""
    # The title is echoed back, so it is bounded like any other text.
    errors = _too_long(("title",), request.title, settings.max_text_chars)
    errors += _too_long(("body",), request.body, settings.max_article_chars)
    if len(request.targets) > settings.max_targets:
        errors.append(
            _error(
                ("targets",), "too_many_targets", f"at most {settings.max_targets} targets, got {len(request.targets)}"
            )
        )
    for index, target in enumerate(request.targets):
        errors += _too_long(("targets", index), target, settings.max_target_chars)
    _raise_if_any(errors)
    segments = segment_body(request.body)
    if len(segments) > settings.max_items:
        message = f"splits into {len(segments)} segments; at most {settings.max_items} are classified per request"
        _raise_if_any([_error(("body",), "too_many_segments", message)])
    return SegmentedArticle(title=request.title, segments=segments, targets=list(request.targets))
