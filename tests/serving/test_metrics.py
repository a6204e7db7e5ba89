"""GET /metrics: request counts and latencies per endpoint, loaded versions, items classified."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from serving.app import create_app
from serving.settings import ServingSettings


def scrape(client: TestClient) -> dict[str, list[Sample]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    matching = [sample.value for sample in samples if sample.name == name and labels.items() <= sample.labels.items()]
    assert len(matching) == 1, (name, labels, samples)
    return matching[0]


def test_metrics_count_requests_items_and_report_versions(fresh_client: TestClient) -> None:
    client = fresh_client
    for _ in range(3):
        client.post(
            "/v1/classify",
            json={"items": [{"text": "Troops crossed the border."}, {"text": "Prices rose.", "target": "Iran"}]},
        )
    client.post("/v1/classify", json={"items": [{"text": " "}]})
    client.post(
        "/v1/articles",
        json={"title": "t", "body": "Iran and Israel exchanged fire.\nMarkets fell.", "targets": ["Iran"]},
    )

    metrics = scrape(client)

    requests = metrics["http_requests"]
    assert value(requests, "http_requests_total", handler="/v1/classify", status="200") == 3
    assert value(requests, "http_requests_total", handler="/v1/classify", status="422") == 1
    assert value(requests, "http_requests_total", handler="/v1/articles", status="200") == 1
    latency = metrics["http_request_duration_seconds"]
    assert value(latency, "http_request_duration_seconds_count", handler="/v1/classify", method="POST") == 4
    assert value(latency, "http_request_duration_seconds_sum", handler="/v1/classify", method="POST") > 0

    items = metrics["news_items_classified"]
    assert value(items, "news_items_classified_total", task="topic", endpoint="classify") == 6
    assert value(items, "news_items_classified_total", task="stance", endpoint="classify") == 3
    assert value(items, "news_items_classified_total", task="topic", endpoint="articles") == 2
    assert value(items, "news_items_classified_total", task="stance", endpoint="articles") == 1
    assert value(metrics["news_prediction_seconds"], "news_prediction_seconds_count", task="topic") == 4

    versions = {sample.labels["task"]: sample.labels for sample in metrics["news_model_version_info"]}
    assert {task: (labels["name"], labels["version"]) for task, labels in versions.items()} == {
        "topic": ("news-topic", "1"),
        "stance": ("news-stance", "1"),
    }
    assert value(metrics["news_model_loaded"], "news_model_loaded", task="stance") == 1


def classify_counts(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Items classified and requests per endpoint, leaving out GET /metrics (which each scrape itself counts)."""
    metrics = scrape(client)
    samples = [*metrics.get("news_items_classified", []), *metrics.get("http_requests", [])]
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for sample in samples
        if sample.name.endswith("_total") and sample.labels.get("handler") != "/metrics"
    }


def test_apps_do_not_share_metrics(client: TestClient, fresh_client: TestClient) -> None:
    # The shared app may have served other tests already: compare it with itself across the fresh app's request.
    shared_before = classify_counts(client)
    fresh_client.post("/v1/classify", json={"items": [{"text": "One request to the fresh app."}]})

    assert classify_counts(client) == shared_before
    fresh = scrape(fresh_client)
    assert value(fresh["news_items_classified"], "news_items_classified_total", task="topic", endpoint="classify") == 1
    assert value(fresh["http_requests"], "http_requests_total", handler="/v1/classify", status="200") == 1


def test_metrics_without_models_show_nothing_loaded(
    store_uri: str, make_settings: Callable[..., ServingSettings]
) -> None:
    with TestClient(create_app(make_settings(store_uri))) as client:
        metrics = scrape(client)

    assert metrics["news_model_version_info"] == []
    assert value(metrics["news_model_loaded"], "news_model_loaded", task="topic") == 0


def test_metrics_answer_head_with_the_status_and_content_type_of_get(
    store_uri: str, make_settings: Callable[..., ServingSettings]
) -> None:
    with TestClient(create_app(make_settings(store_uri))) as client:
        get = client.get("/metrics")
        response = client.head("/metrics")
        scraped = scrape(client)

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == get.headers["content-type"]
    assert get.headers["content-type"].startswith("text/plain")
    # The length is the text's of that moment: each request changes the counts.
    assert int(response.headers["content-length"]) > 0
    # Counted as HEAD, apart from the scrapes.
    assert value(scraped["http_requests"], "http_requests_total", handler="/metrics", method="HEAD", status="200") == 1
