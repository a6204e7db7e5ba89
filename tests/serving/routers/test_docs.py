"""The API docs pages work offline: every asset they load is served by the app itself.

docs/serving.md has the check that Swagger UI really renders (headless Chromium, a screenshot).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings

# src="..." and href="..." of the page, the spec URL of ReDoc, and JavaScript's url: '...'.
_REFERENCE = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|\burl:\s*["']([^"']+)["']""")
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture(scope="module")
def docs_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app over a store that does not exist: the docs need no model."""
    store = f"sqlite:///{tmp_path_factory.mktemp('docs-store') / 'mlflow.db'}"
    with TestClient(create_app(ServingSettings(tracking_uri=store))) as client:
        yield client


def references(html: str) -> list[str]:
    return [first or second for first, second in _REFERENCE.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_local_assets(docs_client: TestClient, page: str) -> None:
    response = docs_client.get(page)

    assert response.status_code == 200
    urls = references(response.text)
    assert urls, response.text
    assert not re.search(r"https?://", response.text), "the page names another host"
    assert all(url.startswith("/") for url in urls), urls
    assets = [url for url in urls if url != "/openapi.json"]
    assert {url.rsplit(".", 1)[-1] for url in assets} >= ({"js", "css", "png"} if page == "/docs" else {"js", "png"})
    for url in assets:
        asset = docs_client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(CONTENT_TYPES["." + url.rsplit(".", 1)[-1]]), url
        assert len(asset.content) > 1000, url


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_answer_head_with_the_status_and_headers_of_get(docs_client: TestClient, page: str) -> None:
    get = docs_client.get(page)
    response = docs_client.head(page)

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == get.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-length"] == get.headers["content-length"] == str(len(get.content))


def test_the_swagger_ui_bundle_reads_openapi_3_1(docs_client: TestClient) -> None:
    """FastAPI writes OpenAPI 3.1, which Swagger UI renders from version 5 on (4 shows an error page)."""
    bundle = docs_client.get("/docs-assets/swagger-ui-bundle.js").text

    assert docs_client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert "OpenAPI 3.1" in bundle or "openapi31" in bundle.lower()


def test_the_docs_assets_are_not_in_the_api_schema(docs_client: TestClient) -> None:
    paths = docs_client.get("/openapi.json").json()["paths"]

    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]
