"""The models-from-code entry file: each registered model runs the classifiers package it was saved with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd

import classifiers
from classifiers import pyfunc_entry
from classifiers.families.tfidf import TfidfClassifier, TfidfModel, build_pipeline
from classifiers.pyfunc import ARTIFACT_KEY

TEXTS = ["Jets struck the city overnight.", "Ministers met for ceasefire talks.", "Parliament passed the budget."]
LABELS = ["conflict", "diplomacy", "domestic_politics"]

LOAD_BOTH = """
import inspect, json, sys
import mlflow
import pandas as pd

files = []
for folder in sys.argv[1:]:
    model = mlflow.pyfunc.load_model(folder)
    labels = model.predict(pd.DataFrame({"text": ["Jets struck again."]}))["label"].tolist()
    files.append([inspect.getfile(type(model.unwrap_python_model().classifier)), labels])
print(json.dumps(files))
"""


def _saved_model(folder: Path) -> Path:
    """A tiny TF-IDF topic model saved as the trainer logs one, with its own copy of the classifiers package."""
    code = folder / "src" / "classifiers"
    shutil.copytree(Path(classifiers.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__"))
    classifier = TfidfClassifier("topic", build_pipeline(TfidfModel(family="tfidf"), "topic", seed=0))
    classifier.fit(pd.DataFrame({"text": TEXTS * 2}), LABELS * 2)
    classifier.save(folder / ARTIFACT_KEY)
    model = folder / "model"
    mlflow.pyfunc.save_model(
        model,
        python_model=pyfunc_entry.__file__,
        artifacts={ARTIFACT_KEY: str(folder / ARTIFACT_KEY)},
        code_paths=[str(code)],
        # Named, so MLflow does not load the model in a process of its own to infer them.
        pip_requirements=["mlflow"],
    )
    return model


def test_two_models_loaded_in_one_process_each_run_the_code_they_were_saved_with(tmp_path: Path) -> None:
    # MLflow puts each model's code folder first on sys.path but keeps the modules already imported: a notebook
    # that loaded news-topic and then news-stance ran the stance model with the topic model's copy of the package,
    # which fails (an unknown setting: "unexpected keyword argument 'long_texts'") or, worse, answers by older code
    # where the two were saved by different versions of this project.
    first, second = _saved_model(tmp_path / "first"), _saved_model(tmp_path / "second")
    # A fresh process outside the project, as a notebook: the package is imported from the models' copies only.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_BOTH, str(first), str(second)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (first_file, first_labels), (second_file, second_labels) = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(first_file).is_relative_to(first / "code")
    assert Path(second_file).is_relative_to(second / "code")
    assert first_labels == second_labels == ["conflict"]


def test_a_model_loaded_where_the_project_is_imported_runs_the_projects_code(tmp_path: Path) -> None:
    # The project's own commands (the server, evaluate, score) load every model with their own package, the one the
    # code that reads the answers was written against; only another model's copy is given up.
    model = mlflow.pyfunc.load_model(str(_saved_model(tmp_path)))
    assert type(model.unwrap_python_model().classifier) is TfidfClassifier
