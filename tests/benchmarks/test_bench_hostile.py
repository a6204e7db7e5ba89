"""benchmarks/bench_hostile.py: the hostile requests it builds, and how it reads schemathesis's reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from serving.settings import ServingSettings
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_hostile


def test_hostile_bodies_have_the_sizes_they_claim() -> None:
    settings = ServingSettings()
    cases = {case.name: case for case in bench_hostile.hostile_cases(8000, settings)}
    assert len(cases) == bench_hostile.HOSTILE_CASES
    empty_items = cases['`{"items":[{}, ...]}`, 1,000,000 empty items']
    body = b"".join(empty_items.chunks()).partition(b"\r\n\r\n")[2]
    assert len(body) == empty_items.size and json.loads(body)["items"].count({}) == 1_000_000
    near_limit = next(case for name, case in cases.items() if "under the body limit" in name)
    body = b"".join(near_limit.chunks()).partition(b"\r\n\r\n")[2]
    assert settings.max_body_bytes - 1024 - 100 < len(body) <= settings.max_body_bytes - 1024
    assert len(json.loads(body)["items"]) > settings.max_items
    # The 128 MiB header is produced in chunks, never held whole.
    header = cases["a 128 MiB header"]
    assert max(len(chunk) for chunk in header.chunks()) <= bench_hostile.CHUNK
    assert sum(len(chunk) for chunk in header.chunks()) > header.size
    assert not b"".join(cases["headers never finished"].chunks()).endswith(b"\r\n")


def test_parse_reports_counts_cases_failures_and_5xx(tmp_path: Path) -> None:
    report = {
        "test_cases": {"generated": 3},
        "operations": {"tested": 2},
        "failures": [{"code": "ST100", "title": "Server error", "count": 1, "operations": ["POST /v1/classify"]}],
        "errors": [],
        "stop_reason": "completed",
        "exit_code": 1,
    }
    (tmp_path / "json-1.json").write_text(json.dumps(report))

    def finished(*statuses: int | None) -> str:
        interactions = {
            str(index): {"response": None if status is None else {"status_code": status}}
            for index, status in enumerate(statuses)
        }
        return json.dumps({"ScenarioFinished": {"recorder": {"interactions": interactions}}})

    events = [json.dumps({"Initialize": {}}), finished(200, 500), finished(None), json.dumps({"EngineFinished": {}})]
    (tmp_path / "ndjson-1.ndjson").write_text("\n".join(events) + "\n")
    result = bench_hostile.parse_reports(tmp_path)
    assert (result.generated, result.operations, result.server_errors) == (3, 2, 1)
    assert result.statuses == {200: 1, 500: 1, None: 1}
    assert result.failures[0]["code"] == "ST100"


def test_an_unexpected_answer_is_in_bold() -> None:
    case = bench_hostile.Case("a 1 MiB header", 1024 * 1024, "431, closed", list)

    def row(status: int | None, closed: float | None) -> str:
        exchange = bench_hostile.Exchange(status, 0.01, closed, 1024)
        return bench_hostile.case_row(bench_hostile.CaseResult(case, exchange, 5.0, 3, 0))

    assert "| 431, closed |" in row(431, 0.02)
    assert "| **200, closed** |" in row(200, 16.0)
    assert "| **431, still open after 30 s** |" in row(431, None)


def test_the_serving_doc_has_the_markers() -> None:
    text = bench_hostile.DOC.read_text(encoding="utf-8")
    assert f"<!-- {bench_hostile.MARKER}:start -->" in text and f"<!-- {bench_hostile.MARKER}:end -->" in text
