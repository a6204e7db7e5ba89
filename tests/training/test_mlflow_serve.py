"""The registered model serves unchanged under MLflow's own scoring server (the serving baseline)."""

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import free_port


@pytest.mark.slow
def test_mlflow_models_serve_the_champion(trained_store_uri: str) -> None:
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "models", "serve",
        "-m", "models:/news-stance@champion", "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
    ]
    # The scoring server is started as `uvicorn` by name: put this interpreter's bin dir on PATH, as an
    # activated virtualenv would (CI runs the venv's python without activating it).
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": trained_store_uri, "PATH": path}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else "server exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "mlflow models serve did not start"
            time.sleep(0.5)
        body = {"dataframe_split": {"columns": ["text", "target"], "data": [["Iran praised the strikes.", "Iran"]]}}
        response = httpx.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=30)
        assert response.status_code == 200, response.text
        (prediction,) = response.json()["predictions"]
        assert prediction["label"] in {"against", "favor", "none"}
        assert prediction["score"] == pytest.approx(prediction[f"proba_{prediction['label']}"])
    finally:
        server.terminate()
        server.wait(timeout=30)
