"""Models are loaded from a temporary download that is removed once they are in memory.

A remote artifact store (S3, an MLflow artifact server) makes MLflow download a model into a new
temporary folder at every load: the session's tracking stack serves its artifacts that way
(`mlflow-artifacts:`, proxied by the `mlflow server`).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

import classifiers
from classifiers import pyfunc_entry
from classifiers.contract import score_columns
from classifiers.families.finetuned import FineTuneModel
from classifiers.families.frozen_encoder import FrozenEncoderModel
from classifiers.lineage import DATA_DIGEST_TAG, VERSION_LINEAGE_TAGS
from classifiers.pyfunc import ARTIFACT_KEY
from classifiers.registry import classifier_factory
from classifiers.store import CHAMPION
from serving.app import create_app
from serving.model_loading import load_version
from serving.settings import ServingSettings
from tests.conftest import RunningStack

SettingsFactory = Callable[..., ServingSettings]

TOPIC = "news-topic"
ITEMS = {"items": [{"text": "Ministers met in Brussels to discuss the ceasefire proposal."}]}
STANCE_INPUTS = pd.DataFrame(
    {
        "text": [
            "Rockets hit the base.",
            "Ministers met for talks.",
            "Drones struck a convoy.",
            "Envoys signed a deal.",
        ],
        "target": ["Israel", "Iran", "Israel", "Iran"],
    }
)
STANCE_LABELS = ["against", "favor", "against", "favor"]


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder every temporary folder of this test is made in (MLflow's downloads included)."""
    root = tmp_path / "temp-root"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@dataclass(frozen=True)
class StackVersions:
    """Copies of the stack's news-topic version 1, registered in the stack as `name` 1 (champion) and 2."""

    registry: MlflowClient
    name: str
    # Version 2's model where the tracking server's artifact proxy keeps it.
    second: Path

    def break_second(self) -> dict[Path, bytes]:
        """Remove version 2's classifier metadata from the artifact store; what was removed, to put back."""
        removed = {path: path.read_bytes() for path in self.second.rglob("classifier.json")}
        assert removed, "version 2 should have had its classifier metadata to remove"
        for path in removed:
            path.unlink()
        return removed


@pytest.fixture
def stack_versions(
    tracking_stack: RunningStack, stack_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> StackVersions:
    """A registered model of this test's own in the stack, its versions uploaded through the artifact proxy.

    The stack's news-topic champion, which other tests serve, is left as it was.
    """
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # as `python -m serving` sets it
    registry = MlflowClient(tracking_uri=stack_uri, registry_uri=stack_uri)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=registry.get_model_version_download_uri(TOPIC, "1"), dst_path=str(tmp_path / "news-topic-1")
    )
    name = f"download-topic-{tmp_path.name}"
    registry.create_registered_model(name)
    # Serving loads only versions of a finished run with lineage tags: give the copies version 1's.
    first = registry.get_model_version(TOPIC, "1")
    assert first.run_id is not None
    digest = registry.get_run(first.run_id).data.tags[DATA_DIGEST_TAG]
    run = registry.create_run(experiment_id="0", tags={DATA_DIGEST_TAG: digest})
    lineage = {key: first.tags[key] for key in VERSION_LINEAGE_TAGS}
    for copy in ("first", "second"):
        registry.log_artifacts(run.info.run_id, local, copy)
    registry.set_terminated(run.info.run_id)
    for copy in ("first", "second"):
        registry.create_model_version(name, f"{run.info.artifact_uri}/{copy}", run_id=run.info.run_id, tags=lineage)
    registry.set_registered_model_alias(name, CHAMPION, "1")
    # mlflow-artifacts:/<path> is kept at <path> under the server's --artifacts-destination.
    stored = tracking_stack.stack.artifacts / run.info.artifact_uri.removeprefix("mlflow-artifacts:").lstrip("/")
    assert (stored / "second").is_dir(), f"the proxy should have stored the copies under {stored}"
    return StackVersions(registry, name, stored / "second")


def reloads(client: TestClient, outcome: str) -> int:
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith("news_model_reloads_total")]
    return sum(int(float(line.split()[-1])) for line in lines if f'outcome="{outcome}"' in line)


def wait_for_reloads(client: TestClient, outcome: str, count: int) -> None:
    """Wait until the app has counted `count` reloads with this outcome."""
    deadline = time.monotonic() + 60
    while reloads(client, outcome) < count:
        assert time.monotonic() < deadline, f"the poller did not reach {count} {outcome} reload(s)"
        time.sleep(0.05)


@pytest.mark.xdist_group("tracking_stack")  # the session's tracking stack lives on one worker
def test_no_download_is_left_behind_by_loads_failed_retries_and_the_retry_that_succeeds(
    stack_versions: StackVersions, temp_root: Path, stack_uri: str, make_settings: SettingsFactory
) -> None:
    registry, name = stack_versions.registry, stack_versions.name
    settings = make_settings(stack_uri, poll_seconds=0.05, topic_model_uri=f"models:/{name}@{CHAMPION}")
    with TestClient(create_app(settings)) as client:
        served = client.post("/v1/classify", json=ITEMS)
        after_startup = sorted(temp_root.iterdir())
        removed = stack_versions.break_second()
        failed = reloads(client, "failed")
        registry.set_registered_model_alias(name, CHAMPION, "2")
        wait_for_reloads(client, "failed", failed + 2)  # the broken version, and the poller's retry of it
        still = client.post("/v1/classify", json=ITEMS)
        after_failures = sorted(temp_root.iterdir())
        swapped = reloads(client, "swapped")
        for path, content in removed.items():
            path.write_bytes(content)
        wait_for_reloads(client, "swapped", swapped + 1)  # a later retry downloads the repaired version
        repaired = client.post("/v1/classify", json=ITEMS)

    assert served.status_code == 200, served.text
    assert served.json()["models"]["topic"] == {"name": name, "version": "1"}
    assert still.json()["models"]["topic"] == {"name": name, "version": "1"}
    assert repaired.json()["models"]["topic"] == {"name": name, "version": "2"}
    assert after_startup == after_failures == []
    assert sorted(temp_root.iterdir()) == []
    # MLflow puts the model's copy of the package on sys.path; no entry may point into a removed folder.
    assert not [entry for entry in sys.path if entry.startswith(str(temp_root))]


def log_stance_model(config: FrozenEncoderModel | FineTuneModel, scratch: Path) -> tuple[np.ndarray, str]:
    """Fit a tiny stance model, register it as news-stance in the current store; its probabilities and version."""
    classifier = classifier_factory(config, "stance", seed=0)()
    classifier.fit(STANCE_INPUTS, STANCE_LABELS)
    classifier.save(scratch)
    # Without an explicit location a new store's Default experiment puts artifacts under the current directory.
    experiment = mlflow.create_experiment("tiny-stance", artifact_location=str(scratch.parent / "artifacts"))
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=pyfunc_entry.__file__,
            artifacts={ARTIFACT_KEY: str(scratch)},
            code_paths=[str(Path(classifiers.__file__).parent)],
            pip_requirements=["mlflow"],
            registered_model_name="news-stance",
        )
        # What training writes, without which no version is served.
        mlflow.set_tag(DATA_DIGEST_TAG, "tiny")
        version = str(info.registered_model_version)
        for key in VERSION_LINEAGE_TAGS:
            MlflowClient().set_model_version_tag("news-stance", version, key, "tiny")
    return classifier.predict_proba(STANCE_INPUTS), version


@pytest.mark.parametrize(
    "config",
    [
        FrozenEncoderModel(family="frozen_encoder", max_length=32, batch_size=2),
        FineTuneModel(family="finetune", max_length=32, batch_size=2, max_steps=1),
    ],
    ids=["frozen_encoder", "finetune"],
)
def test_a_transformer_model_predicts_after_its_download_is_removed(
    config: FrozenEncoderModel | FineTuneModel, tiny_encoder: Path, store_uri: str, tmp_path: Path, temp_root: Path
) -> None:
    """The families read every file while loading (joblib, from_pretrained): nothing is read lazily later."""
    scratch = tmp_path / "saved"
    scratch.mkdir()
    expected, version = log_stance_model(config.model_copy(update={"encoder": str(tiny_encoder)}), scratch)
    shutil.rmtree(scratch)
    client = MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)

    registered = client.get_model_version("news-stance", version)

    loaded = load_version(client, "stance", "models:/news-stance@champion", registered)

    assert sorted(temp_root.iterdir()) == []
    assert np.allclose(loaded.classifier.predict_proba(STANCE_INPUTS), expected, atol=1e-5)
    (row,) = score_columns(loaded.classifier, loaded.labels, {"text": ["Jets struck."], "target": ["Israel"]})
    assert row.label in loaded.labels
