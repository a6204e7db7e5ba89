"""End-to-end training into a temporary MLflow store."""

import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.entities import LoggedModelStatus
from mlflow.tracking import MlflowClient

from classifiers.errors import UserInputError
from classifiers.pyfunc import load_pyfunc
from tests.training.conftest import drop_a_stop
from training import locations, run_names, stop_requests, tracking, trainer
from training.config.resolve import load_config, to_yaml
from training.config.schema import ExperimentConfig, JsonlData
from training.evaluation.logged_predictions import logged_predictions
from training.promotion import champion_version
from training.trainer import prepare, train

SKLEARN_CONFIGS = sorted(
    p
    for p in locations.CONFIGS_DIR.rglob("*.yaml")
    if load_config(p).model.family == "tfidf" and not load_config(p).sweep
)
# Benchmark configs train on a slice here: the whole corpora belong in benchmarks/bench_training.py.
BENCHMARK_SLICE = ["data.limit=120"]


@pytest.mark.parametrize("path", SKLEARN_CONFIGS, ids=lambda p: str(p.relative_to(locations.CONFIGS_DIR)))
def test_sklearn_config_trains_registers_and_serves_champion(path: Path, store_uri: str) -> None:
    benchmark = path.is_relative_to(locations.CONFIGS_DIR / "benchmarks")
    if benchmark and not locations.DEFAULT_DATA_DIR.is_dir():
        pytest.skip(f"{locations.DEFAULT_DATA_DIR}: ../shared/datasets not found (benchmark configs read it)")
    # promote: auto, whatever the config says (the stance configs besides the default say never): its first version
    # becomes champion; a slice of a benchmark is not made champion by auto, so it is promoted always.
    config = load_config(path, [*BENCHMARK_SLICE, "promote=always"] if benchmark else ["promote=auto"])
    result = train(config, config_path=path)
    assert result.version == "1"
    assert result.promotion is not None and result.promotion.promoted

    model = mlflow.pyfunc.load_model(f"models:/{config.registered_model}@champion")
    inputs = pd.DataFrame({"text": ["Israeli jets struck Hezbollah sites.", "The ministers met in Cairo."]})
    if config.task == "stance":
        inputs["target"] = ["Hezbollah", "Iran"]
    output = model.predict(inputs)
    labels = model.metadata.metadata["labels"]
    assert list(output.columns) == ["label", "score", *[f"proba_{label}" for label in labels]]
    assert set(output["label"]) <= set(labels)
    assert output[[f"proba_{label}" for label in labels]].sum(axis=1).round(6).eq(1).all()


def test_a_quick_run_on_part_of_a_benchmark_is_not_made_champion_by_auto(store_uri: str) -> None:
    if not locations.DEFAULT_DATA_DIR.is_dir():
        pytest.skip(f"{locations.DEFAULT_DATA_DIR}: ../shared/datasets not found (benchmark configs read it)")
    path = locations.CONFIGS_DIR / "benchmarks" / "semeval2016" / "tfidf_svm.yaml"
    result = train(load_config(path, [*BENCHMARK_SLICE, "promote=auto"]), config_path=path)
    assert result.promotion is None
    client = MlflowClient()
    assert champion_version(client, result.registered_model) is None
    description = client.get_model_version(result.registered_model, result.version).description
    assert description is not None
    assert "not made champion: trained on part of the data (data.limit=120), a quick run" in description


def test_a_benchmark_run_trained_again_from_its_config_yaml_logs_the_same_params_and_dataset(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if locations.DEFAULT_DATA_DIR != locations.SHARED_DATA_DIR or not locations.SHARED_DATA_DIR.is_dir():
        pytest.skip(f"{locations.SHARED_DATA_DIR}: ../shared/datasets not found, or NEWS_DATA_DIR names another folder")
    path = locations.CONFIGS_DIR / "benchmarks" / "semeval2016" / "tfidf_svm.yaml"
    first = MlflowClient().get_run(train(load_config(path, BENCHMARK_SLICE), config_path=path).run_id)
    # Named as the docs name it, not by this machine's whole path, so a checkout elsewhere logs the same.
    assert first.data.params["data.data_dir"] == "../shared/datasets"
    monkeypatch.chdir(tmp_path)
    logged = Path(MlflowClient().download_artifacts(first.info.run_id, "config.yaml", str(tmp_path)))
    again = MlflowClient().get_run(train(load_config(logged), config_path=logged).run_id)
    assert again.data.params == first.data.params
    assert again.inputs is not None and first.inputs is not None
    named = [(each.dataset.name, each.dataset.digest) for each in first.inputs.dataset_inputs]
    assert [(each.dataset.name, each.dataset.digest) for each in again.inputs.dataset_inputs] == named


def test_a_data_file_of_the_project_is_logged_from_its_root_and_trained_again_from_another_checkouts_copy(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its logged config.yaml named it by its whole path: trained again on another checkout, it read the first one's
    # file (or none, on another machine) unless an override named it again.
    checkout, other = (tmp_path / "checkout").resolve(), (tmp_path / "other" / "checkout").resolve()
    for root in (checkout, other):
        (root / "corpora").mkdir(parents=True)
        _jsonl(root / "corpora" / "extra.jsonl", [{"text": "Tanks rolled into the city at dawn.", "label": "conflict"}])
    monkeypatch.setattr(locations, "PROJECT_ROOT", checkout)
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    source = {"data": {"source": "jsonl", "path": str(checkout / "corpora" / "extra.jsonl")}, "labels": {"conflict": "conflict"}}
    first = MlflowClient().get_run(train(load_config(path, [f"extra_training=[{json.dumps(source)}]"]), config_path=path).run_id)
    assert first.data.params["extra_training.0.data.path"] == "corpora/extra.jsonl"
    logged = Path(MlflowClient().download_artifacts(first.info.run_id, "config.yaml", str(tmp_path)))
    text = logged.read_text(encoding="utf-8")
    assert str(checkout) not in text
    assert yaml.safe_load(text)["extra_training"][0]["data"]["path"] == "project:corpora/extra.jsonl"

    monkeypatch.setattr(locations, "PROJECT_ROOT", other)
    monkeypatch.chdir(other.parent)  # a folder of neither checkout nor the download
    config = load_config(logged)
    extra = config.extra_training[0].data
    assert isinstance(extra, JsonlData) and extra.path == other / "corpora" / "extra.jsonl"
    again = MlflowClient().get_run(train(config, config_path=logged).run_id)
    assert again.data.params == first.data.params
    assert again.inputs is not None and first.inputs is not None
    named = [(each.dataset.name, each.dataset.digest) for each in first.inputs.dataset_inputs]
    assert [(each.dataset.name, each.dataset.digest) for each in again.inputs.dataset_inputs] == named


def test_a_stance_model_is_trained_registered_and_logged_with_its_target_aliases(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "stance" / "tfidf_logreg.yaml"
    # A target's name need not be an MLflow param name: the aliases are one param.
    aliases = "target_aliases={\"Hamas's allies\": [Islamic Jihad], Russia: [Moscow, Kremlin]}"
    result = train(load_config(path, [aliases, "promote=always"]), config_path=path)

    run = MlflowClient().get_run(result.run_id)
    params = run.data.params
    assert json.loads(params["target_aliases"]) == {"Hamas's allies": ["Islamic Jihad"], "Russia": ["Moscow", "Kremlin"]}
    # A long override is cut in the run's name (the UI shows the start), and given whole by the params.
    short = run_names.default_run_name(load_config(path), path, [aliases, "seed=7"])
    assert short == f"tfidf_logreg ({aliases[:59]}…, seed=7)"
    classifier = load_pyfunc("models:/news-stance@champion").unwrap_python_model().classifier
    assert classifier.target_aliases.as_dict() == {"hamas's allies": ["Islamic Jihad"], "russia": ["Moscow", "Kremlin"]}
    # Where docs/architecture.md says a saved model's own files are, whatever the temporary folder was called.
    local = Path(mlflow.artifacts.download_artifacts(f"models:/news-stance/{result.version}"))
    saved = json.loads((local / "artifacts" / "classifier" / "classifier.json").read_text(encoding="utf-8"))
    assert saved["target_aliases"] == classifier.target_aliases.as_dict()


def test_aliases_of_a_target_the_data_lacks_or_that_name_another_target_are_said(caplog: pytest.LogCaptureFixture) -> None:
    path = locations.CONFIGS_DIR / "stance" / "tfidf_logreg.yaml"
    # Checked with the data, before anything is trained or written: "Isreal" is no seed target, and Iran is one.
    trainer.prepare(load_config(path, ["target_aliases={Isreal: [Tel Aviv], Hezbollah: [Nasrallah, Iran]}"]), path)
    assert "target_aliases: 'Isreal' names no target of the data (a misspelling?)" in caplog.text
    assert "target_aliases: 'Iran' of 'Hezbollah' is a target of its own" in caplog.text
    assert "'Hezbollah' names no target" not in caplog.text


@pytest.mark.parametrize(
    ("overrides", "parent", "child"),
    [
        (["sweep.model.C=[1, 2]"], "tfidf_logreg", "tfidf_logreg (model.C=1)"),
        (["seed=7", "sweep.model.C=[1, 2]"], "tfidf_logreg (seed=7)", "tfidf_logreg (seed=7, model.C=1)"),
        (["run_name=ours", "sweep.model.C=[1, 2]"], "ours", "ours (model.C=1)"),
        # written as the params write them, so one setting gives one name however it was typed
        (
            ["model.word_ngrams=[1,3]", "sweep.model.C=[1, 2]"],
            "tfidf_logreg (model.word_ngrams=[1, 3])",
            "tfidf_logreg (model.word_ngrams=[1, 3], model.C=1)",
        ),
        (
            [" seed = 7", "model.char_ngrams=~", "sweep.model.C=[1, 2]"],
            "tfidf_logreg (seed=7, model.char_ngrams=null)",
            "tfidf_logreg (seed=7, model.char_ngrams=null, model.C=1)",
        ),
    ],
)
def test_sweep_runs_are_named_after_their_config_and_a_child_also_after_its_values(
    overrides: list[str], parent: str, child: str
) -> None:
    # A child named by its values alone (`model.C=1`) could be any config's in a list of runs; the parent's name
    # repeated the grid its params give.
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    prepared = trainer.prepare(load_config(path, overrides), path, overrides)
    assert prepared.config.run_name == parent
    assert [config.run_name for _, config in prepared.combinations] == [child, child.replace("C=1", "C=2")]


def test_a_name_given_in_the_file_shows_the_overrides_given_on_top_of_it(tmp_path: Path) -> None:
    # What a logged config.yaml trained again with other settings does: each such run was named as the first.
    logged = tmp_path / "config.yaml"
    logged.write_text(
        yaml.safe_dump({"task": "topic", "model": {"family": "tfidf", "C": 1.0}, "run_name": "tfidf_logreg (model.C=1.0)"}),
        encoding="utf-8",
    )
    for overrides, name in (
        ([], "tfidf_logreg (model.C=1.0)"),
        # after the file's own, as one command line giving them all would be named
        (["model.C=5.0", "seed=3"], "tfidf_logreg (model.C=1.0, model.C=5.0, seed=3)"),
        (["model.C=5.0", "run_name=mine"], "mine"),  # a name given on the command line is the name
    ):
        assert trainer.prepare(load_config(logged, overrides), logged, overrides).config.run_name == name
    # A name of the user's own that ends in brackets keeps them: they are not overrides.
    own = {"task": "topic", "model": {"family": "tfidf"}, "run_name": "baseline (draft)"}
    logged.write_text(yaml.safe_dump(own), encoding="utf-8")
    assert trainer.prepare(load_config(logged, ["seed=3"]), logged, ["seed=3"]).config.run_name == "baseline (draft) (seed=3)"


def test_a_sweep_trained_again_from_its_logged_config_names_its_children_as_the_first(tmp_path: Path) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    overrides = ["seed=7", "sweep.model.C=[1, 2]"]
    first = trainer.prepare(load_config(path, overrides), path, overrides)
    # What the sweep's parent logs as config.yaml: its config, named, with the grid.
    logged = tmp_path / "config.yaml"
    logged.write_text(to_yaml(first.config), encoding="utf-8")
    again = trainer.prepare(load_config(logged), logged)
    names = [config.run_name for _, config in again.combinations]
    assert names == [config.run_name for _, config in first.combinations] == [
        "tfidf_logreg (seed=7, model.C=1)",
        "tfidf_logreg (seed=7, model.C=2)",
    ]


def test_run_records_params_metrics_artifacts_dataset_and_tags(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "stance" / "tfidf_logreg.yaml"
    result = train(load_config(path, ["model.C=2.0"]), config_path=path)
    client = MlflowClient()
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.C"] == "2.0"
    # The registered model says what it is; a description written in the UI is not replaced by the next training.
    assert client.get_registered_model("news-stance").description.startswith("News stance classifier: a text and a target in")
    client.update_registered_model("news-stance", description="Ours: ask the newsroom before promoting.")
    overridden = train(load_config(path, ["model.C=3.0"]), config_path=path, overrides=["model.C=3.0"])
    assert client.get_registered_model("news-stance").description == "Ours: ask the newsroom before promoting."
    # A run trained with overrides is told apart from the config's own runs by its name.
    assert client.get_run(overridden.run_id).info.run_name == "tfidf_logreg (model.C=3.0)"
    assert run.data.params["evaluation.cv"] == "leave_one_group_out"
    # Split settings leave-one-group-out does not read are not params: two runs would seem to differ in them.
    assert "evaluation.n_splits" not in run.data.params and "evaluation.holdout_fraction" not in run.data.params
    for name in (
        "macro_f1",
        "accuracy",
        "macro_f1_cv_mean",
        "macro_f1_cv_std",
        "f1_against",
        "precision_favor",
        "recall_none",
        "train_seconds",
        "peak_rss_mb",
        "cv_seconds",
        "cv_peak_rss_mb",
    ):
        assert name in run.data.metrics, name
    assert run.data.metrics["n_folds"] == 8
    low, high = run.data.metrics["macro_f1_ci_low"], run.data.metrics["macro_f1_ci_high"]
    assert low < run.data.metrics["macro_f1"] < high
    assert run.data.tags["config_path"] == "configs/stance/tfidf_logreg.yaml"  # the same from any folder
    assert run.info.run_name == "tfidf_logreg"  # named after the config, so the two TF-IDF configs differ in the UI
    assert run.data.params["run_name"] == "tfidf_logreg"
    assert run.data.params["data.segments"] == "seeds/segments.jsonl"  # the same in every checkout
    # Written as a config or an override writes them, so a value pasted into `key=value` trains the same again.
    assert (run.data.params["model.char_ngrams"], run.data.params["model.word_ngrams"]) == ("null", "[1, 2]")
    assert run.data.params["model.sublinear_tf"] == "true"
    assert run.data.params["target_aliases"] == "{}"
    for key in ("model.char_ngrams", "model.word_ngrams", "model.sublinear_tf", "model.C"):
        settings = {"model.C": "2.0", key: run.data.params[key]}  # a key given twice is refused
        pasted = load_config(path, [f"{name}={value}" for name, value in settings.items()])
        assert pasted == load_config(path, ["model.C=2.0"]), key
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert run.data.tags["git_commit"]
    assert "encoder_precision" not in run.data.tags  # TF-IDF runs no encoder
    assert run.data.params["experiment"] == experiment.name == "stance-seeds"  # derived, the config leaves it empty
    assert run.inputs is not None
    assert run.data.tags["data_digest"] == run.inputs.dataset_inputs[0].dataset.digest
    # The seed articles share no paragraph: no group was joined, no extra row left out.
    assert (run.data.tags["groups_joined_by_shared_input"], run.data.tags["extra_rows_left_out_as_copies"]) == ("0", "0")
    assert run.inputs.dataset_inputs[0].dataset.name == "seeds"
    # The experiment's Models tab lists the model by its config's name, as a runs:/ URI names it.
    (logged,) = client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{result.run_id}'")
    assert logged.name == "tfidf_logreg"
    assert load_pyfunc(f"runs:/{result.run_id}/tfidf_logreg").metadata.model_id == logged.model_id

    artifacts = {a.path for a in client.list_artifacts(result.run_id)} | {
        a.path for a in client.list_artifacts(result.run_id, "evaluation")
    }
    assert {
        "config.yaml",
        "evaluation/confusion_matrix.png",
        "evaluation/classification_report.txt",
        "evaluation/folds.json",
    } <= artifacts
    # Each fold names the article it held out: the eight seed articles, one per fold.
    folds = json.loads(Path(client.download_artifacts(result.run_id, "evaluation/folds.json")).read_text(encoding="utf-8"))
    held_out = [fold["held_out_groups"] for fold in folds["folds"]]
    assert all(len(groups) == 1 for groups in held_out) and len({groups[0] for groups in held_out}) == 8
    # Every (segment, target) pair of the seed labels, each held out once.
    labelled = [json.loads(line) for line in locations.LABELS_PATH.read_text(encoding="utf-8").splitlines() if line]
    rows = sum(len(row["stances"]) for row in labelled)
    assert sum(fold["rows"] for fold in folds["folds"]) == rows == int(run.data.tags["data_rows"])
    # The out-of-fold predictions give every label's probability, named as the model's own output names them.
    predictions = logged_predictions(client, result.run_id)
    probabilities = predictions[[f"proba_{label}" for label in ("against", "favor", "none")]]
    assert len(predictions) == rows
    assert probabilities.sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert (probabilities.max(axis=1) == predictions["score"]).all()
    assert [str(column).removeprefix("proba_") for column in probabilities.idxmax(axis=1)] == predictions["predicted"].tolist()
    logged_path = Path(client.download_artifacts(result.run_id, "config.yaml"))
    logged = yaml.safe_load(logged_path.read_text(encoding="utf-8"))
    assert logged["model"]["C"] == 2.0
    # The seed files are left to the default: trained again on another checkout, it reads that checkout's own.
    assert logged["data"] == {"source": "seeds"}
    # Trained again from the downloaded file, the run keeps its name (the file is called config.yaml).
    again = client.get_run(train(load_config(logged_path), config_path=logged_path).run_id)
    assert again.info.run_name == "tfidf_logreg"
    assert again.data.params["model.C"] == "2.0"
    # Its model too, which was listed as `config` (the downloaded file's name), so runs:/<id>/tfidf_logreg missed it.
    (logged_again,) = client.search_logged_models(
        [again.info.experiment_id], filter_string=f"source_run_id = '{again.info.run_id}'"
    )
    assert logged_again.name == "tfidf_logreg"

    model_info = mlflow.models.get_model_info(f"models:/news-stance/{result.version}")
    assert model_info.signature.inputs.required_input_names() == ["text", "target"]
    assert model_info.signature.inputs.input_names() == ["text", "target", "document"]  # optional: segments of one article
    assert "proba_favor" in model_info.signature.outputs.input_names()
    assert model_info.saved_input_example_info is not None
    version = client.get_model_version("news-stance", result.version)
    assert version.tags["primary_metric"] == "macro_f1"
    # The config says promote: never, and the version says so, with the command that would promote it.
    assert version.description is not None
    assert "not made champion: its config says `promote: never` (python -m training promote --name news-stance" in (
        version.description
    )
    assert version.run_id == result.run_id


@pytest.mark.parametrize(
    ("task", "overrides", "left_out", "kept"),
    [
        ("topic", [], {"model.context_window"}, {"model.C"}),
        ("stance", [], set(), {"model.context_window"}),
        (
            "topic",
            ["model={family: frozen_encoder, head: mlp}"],
            {"model.stance_input", "model.target_mask", "model.description_weight", "model.C"},
            {"model.hidden_units", "model.head"},
        ),
        (
            "stance",
            ["model={family: frozen_encoder, stance_input: separate}"],
            {"model.min_target_rows", "model.hidden_units", "model.description_weight"},
            {"model.stance_input", "model.target_mask", "model.C"},
        ),
        (
            "topic",
            ["model={family: ensemble, members: [{family: tfidf}, {family: tfidf, C: 2}]}"],
            {"model.members.0.context_window", "model.members.1.context_window"},
            {"model.members.1.C"},
        ),
    ],
)
def test_settings_the_model_does_not_read_are_no_params(
    store_uri: str, task: str, overrides: list[str], left_out: set[str], kept: set[str]
) -> None:
    # A topic run logged the stance models' context window: two runs would seem to differ in what neither read.
    path = locations.CONFIGS_DIR / task / "tfidf_logreg.yaml"
    config = load_config(path, overrides)
    with mlflow.start_run(experiment_id=tracking.ensure_experiment("settings", {})) as run:
        trainer._log_setup(config, path)
    params = MlflowClient().get_run(run.info.run_id).data.params
    assert not left_out & set(params) and kept <= set(params)
    # The logged config.yaml still writes them: it trains again as it was.
    logged = yaml.safe_load(Path(MlflowClient().download_artifacts(run.info.run_id, "config.yaml")).read_text(encoding="utf-8"))
    assert load_config(path, overrides).model.model_dump(mode="json") == logged["model"]


def test_a_context_window_in_a_topic_config_is_refused() -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    with pytest.raises(UserInputError, match="model.context_window is a setting for stance models"):
        load_config(path, ["model.context_window=2"])
    assert load_config(path, ["model.context_window=1"]).model.family == "tfidf"  # as a logged config.yaml writes it


def test_a_sweep_parent_shows_swept_folders_of_the_project_from_its_root(store_uri: str) -> None:
    # The parent's param listed whole paths, so the runs of one sweep trained on two checkouts showed different params
    # (each child's own param was already shown from the root).
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    swept = "sweep.model.encoder=[all-MiniLM-L6-v2, project:models/tuned, /elsewhere/tuned]"
    config = load_config(path, ["model={family: frozen_encoder}", swept])
    with mlflow.start_run(experiment_id=tracking.ensure_experiment("sweeps", {})) as run:
        trainer._log_setup(config, path)
    params = MlflowClient().get_run(run.info.run_id).data.params
    assert json.loads(params["sweep.model.encoder"]) == ["all-MiniLM-L6-v2", "models/tuned", "/elsewhere/tuned"]
    # So is a folder in a section swept whole.
    sections = "sweep.model=[{family: frozen_encoder, encoder: project:models/tuned}, {family: tfidf}]"
    config = load_config(path, [sections])
    with mlflow.start_run(experiment_id=tracking.ensure_experiment("sweeps", {})) as run:
        trainer._log_setup(config, path)
    swept_sections = json.loads(MlflowClient().get_run(run.info.run_id).data.params["sweep.model"])
    assert swept_sections[0]["encoder"] == "models/tuned"
    assert swept_sections[1]["family"] == "tfidf"


def test_same_config_and_data_give_the_same_metrics(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"
    first = train(load_config(path))
    second = train(load_config(path))
    assert first.metrics == pytest.approx(second.metrics)


def test_sweep_runs_children_and_registers_only_the_best(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    config = load_config(path, ["sweep.model.C=[0.01, 10.0]", "sweep.model.classifier=[logreg, linear_svm]"])
    result = train(config, config_path=path)
    client = MlflowClient()
    assert len(result.child_run_ids) == 4
    children = [client.get_run(run_id) for run_id in result.child_run_ids]
    assert {child.data.tags["mlflow.parentRunId"] for child in children} == {result.parent_run_id}
    assert {(c.data.params["model.C"], c.data.params["model.classifier"]) for c in children} == {
        ("0.01", "logreg"),
        ("0.01", "linear_svm"),
        ("10.0", "logreg"),
        ("10.0", "linear_svm"),
    }
    best = max(children, key=lambda child: child.data.metrics["macro_f1"])
    assert result.run_id == best.info.run_id
    assert result.parent_run_id is not None
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_macro_f1"] == pytest.approx(best.data.metrics["macro_f1"])
    # The parent trained none of the swept values: it logs the grid, not the config's own C.
    assert "model.C" not in parent.data.params and "model.classifier" not in parent.data.params
    assert parent.data.params["sweep.model.C"] == "[0.01, 10.0]"
    assert parent.info.run_name == "tfidf_logreg-sweep"
    versions = client.search_model_versions("name='news-topic'")
    assert [(str(v.version), v.run_id) for v in versions] == [("1", best.info.run_id)]
    # The version names the run that made it, as the UI shows it, and the sweep it came from.
    assert (versions[0].tags["run_name"], versions[0].tags["sweep_run_name"]) == (best.info.run_name, "tfidf_logreg-sweep")
    # Named after its config and its values, as a run trained with them as overrides is, which a list of runs shows
    assert best.info.run_name == "tfidf_logreg ({})".format(best.data.tags["sweep_assignment"].replace(",", ", "))
    assert best.info.run_name.startswith("tfidf_logreg (model.C=")
    # Its logged config.yaml names it so: trained again from that file, it keeps its own name, not the sweep's.
    logged = yaml.safe_load(Path(client.download_artifacts(best.info.run_id, "config.yaml")).read_text(encoding="utf-8"))
    assert logged["run_name"] == best.info.run_name and not logged.get("sweep")
    # every child's peak memory is logged beside its figures
    assert all(0 < child.data.metrics["cv_peak_rss_mb"] for child in children)
    # The best child's logged model lists each of its metrics once: its cross-validation's cost apart from its whole.
    (logged,) = client.search_logged_models([best.info.experiment_id], filter_string=f"source_run_id = '{best.info.run_id}'")
    names = [metric.key for metric in logged.metrics or []]
    assert len(names) == len(set(names)) and {"peak_rss_mb", "cv_peak_rss_mb", "macro_f1"} <= set(names)
    assert best.data.metrics["cv_peak_rss_mb"] <= best.data.metrics["peak_rss_mb"]
    # the best child's cost is its own (cross-validation + final fit), the sweep's total is the parent's
    assert best.data.metrics["train_seconds"] < parent.data.metrics["sweep_seconds"]
    # every child's cross-validation is timed, so the children compare on cost too
    assert all(0 < child.data.metrics["cv_seconds"] for child in children)
    assert best.data.metrics["cv_seconds"] < best.data.metrics["train_seconds"]
    assert parent.data.metrics["sweep_peak_rss_mb"] > 0


def _jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_sweep_of_one_value_per_key_trains_that_value(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    result = train(load_config(path, ["sweep.model.C=[0.001]", "promote=never"]))
    run = MlflowClient().get_run(result.run_id)
    assert run.data.params["model.C"] == "0.001"
    alone = train(load_config(path, ["model.C=0.001", "promote=never"]))
    assert result.metrics == pytest.approx({key: value for key, value in alone.metrics.items() if key in result.metrics})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["evaluation.cv=disjoint_holdout"], "disjoint_holdout splits (text, target) pairs: use it for stance data"),
        (["evaluation.cv=group_kfold", "evaluation.n_splits=20"], "group_kfold with 20 splits needs as many groups, the data has 8"),
    ],
)
def test_an_evaluation_the_data_cannot_be_split_for_is_refused_before_any_run_exists(
    store_uri: str, overrides: list[str], message: str
) -> None:
    with pytest.raises(UserInputError, match=re.escape(message)):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml", overrides))
    assert mlflow.search_experiments(filter_string="name = 'topic-seeds'") == []


def test_an_experiment_deleted_in_the_ui_is_named_with_a_restore_command_that_works_as_printed(
    store_uri: str, tmp_path: Path
) -> None:
    client = MlflowClient()
    client.delete_experiment(client.create_experiment("topic-seeds"))
    with pytest.raises(UserInputError, match=r"experiment 'topic-seeds' is deleted; restore it \(`(.+)`\)") as refused:
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"))
    assert mlflow.search_runs(search_all_experiments=True, output_format="list", run_view_type=3) == []

    # Pasted into a shell anywhere, without the test's MLFLOW_TRACKING_URI: MLflow's own default store is another one.
    command = re.search(r"restore it \(`(.+)`\)", str(refused.value)).group(1)  # type: ignore[union-attr]
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(command, shell=True, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert client.get_experiment_by_name("topic-seeds").lifecycle_stage == "active"  # type: ignore[union-attr]
    assert list(elsewhere.iterdir()) == []  # no store of MLflow's own made where it ran


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (None, "not found"),
        ([], "the dataset is empty"),
        ([{"text": f"t{i}", "label": "only", "g": str(i)} for i in range(6)], "only one class"),
        ([{"text": "t", "label": "a", "g": "1"}, {"text": " ", "label": "b", "g": "2"}], "data.jsonl:2: field 'text' is blank"),
        # Two articles of one label each: each fold trains on the other's label alone.
        (
            [{"text": f"t{i}", "label": "ab"[i % 2], "g": str(i % 2)} for i in range(6)],
            "fold 1 of 2 would train on one label only (b; held-out groups: 0): a classifier needs two",
        ),
    ],
    ids=["missing-file", "empty", "single-class", "blank-text", "one-label-per-fold"],
)
def test_bad_data_fails_the_run_and_registers_nothing(
    store_uri: str, tmp_path: Path, rows: list[dict[str, str]] | None, message: str
) -> None:
    data = tmp_path / "data.jsonl"
    if rows is not None:
        _jsonl(data, rows)
    config = load_config(
        locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml",
        ["data.source=jsonl", f"data.path={data}", "data.group_column=g", "experiment=bad-data"],
    )
    with pytest.raises(UserInputError, match=re.escape(message)):
        train(config)
    # checked before anything is created: no empty experiment, no run, no model
    assert mlflow.get_experiment_by_name("bad-data") is None
    assert MlflowClient().search_registered_models() == []


def test_a_bad_encoder_precision_stops_training_before_anything_is_created(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_ENCODER_PRECISION", "half")
    config = load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml", ["experiment=bad-precision"])
    with pytest.raises(UserInputError, match="NEWS_ENCODER_PRECISION='half': must be one of auto, float32, bfloat16"):
        train(config)
    assert mlflow.get_experiment_by_name("bad-precision") is None
    assert MlflowClient().search_registered_models() == []


@pytest.mark.parametrize("overrides", [[], ["sweep.model.C=[0.5, 2.0]"]], ids=["single", "sweep"])
def test_unknown_primary_metric_fails_before_cross_validation(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, overrides: list[str]
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("cross-validation ran")

    monkeypatch.setattr(trainer, "cross_validate", never)
    config = load_config(
        locations.CONFIGS_DIR / "stance" / "tfidf_logreg.yaml", ["evaluation.primary_metric=f1_maybe", *overrides]
    )
    with pytest.raises(UserInputError) as err:
        train(config)
    assert str(err.value) == (
        "evaluation.primary_metric 'f1_maybe' is not computed; choose one of accuracy, macro_f1, accuracy_cv_mean, "
        "macro_f1_cv_mean, or f1_, precision_ or recall_ followed by one of the data's labels (against, favor, none)"
    )


def write_bbc_without_tech(data_dir: Path) -> None:
    """Four articles of each BBC News class but `tech`, in the official layout, each class with words of its own."""
    words = {
        "business": "profits shares market",
        "entertainment": "film actor award",
        "politics": "minister election vote",
        "sport": "match goal team",
    }
    for label, text in words.items():
        for number in range(1, 5):
            article = data_dir / "bbc_news" / "bbc" / label / f"{number:03}.txt"
            article.parent.mkdir(parents=True, exist_ok=True)
            article.write_text(f"{text} {number}\n\nThe {text} story, the {text} news.\n", encoding="utf-8")


def test_a_benchmark_slice_lacking_a_label_logs_one_macro_f1_with_its_per_class_figures(
    store_uri: str, tmp_path: Path
) -> None:
    # The official scorer's macro-F1 counted `tech`, which the slice lacks, as 0 (4/5 of the per-class mean) and
    # overwrote the run's own, while f1_<label> and the interval leave it out.
    write_bbc_without_tech(tmp_path / "datasets")
    path = locations.CONFIGS_DIR / "benchmarks" / "bbc_news" / "tfidf_svm.yaml"
    overrides = [
        f"data.data_dir={tmp_path / 'datasets'}", "data.limit=14", "evaluation.n_splits=2", "model.min_df=1",
        "promote=never",
    ]
    run = MlflowClient().get_run(train(load_config(path, overrides), config_path=path).run_id)
    metrics = run.data.metrics
    labels = ["business", "entertainment", "politics", "sport"]
    assert "f1_tech" not in metrics
    assert metrics["macro_f1"] == pytest.approx(sum(metrics[f"f1_{label}"] for label in labels) / len(labels))
    assert metrics["macro_f1_ci_low"] <= metrics["macro_f1"] <= metrics["macro_f1_ci_high"]
    assert run.data.tags["macro_f1_labels"] == "business, entertainment, politics, sport"
    # Named apart from the full data's `bbc_news-all` in the runs table.
    assert run.inputs is not None
    assert run.inputs.dataset_inputs[0].dataset.name == f"bbc_news-all-limit14 ({(tmp_path / 'datasets').resolve()})"


def test_benchmark_data_may_rank_by_its_official_metric() -> None:
    from training.public_datasets.adapters import BENCHMARKS

    semeval = load_config(locations.CONFIGS_DIR / "benchmarks" / "semeval2016" / "tfidf_svm.yaml")
    labels = list(BENCHMARKS["semeval2016"].labels)

    def ranked_by(name: str) -> ExperimentConfig:
        return semeval.model_copy(update={"evaluation": semeval.evaluation.model_copy(update={"primary_metric": name})})

    for name in ("semeval_f_avg", "macro_f1_cv_mean", "recall_NONE"):
        trainer._check_primary_metric(ranked_by(name), labels)
    with pytest.raises(UserInputError, match="choose one of accuracy, macro_f1, semeval_f_avg, accuracy_cv_mean"):
        trainer._check_primary_metric(ranked_by("fnc_score"), labels)


def test_failure_after_registration_removes_the_version(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("registry went away")

    monkeypatch.setattr(trainer, "promote", broken)
    with pytest.raises(RuntimeError, match="registry went away"):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"))
    assert MlflowClient().search_model_versions("name='news-topic'") == []
    run = mlflow.search_runs(experiment_names=["topic-seeds"], output_format="list")[0]
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "RuntimeError: registry went away"


def test_a_tracking_server_lost_after_registration_is_not_asked_to_undo_it(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def server_gone(*args: object, **kwargs: object) -> None:
        # What tracked_run raises once the server is known gone: every call to it would only fail again.
        raise tracking.TrackingServerLost("[Errno 111] Connection refused")

    monkeypatch.setattr(trainer, "promote", server_gone)
    with pytest.raises(tracking.TrackingServerLost):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"))
    # Left as it was when the server went: registered, its run FINISHED, not undone.
    (version,) = MlflowClient().search_model_versions("name='news-topic'")
    assert version.run_id is not None
    assert MlflowClient().get_run(version.run_id).info.status == "FINISHED"


def test_a_signal_inside_log_model_after_it_registered_removes_the_version(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"))  # version 1, champion
    log_model = mlflow.pyfunc.log_model

    def interrupted_on_return(*args: object, **kwargs: object) -> object:
        log_model(*args, **kwargs)  # the version is registered ...
        raise KeyboardInterrupt  # ... and Ctrl-C lands before its number is returned

    monkeypatch.setattr(mlflow.pyfunc, "log_model", interrupted_on_return)
    with pytest.raises(KeyboardInterrupt):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml", ["promote=always"]))
    client = MlflowClient()
    assert [str(v.version) for v in client.search_model_versions("name='news-topic'")] == ["1"]
    assert str(client.get_model_version_by_alias("news-topic", "champion").version) == "1"


def test_a_signal_after_the_first_version_of_a_name_was_registered_leaves_no_empty_name_nor_a_ready_model(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_model = mlflow.pyfunc.log_model

    def interrupted_on_return(*args: object, **kwargs: object) -> object:
        log_model(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(mlflow.pyfunc, "log_model", interrupted_on_return)
    with pytest.raises(KeyboardInterrupt):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml", ["registered_model=brand-new"]))
    client = MlflowClient()
    assert [model.name for model in client.search_registered_models()] == []
    (run,) = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "stopped by SIGINT (Ctrl-C)"
    (model,) = client.search_logged_models([run.info.experiment_id])
    assert model.status == LoggedModelStatus.FAILED


def test_a_signal_inside_log_model_before_it_registered_leaves_no_ready_model(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.tracking._model_registry.fluent as registry_fluent

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the model's files are logged, its version not yet made

    monkeypatch.setattr(registry_fluent, "_register_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"))
    (run,) = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert run.info.status == "FAILED"
    assert MlflowClient().search_registered_models() == []
    # It stayed READY: the UI's Models tab listed it among the usable ones, from a FAILED run.
    (model,) = MlflowClient().search_logged_models([run.info.experiment_id])
    assert model.status == LoggedModelStatus.FAILED


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped exception, on purpose
@pytest.mark.usefixtures("fresh_stop_requests")
def test_a_sigterm_whose_exception_python_dropped_still_stops_before_registering_and_promoting(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"))  # version 1, champion
    log_model = mlflow.pyfunc.log_model

    def signalled_inside_a_finaliser(*args: object, **kwargs: object) -> object:
        info = log_model(*args, **kwargs)
        drop_a_stop()  # the training would go on
        return info

    monkeypatch.setattr(mlflow.pyfunc, "log_model", signalled_inside_a_finaliser)
    with pytest.raises(stop_requests.Stopped, match="stopped by SIGTERM"):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml", ["promote=always"]))
    client = MlflowClient()
    assert [str(v.version) for v in client.search_model_versions("name='news-topic'")] == ["1"]
    assert str(client.get_model_version_by_alias("news-topic", "champion").version) == "1"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped exception, on purpose
@pytest.mark.usefixtures("fresh_stop_requests")
def test_a_stop_whose_raise_was_dropped_ends_a_sweep_before_its_next_child(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluate = trainer._evaluate

    def signalled_inside_a_finaliser(*args: Any, **kwargs: Any) -> dict[str, float]:
        metrics = evaluate(*args, **kwargs)
        drop_a_stop()  # the sweep would go on
        return metrics

    monkeypatch.setattr(trainer, "_evaluate", signalled_inside_a_finaliser)
    with pytest.raises(stop_requests.Stopped):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml", ["sweep.model.C=[0.1, 1.0, 10.0]"]))
    runs = mlflow.search_runs(experiment_names=["topic-seeds"], output_format="list")
    assert sorted(run.info.status for run in runs) == ["FAILED", "FINISHED"]  # the sweep and its first child
    assert MlflowClient().search_registered_models() == []


@pytest.mark.usefixtures("fresh_stop_requests")
def test_a_second_ctrl_c_while_a_stopped_training_is_undone_does_not_cut_the_undoing_short(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"))  # version 1, champion
    promote = trainer.promote
    restore = trainer.restore_champion

    def stopped_once_promoted(*args: Any, **kwargs: Any) -> object:
        promote(*args, **kwargs)  # version 2, the SVM, beats version 1: the alias moves to it ...
        raise KeyboardInterrupt  # ... and Ctrl-C lands

    def pressed_again(*args: Any, **kwargs: Any) -> None:
        stop_requests.stop(signal.SIGINT, None)  # as the handler runs it, between two of the undoing's calls
        restore(*args, **kwargs)

    monkeypatch.setattr(trainer, "promote", stopped_once_promoted)
    monkeypatch.setattr(trainer, "restore_champion", pressed_again)
    with pytest.raises(KeyboardInterrupt) as raised:
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"))
    # The second Ctrl-C was raised inside the undoing: version 2 stayed, champion, its run FINISHED, so served.
    client = MlflowClient()
    assert [str(version.version) for version in client.search_model_versions("name='news-topic'")] == ["1"]
    assert str(client.get_model_version_by_alias("news-topic", "champion").version) == "1"
    assert "news-topic version 2, which it had registered, deleted" in raised.value.__notes__


def test_failed_promotion_write_keeps_the_previous_champion(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"))  # version 1, champion
    client = MlflowClient()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("registry write failed")

    # version 2 (the SVM config) beats version 1, so promotion starts, and one of its writes fails
    monkeypatch.setattr(MlflowClient, "update_model_version", broken)
    with pytest.raises(RuntimeError, match="registry write failed"):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"))
    assert [str(v.version) for v in client.search_model_versions("name='news-topic'")] == ["1"]
    assert str(client.get_model_version_by_alias("news-topic", "champion").version) == "1"


def test_failure_after_the_alias_moved_gives_champion_back(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"))
    client = MlflowClient()
    real_promote = trainer.promote

    def failing_after_promotion(client: MlflowClient, name: str, version: str, **how: Any) -> object:
        real_promote(client, name, version, **how)  # the alias has moved
        raise RuntimeError("tracking store went away")

    monkeypatch.setattr(trainer, "promote", failing_after_promotion)
    with pytest.raises(RuntimeError, match="tracking store went away"):
        train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"))
    assert [str(v.version) for v in client.search_model_versions("name='news-topic'")] == ["1"]
    restored = client.get_model_version_by_alias("news-topic", "champion")
    assert str(restored.version) == "1"
    # It does not say it was replaced by a version that no longer exists; its description tells what happened.
    assert "replaced_by" not in restored.tags and "replaced_at" not in restored.tags
    assert restored.description is not None
    assert restored.description.splitlines()[-1].endswith("champion again: version 2 was removed, its training failed")
    failed = mlflow.search_runs(experiment_names=["topic-seeds"], output_format="list", order_by=["start_time DESC"])[0]
    assert failed.info.status == "FAILED"
    assert failed.data.tags["error"] == "RuntimeError: tracking store went away"


@pytest.mark.parametrize("sweep", [[], ["sweep.model.C=[0.01, 1.0]"]], ids=["single", "sweep"])
def test_promotion_happens_once_the_run_finished_with_its_lineage_tags(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, sweep: list[str]
) -> None:
    client = MlflowClient()
    seen: dict[str, object] = {}
    real_promote = trainer.promote

    def observed(client: MlflowClient, name: str, version: str, **how: Any) -> object:
        registered = client.get_model_version(name, version)
        assert registered.run_id is not None
        seen.update(status=client.get_run(registered.run_id).info.status, tags=set(registered.tags))
        return real_promote(client, name, version, **how)

    monkeypatch.setattr(trainer, "promote", observed)
    result = train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml", sweep))
    lineage = {"task", "model_family", "run_name", "primary_metric", "primary_metric_value", "labels"}
    assert seen == {"status": "FINISHED", "tags": lineage | ({"sweep_run_name"} if sweep else set())}
    assert client.get_run(result.run_id).info.status == "FINISHED"
    assert str(client.get_model_version_by_alias("news-topic", "champion").version) == result.version


def _two_topic_rows(path: Path, labels: tuple[str, str]) -> Path:
    """16 rows of two labels, each word telling its label apart, in four groups (`doc`)."""
    rows = [
        {"text": f"{word} story number {i}", "label": label, "doc": f"d{i % 4}"}
        for i, (word, label) in enumerate(list(zip(("rockets", "talks"), labels, strict=True)) * 8)
    ]
    return _jsonl(path, rows)


def test_a_label_mlflow_cannot_put_in_a_metric_name_is_refused_before_any_run(store_uri: str, tmp_path: Path) -> None:
    data = _two_topic_rows(tmp_path / "mine.jsonl", ("War & Peace", "diplomacy"))
    config = load_config(
        locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml", ["data.source=jsonl", f"data.path={data}", "data.group_column=doc"]
    )
    refused = r"label 'War & Peace' cannot be part of an MLflow metric name \(f1_War & Peace\)"
    with pytest.raises(UserInputError, match=refused) as raised:
        train(config)
    # The file that holds it, by the name its runs give the data.
    assert f"Rename it in the data, {data} (" in str(raised.value)
    assert mlflow.search_experiments(filter_string="name = 'topic-mine'") == []


def test_a_label_too_long_for_its_longest_metric_name_is_refused_before_any_run(store_uri: str, tmp_path: Path) -> None:
    # f1_<label> fits MLflow's 250 characters, precision_<label>_cv_mean does not: it was refused after the folds.
    label = "l" * 235
    data = _two_topic_rows(tmp_path / "mine.jsonl", (label, "diplomacy"))
    config = load_config(
        locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml", ["data.source=jsonl", f"data.path={data}", "data.group_column=doc"]
    )
    with pytest.raises(UserInputError, match=rf"cannot be part of an MLflow metric name \(precision_{label}_cv_mean\)"):
        train(config)
    assert mlflow.search_experiments(filter_string="name = 'topic-mine'") == []


def test_a_source_label_mlflow_cannot_put_in_a_param_name_is_logged_with_its_label_map(
    store_uri: str, tmp_path: Path
) -> None:
    # A source's labels are its own (the way around a data label MLflow refuses is to map it): `war (armed)` in a param
    # name was refused by MLflow inside the run, which ended FAILED with its traceback.
    _jsonl(tmp_path / "extra.jsonl", [{"text": "Tanks rolled into the city at dawn.", "label": "war (armed)"}])
    config = yaml.safe_load((locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml").read_text(encoding="utf-8"))
    config["extra_training"] = [{"data": {"source": "jsonl", "path": "extra.jsonl"}, "labels": {"war (armed)": "conflict"}}]
    path = tmp_path / "with_extra.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = train(load_config(path), config_path=path)

    params = MlflowClient().get_run(result.run_id).data.params
    assert params["extra_training.0.labels"] == '{"war (armed)": "conflict"}'
    assert params["extra_training.0.weight"] == "1.0"  # the other keys of the source stay params of their own
    # Pasted from the UI into an override, it trains the same.
    assert load_config(path, [f"extra_training.0.labels={params['extra_training.0.labels']}"]) == load_config(path)


def test_a_param_longer_than_mlflow_takes_is_left_to_the_logged_config(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    # A param past MLflow's 6,000 characters (say, a label's many description sentences) was cut there by MLflow, a
    # value that no longer trains the same when pasted into an override.
    name = "-".join(["a run named at length"] * 300)
    result = train(load_config(path, [f"run_name={name}"]), config_path=path)

    client = MlflowClient()
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["run_name"] == f"{len(name)} characters: see config.yaml"
    logged = yaml.safe_load(Path(client.download_artifacts(result.run_id, "config.yaml")).read_text(encoding="utf-8"))
    assert logged["run_name"] == name


def test_a_described_label_mlflow_cannot_put_in_a_metric_name_is_refused_before_any_run(store_uri: str) -> None:
    # A zero-shot model answers, and is scored on, the labels it only describes too.
    path = locations.CONFIGS_DIR / "topic" / "descriptions.yaml"
    own = "model.descriptions.arts & culture=[This news paragraph is about exhibitions, concerts and books.]"
    config = load_config(path, ["model.description_weight=1", own, "experiment=zero-shot"])
    with pytest.raises(UserInputError, match=r"label 'arts & culture' cannot be part .* Rename it in model.descriptions$"):
        train(config, config_path=path)
    assert mlflow.search_experiments(filter_string="name = 'zero-shot'") == []


def test_described_labels_the_data_has_no_rows_of_are_said_to_be_unmeasured(
    store_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Adding a description to the shipped ones, on data of one's own, kept the news topics in the model unsaid.
    data = _two_topic_rows(tmp_path / "mine.jsonl", ("conflict", "diplomacy"))
    path = locations.CONFIGS_DIR / "topic" / "descriptions.yaml"
    overrides = ["model.description_weight=1", "data.source=jsonl", f"data.path={data}", "data.group_column=doc"]
    prepare(load_config(path, overrides), config_path=path, overrides=overrides)
    said = "model.descriptions: label(s) domestic_politics, economy, humanitarian have no rows in the data"
    assert said in caplog.text
    assert "give model.descriptions whole ('model.descriptions={...}')" in caplog.text
    caplog.clear()
    whole = "model.descriptions={conflict: [Jets struck the city.], diplomacy: [Ministers met for talks.]}"
    prepare(load_config(path, [*overrides, whole]), config_path=path, overrides=[*overrides, whole])
    assert "have no rows in the data" not in caplog.text


def test_jsonl_data_in_the_same_shape_trains(store_uri: str, tmp_path: Path) -> None:
    data = _two_topic_rows(tmp_path / "mine.jsonl", ("conflict", "diplomacy"))
    config = load_config(
        locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml",
        ["data.source=jsonl", f"data.path={data}", "data.group_column=doc", "registered_model=my-topic"],
    )
    result = train(config)
    assert config.experiment_name == "topic-mine"
    assert result.metrics["accuracy"] == 1.0
    assert mlflow.pyfunc.load_model("models:/my-topic@champion").metadata.metadata["labels"] == [
        "conflict",
        "diplomacy",
    ]


def test_a_neighbour_weight_is_evaluated_logged_and_registered_with_the_model(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    alone = train(load_config(path))
    beside = train(load_config(path, ["neighbour_weight=0.5"]))

    # Leave-one-article-out reads each held-out article's segments beside their neighbours.
    assert beside.metrics["macro_f1"] != alone.metrics["macro_f1"]
    assert MlflowClient().get_run(beside.run_id).data.params["neighbour_weight"] == "0.5"
    model = load_pyfunc(f"models:/news-topic/{beside.version}").unwrap_python_model().classifier
    assert model.neighbour_weight == 0.5


def test_parallel_folds_give_the_figures_of_folds_fitted_one_at_a_time(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"
    one_at_a_time = train(load_config(path))
    side_by_side = train(load_config(path, ["evaluation.parallel_folds=2"]))

    assert side_by_side.metrics == pytest.approx(one_at_a_time.metrics)
    assert MlflowClient().get_run(side_by_side.run_id).data.params["evaluation.parallel_folds"] == "2"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "overrides"),
    [
        ("topic/minilm_frozen.yaml", ["evaluation.cv=holdout"]),
        ("stance/minilm_frozen.yaml", ["evaluation.cv=holdout"]),
        ("topic/minilm_finetune.yaml", ["evaluation.cv=holdout", "model.max_steps=2", "model.max_length=64"]),
        ("stance/minilm_finetune.yaml", ["evaluation.cv=holdout", "model.max_steps=2", "model.max_length=64"]),
        ("stance/finetune_written.yaml", ["evaluation.cv=holdout", "model.max_steps=2", "model.max_length=64"]),
        ("benchmarks/semeval2016/ensemble.yaml", [*BENCHMARK_SLICE, "evaluation.cv=holdout"]),
    ],
)
def test_transformer_configs_on_the_packaged_model(store_uri: str, path: str, overrides: list[str]) -> None:
    if path.startswith("benchmarks/") and not locations.DEFAULT_DATA_DIR.is_dir():
        pytest.skip(f"{locations.DEFAULT_DATA_DIR}: ../shared/datasets not found (benchmark configs read it)")
    config = load_config(locations.CONFIGS_DIR / path, overrides)
    result = train(config)
    model = mlflow.pyfunc.load_model(f"models:/{config.registered_model}/{result.version}")
    inputs = pd.DataFrame(
        {"text": ["Rockets were fired at the border.", "Talks resumed in Doha."], "target": ["Israel", "Hamas"]}
    )
    output = model.predict(inputs if config.task == "stance" else inputs[["text"]])
    assert len(output) == 2 and set(output["label"]) <= set(model.metadata.metadata["labels"])
    assert model.metadata.metadata["family"] == config.model.family
    assert result.metrics["n_folds"] == 1


def test_a_description_list_that_misses_a_label_names_the_config_file(store_uri: str, tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "task: topic\nmodel:\n  family: descriptions\n  descriptions:\n"
        "    conflict: [Jets struck the city.]\n    diplomacy: [Ministers met for talks.]\n",
        encoding="utf-8",
    )
    with pytest.raises(UserInputError, match=rf"^{path}: model.descriptions has no description for label\(s\) domestic_politics"):
        train(load_config(path), config_path=path)
    assert MlflowClient().search_registered_models() == []


def test_a_description_list_an_override_gave_that_misses_a_label_names_the_override(store_uri: str) -> None:
    path = locations.CONFIGS_DIR / "topic" / "descriptions.yaml"
    given = "model.descriptions={conflict: [Jets struck the city.], diplomacy: [Ministers met for talks.]}"
    # It was named as if the file held it.
    with pytest.raises(UserInputError, match=rf"^{re.escape(f'{path} with {given}')}: model.descriptions has no description"):
        train(load_config(path, [given]), config_path=path, overrides=[given])
    assert MlflowClient().search_registered_models() == []


def test_a_file_named_like_another_data_s_is_warned_of_sharing_its_experiment(
    store_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = "".join(
        json.dumps({"text": f"story {i} about {word}", "label": label, "g": str(i % 3)}) + "\n"
        for i, (word, label) in enumerate([("war", "conflict"), ("talks", "diplomacy")] * 6)
    )
    files = []
    for folder in ("newsroom_a", "newsroom_b"):
        (tmp_path / folder).mkdir()
        files.append(tmp_path / folder / "train.jsonl")
        files[-1].write_text(rows, encoding="utf-8")
    config = locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"
    caplog.set_level(logging.WARNING, logger="training.trainer")
    for path in (files[0], files[0]):  # the same file again: its own runs
        train(load_config(config, ["data.source=jsonl", f"data.path={path}", "data.group_column=g"]))
    assert "also holds runs of other data" not in caplog.text
    train(load_config(config, ["data.source=jsonl", f"data.path={files[1]}", "data.group_column=g"]))
    assert f"the experiment 'topic-train' (named after this data) also holds runs of other data (data.source=jsonl, data.path={files[0]})" in caplog.text
    caplog.clear()
    train(load_config(config, ["data.source=jsonl", f"data.path={files[1]}", "data.group_column=g", "experiment=newsroom-b"]))
    assert "also holds runs of other data" not in caplog.text
