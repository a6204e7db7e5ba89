"""serving/model_holder.py: the current snapshot, the retry delay of a version that fails to load, and how a failing
poll is logged. Reloads through the app (manual, polled, failed, backing off): test_model_reload.py."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from contextlib import suppress

import pytest
from prometheus_client import CollectorRegistry

from classifiers import store
from serving import model_holder
from serving.metrics import ServiceMetrics
from serving.model_holder import MAX_RETRY_DELAY_S, ModelHolder, Reload, retry_delay
from serving.settings import ServingSettings
from serving.snapshot import ModelSnapshot, Task
from tests.serving.conftest import loaded_model

SettingsFactory = Callable[..., ServingSettings]
POLL_TIMEOUT_S = 30.0


def test_the_retry_delay_doubles_with_each_failure_up_to_a_cap() -> None:
    assert [retry_delay(5.0, failures) for failures in (1, 2, 3)] == [10.0, 20.0, 40.0]
    assert retry_delay(5.0, 10) == retry_delay(5.0, 10**6) == MAX_RETRY_DELAY_S


def test_a_failing_poll_logs_its_traceback_once_a_line_when_the_error_changes_and_one_when_it_ends(
    store_uri: str, make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    holder = ModelHolder(make_settings(store_uri), ServiceMetrics(CollectorRegistry()))
    outcomes: list[Exception | None] = [
        *[sqlite3.OperationalError("database is locked")] * 3,
        *[sqlite3.DatabaseError("file is not a database")] * 2,
        None,
        None,
    ]

    async def poll_until_every_outcome_was_met() -> None:
        met = asyncio.Event()

        async def due_tasks() -> set[Task]:
            if not outcomes:
                met.set()
                await asyncio.Event().wait()  # until cancelled
            outcome = outcomes.pop(0)
            if outcome is not None:
                raise outcome
            return set()

        holder.due_tasks = due_tasks  # type: ignore[method-assign]
        poller = asyncio.create_task(holder.poll(0))
        await asyncio.wait_for(met.wait(), POLL_TIMEOUT_S)
        poller.cancel()
        with suppress(asyncio.CancelledError):
            await poller

    with caplog.at_level("INFO", logger=model_holder.__name__):
        asyncio.run(poll_until_every_outcome_was_met())

    records = [record for record in caplog.records if record.name == model_holder.__name__]
    assert [(record.levelname, record.exc_info is not None) for record in records] == [
        ("ERROR", True),
        ("WARNING", False),
        ("INFO", False),
    ]
    assert records[0].exc_info is not None and str(records[0].exc_info[1]) == "database is locked"
    assert "now with DatabaseError: file is not a database" in records[1].getMessage()
    assert records[2].getMessage() == "checking the model aliases works again"


def test_a_holder_starts_without_models_and_loads_what_the_store_has(
    store_uri: str, make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    holder = ModelHolder(make_settings(store_uri, stance_model_uri=""), ServiceMetrics(CollectorRegistry()))
    assert holder.current.problems == {
        "topic": "the server is still loading its models",
        "stance": "this server does not serve stance models (NEWS_STANCE_MODEL_URI is empty)",
    }

    with caplog.at_level(logging.INFO, logger="serving.model_holder"):
        loaded = asyncio.run(holder.load())

    # The task it was set up without is said as a fact, the one it lacks as a warning.
    levels = {record.getMessage().split(":")[0]: record.levelname for record in caplog.records}
    assert levels == {"no topic model": "WARNING", "no stance model": "INFO"}

    # An empty store: nothing to serve, the reason said, and the registry seen answering.
    assert holder.current is loaded and loaded.models == {}
    assert loaded.problems["topic"].startswith("no model at models:/news-topic@champion")
    assert holder.registry is not None and holder.registry.reachable


def test_a_store_that_cannot_be_read_leaves_the_holder_without_models_rather_than_failing(
    store_uri: str, make_settings: SettingsFactory
) -> None:
    holder = ModelHolder(make_settings(store_uri), ServiceMetrics(CollectorRegistry()))
    database = store.sqlite_path(store_uri)
    assert database is not None
    database.write_bytes(b"not a database")  # after the settings, which refuse a store that cannot be opened

    loaded = asyncio.run(holder.load())

    assert loaded.models == {}
    assert loaded.problems["topic"] == loaded.problems["stance"]
    assert loaded.problems["topic"].startswith(f"the model registry at {store_uri} cannot be read: ")


def test_a_reload_has_changed_something_only_when_a_task_serves_another_version_or_none() -> None:
    topic = loaded_model("topic", ("conflict", "economy"))
    before = ModelSnapshot({"topic": topic})
    assert not Reload(before, ModelSnapshot({"topic": loaded_model("topic", ("conflict", "economy"))})).changed
    assert Reload(before, ModelSnapshot({"topic": loaded_model("topic", ("conflict", "economy"), version="2")})).changed
    assert Reload(before, ModelSnapshot()).changed
