"""Replicas on the shared tracking server: several `python -m serving` processes, each with several workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest

from classifiers.lineage import VERSION_LINEAGE_TAGS
from classifiers.store import CHAMPION, PROJECT_ROOT
from tests.conftest import free_port

# The session's tracking stack: on the worker that runs tests/deploy/test_stack.py, so one worker starts it.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tracking_stack")]

ADMIN_KEY = "replica-admin-key-0123456789"
POLL_S = 2.0
WORKERS = 2
STARTUP_TIMEOUT_S = 120.0
ITEM = {"items": [{"text": "Talks on a ceasefire resumed in Cairo.", "target": "Hamas"}]}


@dataclass
class Replica:
    """One `python -m serving` process."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def ready(self) -> dict[str, Any]:
        response = httpx.get(f"{self.base}/ready", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def worker_versions(self, until: str | None = None, timeout_s: float = 10.0) -> dict[str, str]:
        """The topic version each of this replica's workers serves, asking until every worker answered.

        With `until`, keeps asking until every worker's latest answer is that version (or `timeout_s` passes).
        """
        seen: dict[str, str] = {}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready = self.ready()
            seen[str(ready["worker"])] = next(m["version"] for m in ready["models"] if m["task"] == "topic")
            if len(seen) == WORKERS and (until is None or set(seen.values()) == {until}):
                return seen
        raise AssertionError(f"workers of {self.base} answered {seen} within {timeout_s} s, waiting for {until}")


@contextmanager
def replicas(count: int, tracking_uri: str, tmp_path: Path, poll_s: float) -> Iterator[list[Replica]]:
    """`count` servers with WORKERS workers each, on free ports, ready when yielded; stopped after."""
    started: list[Replica] = []
    env = {
        **os.environ,
        "NEWS_TRACKING_URI": tracking_uri,
        "NEWS_ADMIN_API_KEY": ADMIN_KEY,
        "NEWS_POLL_SECONDS": str(poll_s),
        "NEWS_WORKERS": str(WORKERS),
    }
    try:
        for index in range(count):
            port, log = free_port(), tmp_path / f"replica-{index}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "serving", "--port", str(port)],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            started.append(Replica(f"http://127.0.0.1:{port}", process, log))
        for replica in started:
            wait_until_ready(replica)
        yield started
    finally:
        for replica in started:
            replica.process.send_signal(signal.SIGINT)
        for replica in started:
            replica.process.wait(timeout=60)


def wait_until_ready(replica: Replica) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        assert replica.process.poll() is None, replica.log.read_text()
        assert time.monotonic() < deadline, replica.log.read_text()
        try:
            if httpx.get(f"{replica.base}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)


@dataclass
class Load:
    """Single-item classify requests against every replica, from a few threads, until stopped."""

    replicas: list[Replica]
    failures: list[str] = field(default_factory=list)
    # (when the request was sent, the topic version that answered it)
    versions: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self, base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not self._stop.is_set():
                sent_at = time.monotonic()
                try:
                    response = client.post("/v1/classify", json=ITEM)
                except httpx.HTTPError as err:
                    self.failures.append(f"{base}: {err!r}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{base}: {response.status_code} {response.text}")
                else:
                    self.versions.append((sent_at, response.json()["models"]["topic"]["version"]))
                time.sleep(0.02)  # bounded: a steady trickle, not a saturating flood

    @contextmanager
    def running(self) -> Iterator[Load]:
        threads = [threading.Thread(target=self.run, args=(r.base,)) for r in self.replicas for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=60)


@pytest.fixture
def second_topic_version(stack_uri: str) -> Iterator[str]:
    """Version 2 of news-topic (the same weights as version 1), not yet champion; removed afterwards."""
    client = mlflow.MlflowClient()
    first = client.get_model_version("news-topic", "1")
    # Same run, same lineage tags: serving loads only versions of a finished run that carry them.
    second = mlflow.register_model(first.source, "news-topic", tags={key: first.tags[key] for key in VERSION_LINEAGE_TAGS})
    yield str(second.version)
    client.set_registered_model_alias("news-topic", CHAMPION, "1")
    client.delete_model_version("news-topic", second.version)


def test_every_worker_of_every_replica_follows_the_alias_with_no_failed_request(
    stack_uri: str, second_topic_version: str, tmp_path: Path
) -> None:
    with replicas(2, stack_uri, tmp_path, POLL_S) as servers:
        before = [replica.worker_versions() for replica in servers]
        with Load(servers).running() as load:
            time.sleep(1.0)
            mlflow.MlflowClient().set_registered_model_alias("news-topic", CHAMPION, second_topic_version)
            # A poll interval plus loading the version: the load takes seconds when four workers share 2 cores.
            # worker_versions fails the test if a worker is still on the old version at the deadline.
            after = [replica.worker_versions(until=second_topic_version, timeout_s=2 * POLL_S + 60) for replica in servers]
            switched_at = time.monotonic()
            time.sleep(1.0)

    assert [set(workers.values()) for workers in before] == [{"1"}, {"1"}]
    assert len({worker for workers in after for worker in workers}) == 2 * WORKERS
    assert load.failures == []
    served = [version for at, version in load.versions]
    assert {"1", second_topic_version} <= set(served)
    # Once every worker reports the new version, no request sent afterwards is answered by the old one.
    late = [version for sent_at, version in load.versions if sent_at > switched_at]
    assert late and set(late) == {second_topic_version}


def test_a_manual_reload_reaches_every_worker_of_the_replica(
    stack_uri: str, second_topic_version: str, tmp_path: Path
) -> None:
    with replicas(1, stack_uri, tmp_path, poll_s=0) as (server,):
        mlflow.MlflowClient().set_registered_model_alias("news-topic", CHAMPION, second_topic_version)
        reload = httpx.post(f"{server.base}/v1/models/reload", headers={"X-API-Key": ADMIN_KEY}, timeout=60)
        # The sibling worker hears the reload through the shared token file and loads the version itself.
        workers = server.worker_versions(until=second_topic_version, timeout_s=60)

    assert reload.status_code == 200
    assert reload.json()["workers_notified"] is True
    assert set(workers.values()) == {second_topic_version}
    assert len(workers) == WORKERS
