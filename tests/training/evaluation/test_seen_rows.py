"""training/evaluation/seen_rows.py: how many rows of an evaluation a run's final fit was trained on, and when that
cannot be known."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd

from training import locations
from training.config.resolve import load_config
from training.evaluation.seen_rows import rows_trained_on
from training.trainer import train

TOPIC_ROWS = [
    ("Israeli warplanes struck targets in southern Lebanon overnight.", "conflict"),
    ("Rockets hit a military base near the border, the army said.", "conflict"),
    ("The foreign ministers met in Cairo to discuss a ceasefire proposal.", "diplomacy"),
    ("Envoys signed a trade accord after talks in Geneva.", "diplomacy"),
]


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def trained_on_file(tmp_path: Path) -> tuple[str, Path]:
    """A TF-IDF topic model trained on a small JSONL file of its own: its run and the file."""
    rows = [{"text": f"Dispatch {i}: {text}", "label": label, "g": str(i)} for i, (text, label) in enumerate(TOPIC_ROWS * 2)]
    data = write(tmp_path / "ours.jsonl", rows)
    overrides = ["data.source=jsonl", f"data.path={data}", "data.group_column=g", "evaluation.cv=group_kfold", "evaluation.n_splits=2"]
    return train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml", overrides)).run_id, data


def test_rows_are_known_by_their_input_whatever_their_case_spacing_or_label(store_uri: str, tmp_path: Path) -> None:
    run_id, data = trained_on_file(tmp_path)
    trained = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    frame = pd.DataFrame(
        {
            "text": ["  " + trained[0]["text"].upper(), trained[1]["text"].replace(" ", "\n  "), "A text it never saw."],
            "label": ["economy", "conflict", "conflict"],
        }
    )
    assert rows_trained_on(run_id, frame, "topic") == 2


def test_without_a_run_a_logged_config_or_the_data_it_was_trained_on_nobody_knows(store_uri: str, tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ["Rockets hit a military base near the border, the army said."], "label": ["conflict"]})
    assert rows_trained_on(None, frame, "topic") is None

    run_id, data = trained_on_file(tmp_path)
    # The file changed since the run trained on it: its digest is no longer the run's.
    write(data, [{"text": "A row added after training.", "label": "conflict", "g": "new"}])
    assert rows_trained_on(run_id, frame, "topic") is None
    data.unlink()
    assert rows_trained_on(run_id, frame, "topic") is None

    # A run that logged no config.yaml (made by hand, or by an older version).
    experiment = mlflow.create_experiment("by-hand", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        pass
    assert rows_trained_on(run.info.run_id, frame, "topic") is None
