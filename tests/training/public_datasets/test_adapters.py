"""Benchmark adapters on small files written here in each dataset's official layout."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from classifiers.errors import UserInputError
from training import locations
from training.config.resolve import load_config
from training.config.schema import BenchmarkData
from training.evaluation import held_out
from training.labelled_data import load_labelled_data
from training.public_datasets.adapters import BENCHMARKS, fnc1_stories, load_benchmark
from training.public_datasets.scorers import official_metrics, vast_macro_f1
from training.scoring.model import describe_model
from training.trainer import prepare, train

FNC_BODIES = (
    "Body ID,articleBody\n"
    '7,"A small meteorite crashed, officials said.\n\nResidents heard a ""boom""."\n'
    "12,Nothing crashed anywhere.\n"
    "30,Apple is in talks with HBO.\n"
)
FNC_STANCES = (
    "Headline,Body ID,Stance\n"
    "Meteorite hits Managua,7,agree\n"
    '"Meteorite, or not?",7,discuss\n'
    "Meteorite hits Managua,12,disagree\n"
    "HBO streaming deal,30,discuss\n"
    "Spider in stomach,30,unrelated\n"
)
# Tab-separated, CRLF, latin-1 (0xE9 is é); tweet 102 opens with an unbalanced double quote, which csv
# quoting would read as a quoted field running on through the rows after it.
SEMEVAL = (
    b"ID\tTarget\tTweet\tStance\r\n"
    b"101\tAtheism\tGod is the caf\xe9 of my soul #SemST\tAGAINST\r\n"
    b'102\tAtheism\t"Reason first, he said. #SemST\tFAVOR\r\n'
    b"103\tHillary Clinton\tVoting today #SemST\tNONE\r\n"
    b"104\tClimate Change is a Real Concern\tThe ice is melting #SemST\tFAVOR\r\n"
)
# VAST's published columns (the test file adds LexSim, Qte, Sarc, Imp, mlS, mlT); posts hold commas, quotes and
# newlines. Row 3 has lost its post (as 11 rows of the copy in shared/datasets have) and reads `text` instead.
VAST_HEADER = (
    "author,post,ori_topic,ori_id,new_topic,label,type_idx,new_id,arc_id,text,pos_text,text_s,topic,topic_str,"
    "seen?,contains_topic?\n"
)


def vast_row(post: str, topic: str, label: str, seen: str, new_id: str, text: str = "[]") -> str:
    quoted = '"' + post.replace('"', '""') + '"'
    text_cell = '"' + text.replace('"', '""') + '"'
    return f"Ann,{quoted},{topic},A1-P,{topic},{label},1,{new_id},7,{text_cell},[],,[],{topic},{seen},0\n"


VAST = (
    VAST_HEADER
    + vast_row('Guns, they said, are "tools".\n\nI disagree.', "gun control", "1", "1", "11")
    + vast_row("Taxes are theft, plain and simple.", "tax", "0", "0", "12")
    + vast_row("", "tax", "2", "0", "13", text='[["@caren", "fellow"], ["real", "food"]]')
    + vast_row("Schools need funding.", "school funding", "2", "1", "14")
)
# Posts like the training ones, some under other labels (0 con, 1 pro, 2 neutral), and subsets that read
# differently backwards: a model fitted on VAST gets some right and some wrong.
VAST_RELABELLED = (
    VAST_HEADER
    + vast_row('Guns, they said, are "tools".', "gun control", "0", "1", "21")
    + vast_row("Taxes are theft, plain and simple.", "tax", "2", "0", "22")
    + vast_row("Taxes are theft.", "tax", "0", "0", "23")
    + vast_row("Schools need funding.", "school funding", "2", "0", "24")
)


def write_fnc1(data_dir: Path, bodies: str = FNC_BODIES, stances: str = FNC_STANCES, prefix: str = "train") -> Path:
    folder = data_dir / "fnc1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{prefix}_bodies.csv").write_text(bodies, encoding="utf-8")
    (folder / f"{prefix}_stances.csv").write_text(stances, encoding="utf-8")
    return folder


def write_semeval(data_dir: Path, content: bytes = SEMEVAL) -> Path:
    path = data_dir / "semeval2016_task6" / "semeval2016-task6-trainingdata.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def write_vast(data_dir: Path, content: str = VAST, name: str = "vast_train.csv") -> Path:
    path = data_dir / "vast" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def write_article(data_dir: Path, relative: str, content: bytes) -> Path:
    path = data_dir / "bbc_news" / "bbc" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def write_bbc(data_dir: Path) -> None:
    write_article(data_dir, "business/001.txt", "Profits up\n\nProfits rose to £600m.\n\nShares rose.\n".encode())
    # Not valid UTF-8: a bare latin-1 pound sign, as in the published sport/199.txt.
    write_article(data_dir, "sport/199.txt", b"Chelsea sack Mutu\n\nA \xa315.8m signing.\n")
    write_article(data_dir, "tech/002.txt", b"New phone\n\nIt folds.\n")


# --- reading each dataset ---------------------------------------------------------------------


def test_fnc1_pairs_each_headline_with_its_body(tmp_path: Path) -> None:
    write_fnc1(tmp_path)
    frame = load_benchmark("fnc1", tmp_path, "train", "stance")
    assert list(frame.columns) == ["text", "target", "label", "group"]
    assert frame["label"].tolist() == ["agree", "discuss", "disagree", "discuss", "unrelated"]
    # groups are news stories: bodies 7 and 12 share a headline, so one story; the unrelated pair names two
    spider = fnc1_stories(["Spider in stomach"], ["30"], ["unrelated"])[0][0]
    assert frame["group"].tolist() == ["story-7", "story-7", "story-7", "story-30", f"{spider}|story-30"]
    assert frame["target"].tolist()[:2] == ["Meteorite hits Managua", "Meteorite, or not?"]
    # the quoted body keeps its blank line and its escaped quotes
    assert frame["text"].iloc[0] == 'A small meteorite crashed, officials said.\n\nResidents heard a "boom".'
    assert frame["text"].iloc[2] == "Nothing crashed anywhere."


def test_a_csv_saved_with_a_byte_order_mark_reads_as_without(tmp_path: Path) -> None:
    # Excel writes UTF-8 with a byte-order mark, which stuck to the first column's name: "missing column Headline".
    write_fnc1(tmp_path, bodies="\ufeff" + FNC_BODIES, stances="\ufeff" + FNC_STANCES)
    with_marks = load_benchmark("fnc1", tmp_path, "train", "stance")
    plain = tmp_path / "plain"
    write_fnc1(plain)
    assert with_marks.equals(load_benchmark("fnc1", plain, "train", "stance"))


def test_fnc1_test_split_reads_the_competition_files(tmp_path: Path) -> None:
    write_fnc1(tmp_path, prefix="competition_test")
    frame = load_benchmark("fnc1", tmp_path, "test", "stance")
    assert len(frame) == 5
    with pytest.raises(UserInputError, match="train_bodies.csv not found: the fnc1 'train' split reads"):
        load_benchmark("fnc1", tmp_path, "train", "stance")


def test_training_on_a_test_split_is_warned_of(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_fnc1(tmp_path, prefix="competition_test")
    config = load_config(
        locations.CONFIGS_DIR / "benchmarks" / "fnc1" / "pair_features_lexical.yaml",
        ["data.split=test", f"data.data_dir={tmp_path}", "evaluation.cv=story_kfold", "evaluation.n_splits=2"],
    )
    caplog.set_level(logging.WARNING, logger="training.trainer")
    prepare(config)
    assert "data.split=test: the model learns fnc1's test split" in caplog.text


def test_semeval_reads_latin1_crlf_rows_with_bare_quotes(tmp_path: Path) -> None:
    write_semeval(tmp_path)
    frame = load_benchmark("semeval2016", tmp_path, "train", "stance")
    assert len(frame) == 4
    assert frame["text"].tolist() == [
        "God is the café of my soul #SemST",
        '"Reason first, he said. #SemST',
        "Voting today #SemST",
        "The ice is melting #SemST",
    ]
    assert frame["target"].tolist()[2:] == ["Hillary Clinton", "Climate Change is a Real Concern"]
    assert frame["label"].tolist() == ["AGAINST", "FAVOR", "NONE", "FAVOR"]  # no '\r' left on the last field
    assert frame["group"].tolist() == ["101", "102", "103", "104"]


def test_semeval_utf8_copy_reads_as_the_official_latin1_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="training.public_datasets.adapters")
    write_semeval(tmp_path / "official")
    official = load_benchmark("semeval2016", tmp_path / "official", "train", "stance")
    assert official["text"].iloc[0] == "God is the café of my soul #SemST"
    assert "UTF-8" not in caplog.text  # the official latin-1 file reads as before, without a word
    # Re-saved by an editor as UTF-8: é is two bytes, which latin-1 read as "Ã©".
    resaved = SEMEVAL.decode("latin-1").encode("utf-8")
    assert b"caf\xc3\xa9" in resaved
    path = write_semeval(tmp_path / "copy", resaved)
    assert load_benchmark("semeval2016", tmp_path / "copy", "train", "stance").equals(official)
    said = [record for record in caplog.records if str(path) in record.getMessage()]
    assert [record.levelno for record in said] == [logging.INFO]
    assert "is UTF-8 (the official SemEval-2016 files are latin-1" in said[0].getMessage()
    # Saved with a byte-order mark, as some editors write UTF-8, the header still has its ID column.
    write_semeval(tmp_path / "copy", b"\xef\xbb\xbf" + resaved)
    assert load_benchmark("semeval2016", tmp_path / "copy", "train", "stance").equals(official)


def test_bbc_reads_title_and_body_per_class_folder(tmp_path: Path) -> None:
    write_bbc(tmp_path)
    frame = load_benchmark("bbc_news", tmp_path, "all", "topic")
    assert list(frame.columns) == ["text", "label", "group"]
    assert frame["label"].tolist() == ["business", "sport", "tech"]
    assert frame["group"].tolist() == ["business/001", "sport/199", "tech/002"]
    assert frame["text"].tolist() == [
        "Profits up\nProfits rose to £600m.\n\nShares rose.",
        "Chelsea sack Mutu\nA £15.8m signing.",
        "New phone\nIt folds.",
    ]


def test_a_bbc_article_saved_with_a_byte_order_mark_reads_as_without(tmp_path: Path) -> None:
    write_bbc(tmp_path)
    write_article(tmp_path, "tech/002.txt", "\ufeffNew phone\n\nIt folds.\n".encode())
    frame = load_benchmark("bbc_news", tmp_path, "all", "topic")
    # Kept, the mark would begin the title unseen: a text no copy without it matches, read by the model as a character.
    assert frame["text"].tolist()[-1] == "New phone\nIt folds."


def test_vast_reads_quoted_multiline_posts_labels_topics_and_subsets(tmp_path: Path) -> None:
    write_vast(tmp_path)
    frame = load_benchmark("vast", tmp_path, "train", "stance")
    assert list(frame.columns) == ["text", "target", "label", "group", "subset"]
    assert frame["text"].tolist() == [
        'Guns, they said, are "tools".\n\nI disagree.',
        "Taxes are theft, plain and simple.",
        "@caren fellow real food",  # empty post: the tokens of `text`
        "Schools need funding.",
    ]
    assert frame["target"].tolist() == ["gun control", "tax", "tax", "school funding"]
    assert frame["label"].tolist() == ["pro", "con", "neutral", "neutral"]
    assert frame["group"].tolist() == frame["target"].tolist()  # whole topics are held out
    assert frame["subset"].tolist() == ["few_shot", "zero_shot", "zero_shot", "few_shot"]


def test_vast_groups_a_topic_spelt_two_ways_as_one(tmp_path: Path) -> None:
    # The training file spells 37 topics two ways ("homeschooling" / "home schooling", "u.s" / "us"): split apart, a
    # dev topic of the topic-grouped split was in training, under 20 dev rows as the very comment and topic trained on.
    rows = [
        ("Kids learn best at home.", "homeschooling", "1", "1"),
        ("Kids learn best at home.", "home schooling", "1", "2"),
        ("The embassy should move.", "U.S. embassy", "0", "3"),
        ("The embassy should move.", "us embassy", "0", "4"),
        ("Schools need funding.", "school funding", "2", "5"),
    ]
    write_vast(tmp_path, VAST_HEADER + "".join(vast_row(post, topic, label, "1", new_id) for post, topic, label, new_id in rows))
    frame = load_benchmark("vast", tmp_path, "train", "stance")
    # Each under its first spelling; the targets stay as written.
    assert frame["group"].tolist() == ["homeschooling", "homeschooling", "U.S. embassy", "U.S. embassy", "school funding"]
    assert frame["target"].tolist() == [topic for _, topic, _, _ in rows]


def test_vast_test_split_reads_the_official_test_file(tmp_path: Path) -> None:
    # The test file has six more columns, which the adapter ignores.
    header = VAST_HEADER.replace("contains_topic?\n", "contains_topic?,LexSim,Qte,Sarc,Imp,mlS,mlT\n")
    rows = "".join(line + ",0,0,0,0,0,0\n" for line in VAST.splitlines()[1:] if line)
    write_vast(tmp_path, header + rows.replace('\n\n', ''), name="vast_test.csv")
    frame = load_benchmark("vast", tmp_path, "test", "stance")
    assert frame["label"].tolist() == ["pro", "con", "neutral", "neutral"]
    with pytest.raises(UserInputError, match="vast_train.csv not found: the vast 'train' split reads"):
        load_benchmark("vast", tmp_path, "train", "stance")


def test_evaluate_on_vast_test_reports_zero_and_few_shot(store_uri: str, tmp_path: Path) -> None:
    """`evaluate --dataset vast --split test` with a real TF-IDF model trained here on the fixture (seconds)."""
    write_vast(tmp_path)
    write_vast(tmp_path, VAST_RELABELLED, name="vast_test.csv")
    path = locations.CONFIGS_DIR / "benchmarks" / "vast" / "tfidf_svm.yaml"
    # Four rows: every n-gram must count (min_df 1), each of the 3 topics is held out once, and logistic regression
    # needs no inner calibration folds (the SVM calibrates on 3, more than a class here has rows).
    overrides = [f"data.data_dir={tmp_path}", "model.classifier=logreg", "model.min_df=1",
                 "model.char_ngrams=null", "evaluation.cv=leave_one_group_out"]
    result = train(load_config(path, overrides), config_path=path)
    model_uri = f"models:/{result.registered_model}/{result.version}"

    metrics = held_out.evaluate_benchmark(model_uri, "vast", tmp_path, "test")

    frame = load_benchmark("vast", tmp_path, "test", "stance")
    with held_out.loaded_model(describe_model(model_uri)) as loaded:
        gold, predicted = frame["label"].tolist(), held_out.predict_labels(loaded.model, loaded.task, loaded.labels, frame)
    official = {name: value for name, value in metrics.items() if name.startswith("vast_")}
    assert official == pytest.approx(official_metrics("vast", gold, predicted, frame["subset"].tolist()))
    # Each subset's figure is the scorer's on that subset's rows alone.
    for subset in ("zero_shot", "few_shot"):
        rows = [row for row, value in enumerate(frame["subset"]) if value == subset]
        assert rows
        expected = vast_macro_f1([gold[row] for row in rows], [predicted[row] for row in rows])
        assert official[f"vast_macro_f1_{subset}"] == pytest.approx(expected)
    # Some right, some wrong: figures computed from the gold alone (or from the predictions alone) would show.
    assert 0 < sum(g == p for g, p in zip(gold, predicted, strict=True)) < len(gold)
    assert metrics["n"] == 4


def test_vast_keeps_its_subset_out_of_the_trainers_data(tmp_path: Path) -> None:
    write_vast(tmp_path)
    data = load_labelled_data(BenchmarkData(source="benchmark", name="vast", data_dir=tmp_path), "stance")
    assert data.name == f"vast-train ({tmp_path.resolve()})"
    assert data.frame.columns.tolist() == ["text", "target", "label", "group"]
    assert data.labels == ["con", "neutral", "pro"]


@pytest.mark.parametrize("split", ["train", None], ids=["named", "default"])
def test_trainer_loads_a_benchmark_config(tmp_path: Path, split: str | None) -> None:
    write_semeval(tmp_path)
    config = BenchmarkData(source="benchmark", name="semeval2016", data_dir=tmp_path, split=split)
    data = load_labelled_data(config, "stance")
    assert data.name == f"semeval2016-train ({tmp_path.resolve()})"  # the training split is the default
    assert load_benchmark("semeval2016", tmp_path, split, "stance").equals(load_benchmark("semeval2016", tmp_path, "train", "stance"))
    assert data.labels == ["AGAINST", "FAVOR", "NONE"]
    assert data.inputs.columns.tolist() == ["text", "target"]


def test_metadata_names_each_benchmark_consistently() -> None:
    assert {name: (b.task, b.primary_metric) for name, b in BENCHMARKS.items()} == {
        "fnc1": ("stance", "fnc_score"),
        "semeval2016": ("stance", "semeval_f_avg"),
        "bbc_news": ("topic", "accuracy"),
        "vast": ("stance", "vast_macro_f1"),
    }
    assert all(name == b.name for name, b in BENCHMARKS.items())


# --- limit ------------------------------------------------------------------------------------


def test_limit_keeps_every_row_of_the_first_groups(tmp_path: Path) -> None:
    write_semeval(tmp_path)
    full = load_benchmark("semeval2016", tmp_path, "train", "stance")
    for limit in (1, 2):
        frame = load_benchmark("semeval2016", tmp_path, "train", "stance", limit=limit)
        assert frame["group"].nunique() == limit
        assert len(frame) == full["group"].isin(frame["group"]).sum()
    one = set(load_benchmark("semeval2016", tmp_path, "train", "stance", limit=1)["group"])
    two = set(load_benchmark("semeval2016", tmp_path, "train", "stance", limit=2)["group"])
    assert one < two  # deterministic and nested
    assert load_benchmark("semeval2016", tmp_path, "train", "stance", limit=99).equals(full)


def test_fnc1_limit_keeps_whole_stories_and_the_pairs_between_them(tmp_path: Path) -> None:
    write_fnc1(tmp_path)
    full = load_benchmark("fnc1", tmp_path, "train", "stance")
    units = full["group"].str.split("|")
    for limit in (1, 2, 3):
        frame = load_benchmark("fnc1", tmp_path, "train", "stance", limit=limit)
        kept = set(frame["group"].str.split("|").explode())
        assert len(kept) <= limit
        # every pair whose stories are all kept, none of the others
        assert len(frame) == units.map(kept.issuperset).sum()
    assert len(load_benchmark("fnc1", tmp_path, "train", "stance", limit=3)) == len(full)  # three stories in all


def test_fnc1_stories_are_components_of_the_related_pairs() -> None:
    heads = ["A", "A", "B", "B", "C", "C", "D"]
    bodies = ["1", "2", "2", "3", "4", "1", "4"]
    labels = ["agree", "unrelated", "discuss", "disagree", "agree", "unrelated", "unrelated"]
    head_story, body_story = fnc1_stories(heads, bodies, labels)
    # A-1 alone (its pair with body 2 is unrelated); B links bodies 2 and 3; C-4; D has no related body
    assert head_story[:6] == ["story-1", "story-1", "story-2", "story-2", "story-4", "story-4"]
    assert body_story == ["story-1", "story-2", "story-2", "story-2", "story-4", "story-1", "story-4"]
    assert head_story[6].startswith("story-h") and head_story[6] != "story-4"


def test_limit_is_not_a_file_prefix(tmp_path: Path) -> None:
    # BBC files are sorted by class: a prefix of 2 would be business only.
    write_bbc(tmp_path)
    write_article(tmp_path, "business/002.txt", b"More profits\n\nAgain.\n")
    write_article(tmp_path, "business/003.txt", b"Even more\n\nAnd again.\n")
    groups = [load_benchmark("bbc_news", tmp_path, "all", "topic", limit=2)["group"].tolist() for _ in range(2)]
    assert groups[0] == groups[1]
    assert groups[0] != ["business/001", "business/002"]


# --- bad input --------------------------------------------------------------------------------


def test_unknown_benchmark(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="unknown benchmark 'imdb'; known: bbc_news, fnc1, semeval2016, vast$"):
        load_benchmark("imdb", tmp_path, "train", "topic")


def test_wrong_task(tmp_path: Path) -> None:
    write_bbc(tmp_path)
    with pytest.raises(UserInputError, match="bbc_news is a topic dataset; it cannot train the 'stance' task"):
        load_benchmark("bbc_news", tmp_path, "all", "stance")


def test_unknown_split_lists_the_valid_ones(tmp_path: Path) -> None:
    write_bbc(tmp_path)
    with pytest.raises(UserInputError, match="unknown split 'train' for bbc_news; valid splits: all"):
        load_benchmark("bbc_news", tmp_path, "train", "topic")
    with pytest.raises(UserInputError, match="unknown split 'dev' for semeval2016; valid splits: train, test"):
        load_benchmark("semeval2016", tmp_path, "dev", "stance")


def test_missing_dataset_folder_names_the_expected_files(tmp_path: Path) -> None:
    with pytest.raises(UserInputError) as err:
        load_benchmark("semeval2016", tmp_path, "test", "stance")
    assert str(err.value) == (
        f"{tmp_path / 'semeval2016_task6'} not found: the semeval2016 'test' split reads "
        "SemEval2016-Task6-subtaskA-testdata-gold.txt from that folder; the 'test' split is withheld from the project's "
        "datasets on purpose (models are selected on training data): to score it, give --data-dir (in a config, "
        "data.data_dir) a folder holding semeval2016_task6/ with SemEval2016-Task6-subtaskA-testdata-gold.txt as published"
    )
    with pytest.raises(UserInputError) as err:
        load_benchmark("semeval2016", tmp_path, "train", "stance")
    assert str(err.value) == (
        f"{tmp_path / 'semeval2016_task6'} not found: the semeval2016 'train' split reads "
        "semeval2016-task6-trainingdata.txt from that folder (the data directory: NEWS_DATA_DIR, else "
        "../shared/datasets beside the project; a config's data.data_dir; evaluate --data-dir)"
    )


def test_missing_file_names_file_and_split(tmp_path: Path) -> None:
    folder = write_fnc1(tmp_path)
    (folder / "train_stances.csv").unlink()
    with pytest.raises(UserInputError) as err:
        load_benchmark("fnc1", tmp_path, "train", "stance")
    assert str(err.value) == (
        f"{folder / 'train_stances.csv'} not found: the fnc1 'train' split reads "
        f"train_bodies.csv, train_stances.csv in {folder}"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vast", "vast/ with vast_test.csv"),
        ("semeval2016", "semeval2016_task6/ with SemEval2016-Task6-subtaskA-testdata-gold.txt"),
        ("fnc1", "fnc1/ with competition_test_bodies.csv, competition_test_stances.csv"),
    ],
)
def test_a_missing_test_file_is_said_to_be_withheld(tmp_path: Path, name: str, expected: str) -> None:
    # The training files are there, as in ../shared/datasets: only the withheld split's are not.
    write_vast(tmp_path)
    write_semeval(tmp_path)
    write_fnc1(tmp_path)
    with pytest.raises(UserInputError) as err:
        load_benchmark(name, tmp_path, "test", "stance")
    assert "withheld" in str(err.value)
    assert f"a folder holding {expected}" in str(err.value)


def test_missing_bbc_articles(tmp_path: Path) -> None:
    (tmp_path / "bbc_news" / "bbc").mkdir(parents=True)
    with pytest.raises(UserInputError, match="no articles; expected <class>/NNN.txt files"):
        load_benchmark("bbc_news", tmp_path, "all", "topic")


def test_missing_columns(tmp_path: Path) -> None:
    write_fnc1(tmp_path, stances="Headline,BodyID,Label\nMeteorite hits Managua,7,agree\n")
    with pytest.raises(UserInputError, match=r"train_stances.csv: missing column\(s\) Body ID, Stance; the header has"):
        load_benchmark("fnc1", tmp_path, "train", "stance")


def test_semeval_row_with_a_stray_tab_names_the_line(tmp_path: Path) -> None:
    write_semeval(tmp_path, SEMEVAL + b"105\tAtheism\ttab\there #SemST\tNONE\r\n")
    with pytest.raises(UserInputError, match=r"trainingdata.txt:6: 5 fields where the header has 4"):
        load_benchmark("semeval2016", tmp_path, "train", "stance")


def test_fnc1_empty_headline_or_body_names_file_line_and_column(tmp_path: Path) -> None:
    folder = write_fnc1(tmp_path, stances=FNC_STANCES + ",7,agree\n   ,12,discuss\n")
    with pytest.raises(UserInputError) as err:
        load_benchmark("fnc1", tmp_path, "train", "stance")
    assert str(err.value) == f"{folder / 'train_stances.csv'}: empty Headline on line 7, line 8 (2 in all)"
    # Rows 4 and 5 of the bodies, on lines 7 and 8 of the file: the quoted first body runs over lines 2-4.
    write_fnc1(tmp_path, bodies=FNC_BODIES + '44,\n45," \n "\n')
    with pytest.raises(UserInputError) as err:
        load_benchmark("fnc1", tmp_path, "train", "stance")
    assert str(err.value) == f"{folder / 'train_bodies.csv'}: empty articleBody on line 7, line 8 (2 in all)"


def test_semeval_empty_tweet_names_file_line_and_column(tmp_path: Path) -> None:
    path = write_semeval(tmp_path, SEMEVAL + b"105\tAtheism\t\tNONE\r\n")
    with pytest.raises(UserInputError) as err:
        load_benchmark("semeval2016", tmp_path, "train", "stance")
    assert str(err.value) == f"{path}: empty Tweet on line 6 (1 in all)"
    # Whitespace is as empty; past the first few lines the rest are counted.
    blanks = b"".join(b"%d\tAtheism\t \tNONE\r\n" % number for number in range(105, 112))
    write_semeval(tmp_path, SEMEVAL + blanks)
    with pytest.raises(UserInputError) as err:
        load_benchmark("semeval2016", tmp_path, "train", "stance")
    assert str(err.value) == f"{path}: empty Tweet on line 6, line 7, line 8, line 9, line 10 and 2 more (7 in all)"
    # Stance is toward a target: a row without one is refused too.
    write_semeval(tmp_path, SEMEVAL + b"105\t \tGod is great.\tFAVOR\r\n")
    with pytest.raises(UserInputError) as err:
        load_benchmark("semeval2016", tmp_path, "train", "stance")
    assert str(err.value) == f"{path}: empty Target on line 6 (1 in all)"


def test_fnc1_stance_whose_body_is_missing(tmp_path: Path) -> None:
    write_fnc1(tmp_path, stances=FNC_STANCES + "Ghost headline,99,unrelated\nGhost again,99,agree\n")
    with pytest.raises(UserInputError) as err:
        load_benchmark("fnc1", tmp_path, "train", "stance")
    assert str(err.value) == (
        f"{tmp_path / 'fnc1' / 'train_stances.csv'}: Body ID with no body in train_bodies.csv: "
        "'99' (line 7; 2 in all)"
    )


def test_fnc1_body_whose_quote_is_never_closed_names_its_line(tmp_path: Path) -> None:
    # Read leniently, the quote ran on to the end of the file as one body, and the bodies after it went missing: the
    # error then named the stances that point at them, not the line to mend.
    bodies = FNC_BODIES.replace("12,Nothing crashed anywhere.", '12,"Nothing crashed anywhere.')
    write_fnc1(tmp_path, bodies=bodies)
    with pytest.raises(UserInputError, match=r"train_bodies.csv:5: cannot read the row \(unexpected end of data\)$"):
        load_benchmark("fnc1", tmp_path, "train", "stance")


def test_repeated_ids(tmp_path: Path) -> None:
    write_fnc1(tmp_path, bodies=FNC_BODIES + "12,Another body with the same id.\n")
    with pytest.raises(UserInputError, match=r"train_bodies.csv: repeated Body ID '12' \(line 7; 1 in all\)"):
        load_benchmark("fnc1", tmp_path, "train", "stance")
    write_semeval(tmp_path, SEMEVAL + b"101\tAtheism\tagain #SemST\tNONE\r\n")
    with pytest.raises(UserInputError, match=r"repeated ID '101' \(line 6; 1 in all\)"):
        load_benchmark("semeval2016", tmp_path, "train", "stance")


def test_unknown_labels_are_listed_with_their_lines(tmp_path: Path) -> None:
    write_fnc1(tmp_path, stances=FNC_STANCES + "A,7,Agree\nB,12,related\nC,30,Agree\n")
    with pytest.raises(UserInputError) as err:
        load_benchmark("fnc1", tmp_path, "train", "stance")
    assert str(err.value) == (
        f"{tmp_path / 'fnc1' / 'train_stances.csv'}: unknown Stance 'Agree' (line 7; 2 in all), "
        "'related' (line 8; 1 in all); expected one of agree, disagree, discuss, unrelated"
    )
    write_semeval(tmp_path, SEMEVAL + b"105\tAtheism\tmeh #SemST\tNEUTRAL\r\n")
    with pytest.raises(UserInputError, match=r"unknown Stance 'NEUTRAL' \(line 6; 1 in all\); expected one of AGAINST"):
        load_benchmark("semeval2016", tmp_path, "train", "stance")


def test_unknown_bbc_class_folder(tmp_path: Path) -> None:
    write_bbc(tmp_path)
    write_article(tmp_path, "weather/001.txt", b"Rain\n\nIt rained.\n")
    with pytest.raises(UserInputError, match=r"unknown class folder 'weather' \(weather/001.txt; 1 in all\)"):
        load_benchmark("bbc_news", tmp_path, "all", "topic")


def test_bbc_article_without_a_body(tmp_path: Path) -> None:
    write_bbc(tmp_path)
    path = write_article(tmp_path, "tech/003.txt", b"Only a title\n\n")
    with pytest.raises(UserInputError, match=f"{path}: expected a title line and then the article body"):
        load_benchmark("bbc_news", tmp_path, "all", "topic")


def test_fnc1_file_that_is_not_utf8(tmp_path: Path) -> None:
    folder = write_fnc1(tmp_path)
    (folder / "train_bodies.csv").write_bytes(b"Body ID,articleBody\n7,caf\xe9\n")
    with pytest.raises(UserInputError, match=r"train_bodies.csv:2: not UTF-8 text: byte 0xe9 at column 6; save the file as UTF-8$"):
        load_benchmark("fnc1", tmp_path, "train", "stance")


def test_a_byte_that_is_not_utf8_far_down_a_file_is_found_where_it_is(tmp_path: Path) -> None:
    # The file is decoded in chunks of a few KB: the decoder's own offset is within the chunk, not the file.
    rows = "".join(f"{id},Body {id} says a meteorite crashed near Managua, officials said.\n" for id in range(100, 1100))
    content = b"Body ID,articleBody\n" + rows.encode() + b"5000,caf\xe9\n"
    folder = write_fnc1(tmp_path)
    path = folder / "train_bodies.csv"
    path.write_bytes(content)
    with pytest.raises(UserInputError) as err:
        load_benchmark("fnc1", tmp_path, "train", "stance")
    assert str(err.value) == f"{path}:1002: not UTF-8 text: byte 0xe9 at column 9; save the file as UTF-8"


@pytest.mark.parametrize("name", ["fnc1", "semeval2016", "vast"])
def test_a_file_with_a_header_and_no_rows_is_refused(tmp_path: Path, name: str) -> None:
    """Else the empty frame reached the model, whose input schema failed with MLflow's traceback (evaluate)."""
    write_vast(tmp_path, VAST_HEADER)
    write_semeval(tmp_path, b"ID\tTarget\tTweet\tStance\r\n")
    write_fnc1(tmp_path, stances="Headline,Body ID,Stance\n")
    with pytest.raises(UserInputError, match=r"(stances.csv|trainingdata.txt|vast_train.csv): no rows under the header$"):
        load_benchmark(name, tmp_path, "train", "stance")


def test_a_column_named_twice_in_the_header_is_refused(tmp_path: Path) -> None:
    # Reading either of the two would be a guess: here the first `label` holds topics.
    write_vast(tmp_path, VAST.replace("ori_topic,", "label,", 1))
    with pytest.raises(UserInputError, match=r"vast_train.csv: column\(s\) label named more than once in the header"):
        load_benchmark("vast", tmp_path, "train", "stance")


def test_limit_must_be_positive(tmp_path: Path) -> None:
    write_fnc1(tmp_path)
    with pytest.raises(UserInputError, match="fnc1: limit must be a positive number of groups, got 0"):
        load_benchmark("fnc1", tmp_path, "train", "stance", limit=0)


# --- VAST: bad input --------------------------------------------------------------------------


def test_vast_missing_columns(tmp_path: Path) -> None:
    write_vast(tmp_path, VAST.replace("topic_str,seen?,", "topic_string,seen,"))
    with pytest.raises(UserInputError, match=r"vast_train.csv: missing column\(s\) topic_str, seen\?; the header has"):
        load_benchmark("vast", tmp_path, "train", "stance")


def test_vast_unknown_label_names_the_line(tmp_path: Path) -> None:
    # line 8: rows 1-4 take lines 2-7, the first post running over three of them
    path = write_vast(tmp_path, VAST + vast_row("Meh.", "tax", "pro", "1", "15") + vast_row("Eh.", "tax", "3", "1", "16"))
    with pytest.raises(UserInputError) as err:
        load_benchmark("vast", tmp_path, "train", "stance")
    assert str(err.value) == (
        f"{path}: unknown label 'pro' (line 8; 1 in all), '3' (line 9; 1 in all); expected one of 0, 1, 2"
    )


def test_vast_unknown_seen_flag(tmp_path: Path) -> None:
    write_vast(tmp_path, VAST + vast_row("Meh.", "tax", "1", "yes", "15"))
    with pytest.raises(UserInputError, match=r"unknown seen\? 'yes' \(line 8; 1 in all\); expected one of 0, 1"):
        load_benchmark("vast", tmp_path, "train", "stance")


def test_vast_broken_line_names_where_the_row_starts(tmp_path: Path) -> None:
    # A row cut short (a field lost) is caught on its own line.
    cut = "Ann,Short row,tax,A1-P,tax,1,1,15\n"
    path = write_vast(tmp_path, VAST + cut + vast_row("Fine.", "tax", "0", "1", "16"))
    with pytest.raises(UserInputError, match=r"vast_train.csv:8: 8 fields where the header has 16$"):
        load_benchmark("vast", tmp_path, "train", "stance")
    # An unclosed quote reads on to the end of the file: the error says where that row began.
    unclosed = 'Ann,"An unclosed quote, tax,A1-P,tax,1,1,15,[],[],,[],tax,1,0\n'
    write_vast(tmp_path, VAST + unclosed + "Bob,No quotes here,tax,A1-P,tax,0,1,16,[],[],,[],tax,1,0\n")
    with pytest.raises(UserInputError) as err:
        load_benchmark("vast", tmp_path, "train", "stance")
    assert str(err.value) == f"{path}:8: cannot read the row (unexpected end of data)"
    # One closed rows later takes them into its field: said with the lines the row ran over.
    write_vast(tmp_path, VAST + unclosed + 'Bob,No quotes here",tax,A1-P,tax,0,1,16,[],[],,[],tax,1,0\n')
    with pytest.raises(UserInputError) as err:
        load_benchmark("vast", tmp_path, "train", "stance")
    assert str(err.value) == f"{path}:8: 15 fields where the header has 16 (a row from line 8 to line 9)"


def test_vast_repeated_new_id(tmp_path: Path) -> None:
    write_vast(tmp_path, VAST + vast_row("Again.", "tax", "0", "1", "12"))
    with pytest.raises(UserInputError, match=r"vast_train.csv: repeated new_id '12' \(line 8; 1 in all\)"):
        load_benchmark("vast", tmp_path, "train", "stance")


def test_vast_row_with_no_text_at_all(tmp_path: Path) -> None:
    write_vast(tmp_path, VAST + vast_row("", "tax", "0", "1", "15"))
    with pytest.raises(UserInputError, match=r"vast_train.csv: line 8: empty post and empty text column"):
        load_benchmark("vast", tmp_path, "train", "stance")
    write_vast(tmp_path, VAST + vast_row("", "tax", "0", "1", "15", text="not json"))
    with pytest.raises(UserInputError, match=r"line 8: empty post, and its text column is not a JSON list"):
        load_benchmark("vast", tmp_path, "train", "stance")
