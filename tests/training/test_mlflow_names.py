"""The names MLflow takes, as the project checks them before any work: the same answer as MLflow's own API."""

from __future__ import annotations

import ast
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training.mlflow_names import MAX_NAME_LENGTH, logged_model_name, model_name_problem, name_taken

ROOT = Path(__file__).resolve().parents[2]

NAMES = [
    "macro_f1", "f1_domestic_politics", "label_map.war", "extra_training.0.labels.pro", "f1_a b", "f1_a-b", "f1_a/b",
    "f1_é", "f1_ns:label", "f1_War & Peace", "label_map.war (armed)", "f1_a\tb", "f1_a//b", "f1_a/", "/f1", "f1/./a",
    "f1_x/..", "..f1", ".", "", "x" * MAX_NAME_LENGTH, "x" * (MAX_NAME_LENGTH + 1),
]


def mlflow_takes(log: str, name: str) -> bool:
    """Whether MLflow's public API logs a param or a metric of that name in a run."""
    with mlflow.start_run():
        try:
            if log == "param":
                mlflow.log_param(name, "1")
            else:
                mlflow.log_metric(name, 1.0)
        except MlflowException:
            return False
    return True


@pytest.mark.parametrize("log", ["param", "metric"])
def test_a_param_or_metric_name_is_taken_where_mlflow_takes_it(store_uri: str, log: str) -> None:
    assert {name: name_taken(name) for name in NAMES} == {name: mlflow_takes(log, name) for name in NAMES}
    assert not name_taken("f1_War & Peace") and name_taken("label_map.war")


MODEL_NAMES = ["news-topic", "bbc topic", "topic_é", "a/b", "a:b", "", "  ", ".", "..x", "a.promotion-lock"]


def test_a_registered_model_name_is_refused_where_the_registry_refuses_it(store_uri: str) -> None:
    def registry_takes(name: str) -> bool:
        try:
            MlflowClient().create_registered_model(name)
        except MlflowException:
            return False
        return True

    assert {name: model_name_problem(name) is None for name in MODEL_NAMES} == {
        name: registry_takes(name) for name in MODEL_NAMES
    }
    assert model_name_problem("a/b") == "Invalid model name 'a/b'. Names cannot contain '/' or ':'."


CONFIG_NAMES = ["descriptions_written", "my.config", "topic-tfidf-/data/a:b.jsonl", "50% 'quoted' \"twice\"", "é x"]


def test_a_logged_model_is_named_as_mlflow_takes_it(store_uri: str) -> None:
    def taken(name: str) -> bool:
        try:
            mlflow.initialize_logged_model(name=name)
        except MlflowException:
            return False
        return True

    assert [name for name in CONFIG_NAMES if not taken(name)] == CONFIG_NAMES[1:4]
    assert all(taken(logged_model_name(name)) for name in CONFIG_NAMES)
    # A name MLflow takes is kept as it is.
    assert logged_model_name("descriptions_written") == "descriptions_written"
    assert logged_model_name("é x") == "é x"
    assert logged_model_name("my.config") == "my_config"


def test_no_module_relies_on_a_private_mlflow_name() -> None:
    # Private names (`_validate_param_name`) change or go between MLflow releases without notice.
    private = {
        f"{path.relative_to(ROOT)}: {node.module}.{alias.name}"
        for package in ("classifiers", "training", "serving", "deploy", "benchmarks")
        for path in (ROOT / package).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mlflow"
        for alias in node.names
        if alias.name.startswith("_")
    }
    assert private == set()
