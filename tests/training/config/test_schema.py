"""training/config/schema.py: what an experiment config may say: its defaults from the task and data, and the
settings refused before any training (seed range, neighbour weight, target aliases, registered names, parallel folds,
sweeps)."""

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from classifiers.errors import UserInputError
from training import locations
from training.config.resolve import expand_sweep, load_config
from training.config.schema import ExperimentConfig


def write(tmp_path: Path, tree: dict[str, object]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_outside_what_numpy_takes_is_refused_before_training(tmp_path: Path, seed: int) -> None:
    # NumPy's generators take 0 to 2**32 - 1: another seed failed inside the run, in a traceback.
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match=r"seed: Input should be (greater|less) than or equal to"):
        load_config(path, [f"seed={seed}"])
    assert load_config(path, [f"seed={2**32 - 1}"]).seed == 2**32 - 1


def test_a_neighbour_weight_is_a_topic_share_below_one(tmp_path: Path) -> None:
    topic = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    assert load_config(topic, ["neighbour_weight=0.3"]).neighbour_weight == 0.3
    with pytest.raises(UserInputError, match=r"neighbour_weight: Input should be less than 1 \(got 1\)"):
        load_config(topic, ["neighbour_weight=1"])
    stance = write(tmp_path, {"task": "stance", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match="neighbour_weight is for topic models"):
        load_config(stance, ["neighbour_weight=0.3"])


@pytest.mark.parametrize(
    "model",
    [
        {"family": "finetune"},
        {"family": "setfit", "descriptions": {"conflict": ["War."], "diplomacy": ["Talks."]}},
        {"family": "ensemble", "members": [{"family": "tfidf"}, {"family": "finetune"}]},
    ],
    ids=["finetune", "setfit", "an ensemble with such a member"],
)
def test_row_weights_for_a_family_that_cannot_take_them_are_refused_as_the_config_is_read(
    tmp_path: Path, model: dict[str, object]
) -> None:
    # They were refused by the model in the first fold, inside a started run, which then ended FAILED.
    extra = tmp_path / "extra.jsonl"
    source = {"data": {"source": "jsonl", "path": str(extra)}, "labels": {"conflict": "conflict"}}
    path = write(tmp_path, {"task": "topic", "model": model, "extra_training": [source, {**source, "weight": 0.5}]})
    with pytest.raises(UserInputError, match=r"extra_training.1.weight: the \w+ family's models do not weight rows"):
        load_config(path)
    assert load_config(path, ["extra_training.1.weight=1"]).extra_training[1].weight == 1
    assert load_config(path, ["model={family: tfidf}"]).extra_training[1].weight == 0.5


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["model.pair_embedding=true"], "model.pair_embedding is a setting"),
        (["model.matching_features=true", "model.target_mask=X"], "model.target_mask, model.matching_features are settings"),
    ],
)
def test_a_stance_setting_in_a_topic_config_is_refused_as_the_config_is_read(
    tmp_path: Path, overrides: list[str], named: str
) -> None:
    # It was refused by the model inside a started run, which then ended FAILED.
    model = {"family": "frozen_encoder", "stance_input": "separate"}
    topic = write(tmp_path, {"task": "topic", "model": model})
    with pytest.raises(UserInputError, match=f"{named} for stance models: a topic model has no target"):
        load_config(topic, overrides)
    members = [{"family": "tfidf"}, model]
    ensemble = write(tmp_path, {"task": "topic", "model": {"family": "ensemble", "members": members}})
    with pytest.raises(UserInputError, match="model.members.1.pair_embedding is a setting for stance models"):
        load_config(ensemble, ["model.members.1.pair_embedding=true"])
    stance = write(tmp_path, {"task": "stance", "model": model})
    assert load_config(stance, overrides).model.stance_settings()


def test_target_aliases_are_stance_names_a_text_could_match(tmp_path: Path) -> None:
    stance = write(tmp_path, {"task": "stance", "model": {"family": "tfidf"}})
    assert load_config(stance, ["target_aliases={Russia: [Moscow, Kremlin]}"]).target_aliases == {"Russia": ["Moscow", "Kremlin"]}
    with pytest.raises(UserInputError, match=r"target_aliases.Russia: give at least one alias"):
        load_config(stance, ["target_aliases={Russia: []}"])
    with pytest.raises(UserInputError, match=r"target_aliases.Russia: '\?\?' has no word a text could match"):
        load_config(stance, ["target_aliases={Russia: [Moscow, '??']}"])
    with pytest.raises(UserInputError, match=r"the target '--' has no word"):
        load_config(stance, ["target_aliases={'--': [Moscow]}"])
    topic = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match="target_aliases are for stance models"):
        load_config(topic, ["target_aliases={Russia: [Moscow]}"])


def test_defaults_come_from_the_task(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"task": "stance", "model": {"family": "tfidf"}}))
    assert config.registered_model == "news-stance"
    assert config.experiment_name == "stance-seeds"


def test_a_model_of_other_data_is_not_registered_as_the_services_model_unless_named_so(tmp_path: Path) -> None:
    # A copied config leaves registered_model out: news-topic is the service's model of the seed corpus.
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    jsonl = load_config(path, ["data.source=jsonl", "data.path=desk.jsonl"])
    benchmark = load_config(path, ["data.source=benchmark", "data.name=bbc_news"])
    named = load_config(path, ["data.source=jsonl", "data.path=desk.jsonl", "registered_model=news-topic"])

    assert (jsonl.registered_model, jsonl.experiment_name) == ("topic-desk", "topic-desk")
    assert benchmark.registered_model == "topic-bbc_news"
    assert named.registered_model == "news-topic"


def test_a_model_of_other_files_in_the_seeds_layout_is_named_after_their_folder(tmp_path: Path) -> None:
    # What `ingest --out-dir` writes: such a model took news-topic and its champion, beside the seed corpus's runs.
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    ingested = load_config(path, ["data.source=seeds", "data.segments=desk/segments.jsonl", "data.labels=desk/labels.jsonl"])
    relabelled = load_config(path, ["data.source=seeds", "data.labels=labels_v2.jsonl"])
    seeds = load_config(path, ["data.source=seeds", f"data.segments={locations.SEGMENTS_PATH}"])

    assert (ingested.dataset_name, ingested.registered_model, ingested.experiment_name) == ("desk", "topic-desk", "topic-desk")
    assert (relabelled.registered_model, relabelled.experiment_name) == ("topic-labels_v2", "topic-labels_v2")
    assert (seeds.registered_model, seeds.experiment_name) == ("news-topic", "topic-seeds")
    made = ExperimentConfig.model_validate(
        {"task": "stance", "model": {"family": "tfidf"}, "data": {"source": "seeds", "segments": str(tmp_path / "desk" / "s.jsonl")}}
    )
    assert (made.registered_model, made.experiment_name) == ("stance-desk", "stance-desk")


@pytest.mark.parametrize(
    ("name", "message"),
    [("a/b", "Names cannot contain '/' or ':'"), ("a:b", "Names cannot contain '/' or ':'"), ("news-topic.promotion-lock", "promotion locks")],
)
def test_a_registered_model_name_the_registry_or_the_promotions_would_refuse_is_refused_before_training(
    tmp_path: Path, name: str, message: str
) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}})
    with pytest.raises(UserInputError, match=rf"registered_model: .*{re.escape(message)}"):
        load_config(path, [f"registered_model={name}"])


def test_parallel_folds_are_for_models_that_fit_in_threads(tmp_path: Path) -> None:
    frozen = write(tmp_path, {"task": "stance", "model": {"family": "frozen_encoder", "stance_input": "separate"}})
    assert load_config(frozen, ["evaluation.parallel_folds=2"]).evaluation.parallel_folds == 2
    with pytest.raises(UserInputError, match=r"evaluation.parallel_folds: Input should be greater than 0"):
        load_config(frozen, ["evaluation.parallel_folds=0"])
    finetune = write(tmp_path, {"task": "stance", "model": {"family": "finetune"}})
    with pytest.raises(UserInputError, match="the finetune family's models are fitted one at a time"):
        load_config(finetune, ["evaluation.parallel_folds=2"])
    # an ensemble is named as itself, not by its first member (whose own models could be fitted side by side)
    ensemble = write(tmp_path, {"task": "stance", "model": {"family": "ensemble", "members": [{"family": "tfidf"}, {"family": "tfidf"}]}})
    with pytest.raises(UserInputError, match="the ensemble family's models are fitted one at a time"):
        load_config(ensemble, ["evaluation.parallel_folds=2"])


@pytest.mark.parametrize("key", ["data.path", "extra_training.0.weight", "task", "registered_model", "evaluation.cv"])
def test_a_sweep_varies_only_what_its_runs_can_differ_in(tmp_path: Path, key: str) -> None:
    # Its runs share the data, the extra sources, the splits and the registered name: each child would log a swept
    # value of these while all trained the same.
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "sweep": {key: ["a", "b"]}})
    with pytest.raises(UserInputError, match=rf"sweep: {re.escape(key)} cannot be swept: the runs of a sweep vary only model\.\*, seed, neighbour_weight"):
        load_config(path)


@pytest.mark.parametrize("cv", ["holdout", "group_kfold", "disjoint_holdout"])
def test_the_seed_is_not_swept_where_it_draws_the_split_the_children_are_scored_on(tmp_path: Path, cv: str) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "evaluation": {"cv": cv}, "sweep": {"seed": [1, 2]}})
    with pytest.raises(UserInputError, match=rf"sweep: seed cannot be swept with evaluation.cv={cv}, whose split it draws"):
        load_config(path)
    assert load_config(path, ["evaluation.cv=leave_one_group_out"]).sweep == {"seed": [1, 2]}


def test_a_sweep_value_listed_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "sweep": {"model.C": [1, 10, 1]}})
    with pytest.raises(UserInputError, match=r"sweep: model\.C lists a value more than once"):
        load_config(path)


def test_sweep_values_written_apart_and_read_as_one_are_refused(tmp_path: Path) -> None:
    # 1 and 1.0 trained two children of the same settings under two names.
    path = write(tmp_path, {"task": "topic", "model": {"family": "tfidf"}, "sweep": {"model.C": [1, 10, 1.0], "seed": [7, 8]}})
    with pytest.raises(UserInputError, match=r"^sweep: model\.C=1, seed=7 and model\.C=1\.0, seed=7 are the same settings once read: list each value once$"):
        expand_sweep(load_config(path))


def test_a_config_made_directly_takes_its_names_from_the_task_and_its_data() -> None:
    seeds = ExperimentConfig.model_validate({"task": "topic", "model": {"family": "tfidf"}})
    assert (seeds.dataset_name, seeds.registered_model, seeds.experiment_name) == ("seeds", "news-topic", "topic-seeds")
    bbc = ExperimentConfig.model_validate(
        {"task": "topic", "model": {"family": "tfidf"}, "data": {"source": "benchmark", "name": "bbc_news"}, "experiment": "bbc"}
    )
    assert (bbc.dataset_name, bbc.registered_model, bbc.experiment_name) == ("bbc_news", "topic-bbc_news", "bbc")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"registered_model": ""}, "registered_model must not be empty"),
        ({"sweep": {"model.C": [1, 10], "seed": []}}, "sweep values must be non-empty lists: seed"),
    ],
)
def test_an_empty_registered_name_or_sweep_list_is_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ExperimentConfig.model_validate({"task": "topic", "model": {"family": "tfidf"}, **settings})
