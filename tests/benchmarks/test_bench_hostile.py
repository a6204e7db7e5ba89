"""benchmarks/bench_hostile.py: the hostile requests it builds, and how it reads schemathesis's reports."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from serving.settings import ServingSettings
from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_hostile
from bench_serving import LoadResult


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

    def answer(status: int | None, closed: float | None) -> str:
        exchange = bench_hostile.Exchange(status, 0.01, closed, 1024)
        return bench_hostile.case_row(bench_hostile.CaseResult(case, exchange, 5.0, 3, 0))[3]

    assert answer(431, 0.02) == "431, closed"
    assert answer(200, 16.0) == "**200, closed**"
    assert answer(431, None) == "**431, still open after 30 s**"


def test_the_summary_and_the_hostile_input_tables() -> None:
    options = bench_hostile.Options(
        seed=42, max_examples=50, fuzz_seconds=120, load_clients=64, load_seconds=30, swap_clients=16, swap_seconds=30,
        swap_every=3,
    )  # fmt: skip
    fuzzed = bench_hostile.FuzzResult(10, 2, [], 0, Counter({200: 9, None: 1}), "completed", 0)
    load = LoadResult(2000, 1, 20.0, [float(ms) for ms in range(1, 101)], 5.0, 30.0, 800.0)
    swap = bench_hostile.SwapResult(3, 100, 0, 0, Counter({"1": 60, "2": 40}), 1.25, ("1", "2"))
    header_case = bench_hostile.Case("a 1 MiB header", 1024 * 1024, "431, closed", list)
    unfinished = bench_hostile.Case("headers never finished", 100, "408, closed", list)
    cases = [
        bench_hostile.CaseResult(header_case, bench_hostile.Exchange(431, 0.01, 0.02, 2 * 1024 * 1024), 5.0, 3, 0),
        bench_hostile.CaseResult(unfinished, bench_hostile.Exchange(None, None, None, 100), 7.0, 4, 1),
    ]
    text = bench_hostile.markdown(options, fuzzed, cases, load, swap, (800.0, 820.0), Counter({"WARNING": 2}))

    before, _, tables = text.partition("\n\n")
    assert before.startswith("Measured ") and "`python benchmarks/bench_hostile.py --seed 42 " in before
    summary, cases_table = tables.split("\n\n")
    header, separator, *checks = table_lines(summary)
    assert header == ["check", "result"] and alignments(separator) == ["left", "left"]
    named = [check[0].split(":")[0] for check in checks]
    assert named == ["schemathesis", "load", "hot swap", "RSS of the server's process tree", "server log"]
    assert checks[3][1] == "800 MB before, 820 MB after"
    assert "never served" not in checks[2][1]
    # A copy the server never served means no swap was tested: the table said "0 failed" all the same.
    never = bench_hostile.SwapResult(3, 100, 0, 0, Counter({"1": 100}), 0.5, ("1", "2"))
    untested = bench_hostile.markdown(options, fuzzed, cases, load, never, (800.0, 820.0), Counter())
    assert "**v2 never served: no swap was tested**" in untested
    assert checks[4][1] == "0 errors, 0 tracebacks, 2 warnings"
    header, separator, *rows = table_lines(cases_table)
    assert header[:4] == ["hostile input", "size", "expected", "answer"] and len(header) == 8
    assert alignments(separator) == ["left", "right", "left", "left", "right", "right", "right", "right"]
    answered, unanswered = rows
    assert answered == ["a 1 MiB header", "1.0 MiB", "431, closed", "431, closed", "0.01", "0.02", "2.00 MiB", "5 (3, 0)"]
    assert unanswered[:4] == ["headers never finished", "100 B", "408, closed", "**no answer, still open after 30 s**"]
    assert unanswered[4:] == ["–", "–", "0.00 MiB", "7 (4, 1)"]
    assert text.endswith(" |\n")


def test_the_serving_doc_has_the_markers() -> None:
    text = bench_hostile.DOC.read_text(encoding="utf-8")
    assert f"<!-- {bench_hostile.MARKER}:start -->" in text and f"<!-- {bench_hostile.MARKER}:end -->" in text
