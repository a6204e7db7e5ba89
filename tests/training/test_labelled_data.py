"""Loading an experiment's data and its extra training sources."""

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.data.digest_utils import compute_pandas_digest
from mlflow.utils.validation import MAX_DATASET_NAME_SIZE

from classifiers.errors import UserInputError
from training import locations
from training.config.schema import BenchmarkData, ExtraTraining, JsonlData, SeedData
from training.labelled_data import (
    benchmark_data_name,
    file_data_name,
    frame_digest,
    load_labelled_data,
    seed_data_name,
)


def source(path: Path, rows: list[dict[str, str]], labels: dict[str, str | None]) -> ExtraTraining:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return ExtraTraining(data=JsonlData(source="jsonl", path=path, group_column="doc"), labels=labels)


PUBLIC = [
    {"text": "We must back the plan.", "target": "the plan", "label": "pro", "doc": "1"},
    {"text": "The plan is a disaster.", "target": "the plan", "label": "con", "doc": "2"},
    {"text": "The plan was announced.", "target": "the plan", "label": "neutral", "doc": "3"},
]
MAPPING: dict[str, str | None] = {"pro": "favor", "con": "against", "neutral": "none"}


def test_extra_source_is_mapped_onto_the_experiment_labels(tmp_path: Path) -> None:
    data = load_labelled_data(SeedData(), "stance", [source(tmp_path / "public.jsonl", PUBLIC, MAPPING)])
    (extra,) = data.extra
    assert list(extra.frame["label"]) == ["favor", "against", "none"]
    assert set(extra.frame["group"]) == {"extra:1", "extra:2", "extra:3"}
    inputs, labels, weights = data.training_side()
    assert len(inputs) == len(data.frame) + 3 and list(inputs.columns) == ["text", "target"]
    assert list(labels[-3:]) == ["favor", "against", "none"]
    assert weights is None  # every row counts the same
    # the evaluated data stays the seeds alone
    assert data.name == "seeds" and not data.frame["group"].str.startswith("extra:").any()


def test_null_mapping_leaves_rows_out(tmp_path: Path) -> None:
    data = load_labelled_data(
        SeedData(), "stance", [source(tmp_path / "p.jsonl", PUBLIC, {**MAPPING, "neutral": None})]
    )
    assert list(data.extra[0].frame["label"]) == ["favor", "against"]


def test_an_extra_source_may_add_rows_of_one_label_only(tmp_path: Path) -> None:
    only_favor: dict[str, str | None] = {"pro": "favor", "con": None, "neutral": None}
    data = load_labelled_data(SeedData(), "stance", [source(tmp_path / "p.jsonl", PUBLIC, only_favor)])
    assert list(data.extra[0].frame["label"]) == ["favor"]
    _, labels, _ = data.training_side()
    assert labels[-1] == "favor" and len(set(labels)) == 3


def test_an_extra_source_mapped_wholly_to_null_is_refused(tmp_path: Path) -> None:
    nothing: dict[str, str | None] = dict.fromkeys(MAPPING)
    with pytest.raises(UserInputError, match=r"p.jsonl: `labels` maps every row to null"):
        load_labelled_data(SeedData(), "stance", [source(tmp_path / "p.jsonl", PUBLIC, nothing)])


def test_an_unmapped_source_label_names_the_file_and_label(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"p.jsonl: label\(s\) neutral have no mapping"):
        load_labelled_data(SeedData(), "stance", [source(tmp_path / "p.jsonl", PUBLIC, {"pro": "favor", "con": "against"})])


def test_a_mapping_onto_an_unknown_label_is_refused(tmp_path: Path) -> None:
    left_out = r"maps to support, which the experiment's data does not have .*; map those to null .* 'extra_training=\[\]'"
    with pytest.raises(UserInputError, match=left_out):
        load_labelled_data(SeedData(), "stance", [source(tmp_path / "p.jsonl", PUBLIC, {**MAPPING, "pro": "support"})])


def test_an_extra_source_weight_weighs_its_rows(tmp_path: Path) -> None:
    extra = source(tmp_path / "p.jsonl", PUBLIC, MAPPING).model_copy(update={"weight": 0.1})
    data = load_labelled_data(SeedData(), "stance", [extra])
    _, _, weights = data.training_side(np.arange(4))
    assert weights is not None
    assert list(weights) == [1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1]


TOPIC_ROWS = [
    {"text": "Rockets hit the port.", "label": "conflict", "doc": "1"},
    {"text": "Talks resume in Doha.", "label": "diplomacy", "doc": "2"},
]


def jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_an_integer_label_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    # Read as "5", it became a class of its own and was registered as champion.
    path = jsonl(tmp_path / "mine.jsonl", [*TOPIC_ROWS, {"text": "Prices rose again.", "label": 5, "doc": "3"}])
    with pytest.raises(UserInputError, match=rf"^{path}:3: field 'label' must be a string, got 5$"):
        load_labelled_data(JsonlData(source="jsonl", path=path, group_column="doc"), "topic")


def test_a_label_outside_the_declared_labels_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "mine.jsonl", [*TOPIC_ROWS, {"text": "Prices rose again.", "label": "econ", "doc": "3"}])
    config = JsonlData(source="jsonl", path=path, group_column="doc", labels=["conflict", "diplomacy", "economy"])
    with pytest.raises(UserInputError) as err:
        load_labelled_data(config, "topic")
    assert str(err.value) == f"{path}:3: label 'econ' is not one of the declared labels (conflict, diplomacy, economy)"


def test_data_within_the_declared_labels_loads_and_a_declared_label_without_rows_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = jsonl(tmp_path / "mine.jsonl", TOPIC_ROWS)
    config = JsonlData(source="jsonl", path=path, group_column="doc", labels=["conflict", "diplomacy", "economy"])
    data = load_labelled_data(config, "topic")
    assert data.labels == ["conflict", "diplomacy"]
    assert list(data.frame["group"]) == ["1", "2"]
    assert "mine.jsonl: declared label(s) economy have no row: the model will not know them" in caplog.text



def labelled_frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"text": [f"Paragraph {i}." for i in range(rows)], "label": ["a", "b"] * (rows // 2), "group": [str(i) for i in range(rows)]}
    )


def test_the_digest_of_a_large_frame_changes_with_a_label_past_mlflows_first_ten_thousand_rows() -> None:
    frame = labelled_frame(12_000)
    changed = frame.copy()
    changed.loc[11_500, "label"] = "b" if changed.loc[11_500, "label"] == "a" else "a"

    assert compute_pandas_digest(changed) == compute_pandas_digest(frame)  # what MLflow alone would compare
    assert frame_digest(changed) != frame_digest(frame)
    assert frame_digest(frame.copy()) == frame_digest(frame)


def test_the_digest_of_a_frame_mlflow_reads_whole_is_mlflows_own() -> None:
    # Versions registered before carry MLflow's digest: new ones of the same data must still compare with them.
    frame = labelled_frame(10_000)
    assert frame_digest(frame) == compute_pandas_digest(frame)


def test_groups_that_share_a_text_are_one_group_and_an_extra_sources_copies_are_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [
        {"text": "Jets struck the port.", "label": "conflict", "doc": "a"},
        {"text": "Talks resumed in Cairo.", "label": "diplomacy", "doc": "a"},
        {"text": "Jets  struck the port.", "label": "conflict", "doc": "b"},  # article b reprints a's paragraph
        {"text": "Parliament passed the budget.", "label": "domestic_politics", "doc": "c"},
    ]
    path = tmp_path / "news.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    extra_rows = [
        {"text": "Talks resumed in Cairo.", "label": "diplomacy", "doc": "x"},
        {"text": "Markets fell.", "label": "diplomacy", "doc": "y"},
    ]
    diplomacy: dict[str, str | None] = {"diplomacy": "diplomacy"}
    extra = source(tmp_path / "extra.jsonl", extra_rows, diplomacy)

    data = load_labelled_data(JsonlData(source="jsonl", path=path, group_column="doc"), "topic", [extra])

    assert data.frame["group"].tolist() == ["a", "a", "a", "c"] and data.groups_joined == 1
    assert data.extra[0].frame["text"].tolist() == ["Markets fell."] and data.extra[0].copies_left_out == 1
    assert "1 group(s) share an input with another group" in caplog.text
    assert "1 row(s) left out, copies of inputs of the experiment's data" in caplog.text

    only_copies = source(tmp_path / "copies.jsonl", extra_rows[:1], diplomacy)
    with pytest.raises(UserInputError, match=r"copies.jsonl: every row is a copy of a row of the experiment's data"):
        load_labelled_data(JsonlData(source="jsonl", path=path, group_column="doc"), "topic", [only_copies])


def test_a_blank_field_of_a_training_file_is_named_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ours.jsonl"
    path.write_text(
        json.dumps({"text": "Jets struck.", "label": "conflict"}) + "\n\n" + json.dumps({"text": "  ", "label": "diplomacy"}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(UserInputError, match=r"ours.jsonl:3: field 'text' is blank"):
        load_labelled_data(JsonlData(source="jsonl", path=path), "topic")


def test_a_text_of_invisible_characters_is_blank_to_training_as_to_the_model(tmp_path: Path) -> None:
    # The registered model refuses it at prediction (the server's rule); trained on, its fold's evaluation failed.
    path = tmp_path / "ours.jsonl"
    path.write_text(
        json.dumps({"text": "Jets struck.", "label": "conflict"}) + "\n" + json.dumps({"text": "\u200b", "label": "diplomacy"}),
        encoding="utf-8",
    )
    with pytest.raises(UserInputError, match=r"ours.jsonl:2: field 'text' is blank"):
        load_labelled_data(JsonlData(source="jsonl", path=path), "topic")


def _lines(path: Path, labels: list[str]) -> Path:
    rows = [{"text": f"Paragraph {number} of the wire.", "label": label} for number, label in enumerate(labels)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_label_with_spaces_around_it_or_another_in_other_case_is_refused_naming_lines(tmp_path: Path) -> None:
    spaced = _lines(tmp_path / "spaced.jsonl", ["favor", "against", "none ", "none"])
    with pytest.raises(UserInputError, match=r"spaced.jsonl:3: label 'none ' has spaces around it; write 'none'"):
        load_labelled_data(JsonlData(source="jsonl", path=spaced), "topic")
    cased = _lines(tmp_path / "cased.jsonl", ["favor", "against", "Favor"])
    with pytest.raises(UserInputError, match=r"cased.jsonl:3: label 'Favor' differs from 'favor' \(line 1\) only in case"):
        load_labelled_data(JsonlData(source="jsonl", path=cased), "topic")


def test_a_label_rare_beside_the_others_is_said_unless_the_labels_are_declared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _lines(tmp_path / "typo.jsonl", ["favor", "against"] * 40 + ["agianst"])
    load_labelled_data(JsonlData(source="jsonl", path=path), "topic")
    assert "typo.jsonl: label(s) 'agianst' ('against'?) have fewer than 3 rows beside others with 40: a typo?" in caplog.text
    caplog.clear()
    load_labelled_data(JsonlData(source="jsonl", path=path, labels=["favor", "against", "agianst"]), "topic")
    assert "a typo?" not in caplog.text
    # A small file: one row beside ten is said too, with no guess where no label is spelt alike.
    small = _lines(tmp_path / "small.jsonl", ["sports", "health"] * 10 + ["sprots", "finance"])
    load_labelled_data(JsonlData(source="jsonl", path=small), "topic")
    assert "label(s) 'finance', 'sprots' ('sports'?) have fewer than 3 rows beside others with 10" in caplog.text
    caplog.clear()
    # Three labels of five rows and one of two: too few rows to tell a rare label from a typo.
    even = _lines(tmp_path / "even.jsonl", ["a", "b", "c"] * 5 + ["d", "d"])
    load_labelled_data(JsonlData(source="jsonl", path=even), "topic")
    assert "a typo?" not in caplog.text


# --- MLflow dataset names ---------------------------------------------------------------------


def test_files_of_one_name_in_two_folders_get_distinct_dataset_names(tmp_path: Path) -> None:
    # Every outside set's topic.jsonl was logged as `topic`: the runs table could not tell them apart.
    rows = [{"text": "Jets struck the port.", "label": "conflict"}, {"text": "Envoys met in Cairo.", "label": "diplomacy"}]
    names = []
    for folder in ("b", "c"):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "topic.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        names.append(load_labelled_data(JsonlData(source="jsonl", path=path), "topic").name)
    assert names == [str(tmp_path.resolve() / "b" / "topic.jsonl"), str(tmp_path.resolve() / "c" / "topic.jsonl")]
    # A file of the project is named from its root, as its params are, so runs of two checkouts show the same name.
    inside = locations.PROJECT_ROOT / "benchmarks" / "outside_news" / "b" / "topic.jsonl"
    assert file_data_name(inside) == "benchmarks/outside_news/b/topic.jsonl"


def test_a_benchmark_slice_and_a_copy_in_another_folder_get_distinct_dataset_names(tmp_path: Path) -> None:
    assert benchmark_data_name("bbc_news", "all", locations.SHARED_DATA_DIR) == "bbc_news-all"
    assert benchmark_data_name("bbc_news", "all", locations.SHARED_DATA_DIR, limit=300) == "bbc_news-all-limit300"
    # BBC News's withheld 20% is an `all` split too, read from the folder given to evaluate --data-dir.
    withheld = benchmark_data_name("bbc_news", "all", tmp_path)
    assert withheld == f"bbc_news-all ({tmp_path.resolve()})"
    (tmp_path / "bbc_news" / "bbc" / "business").mkdir(parents=True)
    (tmp_path / "bbc_news" / "bbc" / "sport").mkdir()
    for number in range(3):
        (tmp_path / "bbc_news" / "bbc" / "business" / f"00{number}.txt").write_text(f"Profits {number}\n\nUp.\n", encoding="utf-8")
        (tmp_path / "bbc_news" / "bbc" / "sport" / f"00{number}.txt").write_text(f"Match {number}\n\nWon.\n", encoding="utf-8")
    sliced = load_labelled_data(BenchmarkData(source="benchmark", name="bbc_news", data_dir=tmp_path, limit=4), "topic")
    assert sliced.name == f"bbc_news-all-limit4 ({tmp_path.resolve()})"


def test_seed_files_other_than_the_projects_get_a_dataset_name_of_their_own(tmp_path: Path) -> None:
    assert seed_data_name(SeedData()) == "seeds"
    labels = tmp_path / "labels.jsonl"
    shutil.copy(locations.LABELS_PATH, labels)
    assert seed_data_name(SeedData(labels=labels)) == f"seeds (seeds/segments.jsonl, {labels.resolve()})"


def test_a_dataset_name_past_mlflows_limit_keeps_its_end() -> None:
    deep = Path("/", "d" * 250, "e" * 250, "topic.jsonl")
    name = file_data_name(deep)
    assert len(name) == MAX_DATASET_NAME_SIZE and name.startswith("…") and name.endswith("e/topic.jsonl")
