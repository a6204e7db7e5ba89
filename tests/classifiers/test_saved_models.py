"""What a registered model carries: it loads and predicts without this project, and old layouts are refused clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from classifiers.contract import predict
from classifiers.interface import OutdatedModelError
from classifiers.pyfunc import load_pyfunc


def test_a_registered_model_of_the_old_package_layout_is_refused_with_retrain_advice(trained_store_uri: str, tmp_path: Path) -> None:
    local = Path(mlflow.artifacts.download_artifacts("models:/news-topic@champion", dst_path=str(tmp_path)))
    entry = next(local.glob("*.py"))  # the models-from-code entry file MLflow logged
    entry.write_text("from mlflow.models import set_model\nfrom training.models.pyfunc import ClassifierModel\n"
                     "set_model(ClassifierModel())\n")
    with pytest.raises(OutdatedModelError, match="training.models.*train-defaults --retrain"):
        load_pyfunc(str(local))


@pytest.mark.slow
def test_a_registered_model_predicts_in_a_fresh_virtualenv_without_this_project(trained_store_uri: str, tmp_path: Path) -> None:
    """A new virtualenv that sees the installed third-party packages (the model's requirements) but not
    this project: the model must bring the classifiers package itself (MLflow code_paths)."""
    local = Path(mlflow.artifacts.download_artifacts("models:/news-stance@champion", dst_path=str(tmp_path / "model")))
    required = [line.split("==")[0] for line in (local / "requirements.txt").read_text().split() if "==" in line]
    assert "mlflow" in required and (local / "code" / "classifiers").is_dir()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    # A path line, not a site dir: the project's editable-install hook (a .pth there) is not run.
    (site / "installed_requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inputs = pd.DataFrame({"text": ["Washington reaffirmed strong support for Israel."], "target": ["Israel"]})
    script = (
        "import importlib.util, json, sys\n"
        "import pandas as pd, mlflow.pyfunc\n"
        "assert importlib.util.find_spec('classifiers') is None, 'the project is visible'\n"
        "assert importlib.util.find_spec('training') is None, 'the project is visible'\n"
        f"model = mlflow.pyfunc.load_model({str(local)!r})\n"
        f"out = model.predict(pd.DataFrame({inputs.to_dict(orient='list')!r}))\n"
        "print(json.dumps(out.to_dict(orient='records')))\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])

    here = predict(load_pyfunc("models:/news-stance@champion").unwrap_python_model().classifier, inputs)
    assert rows[0]["label"] == here["label"].iloc[0]
    # Here the target's embedding may come from the process's shared cache, computed in another batch during
    # training: with the encoder in bfloat16 (a CPU with AVX512-BF16 or AMX) that moves the score in the fifth decimal.
    assert rows[0]["score"] == pytest.approx(here["score"].iloc[0], abs=1e-3)
