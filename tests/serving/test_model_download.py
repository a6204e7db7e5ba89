"""Models are loaded from a temporary download that is removed once they are in memory.

A remote artifact store (S3, an MLflow artifact server) makes MLflow download a model into a new
temporary folder at every load; `CopyingRepository` behaves like one, over a local folder.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.store.artifact.artifact_repository_registry import (
    _artifact_repository_registry,
)
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
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

SettingsFactory = Callable[..., ServingSettings]

SCHEME = "copying-remote"
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


class CopyingRepository(LocalArtifactRepository):
    """A local folder that downloads like a remote store: into a new temporary folder unless told where."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        super().__init__(artifact_uri.replace(f"{SCHEME}://", "file://", 1), tracking_uri, registry_uri)

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        return ArtifactRepository.download_artifacts(self, artifact_path, dst_path)


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder every temporary folder of this test is made in (MLflow's downloads included)."""
    root = tmp_path / "temp-root"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def remote_store(
    trained_store: str, store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[MlflowClient, Path]]:
    """A store whose topic versions live in a "remote" artifact store: 1 (champion) and a broken 2."""
    monkeypatch.setitem(_artifact_repository_registry._registry, SCHEME, CopyingRepository)
    trained = MlflowClient(tracking_uri=trained_store, registry_uri=trained_store)
    source = Path(trained.get_model_version_download_uri(TOPIC, "1"))
    good, broken = tmp_path / "remote" / "good", tmp_path / "remote" / "broken"
    shutil.copytree(source, good)
    shutil.copytree(source, broken)
    removed = [path.unlink() for path in broken.rglob("classifier.json")]
    assert removed, "the copied model should have had its classifier metadata to remove"

    client = MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)
    client.create_registered_model(TOPIC)
    # Serving loads only versions of a finished run with lineage tags: give the copies version 1's.
    first = trained.get_model_version(TOPIC, "1")
    run = client.create_run(experiment_id="0", tags={DATA_DIGEST_TAG: trained.get_run(first.run_id).data.tags[DATA_DIGEST_TAG]})
    client.set_terminated(run.info.run_id)
    lineage = {key: first.tags[key] for key in VERSION_LINEAGE_TAGS}
    for folder in (good, broken):
        client.create_model_version(TOPIC, f"{SCHEME}://{folder}", run_id=run.info.run_id, tags=lineage)
    client.set_registered_model_alias(TOPIC, CHAMPION, "1")
    yield client, tmp_path


def reload_failures(client: TestClient) -> int:
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith("news_model_reloads_total")]
    return sum(int(float(line.split()[-1])) for line in lines if 'outcome="failed"' in line)


def test_no_download_is_left_behind_by_loads_and_failed_retries(
    remote_store: tuple[MlflowClient, Path], temp_root: Path, store_uri: str, make_settings: SettingsFactory
) -> None:
    registry, _ = remote_store
    with TestClient(create_app(make_settings(store_uri, poll_seconds=0.05))) as client:
        served = client.post("/v1/classify", json=ITEMS)
        after_startup = sorted(temp_root.iterdir())
        registry.set_registered_model_alias(TOPIC, CHAMPION, "2")
        deadline = time.monotonic() + 30
        while reload_failures(client) < 2:
            assert time.monotonic() < deadline, "the poller did not retry the broken version"
            time.sleep(0.05)
        still = client.post("/v1/classify", json=ITEMS)

    assert served.status_code == 200, served.text
    assert still.json()["models"]["topic"]["version"] == "1"
    assert after_startup == []
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
