"""The OpenAPI schema, saying what the server enforces: the request bodies with this server's limits.

The service reads its request bodies itself (serving.request_body), so FastAPI does not see them;
each such route names its body model with `request_body`, and `install` puts the models' schemas,
with the limits from the settings, into the components.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from serving.schemas import ArticleRequest, ClassifyRequest, ErrorResponse, ValidationErrorResponse
from serving.settings import ServingSettings

REF_TEMPLATE = "#/components/schemas/{model}"
BODY_MODELS: tuple[type[BaseModel], ...] = (ClassifyRequest, ArticleRequest)
# The header of a 503 for a missing model (serving.errors), so a generated client knows when to try again.
RETRY_AFTER = {
    "Retry-After": {
        "description": (
            "Seconds until the server next looks for the model (NEWS_POLL_SECONDS); absent when waiting changes "
            "nothing (no polling, or a task this server is set up not to serve)."
        ),
        "schema": {"type": "integer", "minimum": 1},
    }
}

# What a classifying route (/v1/classify, /v1/articles) answers besides its result.
CLASSIFY_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorResponse, "description": "The body is not a valid request; each error names its field."},
    413: {"model": ErrorResponse, "description": "The body is over NEWS_MAX_BODY_BYTES."},
    415: {
        "model": ValidationErrorResponse,
        "description": "The body is not sent as UTF-8 JSON (`Content-Type: application/json`), or is compressed.",
    },
    501: {"model": ErrorResponse, "description": "The request needs a task this server is configured without."},
    503: {"model": ErrorResponse, "description": "A needed model is not loaded.", "headers": RETRY_AFTER},
}


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads a JSON body of this model."""
    schema = {"$ref": REF_TEMPLATE.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _string(schema: dict[str, Any]) -> dict[str, Any]:
    # An optional string is anyOf [string, null]; the limit belongs to the string.
    return next(option for option in schema.get("anyOf", [schema]) if option.get("type") == "string")


def body_schemas(settings: ServingSettings) -> dict[str, dict[str, Any]]:
    """Component schemas of the request bodies, with the limits the settings set."""
    schemas: dict[str, dict[str, Any]] = {}
    for model in BODY_MODELS:
        schema = model.model_json_schema(ref_template=REF_TEMPLATE)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    item, classify, article = (
        schemas[name]["properties"] for name in ("ClassifyItem", "ClassifyRequest", "ArticleRequest")
    )
    classify["items"]["maxItems"] = settings.max_items
    # JSON Schema cannot bound a sum: the limit on the texts' characters together is said in words.
    classify["items"]["description"] = (
        f"At most {settings.max_items} items, whose texts hold at most {settings.max_request_chars} characters "
        "together (NEWS_MAX_REQUEST_CHARS)."
    )
    _string(item["text"])["maxLength"] = settings.max_text_chars
    _string(item["target"])["maxLength"] = settings.max_target_chars
    _string(item["document"])["maxLength"] = settings.max_target_chars
    article["title"]["maxLength"] = settings.max_text_chars
    article["body"]["maxLength"] = settings.max_article_chars
    article["targets"]["maxItems"] = settings.max_targets
    article["targets"]["items"]["maxLength"] = settings.max_target_chars
    return schemas


def install(app: FastAPI, settings: ServingSettings) -> None:
    """Make `app.openapi()` include the request bodies, and say that /metrics answers in text."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes, tags=app.openapi_tags
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(body_schemas(settings))
            # prometheus-fastapi-instrumentator declares its route with FastAPI's default, JSON.
            metrics = schema["paths"]["/metrics"]["get"]["responses"]["200"]
            metrics["content"] = {"text/plain": {"schema": {"type": "string"}}}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
