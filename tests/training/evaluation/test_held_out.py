import json
import logging
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

import mlflow.artifacts
import pandas as pd
import pytest
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient
from sklearn.metrics import f1_score
from typer.testing import CliRunner

from classifiers import store
from classifiers.errors import UserInputError
from classifiers.pyfunc import predicted_frame
from training import locations
from training.cli import app
from training.config.resolve import load_config
from training.evaluation import held_out, recording
from training.evaluation.held_out import evaluate_file, loaded_model, predict_labels
from training.evaluation.metrics import summary_metrics
from training.scoring.model import describe_model
from training.trainer import train


def predicted_by(model_uri: str, frame: pd.DataFrame) -> list[str]:
    """The labels the model gives the frame's rows, as evaluate's own code asks for them."""
    with loaded_model(describe_model(model_uri)) as loaded:
        return predict_labels(loaded.model, loaded.task, loaded.labels, frame)


def write(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_evaluate_prints_metrics_json_on_the_last_line(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(
        tmp_path / "held_out.jsonl",
        [
            {"text": "Israeli warplanes struck targets in southern Lebanon overnight.", "label": "conflict"},
            {"text": "The foreign ministers met in Cairo to discuss a ceasefire proposal.", "label": "diplomacy"},
            {"text": "Parliament approved the new electoral law after a heated debate.", "label": "domestic_politics"},
        ],
    )
    result = CliRunner().invoke(app, ["evaluate", "--model-uri", "models:/news-topic@champion", "--data", str(data)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(metrics) == {
        "model", "accuracy", "macro_f1", "per_class", "per_class_recall", "confusion", "labels", "n", "macro_f1_interval",
        "interval_resamples", "trained_on",
    }
    assert metrics["trained_on"] == 0  # sentences written for this test
    # Which version the alias named when it was scored, and the run that trained it.
    champion = MlflowClient().get_model_version_by_alias("news-topic", "champion")
    assert metrics["model"] == {
        "uri": "models:/news-topic@champion", "name": "news-topic", "version": str(champion.version), "run_id": champion.run_id
    }
    assert metrics["n"] == 3
    assert metrics["interval_resamples"] == "rows"
    low, high = metrics["macro_f1_interval"]
    assert 0 <= low <= metrics["macro_f1"] <= high <= 1
    rows = pd.read_json(data, lines=True)
    gold = rows["label"].tolist()
    predicted = predicted_by("models:/news-topic@champion", rows)
    used = sorted({*gold, *predicted})
    assert metrics["labels"] == used
    assert set(metrics["per_class"]) == set(used)
    assert metrics["accuracy"] == pytest.approx(sum(g == p for g, p in zip(gold, predicted)) / 3)
    assert metrics["macro_f1"] == pytest.approx(f1_score(gold, predicted, labels=used, average="macro"))


TOPIC_ROWS = [
    ("Israeli warplanes struck targets in southern Lebanon overnight.", "conflict"),
    ("Rockets hit a military base near the border, the army said.", "conflict"),
    ("The foreign ministers met in Cairo to discuss a ceasefire proposal.", "diplomacy"),
    ("Parliament approved the new electoral law after a heated debate.", "domestic_politics"),
]


def test_the_interval_resamples_the_articles_a_group_column_names(trained_store_uri: str, tmp_path: Path) -> None:
    rows = [{"text": text, "label": label, "article": f"a{k % 2}"} for k, (text, label) in enumerate(TOPIC_ROWS * 3)]
    data = write(tmp_path / "grouped.jsonl", rows)
    by_row = evaluate_file("models:/news-topic@champion", data)
    result = CliRunner().invoke(
        app, ["evaluate", "--model-uri", "models:/news-topic@champion", "--data", str(data), "--group-column", "article"]
    )
    assert result.exit_code == 0, result.output
    by_article = json.loads(result.stdout.strip().splitlines()[-1])
    assert (by_row["interval_resamples"], by_article["interval_resamples"]) == ("rows", "article")
    assert by_article["macro_f1"] == by_row["macro_f1"]
    for metrics in (by_row, by_article):
        low, high = cast(Sequence[float], metrics["macro_f1_interval"])
        assert low <= cast(float, metrics["macro_f1"]) <= high
    one_article = write(tmp_path / "one.jsonl", [{**row, "article": "a0"} for row in rows])
    assert evaluate_file("models:/news-topic@champion", one_article, "article")["macro_f1_interval"] is None


ARTICLES = [
    ("a1", "Israeli warplanes struck targets in southern Lebanon overnight, killing at least six fighters.", "conflict"),
    ("a1", "The statement was released on Tuesday afternoon.", "conflict"),
    ("a1", "Rockets hit a military base near the border and the army returned fire with artillery.", "conflict"),
    ("a2", "The foreign ministers met in Cairo to discuss a ceasefire proposal and a prisoner exchange.", "diplomacy"),
    ("a2", "The statement was released on Tuesday afternoon.", "diplomacy"),
    ("a2", "Envoys from Qatar and Egypt will carry the draft agreement to both sides next week.", "diplomacy"),
]


def test_rows_that_name_their_document_are_read_beside_their_neighbours(trained_store_uri: str, tmp_path: Path) -> None:
    rows = [{"text": text, "label": label, "document": document} for document, text, label in ARTICLES]
    with_documents = evaluate_file("models:/news-topic@champion", write(tmp_path / "articles.jsonl", rows))
    alone = evaluate_file("models:/news-topic@champion", write(tmp_path / "paragraphs.jsonl", [
        {"text": row["text"], "label": row["label"]} for row in rows
    ]))

    frame = pd.DataFrame(rows)
    with loaded_model(describe_model("models:/news-topic@champion")) as loaded:
        beside = predict_labels(loaded.model, loaded.task, loaded.labels, frame)
        each_alone = predict_labels(loaded.model, loaded.task, loaded.labels, frame.drop(columns="document"))
    # The same sentence reads as its article's topic beside that article's paragraphs, which it does not alone.
    assert beside[1] == "conflict" and beside[4] == "diplomacy" and beside != each_alone
    gold = frame["label"].tolist()
    assert with_documents["accuracy"] == pytest.approx(sum(g == p for g, p in zip(gold, beside)) / len(gold))
    assert alone["accuracy"] == pytest.approx(sum(g == p for g, p in zip(gold, each_alone)) / len(gold))
    assert cast(float, with_documents["accuracy"]) > cast(float, alone["accuracy"])


def test_the_interval_resamples_documents_and_rows_without_one_alone(
    trained_store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows: list[dict[str, str | None]] = [
        {"text": text, "label": label, "document": document} for document, text, label in ARTICLES
    ]
    rows += [{"text": text, "label": label, "document": None} for text, label in TOPIC_ROWS[2:]]
    resampled = []
    real_interval = held_out.group_bootstrap_interval

    def recorded(gold: list[str], predicted: list[str], groups: list[str], labels: list[str], seed: int) -> object:
        resampled.append(groups)
        return real_interval(gold, predicted, groups, labels, seed=seed)

    monkeypatch.setattr(held_out, "group_bootstrap_interval", recorded)
    metrics = evaluate_file("models:/news-topic@champion", write(tmp_path / "mixed.jsonl", rows), "document")

    assert metrics["interval_resamples"] == "document"
    assert metrics["n"] == 8
    (groups,) = resampled
    assert len(set(groups)) == 4  # the two articles, and each of the two rows without a document alone
    assert groups[:6] == [groups[0]] * 3 + [groups[3]] * 3 and groups[6] != groups[7]


def test_the_rows_of_a_document_must_be_consecutive(trained_store_uri: str, tmp_path: Path) -> None:
    rows = [{"text": text, "label": label, "document": document} for document, text, label in ARTICLES]
    scattered = write(tmp_path / "scattered.jsonl", [rows[0], rows[3], rows[1]])
    scattered.write_text("\n" + scattered.read_text(encoding="utf-8"), encoding="utf-8")  # rows are not lines
    with pytest.raises(UserInputError, match=r"scattered.jsonl:4: document 'a1' came earlier and ended \(document 'a2' at line 3"):
        evaluate_file("models:/news-topic@champion", scattered)
    blank = write(tmp_path / "blank.jsonl", [rows[0], {**rows[3], "document": " "}])
    with pytest.raises(UserInputError, match=r"blank.jsonl:2: the document is blank"):
        evaluate_file("models:/news-topic@champion", blank)


def test_a_group_column_missing_from_a_line_is_named(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(tmp_path / "g.jsonl", [{"text": "a", "label": "conflict", "article": "x"}, {"text": "b", "label": "conflict"}])
    with pytest.raises(UserInputError, match=r"g.jsonl:2: missing field\(s\) article"):
        evaluate_file("models:/news-topic@champion", data, "article")


def test_grouping_by_document_a_file_without_documents_is_refused(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(tmp_path / "n.jsonl", [{"text": text, "label": label} for text, label in TOPIC_ROWS])
    # It resampled single rows and reported them as resampled by document.
    with pytest.raises(UserInputError, match=r"n.jsonl: no row has a 'document' field, which --group-column document resamples by"):
        evaluate_file("models:/news-topic@champion", data, "document")


def test_a_blank_text_or_target_is_named_by_line(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(tmp_path / "b.jsonl", [{"text": "Talks resumed.", "label": "diplomacy"}, {"text": " \t", "label": "conflict"}])
    with pytest.raises(UserInputError, match=r"b.jsonl:2: field 'text' is blank"):
        evaluate_file("models:/news-topic@champion", data)
    write(data, [{"text": "Iran praised the attack.", "target": "", "label": "favor"}])
    with pytest.raises(UserInputError, match=r"b.jsonl:1: field 'target' is blank"):
        evaluate_file("models:/news-stance@champion", data)


def test_a_group_column_needs_a_data_file() -> None:
    result = CliRunner().invoke(
        app, ["evaluate", "--model-uri", "models:/news-topic@champion", "--dataset", "vast", "--group-column", "topic"]
    )
    assert result.exit_code == 1
    assert "--group-column goes with --data" in result.output


def test_macro_f1_averages_over_the_labels_present() -> None:
    gold = ["conflict", "diplomacy", "conflict"]
    metrics = summary_metrics(gold, gold, ["conflict", "diplomacy", "economy"])
    # a perfect prediction is 1.0 even though the model also knows `economy`, absent from the file
    assert metrics["macro_f1"] == 1.0
    assert metrics["labels"] == ["conflict", "diplomacy"]
    wrong = summary_metrics(["conflict", "conflict"], ["conflict", "economy"], ["conflict", "diplomacy", "economy"])
    assert wrong["labels"] == ["conflict", "economy"]
    assert wrong["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)


def test_stance_evaluation_needs_targets(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(tmp_path / "s.jsonl", [{"text": "Iran praised the attack.", "label": "favor"}])
    with pytest.raises(UserInputError, match=r"s.jsonl:1: missing field\(s\) target"):
        evaluate_file("models:/news-stance@champion", data)
    write(data, [{"text": "Iran praised the attack.", "target": "Iran", "label": "favor"}])
    assert evaluate_file("models:/news-stance@champion", data)["n"] == 1


def test_unknown_labels_are_listed(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(
        tmp_path / "d.jsonl",
        [{"text": "a", "label": "sport"}, {"text": "b", "label": "conflict"}, {"text": "c", "label": "weather"}],
    )
    result = CliRunner().invoke(app, ["evaluate", "--model-uri", "models:/news-topic@champion", "--data", str(data)])
    assert result.exit_code == 1
    assert f"error: {data}: labels the model does not know: sport, weather" in result.output
    assert "map them with --label-map DATA_LABEL=MODEL_LABEL" in result.output


@pytest.mark.parametrize(
    ("rows", "options", "message"),
    [
        ([{"text": "a", "label": "conflict"}], {"group_column": "article"}, "d.jsonl:1: missing field\\(s\\) article"),
        ([{"text": "a", "label": "sport"}], {}, "labels the model does not know: sport"),
        ([{"text": "a", "label": "sport"}], {"label_map": {"sport": "games"}}, "games not among the model's labels"),
    ],
    ids=["group column", "unknown label", "label map"],
)
def test_the_rows_are_checked_before_the_weights_load(
    trained_store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[dict[str, str]],
    options: dict[str, object], message: str
) -> None:
    # They were checked after the load, seconds to a minute later.
    def not_loaded(*_: object) -> None:
        raise AssertionError("the weights were loaded before the rows were checked")

    monkeypatch.setattr(held_out, "load_scoring_model", not_loaded)
    with pytest.raises(UserInputError, match=message):
        evaluate_file("models:/news-topic@champion", write(tmp_path / "d.jsonl", rows), **options)  # type: ignore[arg-type]


def test_unknown_model_is_a_clear_error(trained_store_uri: str, tmp_path: Path) -> None:
    data = write(tmp_path / "d.jsonl", [{"text": "a", "label": "conflict"}])
    with pytest.raises(UserInputError, match="cannot load model 'models:/nope@champion'"):
        evaluate_file("models:/nope@champion", data)
    # A registered name without its alias or version: MLflow's "not found" is followed by the forms to give.
    expected = r"for a registered model give models:/news-topic@ALIAS .* or models:/news-topic/VERSION"
    with pytest.raises(UserInputError, match=expected):
        evaluate_file("models:/news-topic", data)


# --- a benchmark whose labels are not the model's (--label-map) -------------------------------------------------


def write_bbc_articles(data_dir: Path) -> None:
    articles = {
        "business/001.txt": "Oil price slump\n\nCrude fell to $60 a barrel and the currency lost a fifth of its value.",
        "business/002.txt": "Budget gap\n\nState revenue fell as oil exports dropped, the finance ministry said.",
        "politics/001.txt": "Election called\n\nParliament was dissolved and voters go to the polls in May.",
        "sport/001.txt": "Cup final\n\nThe home side won the cup final 2-1.",
    }
    for relative, content in articles.items():
        path = data_dir / "bbc_news" / "bbc" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def evaluate_cli(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout (the metrics on its last line) and all output."""
    result = CliRunner().invoke(app, ["evaluate", *args])
    return result.exit_code, result.stdout, result.output


def test_a_label_map_scores_the_topic_model_on_bbc_news(trained_store_uri: str, tmp_path: Path) -> None:
    write_bbc_articles(tmp_path)
    code, stdout, output = evaluate_cli(
        "--model-uri", "models:/news-topic@champion", "--dataset", "bbc_news", "--data-dir", str(tmp_path),
        "--label-map", "business=economy", "--label-map", "politics = domestic_politics",
    )
    assert code == 0, output
    metrics = json.loads(stdout.strip().splitlines()[-1])
    assert metrics["n"] == 3
    assert metrics["left_out"] == {"sport": 1}
    assert metrics["label_map"] == {"business": "economy", "politics": "domestic_politics"}
    # Gold rows are the model's labels now; predictions are whatever the model answers, counted per gold label.
    assert set(metrics["per_class_recall"]) == {"economy", "domestic_politics"}
    assert sum(metrics["confusion"]["economy"].values()) == 2
    assert sum(metrics["confusion"]["domestic_politics"].values()) == 1
    assert metrics["accuracy"] == pytest.approx(
        (metrics["confusion"]["economy"].get("economy", 0) + metrics["confusion"]["domestic_politics"].get("domestic_politics", 0)) / 3
    )


def test_a_one_to_one_label_map_keeps_the_official_metric(trained_store_uri: str, tmp_path: Path) -> None:
    path = tmp_path / "semeval2016_task6" / "semeval2016-task6-trainingdata.txt"
    path.parent.mkdir(parents=True)
    tweets = [
        ("Hillary Clinton", "Hillary is the best candidate we have ever had, proud to vote for her #SemST", "FAVOR"),
        ("Hillary Clinton", "Hillary lied again and again, she must never be president #SemST", "AGAINST"),
        ("Atheism", "Went to the beach with my dog today #SemST", "NONE"),
        ("Feminist Movement", "Equal pay for equal work, proud to stand with women everywhere #SemST", "FAVOR"),
    ]
    path.write_bytes(b"ID\tTarget\tTweet\tStance\r\n" + b"".join(
        f"{k}\t{target}\t{tweet}\t{label}\r\n".encode("latin-1") for k, (target, tweet, label) in enumerate(tweets)
    ))
    mapping = {"FAVOR": "favor", "AGAINST": "against", "NONE": "none"}
    metrics = held_out.evaluate_benchmark("models:/news-stance@champion", "semeval2016", tmp_path, None, mapping)
    assert metrics["left_out"] == {}
    frame = pd.DataFrame({"text": [t for _, t, _ in tweets], "target": [g for g, _, _ in tweets]})
    predicted = predicted_by("models:/news-stance@champion", frame.assign(label="none"))
    back = {model: bench for bench, model in mapping.items()}
    gold = [label for _, _, label in tweets]
    expected = f1_score(gold, [back[p] for p in predicted], labels=["FAVOR", "AGAINST"], average=None, zero_division=0)
    assert metrics["semeval_f_avg"] == pytest.approx(expected.mean())



def test_rows_a_label_map_leaves_out_are_still_read_as_their_documents_neighbours(trained_store_uri: str, tmp_path: Path) -> None:
    # Only the two plain sentences are scored; each reads as its article's topic beside the rows left out around it.
    # Scored without those rows, each was read alone, as `training score` on the same file does not read it.
    kept = {1, 4}
    rows = [
        {"text": text, "label": label if number in kept else "other", "document": document}
        for number, (document, text, label) in enumerate(ARTICLES)
    ]
    data = write(tmp_path / "articles.jsonl", rows)
    metrics = evaluate_file(
        "models:/news-topic@champion", data, label_map={"conflict": "conflict", "diplomacy": "diplomacy"}
    )
    assert (metrics["n"], metrics["left_out"]) == (2, {"other": 4})
    with loaded_model(describe_model("models:/news-topic@champion")) as loaded:
        beside = predicted_frame(loaded.model, pd.DataFrame(rows)[["text", "document"]])["label"].tolist()
    assert metrics["confusion"] == {"conflict": {beside[1]: 1}, "diplomacy": {beside[4]: 1}}
    assert metrics["accuracy"] == 1.0

def test_a_label_map_scores_a_file_labelled_otherwise(trained_store_uri: str, tmp_path: Path) -> None:
    named = {"conflict": "war", "diplomacy": "talks", "domestic_politics": "home"}
    rows = [{"text": text, "label": named[label], "article": f"a{k}"} for k, (text, label) in enumerate(TOPIC_ROWS)]
    rows.append({"text": "Sunny skies are forecast for the weekend.", "label": "weather", "article": "a9"})
    data = write(tmp_path / "ours.jsonl", rows)
    code, stdout, output = evaluate_cli(
        "--model-uri", "models:/news-topic@champion", "--data", str(data), "--group-column", "article",
        "--label-map", "war=conflict", "--label-map", "talks=diplomacy", "--label-map", "home=domestic_politics",
        "--experiment", "held-out-ours",
    )
    assert code == 0, output
    metrics = json.loads(stdout.strip().splitlines()[-1])
    assert (metrics["n"], metrics["left_out"]) == (4, {"weather": 1})
    assert metrics["label_map"] == {"war": "conflict", "talks": "diplomacy", "home": "domestic_politics"}
    # The same figures as the file written in the model's labels, without the unmapped row.
    own = write(tmp_path / "own.jsonl", [{"text": t, "label": label, "article": f"a{k}"} for k, (t, label) in enumerate(TOPIC_ROWS)])
    expected = evaluate_file("models:/news-topic@champion", own, "article")
    assert (metrics["macro_f1"], metrics["macro_f1_interval"]) == (expected["macro_f1"], expected["macro_f1_interval"])
    params = MlflowClient().get_run(metrics["run"]["run_id"]).data.params
    assert params["label_map.war"] == "conflict"

    code, _, output = evaluate_cli("--model-uri", "models:/news-topic@champion", "--data", str(data), "--label-map", "finance=economy")
    assert code == 1 and "finance not among the file's labels (home, talks, war, weather)" in output


def test_a_label_map_of_a_label_mlflow_refuses_in_a_param_name_is_recorded(store_uri: str, tmp_path: Path) -> None:
    # A file's labels are its own: `label_map.war (armed)` was refused by MLflow, and the figures were not recorded.
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"))
    rows = [{"text": text, "label": "war (armed)" if label == "conflict" else label} for text, label in TOPIC_ROWS]
    data = write(tmp_path / "ours.jsonl", rows)
    code, stdout, output = evaluate_cli(
        "--model-uri", "models:/news-topic@champion", "--data", str(data), "--label-map", "war (armed)=conflict",
        "--label-map", "diplomacy=diplomacy", "--experiment", "held-out-ours",
    )
    assert code == 0, output
    run = MlflowClient().get_run(json.loads(stdout.strip().splitlines()[-1])["run"]["run_id"])
    assert run.info.status == "FINISHED"
    assert json.loads(run.data.params["label_map"]) == {"war (armed)": "conflict", "diplomacy": "diplomacy"}


def test_recorded_evaluations_of_two_files_of_one_name_name_distinct_datasets(store_uri: str, tmp_path: Path) -> None:
    # Both were logged as the dataset `topic`, so the runs table showed two different files as one.
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"))
    names = []
    for folder in ("b", "c"):
        (tmp_path / folder).mkdir()
        data = write(tmp_path / folder / "topic.jsonl", [{"text": text, "label": label} for text, label in TOPIC_ROWS])
        code, stdout, output = evaluate_cli(
            "--model-uri", "models:/news-topic@champion", "--data", str(data), "--experiment", "held-out"
        )
        assert code == 0, output
        run = MlflowClient().get_run(json.loads(stdout.strip().splitlines()[-1])["run"]["run_id"])
        assert run.inputs is not None
        names.append(run.inputs.dataset_inputs[0].dataset.name)
    assert names == [str(tmp_path.resolve() / folder / "topic.jsonl") for folder in ("b", "c")]

    # A file deep in a folder tree: MLflow refuses a dataset name past 500 characters, and PostgreSQL a run name past
    # 250; both keep their end, which names the file.
    deep = tmp_path / ("d" * 200) / ("e" * 200) / ("f" * 200)
    deep.mkdir(parents=True)
    data = write(deep / "topic.jsonl", [{"text": text, "label": label} for text, label in TOPIC_ROWS])
    code, stdout, output = evaluate_cli("--model-uri", "models:/news-topic@champion", "--data", str(data), "--experiment", "held-out")
    assert code == 0, output
    run = MlflowClient().get_run(json.loads(stdout.strip().splitlines()[-1])["run"]["run_id"])
    assert run.inputs is not None
    name = run.inputs.dataset_inputs[0].dataset.name
    assert len(name) == 500 and name.startswith("…") and name.endswith("f/topic.jsonl")
    assert run.info.run_name is not None
    assert len(run.info.run_name) == 250 and run.info.run_name.startswith("news-topic v1 on …")
    assert run.info.run_name.endswith("f/topic.jsonl")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label-map", "business"], "expected DATA_LABEL=MODEL_LABEL"),
        (["--label-map", "=economy"], "expected DATA_LABEL=MODEL_LABEL"),
        (["--label-map", "business=economy", "--label-map", "business=conflict"], "'business' is mapped twice"),
        (["--label-map", "finance=economy"], "finance not among the benchmark's labels (business, entertainment"),
        (["--label-map", "business=markets"], "markets not among the model's labels (conflict, diplomacy"),
        (["--label-map", "tech=economy"], "no row has the label(s) tech"),
    ],
    ids=["no-equals", "empty-side", "twice", "unknown-benchmark-label", "unknown-model-label", "no-rows"],
)
def test_a_bad_label_map_is_named(trained_store_uri: str, tmp_path: Path, args: list[str], message: str) -> None:
    write_bbc_articles(tmp_path)
    code, _, output = evaluate_cli(
        "--model-uri", "models:/news-topic@champion", "--dataset", "bbc_news", "--data-dir", str(tmp_path), *args
    )
    assert code == 1
    assert message in output


@pytest.mark.parametrize(
    ("option", "value"), [("--split", "test"), ("--data-dir", "/somewhere")]
)
def test_a_benchmark_option_beside_a_file_is_refused_rather_than_ignored(
    trained_store_uri: str, tmp_path: Path, option: str, value: str
) -> None:
    data = write(tmp_path / "rows.jsonl", [{"text": TOPIC_ROWS[0][0], "label": TOPIC_ROWS[0][1]}])
    code, _, output = evaluate_cli("--model-uri", "models:/news-topic@champion", "--data", str(data), option, value)
    assert code == 1
    assert f"{option} goes with --dataset" in output


@pytest.mark.parametrize("name", ["rows.parquet", "rows.csv"])
def test_a_file_in_another_format_is_named_before_the_model_loads(store_uri: str, tmp_path: Path, name: str) -> None:
    data = tmp_path / name
    data.write_bytes(b"PAR1 binary, or text,label\n")
    # The store exists but is empty (a missing one is named first): the file is refused before the model is looked for.
    store.use_store(store_uri)
    code, _, output = evaluate_cli("--model-uri", "models:/news-topic@champion", "--data", str(data))
    assert code == 1
    assert f"{data}: labelled data is read as JSONL (one JSON object per line), not {data.suffix} files: convert it" in output


@pytest.mark.parametrize(
    ("dataset", "split", "message"),
    [("bbc_newz", "all", "unknown benchmark 'bbc_newz'"), ("bbc_news", "tset", "unknown split 'tset' for bbc_news")],
)
def test_a_benchmark_name_or_split_is_checked_before_the_model_loads(
    trained_store_uri: str, tmp_path: Path, dataset: str, split: str, message: str
) -> None:
    # The model named does not exist: a load first would report that instead.
    code, _, output = evaluate_cli(
        "--model-uri", "models:/no-such-model@champion", "--dataset", dataset, "--data-dir", str(tmp_path), "--split", split
    )
    assert code == 1
    assert message in output


def test_a_model_of_the_other_task_is_named(trained_store_uri: str, tmp_path: Path) -> None:
    write_bbc_articles(tmp_path)
    code, _, output = evaluate_cli("--model-uri", "models:/news-stance@champion", "--dataset", "bbc_news", "--data-dir", str(tmp_path))
    assert code == 1
    assert "bbc_news is a topic dataset; model 'models:/news-stance@champion' is a stance model" in output


@pytest.fixture
def temp_while_predicting(temp_root: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """What the temporary folder held each time evaluate made its predictions (the names in it)."""
    seen: list[list[str]] = []
    predict = held_out.predict_labels

    def predict_watched(*args: object) -> list[str]:
        seen.append(sorted(path.name for path in temp_root.iterdir()))
        return predict(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(held_out, "predict_labels", predict_watched)
    return seen


@pytest.mark.xdist_group("tracking_stack")  # the session's tracking stack lives on one worker
def test_evaluate_leaves_no_copy_of_a_tracking_servers_model_behind_whether_it_succeeds_or_fails(
    stack_uri: str, temp_root: Path, tmp_path: Path, temp_while_predicting: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stack's server proxies its artifacts, so MLflow downloads the model (from a SQLite store it loads in place).
    seen = temp_while_predicting
    good = write(tmp_path / "held_out.jsonl", [{"text": text, "label": label} for text, label in TOPIC_ROWS])

    code, stdout, output = evaluate_cli("--model-uri", "models:/news-topic@champion", "--data", str(good))
    assert code == 0, output
    assert json.loads(stdout.strip().splitlines()[-1])["n"] == len(TOPIC_ROWS)
    after_success = sorted(temp_root.iterdir())
    # A failure once the model is loaded (the rows' own faults are named before it loads).
    watched = held_out.predict_labels

    def failing(*args: object) -> list[str]:
        watched(*args)  # type: ignore[arg-type]
        raise UserInputError("the model could not read a row")

    monkeypatch.setattr(held_out, "predict_labels", failing)
    code, _, output = evaluate_cli("--model-uri", "models:/news-topic@champion", "--data", str(good))
    assert code == 1
    assert "the model could not read a row" in output

    assert after_success == []
    assert sorted(temp_root.iterdir()) == []
    # The copy was there while the model predicted: it goes when the predictions are made, not once loaded.
    assert len(seen) == 2 and all(len(names) == 1 and names[0].startswith("news-model-") for names in seen), seen
    # MLflow puts the model's copy of the package on sys.path; no entry may point into a removed folder.
    assert not [entry for entry in sys.path if entry.startswith(str(temp_root))]


def test_evaluate_reads_a_local_stores_model_in_place_and_a_folder_without_a_model_fails_at_once(
    trained_store_uri: str, temp_root: Path, tmp_path: Path, temp_while_predicting: list[list[str]]
) -> None:
    seen = temp_while_predicting
    good = write(tmp_path / "held_out.jsonl", [{"text": text, "label": label} for text, label in TOPIC_ROWS])
    not_a_model = tmp_path / "not-a-model"
    (not_a_model / "big").mkdir(parents=True)
    (not_a_model / "big" / "weights.bin").write_bytes(b"\0" * 1_000_000)

    code, _, output = evaluate_cli("--model-uri", "models:/news-topic@champion", "--data", str(good))
    assert code == 0, output
    missing_code, _, missing = evaluate_cli("--model-uri", str(not_a_model), "--data", str(good))

    # Nothing was copied: not the store's model while it predicted, not the folder that holds no model.
    assert seen == [[]]
    assert sorted(temp_root.iterdir()) == []
    assert missing_code == 1
    # Read as `training score` reads it: its MLmodel file first.
    assert f"cannot load model '{not_a_model}': No such artifact: 'MLmodel'" in missing


@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-uri"])
def test_evaluate_reads_a_model_folder_beside_another_store_and_makes_no_store(
    trained_store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_uri: bool
) -> None:
    folder = Path(mlflow.artifacts.download_artifacts("models:/news-topic@champion", dst_path=str(tmp_path / "model")))
    data = write(tmp_path / "held_out.jsonl", [{"text": text, "label": label} for text, label in TOPIC_ROWS])
    # Another machine's store, or a mistyped one: the folder is the whole model.
    elsewhere = tmp_path / "elsewhere" / "mlflow.db"
    elsewhere.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere}")
    uri = folder.as_uri() if as_uri else str(folder)

    code, stdout, output = evaluate_cli("--model-uri", uri, "--data", str(data))

    # It failed with "Logged model with ID ... not found", and a file: URI with "no MLmodel file at file:///...".
    assert code == 0, output
    assert json.loads(stdout.strip().splitlines()[-1])["model"]["uri"] == uri
    assert not elsewhere.exists()  # it was made, empty


def test_evaluate_names_a_model_saved_without_a_run_with_a_null_run(trained_store_uri: str, tmp_path: Path) -> None:
    folder = Path(mlflow.artifacts.download_artifacts("models:/news-topic@champion", dst_path=str(tmp_path / "model")))
    mlmodel = folder / "MLmodel"
    # As mlflow.pyfunc.save_model writes a model outside any run: no run_id.
    mlmodel.write_text("".join(line for line in mlmodel.read_text().splitlines(True) if not line.startswith("run_id:")))
    data = write(tmp_path / "held_out.jsonl", [{"text": text, "label": label} for text, label in TOPIC_ROWS])

    code, stdout, output = evaluate_cli("--model-uri", str(folder), "--data", str(data))

    assert code == 0, output
    assert json.loads(stdout.strip().splitlines()[-1])["model"] == {"uri": str(folder), "run_id": None}


def test_rows_the_model_was_trained_on_are_counted_and_warned_of(
    trained_store_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seeds = [json.loads(line) for line in locations.SEGMENTS_PATH.read_text(encoding="utf-8").splitlines()[:2]]
    rows = [
        # A seed segment as a newsroom export might give it back: other case and spacing.
        {"text": "  " + seeds[0]["text"].upper(), "label": "conflict"},
        {"text": seeds[1]["text"], "label": "conflict"},
        {"text": "The central bank raised interest rates by half a point to curb inflation.", "label": "economy"},
    ]
    data = write(tmp_path / "mixed.jsonl", rows)
    caplog.set_level(logging.WARNING, logger="training.evaluation.held_out")
    assert evaluate_file("models:/news-topic@champion", data)["trained_on"] == 2
    assert "2 of the 3 rows scored are rows the model was trained on" in caplog.text


def test_an_extra_training_source_evaluated_counts_every_row_as_trained_on(store_uri: str, tmp_path: Path) -> None:
    extra = write(
        tmp_path / "extra.jsonl",
        [{"text": f"Dispatch {i}: {text}", "label": label, "g": str(i)} for i, (text, label) in enumerate(TOPIC_ROWS)],
    )
    source = f"{{data: {{source: jsonl, path: {extra}, group_column: g}}, labels: {{conflict: conflict, diplomacy: diplomacy, domestic_politics: domestic_politics}}}}"
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml", [f"extra_training=[{source}]"]))
    assert evaluate_file("models:/news-topic@champion", extra)["trained_on"] == len(TOPIC_ROWS)
    # Rows are known by their input, wherever the file lies; the seed rows it was also trained on are not in it.
    copy = write(tmp_path / "copy.jsonl", [json.loads(line) for line in extra.read_text(encoding="utf-8").splitlines()])
    assert evaluate_file("models:/news-topic@champion", copy)["trained_on"] == len(TOPIC_ROWS)


def test_trained_on_is_unknown_once_the_training_data_changed(store_uri: str, tmp_path: Path) -> None:
    rows = [{"text": f"Dispatch {i}: {text}", "label": label, "g": str(i)} for i, (text, label) in enumerate(TOPIC_ROWS * 2)]
    data = write(tmp_path / "ours.jsonl", rows)
    overrides = ["data.source=jsonl", f"data.path={data}", "data.group_column=g", "evaluation.cv=group_kfold", "evaluation.n_splits=2"]
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml", overrides))
    model = "models:/topic-ours@champion"
    assert evaluate_file(model, data)["trained_on"] == len(rows)
    write(data, [*rows, {"text": "A row added after training.", "label": "conflict", "g": "new"}])
    assert evaluate_file(model, data)["trained_on"] is None


def test_a_benchmark_split_the_model_learnt_from_counts_every_row_as_trained_on(store_uri: str, tmp_path: Path) -> None:
    write_bbc_articles(tmp_path)
    source = (
        f"{{data: {{source: benchmark, name: bbc_news, data_dir: {tmp_path}}}, "
        "labels: {business: economy, politics: domestic_politics, sport: null, tech: null, entertainment: null}}"
    )
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml", [f"extra_training=[{source}]"]))
    code, stdout, output = evaluate_cli(
        "--model-uri", "models:/news-topic@champion", "--dataset", "bbc_news", "--data-dir", str(tmp_path),
        "--label-map", "business=economy", "--label-map", "politics=domestic_politics",
    )
    assert code == 0, output
    assert json.loads(stdout.strip().splitlines()[-1])["trained_on"] == 3


def _train_on_tiny_bbc(full: Path) -> None:
    """Two made-up articles per BBC News label written under full, and the BBC TF-IDF config trained on them."""
    words = {"business": "profits shares market", "politics": "minister election vote", "sport": "match goal cup",
             "tech": "phone software chip", "entertainment": "film actor award"}
    for label, text in words.items():
        for number in range(2):
            path = full / "bbc_news" / "bbc" / label / f"00{number}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{label} {number}\n\nThe {text} story number {number}.", encoding="utf-8")
    overrides = [f"data.data_dir={full}", "model.classifier=logreg", "evaluation.cv=leave_one_group_out"]
    train(load_config(locations.CONFIGS_DIR / "benchmarks" / "bbc_news" / "tfidf_svm.yaml", overrides))


def test_a_benchmark_slice_missing_a_label_keeps_one_macro_f1_throughout(store_uri: str, tmp_path: Path) -> None:
    _train_on_tiny_bbc(tmp_path / "full")
    shutil.copytree(tmp_path / "full", tmp_path / "slice", ignore=lambda folder, names: ["tech"] if "tech" in names else [])
    code, stdout, output = evaluate_cli(
        "--model-uri", "models:/bbc-topic@champion", "--dataset", "bbc_news", "--data-dir", str(tmp_path / "slice")
    )
    assert code == 0, output
    metrics = json.loads(stdout.strip().splitlines()[-1])
    # The official scorer would average in tech, absent from these rows, as 0; the figure goes with its per-class values.
    gold, predicted = _gold_and_predicted(metrics)
    assert "tech" not in gold and "tech" not in metrics["labels"]
    shown = sorted(set(gold) | set(predicted))
    assert metrics["macro_f1"] == pytest.approx(f1_score(gold, predicted, labels=shown, average="macro"))
    assert metrics["macro_f1"] == pytest.approx(summary_metrics(gold, predicted, metrics["labels"])["macro_f1"])


def test_a_partial_label_map_averages_macro_f1_over_the_gold_labels_only(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _train_on_tiny_bbc(tmp_path / "full")
    # Scored on business and politics alone; one business article reads like sport, which the map leaves out.
    articles = {"business/000.txt": "Profits\n\nThe profits shares market story.",
                "business/001.txt": "Cup final\n\nThe match goal cup story.",
                "politics/000.txt": "Vote\n\nThe minister election vote story.",
                "sport/000.txt": "Cup\n\nThe match goal cup story."}
    for relative, content in articles.items():
        path = tmp_path / "slice" / "bbc_news" / "bbc" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    drawn: list[list[str]] = []
    draw = recording.confusion_matrix_figure

    def figure(gold: list[str], predicted: list[str], labels: Sequence[str], title: str) -> Figure:
        drawn.append(list(labels))
        return draw(gold, predicted, labels, title)

    monkeypatch.setattr(recording, "confusion_matrix_figure", figure)
    caplog.set_level(logging.INFO, logger="training.evaluation.held_out")
    code, stdout, output = evaluate_cli(
        "--model-uri", "models:/bbc-topic@champion", "--dataset", "bbc_news", "--data-dir", str(tmp_path / "slice"),
        "--label-map", "business=business", "--label-map", "politics=politics", "--experiment", "partial-map",
    )
    assert code == 0, output
    metrics = json.loads(stdout.strip().splitlines()[-1])
    gold, predicted = _gold_and_predicted(metrics)
    assert (metrics["n"], metrics["left_out"]) == (3, {"sport": 1})
    # The case this test is about: a business article predicted sport, a label no mapped row holds.
    assert metrics["confusion"] == {"business": {"business": 1, "sport": 1}, "politics": {"politics": 1}}
    expected = f1_score(gold, predicted, labels=["business", "politics"], average="macro")
    assert metrics["macro_f1"] == pytest.approx(expected) == pytest.approx((2 / 3 + 1) / 2)
    # The old figure averaged sport in as 0.
    assert f1_score(gold, predicted, average="macro") == pytest.approx((2 / 3 + 1 + 0) / 3) != metrics["macro_f1"]
    assert metrics["labels"] == ["business", "politics"]
    assert set(metrics["per_class"]) == {"business", "politics"}
    assert metrics["predicted_without_gold"] == {"sport": 1}
    assert "predicted with no gold row, so not averaged: sport (1 rows)" in caplog.text
    # The recorded run logs the same figure, and its confusion matrix still shows the row predicted sport.
    logged = MlflowClient().get_run(metrics["run"]["run_id"]).data.metrics
    assert logged["macro_f1"] == pytest.approx(metrics["macro_f1"])
    assert "f1_sport" not in logged
    assert drawn == [["business", "politics", "sport"]]


def test_a_recorded_evaluation_names_the_shared_datasets_as_training_does(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Logged as this machine's whole path, two machines' evaluations of one model differed in the compare view.
    _train_on_tiny_bbc(tmp_path / "shared" / "datasets")
    monkeypatch.setattr(locations, "SHARED_DATA_DIR", tmp_path / "shared" / "datasets")
    code, stdout, output = evaluate_cli(
        "--model-uri", "models:/bbc-topic@champion", "--dataset", "bbc_news",
        "--data-dir", str(tmp_path / "shared" / "datasets"), "--experiment", "shared-datasets",
    )
    assert code == 0, output
    run_id = json.loads(stdout.strip().splitlines()[-1])["run"]["run_id"]
    assert MlflowClient().get_run(run_id).data.params["data_dir"] == "../shared/datasets"


def test_a_recorded_evaluation_names_its_file_as_its_dataset_does(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The `data` param gave this machine's whole path where the dataset's name gave `../shared/datasets/...`: two
    # checkouts' evaluations of one file differed in the compare view.
    train(load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml"))
    shared = tmp_path / "shared" / "datasets"
    (shared / "ours").mkdir(parents=True)
    monkeypatch.setattr(locations, "SHARED_DATA_DIR", shared)
    data = write(shared / "ours" / "topic.jsonl", [{"text": text, "label": label} for text, label in TOPIC_ROWS])
    code, stdout, output = evaluate_cli(
        "--model-uri", "models:/news-topic@champion", "--data", str(data), "--experiment", "held-out"
    )
    assert code == 0, output
    run = MlflowClient().get_run(json.loads(stdout.strip().splitlines()[-1])["run"]["run_id"])
    assert run.inputs is not None
    assert run.data.params["data"] == run.inputs.dataset_inputs[0].dataset.name == "../shared/datasets/ours/topic.jsonl"


def _gold_and_predicted(metrics: dict[str, object]) -> tuple[list[str], list[str]]:
    """Rows rebuilt from a result's confusion counts."""
    gold: list[str] = []
    predicted: list[str] = []
    confusion = metrics["confusion"]
    assert isinstance(confusion, dict)
    for truth, row in confusion.items():
        for answer, count in row.items():
            gold += [truth] * count
            predicted += [answer] * count
    return gold, predicted


def test_a_model_uri_mlflow_cannot_parse_or_read_is_a_user_error(store_uri: str) -> None:
    # MLflow's HTTP artifact store raised a bare ValueError for this URI: a traceback from `evaluate`.
    expected = r"cannot load model 'http://example\.invalid/model': MLflow cannot read a model from it .*; give models:/NAME@"
    with pytest.raises(UserInputError, match=expected):
        describe_model("http://example.invalid/model")
