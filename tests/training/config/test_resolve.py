import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from classifiers.config import FamilyConfig
from classifiers.encoder import resolve_encoder
from classifiers.errors import UserInputError
from classifiers.families.descriptions import DescriptionsModel
from classifiers.families.ensemble import EnsembleModel
from classifiers.families.frozen_encoder import FrozenEncoderModel
from classifiers.families.setfit_descriptions import SetFitDescriptionsModel
from classifiers.families.tfidf import TfidfModel
from classifiers.registry import families
from training import locations
from training.config.resolve import expand_sweep, flatten, load_config, parse_override, to_yaml
from training.config.schema import BenchmarkData, ExperimentConfig, JsonlData, SeedData

ALL_CONFIGS = sorted(locations.CONFIGS_DIR.rglob("*.yaml"))


def test_every_trained_family_has_a_config_and_the_main_ones_one_per_task() -> None:
    seen = {(load_config(p).task, load_config(p).model.family) for p in ALL_CONFIGS}
    # A family registered without a config would be validated, trained and served by no test of configs.
    without = [family.name for family in families() if family.trainer is not None and not any((task, family.name) in seen for task in family.tasks)]
    assert without == []
    for task in ("topic", "stance"):
        for family in ("tfidf", "frozen_encoder", "finetune"):
            assert (task, family) in seen


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: str(p.relative_to(locations.CONFIGS_DIR)))
def test_every_config_validates(path: Path) -> None:
    config = load_config(path)
    assert isinstance(config, ExperimentConfig)
    assert config.registered_model
    for _, child in expand_sweep(config):
        assert child.task == config.task


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: str(p.relative_to(locations.CONFIGS_DIR)))
def test_the_config_yaml_a_run_logs_trains_the_same_again(path: Path, tmp_path: Path) -> None:
    # The logged config.yaml writes every default, those that apply only beside another setting included: the
    # encoder configs' logged files were refused when trained again (min_target_rows, the other head's settings).
    for _, config in [(None, load_config(path)), *expand_sweep(load_config(path))]:
        logged = tmp_path / "config.yaml"
        logged.write_text(to_yaml(config), encoding="utf-8")
        assert load_config(logged) == config


def test_the_setfit_config_describes_topics_as_the_default_does() -> None:
    # The two are compared on LOAO: they must differ by the tuning alone.
    topic = locations.CONFIGS_DIR / "topic"
    setfit, descriptions = (load_config(topic / f"{name}.yaml").model for name in ("setfit", "descriptions"))
    assert setfit.family == "setfit"
    assert isinstance(setfit, SetFitDescriptionsModel) and isinstance(descriptions, DescriptionsModel)
    assert setfit.descriptions == descriptions.descriptions


def tfidf(model: FamilyConfig) -> TfidfModel:
    """A config's model (or ensemble member) that must be a TF-IDF one, typed as such."""
    assert isinstance(model, TfidfModel)
    return model


def ensemble(model: FamilyConfig) -> EnsembleModel:
    """A config's model that must be an ensemble, typed as such."""
    assert isinstance(model, EnsembleModel)
    return model


def write(tmp_path: Path, tree: dict[str, object]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def test_misspelt_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf", "Cee": 2}})
    with pytest.raises(UserInputError, match=r"model\.Cee: Extra inputs are not permitted"):
        load_config(path)


def test_a_misspelt_key_is_told_the_key_its_section_takes_spelt_like_it(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text('{"text": "a", "label": "b"}\n', encoding="utf-8")
    data = {"source": "jsonl", "path": "x.jsonl", "group_colum": "doc"}
    path = write(tmp_path, {"task": "topic", "seeed": 3, "data": data, "model": {"family": "tfidf", "sublinear": True, "zzz": 1}})
    with pytest.raises(UserInputError) as refused:
        load_config(path)
    problems = str(refused.value).splitlines()[1:]
    assert sorted(problems) == [
        "  data.group_colum: Extra inputs are not permitted (did you mean group_column?)",
        "  model.sublinear: Extra inputs are not permitted (did you mean sublinear_tf?)",
        "  model.zzz: Extra inputs are not permitted",
        "  seeed: Extra inputs are not permitted (did you mean seed?)",
    ]


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("model.Cee=2", r"model\.Cee: Extra inputs"),
        ("model.head_C=abc", r"model\.head_C: Input should be a valid number"),
        ("model.descriptions.economy=[7]", r"model\.descriptions\.economy\.0: Input should be a valid string"),
    ],
)
def test_a_key_named_as_its_family_is_not_taken_for_the_family_tag(tmp_path: Path, override: str, where: str) -> None:
    # The descriptions family has a `descriptions` key: the error path must not put the union's tag there.
    path = write(tmp_path, {"task": "topic", "model": {"family": "descriptions", "descriptions": {"economy": ["Prices rise."], "conflict": ["Jets strike."]}}})
    with pytest.raises(UserInputError, match=where):
        load_config(path, [override])


def test_wrong_value_is_named_with_what_was_given(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf", "C": -1}})
    with pytest.raises(UserInputError, match=r"model\.C: Input should be greater than 0 \(got -1\)"):
        load_config(path)


@pytest.mark.parametrize(
    ("override", "where", "shown"),
    [("model.word_ngrams=[3, 1]", "word_ngrams", "3 is longer than 1"), ("model.char_ngrams=[5, 2]", "char_ngrams", "5 is longer than 2")],
)
def test_ngram_range_must_run_from_short_to_long(tmp_path: Path, override: str, where: str, shown: str) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match=rf"model\.{where}: Value error, an n-gram range is \(shortest, longest\): {shown}"):
        load_config(path, [override])
    with pytest.raises(UserInputError, match=rf"model\.{where}\.0: Input should be greater than 0"):
        load_config(path, [f"model.{where}=[0, 2]"])
    assert load_config(path, [f"model.{where}=[2, 2]"]).model.model_dump()[where] == (2, 2)


@pytest.mark.parametrize(("override", "where"), [("model.C=.inf", "model.C"), ("model.C=.nan", "model.C")])
def test_a_number_that_is_not_finite_is_refused_before_training(tmp_path: Path, override: str, where: str) -> None:
    # scikit-learn would refuse C=inf only inside the run, in a traceback; YAML reads .inf and .nan as floats.
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match=rf"{re.escape(where)}: Input should be (a finite number|greater than 0)"):
        load_config(path, [override])
    (tmp_path / "x.jsonl").write_text("", encoding="utf-8")
    extra = {"data": {"source": "jsonl", "path": "x.jsonl"}, "labels": {"a": "a"}, "weight": float("inf")}
    inf_weight = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "extra_training": [extra]})
    with pytest.raises(UserInputError, match=r"extra_training\.0\.weight: Input should be a finite number"):
        load_config(inf_weight)


def test_dotted_overrides_are_applied_and_validated(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "stance", "model": {"family": "tfidf"}})
    config = load_config(path, ["model.C=0.5", "model.char_ngrams=null", "seed=7", "model.word_ngrams=[1, 3]"])
    assert isinstance(config.model, TfidfModel)
    assert (config.model.C, config.model.char_ngrams, config.seed, config.model.word_ngrams) == (0.5, None, 7, (1, 3))
    with pytest.raises(UserInputError, match="model.Cx"):
        load_config(path, ["model.Cx=1"])
    with pytest.raises(UserInputError, match="not of the form dotted.key=value"):
        load_config(path, ["model.C"])


def test_an_override_whose_value_yaml_would_cut_at_a_comment_is_refused(tmp_path: Path) -> None:
    # `data.path=topic #2.jsonl` named the file `topic`, and trained on it where it existed.
    with pytest.raises(UserInputError, match=r"^override 'data.path=topic #2.jsonl': YAML reads ' #' as the start of a comment"):
        parse_override("data.path=topic #2.jsonl")
    with pytest.raises(UserInputError, match=r"quote a value that holds it, model.C='\"...\"', or leave the comment out$"):
        parse_override("model.C=0.5  # half")
    assert parse_override("data.path='topic #2.jsonl'") == ("data.path", "topic #2.jsonl")
    assert parse_override("data.path=topic#2.jsonl") == ("data.path", "topic#2.jsonl")
    assert parse_override("sweep.model.C=[1, 2]  ") == ("sweep.model.C", [1, 2])


def test_a_mapping_key_yaml_reads_as_a_flag_names_its_mapping(tmp_path: Path) -> None:
    source = tmp_path / "x.jsonl"
    source.write_text('{"text": "a", "label": "yes"}\n', encoding="utf-8")
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    path.write_text(
        path.read_text(encoding="utf-8") + f"extra_training:\n  - data: {{source: jsonl, path: {source}}}\n"
        "    labels: {yes: conflict, '1': diplomacy}\n",
        encoding="utf-8",
    )
    # It named `extra_training.0.labels.1.[key]`, no key of the file (True is 1), and advised that as an override.
    with pytest.raises(UserInputError) as raised:
        load_config(path)
    assert str(raised.value).splitlines()[1:] == [
        "  extra_training.0.labels: a key YAML reads as true, not as text (yes, no, on and off unquoted are true or "
        "false, digits a number): quote it ('yes': ...)"
    ]


def test_a_date_given_for_a_path_is_told_to_be_quoted(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match=r"data.path: .*\(got datetime.date\(2024, 1, 1\)\); YAML reads it so unquoted: quote it"):
        load_config(path, ["data.source=jsonl", "data.path=2024-01-01"])


def test_relative_paths_in_a_file_are_read_beside_it_and_those_of_overrides_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "rows.jsonl").touch()
    path = write(
        folder,
        {
            "task": "stance",
            "model": {"family": "tfidf"},
            "data": {"source": "jsonl", "path": "rows.jsonl"},
            "extra_training": [
                {"data": {"source": "benchmark", "name": "vast", "data_dir": "../datasets"}, "labels": {"pro": "favor"}},
                {"data": {"source": "jsonl", "path": str(tmp_path / "absolute.jsonl")}, "labels": {"a": "favor"}},
            ],
        },
    )
    monkeypatch.chdir(tmp_path / "configs")
    config = load_config(path.relative_to(tmp_path / "configs"))
    monkeypatch.chdir(tmp_path)
    benchmark, absolute = (extra.data for extra in config.extra_training)
    assert isinstance(config.data, JsonlData) and isinstance(benchmark, BenchmarkData) and isinstance(absolute, JsonlData)
    assert config.data.path == folder / "rows.jsonl"
    assert benchmark.data_dir == tmp_path / "datasets"
    assert absolute.path == tmp_path / "absolute.jsonl"
    # Made whole, so the config.yaml a run logs trains again from any folder.
    overridden = load_config(path, ["data.path=mine.jsonl"]).data
    assert isinstance(overridden, JsonlData) and overridden.path == tmp_path / "mine.jsonl"
    seeds_data = {"source": "seeds", "segments": "s.jsonl"}
    seeds = load_config(write(folder, {"task": "topic", "model": {"family": "tfidf"}, "data": seeds_data}))
    assert isinstance(seeds.data, SeedData)
    assert seeds.data.segments == folder / "s.jsonl" and seeds.data.labels == locations.LABELS_PATH


def test_a_relative_encoder_folder_is_read_as_a_data_path_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It was read from the current folder: a config trained differently, or not at all, from another folder, and its
    # logged config.yaml named a folder relative to wherever it ran.
    folder = tmp_path / "configs"
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    frozen: dict[str, object] = {"task": "topic", "model": {"family": "frozen_encoder", "encoder": "../models/mine"}}
    config = load_config(write(folder, frozen))
    assert isinstance(config.model, FrozenEncoderModel) and config.model.encoder == str(tmp_path / "models" / "mine")
    overridden = load_config(write(folder, frozen), ["model.encoder=mine"]).model
    assert isinstance(overridden, FrozenEncoderModel) and overridden.encoder == str(tmp_path / "elsewhere" / "mine")
    members = [{"family": "tfidf"}, {"family": "frozen_encoder", "encoder": "m"}, {"family": "frozen_encoder"}]
    sweep = {"model.members.1.encoder": ["a", "all-MiniLM-L6-v2"]}
    swept: dict[str, object] = {"task": "topic", "model": {"family": "ensemble", "members": members}, "sweep": sweep}
    ensemble_config = load_config(write(folder, swept))
    assert [child.model.encoders() for _, child in expand_sweep(ensemble_config)] == [
        {"model.members.1.encoder": str(folder / "a"), "model.members.2.encoder": "all-MiniLM-L6-v2"},
        {"model.members.1.encoder": "all-MiniLM-L6-v2", "model.members.2.encoder": "all-MiniLM-L6-v2"},
    ]
    assert ensemble(ensemble_config.model).members[1].encoders() == {"model.encoder": str(folder / "m")}


def test_a_data_file_written_relative_to_a_config_that_moved_names_where_it_was_looked_for(tmp_path: Path) -> None:
    copied = tmp_path / "mine.yaml"
    copied.write_text((locations.CONFIGS_DIR / "topic" / "descriptions_written.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    looked_for = (tmp_path / "../../corpora/guideline_written/topic.jsonl").resolve()
    with pytest.raises(UserInputError, match=(
        rf"^{copied}: extra_training.0.data.path: ../../corpora/guideline_written/topic.jsonl is read from the config's "
        rf"folder, as {looked_for}, which does not exist; write it relative to {tmp_path} or as an absolute path$"
    )):
        load_config(copied)
    # Given again on the command line, the path is read from the current folder and not checked here.
    load_config(copied, ["extra_training.0.data.path=elsewhere.jsonl"])


def test_missing_file_and_bad_yaml_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(UserInputError, match="is a folder: name one YAML file in it"):
        load_config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [topic\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="not valid YAML"):
        load_config(bad)


def test_a_config_that_is_not_utf8_names_the_byte_and_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("task: topic\n# r\u00e9sum\u00e9 of the run\nmodel: {family: tfidf}\n".encode("latin-1"))
    with pytest.raises(UserInputError) as err:
        load_config(path)
    assert str(err.value) == f"{path}:2: not UTF-8 text: byte 0xe9 at column 4; save the file as UTF-8"


def test_sweep_expands_to_the_grid(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"task": "topic", "model": {"family": "tfidf"}, "sweep": {"model.C": [1, 10], "model.classifier": ["logreg", "linear_svm"]}},
    )
    combos = expand_sweep(load_config(path))
    assert [assignment for assignment, _ in combos] == [
        {"model.C": 1, "model.classifier": "logreg"},
        {"model.C": 1, "model.classifier": "linear_svm"},
        {"model.C": 10, "model.classifier": "logreg"},
        {"model.C": 10, "model.classifier": "linear_svm"},
    ]
    assert all(not child.sweep for _, child in combos)
    assert [(tfidf(c.model).C, tfidf(c.model).classifier) for _, c in combos][1] == (1.0, "linear_svm")


def test_a_key_given_twice_is_refused_with_both_places(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("task: topic\nmodel:\n  family: tfidf\n  C: 1.0\n  C: 50.0\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"(?s)not valid YAML.*line 3.*the key 'C' is given twice.*line 5"):
        load_config(path)
    # A second section too, which plain YAML loading would let replace the first unseen.
    path.write_text("task: topic\nmodel: {family: tfidf, C: 1.0}\nmodel: {family: tfidf, classifier: linear_svm}\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="the key 'model' is given twice"):
        load_config(path)


def test_an_override_of_a_swept_key_is_refused_rather_than_replaced_unseen(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "sweep": {"model.C": [1, 100]}})
    with pytest.raises(UserInputError, match=r"model\.C: the config sweeps it.*'sweep\.model\.C=\[\.\.\.\]'.*'sweep=\{\}'"):
        load_config(path, ["model.C=5"])
    assert tfidf(load_config(path, ["model.C=5", "sweep={}"]).model).C == 5
    assert load_config(path, ["sweep.model.C=[5]"]).sweep == {"model.C": [5]}


def test_an_override_inside_a_section_swept_whole_is_refused_rather_than_replaced_unseen(tmp_path: Path) -> None:
    sections = [{"family": "tfidf", "C": 1.0}, {"family": "tfidf", "C": 100.0}]
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "sweep": {"model": sections}})
    with pytest.raises(UserInputError, match=r"model\.C: the config sweeps the whole section model.*'sweep\.model=\[\.\.\.\]'"):
        load_config(path, ["model.C=5"])
    assert tfidf(load_config(path, ["model.C=5", "sweep={}"]).model).C == 5
    # A key beside the swept section is not in it.
    assert load_config(path, ["seed=7"]).seed == 7


@pytest.mark.parametrize("value", ["1234", "2024-01-05", "no"])
def test_text_that_yaml_reads_as_a_number_date_or_boolean_is_told_to_be_quoted(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match=r"run_name: Input should be a valid string .*quote it, run_name: '\.\.\.' in the file"):
        load_config(path, [f"run_name={value}"])
    assert load_config(path, [f'run_name="{value}"']).run_name == value


def test_sweep_over_an_unknown_key_fails(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "sweep": {"model.Cx": [1, 2]}})
    with pytest.raises(UserInputError, match="model.Cx"):
        expand_sweep(load_config(path))


def test_flatten_and_yaml_round_trip(tmp_path: Path) -> None:
    config = load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml")
    params = flatten(config.model_dump(mode="json"))
    assert params["model.C"] == tfidf(config.model).C
    assert params["evaluation.cv"] == "leave_one_group_out"
    assert ExperimentConfig.model_validate(yaml.safe_load(to_yaml(config))) == config


def test_the_logged_config_yaml_names_no_data_location_of_the_checkout_that_trained_it(tmp_path: Path) -> None:
    # It named the seed files and ../shared/datasets by this checkout's whole paths: trained again on a colleague's
    # checkout, it read this one's files (or none, on another machine), and its params and dataset differed.
    path = locations.CONFIGS_DIR / "stance" / "minilm_masked_written.yaml"
    config = load_config(path, ["data.source=benchmark", "data.name=semeval2016", "data.limit=300"])
    text = to_yaml(config)
    assert str(locations.SEGMENTS_PATH.parent) not in text and str(locations.SHARED_DATA_DIR) not in text
    logged = yaml.safe_load(text)
    assert logged["data"] == {"source": "benchmark", "name": "semeval2016", "split": None, "limit": 300}
    assert [extra["data"].get("data_dir") for extra in logged["extra_training"]] == [None, None, None]
    seeds = load_config(locations.CONFIGS_DIR / "topic" / "tfidf_logreg.yaml")
    assert yaml.safe_load(to_yaml(seeds))["data"] == {"source": "seeds"}
    # Other folders are named whole: they are where this machine keeps them.
    elsewhere = load_config(path, ["data.source=seeds", f"data.segments={tmp_path / 's.jsonl'}", "extra_training=[]"])
    assert yaml.safe_load(to_yaml(elsewhere))["data"] == {"source": "seeds", "segments": str(tmp_path / "s.jsonl")}
    logged_path = tmp_path / "config.yaml"
    logged_path.write_text(to_yaml(elsewhere), encoding="utf-8")
    assert load_config(logged_path) == elsewhere


def test_a_benchmark_in_the_data_directory_in_effect_leaves_it_to_the_default_and_another_is_named_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Compared with ../shared/datasets alone: with NEWS_DATA_DIR set, a benchmark read from it was logged by its whole
    # path (read there on another machine, whatever its own setting), and one read from ../shared/datasets was left to
    # the default (read from NEWS_DATA_DIR's folder when trained again).
    data_dir = (tmp_path / "datasets").resolve()
    monkeypatch.setattr(locations, "DEFAULT_DATA_DIR", data_dir)
    for folder, logged in ((data_dir, None), (locations.SHARED_DATA_DIR, str(locations.SHARED_DATA_DIR))):
        data = {"source": "benchmark", "name": "vast", "data_dir": str(folder)}
        config = load_config(write(tmp_path, {"task": "stance", "model": {"family": "tfidf"}, "data": data}))
        assert yaml.safe_load(to_yaml(config))["data"].get("data_dir") == logged


def test_a_data_file_of_the_project_is_logged_from_its_root_and_read_so_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was logged by its whole path: trained again on another checkout, the file read the first checkout's (or none,
    # on another machine), and the README told an override for the stance default's written pairs.
    config = load_config(locations.CONFIGS_DIR / "stance" / "minilm_masked_written.yaml")
    text = to_yaml(config)
    assert str(locations.PROJECT_ROOT) not in text
    written = yaml.safe_load(text)["extra_training"][2]["data"]
    assert written["path"] == "project:corpora/guideline_written/stance.jsonl"
    downloaded = tmp_path / "downloads" / "config.yaml"
    downloaded.parent.mkdir()
    downloaded.write_text(text, encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert load_config(downloaded) == config
    # On another checkout, the same file of that checkout.
    other = (tmp_path / "other").resolve()
    (other / "corpora" / "guideline_written").mkdir(parents=True)
    (other / "corpora" / "guideline_written" / "stance.jsonl").touch()
    monkeypatch.setattr(locations, "PROJECT_ROOT", other)
    extra = load_config(downloaded).extra_training[2].data
    assert isinstance(extra, JsonlData) and extra.path == other / "corpora" / "guideline_written" / "stance.jsonl"


def test_a_path_from_the_project_root_is_read_so_in_a_file_or_an_override_and_named_where_it_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    topic: dict[str, object] = {"task": "topic", "model": {"family": "tfidf"}}
    path = write(tmp_path, topic | {"data": {"source": "jsonl", "path": "project:seeds/segments.jsonl"}})
    data = load_config(path).data
    assert isinstance(data, JsonlData) and data.path == locations.SEGMENTS_PATH
    overridden = load_config(path, ["data.path=project:seeds/labels.jsonl"]).data
    assert isinstance(overridden, JsonlData) and overridden.path == locations.LABELS_PATH
    segments = load_config(path, ["data={source: seeds, segments: 'project:seeds/segments.jsonl'}"]).data
    assert isinstance(segments, SeedData) and segments.segments == locations.SEGMENTS_PATH
    for written, value in (("'project:'", "project:"), ("project:/tmp/rows.jsonl", "project:/tmp/rows.jsonl")):
        where = re.escape(f"{path} with data.path={written}: data.path: {value}")
        with pytest.raises(UserInputError, match=rf"^{where} names no path inside the project: write project:<path from"):
            load_config(path, [f"data.path={written}"])
    missing = write(tmp_path, topic | {"data": {"source": "jsonl", "path": "project:gone.jsonl"}})
    looked_for = locations.PROJECT_ROOT / "gone.jsonl"
    with pytest.raises(UserInputError, match=(
        rf"^{missing}: data.path: project:gone.jsonl is read from the project's root, as {looked_for}, "
        r"which does not exist in this checkout; give it on the command line \(data.path=PATH\)$"
    )):
        load_config(missing)


def test_a_jsonl_file_in_the_data_directory_is_logged_from_it_and_read_so_from_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was logged by its whole path: trained again where the data directory is elsewhere (another NEWS_DATA_DIR,
    # another checkout's ../shared/datasets), the logged config.yaml named a file that is not there.
    here, there = (tmp_path / "here").resolve(), (tmp_path / "there").resolve()
    for data_dir in (here, there):
        (data_dir / "mine").mkdir(parents=True)
        (data_dir / "mine" / "stance.jsonl").touch()
    monkeypatch.setattr(locations, "DEFAULT_DATA_DIR", here)
    mine = {"source": "jsonl", "path": str(here / "mine" / "stance.jsonl")}
    extras = [{"data": mine, "labels": {}}]
    tree: dict[str, object] = {"task": "stance", "model": {"family": "tfidf"}, "data": mine, "extra_training": extras}
    text = to_yaml(load_config(write(tmp_path, tree)))
    assert str(here) not in text
    logged = yaml.safe_load(text)
    assert [logged["data"]["path"], logged["extra_training"][0]["data"]["path"]] == ["datasets:mine/stance.jsonl"] * 2
    # Downloaded to a folder of neither and trained again where the data directory is another.
    monkeypatch.setattr(locations, "DEFAULT_DATA_DIR", there)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.chdir(downloads)
    again = load_config(write(downloads, logged))
    paths = [again.data, again.extra_training[0].data]
    assert [data.path for data in paths if isinstance(data, JsonlData)] == [there / "mine" / "stance.jsonl"] * 2
    # A data directory inside the project: the project's form, which any checkout reads alike.
    monkeypatch.setattr(locations, "PROJECT_ROOT", tmp_path.resolve())
    assert yaml.safe_load(to_yaml(again))["data"]["path"] == "project:there/mine/stance.jsonl"


def test_a_path_from_the_data_directory_is_read_so_in_an_override_and_refused_where_it_leaves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = (tmp_path / "datasets").resolve()
    (data_dir / "mine").mkdir(parents=True)
    monkeypatch.setattr(locations, "DEFAULT_DATA_DIR", data_dir)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.jsonl").touch()
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "data": {"source": "jsonl", "path": "rows.jsonl"}})
    overridden = load_config(path, ["data.path=datasets:mine/rows.jsonl"]).data
    assert isinstance(overridden, JsonlData) and overridden.path == data_dir / "mine" / "rows.jsonl"
    bad = ("'datasets:'", "datasets:/tmp/rows.jsonl", "datasets:../rows.jsonl", "datasets:mine/../../rows.jsonl")
    for written in bad:
        where = re.escape(f"{path} with data.path={written}: data.path: {written.strip(chr(39))}")
        with pytest.raises(UserInputError, match=(
            rf"^{where} names no path inside the data directory: write datasets:<path from the data directory>, as "
        )):
            load_config(path, [f"data.path={written}"])
    # A path of the project that leaves it is refused alike: another checkout has only its own folder.
    where = re.escape(f"{path} with data.path=project:../rows.jsonl: data.path: project:../rows.jsonl")
    with pytest.raises(UserInputError, match=rf"^{where} names no path inside the project: write project:<path from"):
        load_config(path, ["data.path=project:../rows.jsonl"])


def test_a_jsonl_file_from_the_data_directory_that_is_missing_is_named_with_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The error at reading named only the whole path: not what the file says, nor which data directory it read.
    data_dir = (tmp_path / "datasets").resolve()
    data_dir.mkdir()
    monkeypatch.setattr(locations, "DEFAULT_DATA_DIR", data_dir)
    monkeypatch.setenv("NEWS_DATA_DIR", str(data_dir))
    extra = {"data": {"source": "jsonl", "path": "datasets:mine/gone.jsonl"}, "labels": {}}
    path = write(tmp_path, {"task": "stance", "model": {"family": "tfidf"}, "extra_training": [extra]})
    looked_for = data_dir / "mine" / "gone.jsonl"
    with pytest.raises(UserInputError, match=re.escape(
        f"{path}: extra_training.0.data.path: datasets:mine/gone.jsonl is read from the data directory, as {looked_for}, "
        f"which does not exist in the data directory {data_dir} (NEWS_DATA_DIR={data_dir}); give it on the command "
        "line (extra_training.0.data.path=PATH)"
    )):
        load_config(path)
    monkeypatch.delenv("NEWS_DATA_DIR")
    with pytest.raises(UserInputError, match=r"\(NEWS_DATA_DIR is not set: \.\./shared/datasets beside the project\); give"):
        load_config(path)
    # Given again on the command line, it is not looked for there.
    given = load_config(path, [f"extra_training.0.data.path={tmp_path / 'rows.jsonl'}"]).extra_training[0].data
    assert isinstance(given, JsonlData) and given.path == tmp_path / "rows.jsonl"


def test_seed_files_in_the_data_directory_are_logged_from_it_and_read_so_from_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # They were logged by their whole paths, as JSONL files there once were: trained again where the data directory is
    # elsewhere, the logged config.yaml named files that are not there.
    here, there = (tmp_path / "here").resolve(), (tmp_path / "there").resolve()
    for data_dir in (here, there):
        (data_dir / "mine").mkdir(parents=True)
        for seed_file in (locations.SEGMENTS_PATH, locations.LABELS_PATH):
            shutil.copy(seed_file, data_dir / "mine" / seed_file.name)
    monkeypatch.setattr(locations, "DEFAULT_DATA_DIR", here)
    seeds = {"source": "seeds", "segments": str(here / "mine" / "segments.jsonl"), "labels": str(here / "mine" / "labels.jsonl")}
    text = to_yaml(load_config(write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "data": seeds})))
    assert str(here) not in text
    logged = yaml.safe_load(text)
    assert logged["data"] == {"source": "seeds", **{key: f"datasets:mine/{key}.jsonl" for key in ("segments", "labels")}}
    # Downloaded to a folder of neither and trained again where the data directory is another: its copies.
    monkeypatch.setattr(locations, "DEFAULT_DATA_DIR", there)
    monkeypatch.setenv("NEWS_DATA_DIR", str(there))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.chdir(downloads)
    again = load_config(write(downloads, logged)).data
    assert isinstance(again, SeedData)
    assert (again.segments, again.labels) == (there / "mine" / "segments.jsonl", there / "mine" / "labels.jsonl")
    # A copy missing there is named with the data directory when the config is read, not by the reader inside a run.
    (there / "mine" / "labels.jsonl").unlink()
    with pytest.raises(UserInputError, match=re.escape(
        f"{downloads / 'config.yaml'}: data.labels: datasets:mine/labels.jsonl is read from the data directory, as "
        f"{there / 'mine' / 'labels.jsonl'}, which does not exist in the data directory {there} (NEWS_DATA_DIR={there}); "
        "give it on the command line (data.labels=PATH)"
    )):
        load_config(downloads / "config.yaml")


def test_an_encoder_folder_of_the_project_is_logged_from_its_root_and_read_so_on_another_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_encoder: Path
) -> None:
    # It was logged by its whole path, as data files once were: trained again on a colleague's checkout, the logged
    # config.yaml read the first checkout's folder (or none, on another machine).
    checkout, other = (tmp_path / "checkout").resolve(), (tmp_path / "other").resolve()
    for root in (checkout, other):
        shutil.copytree(tiny_encoder, root / "models" / "tiny")
    (checkout / "configs").mkdir()
    monkeypatch.setattr(locations, "PROJECT_ROOT", checkout)
    outside = str((tmp_path / "outside").resolve())  # kept whole: it is where this machine keeps it
    configs = checkout / "configs"
    frozen = load_config(write(configs, {"task": "topic", "model": {"family": "frozen_encoder", "encoder": "../models/tiny"}}))
    members = [{"family": "frozen_encoder", "encoder": "../models/tiny"}, {"family": "frozen_encoder"}]
    sweep = {"model.members.1.encoder": ["all-MiniLM-L6-v2", "../models/tiny", outside]}
    swept = load_config(write(configs, {"task": "topic", "model": {"family": "ensemble", "members": members}, "sweep": sweep}))
    texts = [to_yaml(config) for config in (frozen, swept, *(child for _, child in expand_sweep(swept)))]
    assert not any(str(checkout) in text for text in texts)
    logged = [yaml.safe_load(text) for text in texts]
    assert logged[0]["model"]["encoder"] == "project:models/tiny"
    assert [member["encoder"] for member in logged[1]["model"]["members"]] == ["project:models/tiny", "all-MiniLM-L6-v2"]
    assert logged[1]["sweep"] == {"model.members.1.encoder": ["all-MiniLM-L6-v2", "project:models/tiny", outside]}
    assert [tree["model"]["members"][1]["encoder"] for tree in logged[2:]] == ["all-MiniLM-L6-v2", "project:models/tiny", outside]

    # Downloaded to a folder of neither checkout and trained again on the other: that checkout's folder.
    monkeypatch.setattr(locations, "PROJECT_ROOT", other)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.chdir(downloads)
    again = [load_config(write(downloads, tree)) for tree in logged[:2]]
    mine = str(other / "models" / "tiny")
    assert again[0].model.encoders() == {"model.encoder": mine}
    assert resolve_encoder(mine) == other / "models" / "tiny"  # the folder is a model the encoder loads
    assert again[1].model.encoders() == {"model.members.0.encoder": mine, "model.members.1.encoder": "all-MiniLM-L6-v2"}
    assert again[1].sweep == {"model.members.1.encoder": ["all-MiniLM-L6-v2", mine, outside]}


def test_an_encoder_folder_from_the_project_root_is_read_so_in_an_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = (tmp_path / "checkout").resolve()
    tiny = root / "models" / "tiny"
    tiny.mkdir(parents=True)
    monkeypatch.setattr(locations, "PROJECT_ROOT", root)
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, {"task": "topic", "model": {"family": "frozen_encoder"}})
    assert load_config(path, ["model.encoder=project:models/tiny"]).model.encoders() == {"model.encoder": str(tiny)}
    # Read from the project's root, where a relative override is read from the current folder.
    swept = load_config(path, ["sweep.model.encoder=[all-MiniLM-L6-v2, project:models/tiny, models/tiny]"])
    assert swept.sweep == {"model.encoder": ["all-MiniLM-L6-v2", str(tiny), str(tmp_path / "models" / "tiny")]}
    for written, value in (("'project:'", "project:"), ("project:/tmp/mine", "project:/tmp/mine")):
        where = re.escape(f"{path} with model.encoder={written}: model.encoder: {value}")
        with pytest.raises(UserInputError, match=rf"^{where} names no path inside the project: write project:<path from"):
            load_config(path, [f"model.encoder={written}"])


def test_an_encoder_folder_from_the_project_root_that_is_missing_is_named_with_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The encoder's own error named only the whole folder, after the data was read: not what the file says.
    root = (tmp_path / "checkout").resolve()
    for folder in (root, tmp_path / "members", tmp_path / "swept"):
        folder.mkdir()
    monkeypatch.setattr(locations, "PROJECT_ROOT", root)
    frozen = {"family": "frozen_encoder", "encoder": "project:models/gone"}
    path = write(tmp_path, {"task": "topic", "model": frozen})
    looked_for = root / "models" / "gone"
    with pytest.raises(UserInputError, match=(
        rf"^{path}: model.encoder: project:models/gone is read from the project's root, as {looked_for}, which does not "
        r"exist in this checkout; give it on the command line \(model.encoder=PATH\)$"
    )):
        load_config(path)
    ensemble_model = {"family": "ensemble", "members": [{"family": "tfidf"}, frozen]}
    members = write(tmp_path / "members", {"task": "topic", "model": ensemble_model})
    with pytest.raises(UserInputError, match=rf"^{members}: model.members.1.encoder: project:models/gone .* as {looked_for},"):
        load_config(members)
    sweep = {"model.encoder": ["project:models/gone"]}
    swept = write(tmp_path / "swept", {"task": "topic", "model": {"family": "frozen_encoder"}, "sweep": sweep})
    given_again = r"\(sweep.model.encoder=\[PATH, \.\.\.\]\)$"  # a swept key takes a list
    with pytest.raises(UserInputError, match=rf"^{swept}: sweep.model.encoder: project:models/gone .* {given_again}"):
        load_config(swept)
    # Given again on the command line, it is not looked for in the file.
    assert load_config(path, ["model.encoder=all-MiniLM-L6-v2"]).model.encoders() == {"model.encoder": "all-MiniLM-L6-v2"}


def test_an_encoder_folder_in_a_swept_section_is_read_and_logged_as_a_swept_encoder_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sweep may give whole sections (`model`, `model.members`): the encoder folders in them were read from the
    # current folder rather than the config's, and neither read nor logged from the project's root.
    checkout, other = (tmp_path / "checkout").resolve(), (tmp_path / "other").resolve()
    for root in (checkout, other):
        (root / "models" / "tiny").mkdir(parents=True)
    configs = checkout / "configs"
    configs.mkdir()
    monkeypatch.setattr(locations, "PROJECT_ROOT", checkout)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    frozen = {"family": "frozen_encoder", "encoder": "../models/tiny"}
    members = [{"family": "tfidf"}, frozen]
    models = [frozen, {"family": "ensemble", "members": members}]
    model_swept: dict[str, object] = {"task": "topic", "model": {"family": "tfidf"}, "sweep": {"model": models}}
    ensemble_model = {"family": "ensemble", "members": [{"family": "tfidf"}, {"family": "frozen_encoder"}]}
    sweep_members = {"model.members": [members, members[::-1]]}
    members_swept: dict[str, object] = {"task": "topic", "model": ensemble_model, "sweep": sweep_members}
    swept = [load_config(write(configs, tree)) for tree in (model_swept, members_swept)]
    tiny = str(checkout / "models" / "tiny")
    assert [child.model.encoders() for config in swept for _, child in expand_sweep(config)] == [
        {"model.encoder": tiny},
        {"model.members.1.encoder": tiny},
        {"model.members.1.encoder": tiny},
        {"model.members.0.encoder": tiny},
    ]
    texts = [to_yaml(config) for config in swept]
    assert not any(str(checkout) in text for text in texts)
    logged = [yaml.safe_load(text) for text in texts]
    from_root = {"family": "frozen_encoder", "encoder": "project:models/tiny"}
    assert logged[0]["sweep"] == {"model": [from_root, {"family": "ensemble", "members": [{"family": "tfidf"}, from_root]}]}
    assert logged[1]["sweep"] == {"model.members": [[{"family": "tfidf"}, from_root], [from_root, {"family": "tfidf"}]]}

    # Downloaded to a folder of neither checkout and trained again on the other: that checkout's folder.
    monkeypatch.setattr(locations, "PROJECT_ROOT", other)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    mine = str(other / "models" / "tiny")
    again = [load_config(write(downloads, tree)) for tree in logged]
    assert [child.model.encoders() for config in again for _, child in expand_sweep(config)] == [
        {"model.encoder": mine},
        {"model.members.1.encoder": mine},
        {"model.members.1.encoder": mine},
        {"model.members.0.encoder": mine},
    ]
    # One missing there is named by its sweep key, which the command line gives whole.
    shutil.rmtree(other / "models" / "tiny")
    with pytest.raises(UserInputError, match=re.escape(
        f"{downloads / 'config.yaml'}: sweep.model: project:models/tiny is read from the project's root, as {mine}, which "
        "does not exist in this checkout; give it on the command line (sweep.model=[...])"
    )):
        load_config(write(downloads, logged[0]))


def test_flatten_keeps_a_mapping_whole_where_mlflow_refuses_a_key_of_it_in_a_param_name() -> None:
    tree = {"extra_training": [{"labels": {"war (armed)": "conflict", "talks": "diplomacy"}, "weight": 1.0}]}
    assert flatten(tree) == {
        "extra_training.0.labels": {"war (armed)": "conflict", "talks": "diplomacy"},
        "extra_training.0.weight": 1.0,
    }
    assert flatten({"labels": {"pro": "favor"}}) == {"labels.pro": "favor"}


def test_parse_override_reads_yaml_values() -> None:
    assert parse_override("a.b=0.5") == ("a.b", 0.5)
    assert parse_override("a=[1, 2]") == ("a", [1, 2])
    assert parse_override("a=text") == ("a", "text")


ENSEMBLE = {"task": "stance", "model": {"family": "ensemble", "members": [{"family": "tfidf"}, {"family": "tfidf", "C": 2}]}}


def test_ensemble_members_take_overrides_sweeps_and_flat_params_by_index(tmp_path: Path) -> None:
    path = write(tmp_path, {**ENSEMBLE, "sweep": {"model.members.0.C": [0.5, 4]}})
    config = load_config(path, ["model.members.1.classifier=linear_svm"])
    assert tfidf(ensemble(config.model).members[1]).classifier == "linear_svm"
    assert [tfidf(ensemble(child.model).members[0]).C for _, child in expand_sweep(config)] == [0.5, 4.0]
    params = flatten(config.model_dump(mode="json", exclude={"sweep"}))
    assert (params["model.members.0.family"], params["model.members.1.C"]) == ("tfidf", 2.0)
    assert ExperimentConfig.model_validate(yaml.safe_load(to_yaml(config))) == config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.members.2.C=1", r"override 'model.members.2.C': model.members is a list of 2; '2' is not an index in it"),
        ("model.members.1.Cee=1", r"model.members: Value error, member 1 \(tfidf\): Cee: Extra inputs are not permitted$"),
        ("model.weights=[1]", r"  model: Value error, weights: give one per member \(2\), got 1"),
        ("model.members.0.family=pair_features", r"with model.members.0.family=pair_features: invalid config\n  the pair_features family does not do topic \(it does: stance\)"),
    ],
)
def test_bad_ensemble_overrides_name_the_member(tmp_path: Path, override: str, message: str) -> None:
    path = write(tmp_path, {**ENSEMBLE, "task": "topic"})
    with pytest.raises(UserInputError, match=message):
        load_config(path, [override])


@pytest.mark.parametrize(
    ("config", "override", "level"),
    [
        ({"task": "stance", "model": {"family": "tfidf"}}, "extra_training.0.weight=2", "extra_training"),
        ({"task": "stance", "model": {"family": "tfidf"}, "extra_training": None}, "extra_training.1.weight=2", "extra_training"),
        (ENSEMBLE, "model.weights.0=2", "model.weights"),
    ],
)
def test_an_override_of_an_entry_of_a_list_the_config_lacks_names_it_and_how_to_add_one(
    tmp_path: Path, config: dict[str, object], override: str, level: str
) -> None:
    # It said only "extra_training: Input should be a valid list": the override had made a mapping {"0": {...}} there.
    index = override.partition("=")[0].removeprefix(f"{level}.").split(".")[0]
    with pytest.raises(UserInputError) as raised:
        load_config(write(tmp_path, config), [override])
    assert str(raised.value).endswith(
        f"invalid config\n  {level}: override '{override}' sets entry {index} of {level}, which the config does not have: "
        f"give the whole list ('{level}=[...]', here or in the file; `python -m training config-keys` says what it takes)"
    )


def test_a_mapping_the_config_lacks_takes_a_key_made_of_digits(tmp_path: Path) -> None:
    # Only a list is indexed: a new mapping's key may be a number written as text.
    path = write(tmp_path, {"task": "stance", "model": {"family": "tfidf"}})
    assert load_config(path, ["target_aliases.1984=[Orwell]"]).target_aliases == {"1984": ["Orwell"]}


def test_an_override_into_a_value_or_an_error_inside_a_list_item_names_the_keys_as_written(tmp_path: Path) -> None:
    topic = write(tmp_path, {"task": "topic", "model": {"family": "tfidf", "word_ngrams": [1, 2]}})
    with pytest.raises(UserInputError, match=r"override 'model.word_ngrams.0.x': model.word_ngrams.0 is a value \(1\), not a section"):
        load_config(topic, ["model.word_ngrams.0.x=3"])
    stance = write(tmp_path, {"task": "stance", "model": {"family": "tfidf"}})
    extra = "extra_training=[{data: {source: benchmark, name: vastt}, labels: {pro: favor}}]"
    # The data section's union tag (`benchmark`) is not a key: the message names the key the user wrote.
    with pytest.raises(UserInputError, match=r"\n  extra_training.0.data.name: Input should be 'fnc1'"):
        load_config(stance, [extra])


def test_a_section_without_its_kind_is_told_the_choices(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"C": 1}})
    with pytest.raises(UserInputError, match=r"\n  model: give its family: one of 'descriptions', .*'tfidf'"):
        load_config(path)
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match=r"\n  data: give its source: one of 'seeds', 'jsonl', 'benchmark'"):
        load_config(path, ["data.segments=x.jsonl"])


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        # The config's data is the default seeds: a benchmark's key on its own made a data section of that key alone, and
        # the message's advice (give its source: seeds) led to a second error (data.limit: Extra inputs are not permitted).
        (["data.limit=5"], " (limit: a key of source 'benchmark' only)"),
        (["data.path=x.jsonl"], " (path: a key of source 'jsonl' only)"),
        (["data.limit=5", "data.path=x.jsonl"], ""),  # no source takes both
    ],
)
def test_a_section_without_its_kind_is_told_which_kind_takes_its_keys(
    tmp_path: Path, overrides: list[str], said: str
) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError) as raised:
        load_config(path, overrides)
    assert str(raised.value).splitlines()[1] == f"  data: give its source: one of 'seeds', 'jsonl', 'benchmark'{said}"


def test_an_override_given_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match=r"override\(s\) model\.C given more than once"):
        load_config(path, ["model.C=1", "seed=3", "model.C=2"])
    assert tfidf(load_config(path, ["model.C=2", "seed=3"]).model).C == 2
    # A section given whole beside one of its keys sets that key twice too.
    with pytest.raises(UserInputError, match=r"override\(s\) model, model\.C given more than once"):
        load_config(path, ["model.C=2", "model={family: tfidf, C: 1}"])


def test_a_merge_key_is_read_as_yaml_reads_it_and_its_keys_may_be_overridden(tmp_path: Path) -> None:
    # `<<: *anchor` copies a section's keys, which the section's own then replace: no key is given twice there.
    path = tmp_path / "merged.yaml"
    path.write_text(
        "task: topic\nmodel:\n  family: ensemble\n  members:\n    - &logreg {family: tfidf, C: 2.0, min_df: 2}\n"
        "    - <<: *logreg\n      C: 5.0\n      classifier: linear_svm\n",
        encoding="utf-8",
    )
    first, second = (tfidf(member) for member in ensemble(load_config(path).model).members)
    assert (first.C, first.min_df, first.classifier) == (2.0, 2, "logreg")
    assert (second.C, second.min_df, second.classifier) == (5.0, 2, "linear_svm")
    # A key given twice beside a merge key is still refused.
    path.write_text(
        "task: topic\nmodel:\n  family: ensemble\n  members:\n    - &logreg {family: tfidf, C: 2.0}\n"
        "    - <<: *logreg\n      C: 5.0\n      C: 6.0\n",
        encoding="utf-8",
    )
    with pytest.raises(UserInputError, match=r"(?s)not valid YAML.*the key 'C' is given twice.*line 8"):
        load_config(path)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("evaluation.parallel_folds=true", "evaluation.parallel_folds"),  # a switch, it seems: 1 would fit folds one at a time
        ("model.C=yes", "model.C"),
        ("seed=on", "seed"),
        ("model.word_ngrams=[true, 2]", "model.word_ngrams.0"),
        ("model.members.1.C=true", "model.members.1.C"),
        ("sweep.model.C=[1, true]", "model.C"),
    ],
)
def test_a_boolean_given_for_a_number_is_refused_rather_than_read_as_1(tmp_path: Path, override: str, key: str) -> None:
    # YAML reads true, yes and on as true, which a number field would take as 1 (false, no, off as 0) unseen.
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    if override.startswith("model.members"):
        path = write(tmp_path, {"task": "topic", "model": {"family": "ensemble", "members": [{"family": "tfidf"}] * 2}})
    with pytest.raises(UserInputError, match=rf"  {re.escape(key)}: Input should be a number, not true or false"):
        expand_sweep(load_config(path, [override]))
    # A boolean where one belongs, and a number there, are taken.
    assert load_config(path, ["model.sublinear_tf=false" if "members" not in override else "model.members.0.sublinear_tf=false"])


def test_a_config_whose_path_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    # Its name becomes the run's name and `config_path` tag, which MLflow could not encode (a traceback, the run unmade).
    path = tmp_path / os.fsdecode(b"caf\xe9.yaml")  # a name saved in Latin-1
    path.write_text("task: topic\nmodel: {family: tfidf}\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"caf\ufffd\.yaml: its path is not UTF-8 \(byte 0xe9\)"):
        load_config(path)
