"""The experiment config: frozen pydantic models that reject unknown keys."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from classifiers.config import FamilyConfig, Strict, stance_settings_problem
from classifiers.registry import families, get_family
from classifiers.store import DEFAULT_REGISTERED_NAMES, LOCK_SUFFIX
from training import locations
from training.mlflow_names import model_name_problem

_WORD = re.compile(r"\w")

# --- data -------------------------------------------------------------------------------------


# How a data file may be written, as `config-keys` says it.
_PATH_FORMS = (
    "Relative to the config's folder (in an override: to the current one), or from the project's root as "
    "project:<path>, or from the data directory (NEWS_DATA_DIR) as datasets:<path>: as a logged config.yaml names a "
    "file of the project or of the data directory."
)


class SeedData(Strict):
    """The project's labelled seed corpus."""

    source: Literal["seeds"] = "seeds"
    segments: Path = Field(
        locations.SEGMENTS_PATH,
        description=f"The segments (JSONL: segment_id, article_id, text). {_PATH_FORMS}",
    )
    labels: Path = Field(locations.LABELS_PATH, description=f"Their labels (JSONL: segment_id, topic, stances). {_PATH_FORMS}")


class JsonlData(Strict):
    """Any labelled JSONL file: `text`, `label`, `target` (stance) and an optional group column."""

    source: Literal["jsonl"]
    path: Path = Field(description=f"The file. {_PATH_FORMS}")
    group_column: str | None = Field(None, description="Rows sharing a value stay on one side of every split.")
    labels: list[str] | None = Field(
        None, description="The labels the data may use: a row with any other is refused (default: any string)."
    )


class BenchmarkData(Strict):
    """A public benchmark read in its official layout from a data directory."""

    source: Literal["benchmark"]
    name: Literal["fnc1", "semeval2016", "bbc_news", "vast"] = Field(description="The benchmark (its folder under data_dir).")
    data_dir: Path = Field(locations.DEFAULT_DATA_DIR, description="The folder of the public datasets (NEWS_DATA_DIR).")
    split: str | None = Field(None, description="Default: the dataset's training split (train; all for bbc_news).")
    limit: PositiveInt | None = Field(
        None,
        description=(
            "Keep N groups, chosen by a hash of their id (quick runs; a smaller limit keeps a subset of a larger one). "
            "Not made champion by promote: auto."
        ),
    )


DataConfig = Annotated[SeedData | JsonlData | BenchmarkData, Field(discriminator="source")]


class ExtraTraining(Strict):
    """Labelled data added to the training side of every split and to the final fit, never evaluated on:
    e.g. a public stance corpus under the experiment's labels (VAST pro -> favor)."""

    data: Annotated[JsonlData | BenchmarkData, Field(discriminator="source")]
    labels: dict[str, str | None] = Field(
        description="Every label of the source -> a label of the experiment's data (null: leave those rows out)."
    )
    weight: PositiveFloat = Field(1.0, description="Weight of each of its rows relative to a row of the experiment's data.")


# --- models -----------------------------------------------------------------------------------


# Every registered family's config: a family is added in classifiers/families/, not here. Built at run time, so a
# type checker knows it by the base of every family's config.
if TYPE_CHECKING:
    ModelConfig: TypeAlias = FamilyConfig
else:
    ModelConfig = Annotated[Union[tuple(family.config for family in families())], Field(discriminator="family")]  # noqa: UP007


# --- evaluation and the experiment ------------------------------------------------------------


# The evaluation settings each `cv` reads (training.evaluation.cross_validation.group_splits).
SPLIT_SETTINGS: dict[str, tuple[str, ...]] = {
    "leave_one_group_out": (),
    "group_kfold": ("n_splits",),
    "story_kfold": ("n_splits",),
    "holdout": ("holdout_fraction",),
    "disjoint_holdout": ("holdout_fraction",),
    "story_holdout": ("holdout_fraction",),
}


class EvaluationConfig(Strict):
    """How models are compared: grouped cross-validation or a grouped hold-out split."""

    cv: Literal["leave_one_group_out", "group_kfold", "holdout", "disjoint_holdout", "story_holdout", "story_kfold"] = Field(
        "leave_one_group_out",
        description=(
            "disjoint_holdout (stance): hold out a share of the groups and a share of the targets; test on pairs "
            "of both, train on pairs of neither, so every tested text and target is unseen. "
            "story_holdout / story_kfold: hold out whole stories, where a row's group names the stories it draws "
            "on joined by '|' (FNC-1: the headline's and the body's news story); a row is tested when all its "
            "stories are held out, trained on when none is, so the test side is new events (as in FNC-1's test)."
        ),
    )
    n_splits: int = Field(5, ge=2, description="Folds for group_kfold and story_kfold.")
    holdout_fraction: float = Field(
        0.2, gt=0, lt=1, description="Share of groups (for disjoint_holdout, also of targets; for story_holdout, of stories) held out."
    )
    parallel_folds: PositiveInt = Field(
        1,
        description=(
            "Folds fitted side by side in threads, each with one BLAS thread (frozen_encoder and tfidf models), after "
            "the first fold has been fitted alone so that what it computed once (every text's embedding) serves the "
            "rest. Faster where one solver cannot keep the cores busy; the figures move only by the solver's rounding."
        ),
    )
    primary_metric: str = Field(
        "macro_f1",
        description=(
            "Metric that ranks sweep children and promotions: accuracy, macro_f1, their fold means "
            "(accuracy_cv_mean, macro_f1_cv_mean), f1_/precision_/recall_<label>, or a benchmark's official metric."
        ),
    )

    def unused_settings(self) -> tuple[str, ...]:
        """The split settings its `cv` does not read: logged as params, two runs would seem to differ in them."""
        return tuple(name for name in ("n_splits", "holdout_fraction") if name not in SPLIT_SETTINGS[self.cv])


# What the runs of one sweep may differ in: everything else (data, extra sources, splits, names) they share.
SWEEPABLE = ("model", "seed", "neighbour_weight")


def _other_data_name(data: Any) -> str | None:
    """The name of a config's data (as `dataset_name` gives it) when it is not the seed corpus; None for the seeds."""
    match data:
        case JsonlData(path=path):
            return path.stem
        case BenchmarkData(name=name):
            return name
        case SeedData(segments=segments, labels=labels):
            return _other_seed_files_name(segments, labels)
        case {"source": "jsonl", "path": path} if path:
            return Path(str(path)).stem
        case {"source": "benchmark", "name": name} if name:
            return str(name)
        case {"source": "seeds", **files}:
            given = {key: Path(str(files[key])) for key in ("segments", "labels") if files.get(key)}
            return _other_seed_files_name(given.get("segments", locations.SEGMENTS_PATH), given.get("labels", locations.LABELS_PATH))
    return None


def _other_seed_files_name(segments: Path, labels: Path) -> str | None:
    """For segment and label files of the seeds' layout other than the project's own (those of an ingest into another
    folder), the name of that folder, or the labels file's where only it differs; None for the seed corpus. Without
    it such a model took the service's `news-topic` or `news-stance` and its champion."""
    if segments.resolve() != locations.SEGMENTS_PATH.resolve():
        return segments.resolve().parent.name
    if labels.resolve() != locations.LABELS_PATH.resolve():
        return labels.stem
    return None


def _side_by_side_families() -> list[str]:
    """The families whose configs allow folds fitted in threads side by side (they override `fits_in_threads`)."""
    return [family.name for family in families() if family.config.fits_in_threads is not FamilyConfig.fits_in_threads]


class ExperimentConfig(Strict):
    """One experiment: what to train, on which data, how to evaluate and where to register it."""

    task: Literal["topic", "stance"] = Field(description="topic: a text in; stance: a (text, target) pair in.")
    model: ModelConfig = Field(description="The model family (`family`) and its settings.")
    data: DataConfig = Field(SeedData(), description="The labelled data, evaluated and trained on (`source`).")
    evaluation: EvaluationConfig = Field(EvaluationConfig(), description="How models are scored and compared.")
    registered_model: str = Field(
        "",
        description="Registry name; defaults to news-topic or news-stance for the seed corpus, '<task>-<dataset>' "
        "for other data (as the experiment).",
    )
    experiment: str = Field("", description="MLflow experiment; defaults to '<task>-<dataset>'.")
    run_name: str = Field(
        "",
        description="MLflow run name; defaults to the config file's name. The logged config.yaml names it, so a "
        "run trained again from that file keeps the name.",
    )
    # NumPy's generators (the splits, scikit-learn's models) take 0 to 2**32 - 1.
    seed: int = Field(
        13, ge=0, le=2**32 - 1, description="Seeds the models' randomness and every split but leave_one_group_out (0 to 2**32 - 1)."
    )
    promote: Literal["auto", "never", "always"] = Field(
        "never",
        description="auto: make the new version champion when it beats the current one (a name's first always does); "
        "always: even when it does not; never: leave every version, a name's first too, to a promotion by hand.",
    )
    sweep: dict[str, list[Any]] = Field(
        default_factory=dict, description="Grid: dotted key -> values; each combination is a child run."
    )
    extra_training: list[ExtraTraining] = Field(
        default_factory=list, description="Extra labelled sources on the training side of every split."
    )
    neighbour_weight: float = Field(
        0.0,
        ge=0,
        lt=1,
        description=(
            "Topic: the share of a segment's probabilities taken from the mean of its neighbours' (the segments just "
            "before and after it in the same article), where segments come in article order: the server's article "
            "endpoint, /v1/classify items that name the same document, and the evaluation, which reads the rows of a "
            "group as one article's segments in file order. Saved with the model; other texts are read alone."
        ),
    )

    target_aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Stance: other names of targets, {target: [alias, ...]}, besides classifiers/target_aliases.json's (a "
            "target there gains them): where the model looks for a target's mentions (its target mask, its context "
            "window) and where the server's article endpoint does. Saved with the model."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_task(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("task") in DEFAULT_REGISTERED_NAMES:
            values = dict(values)
            # news-topic and news-stance are the service's models of the seed corpus: a model of other data, trained
            # from a copied config that leaves the name out, must not take their place (and their champion).
            other = _other_data_name(values.get("data"))
            default = f"{values['task']}-{other}" if other else DEFAULT_REGISTERED_NAMES[values["task"]]
            values.setdefault("registered_model", default)
        return values

    @model_validator(mode="after")
    def _checks(self) -> ExperimentConfig:
        if not self.registered_model:
            raise ValueError("registered_model must not be empty")
        # Else the registry refuses it only after the whole cross-validation.
        if (problem := model_name_problem(self.registered_model)) is not None:
            raise ValueError(f"registered_model: {problem}")
        if self.registered_model.endswith(LOCK_SUFFIX):
            raise ValueError(f"registered_model: names ending in {LOCK_SUFFIX} are the promotion locks of other names")
        for family in map(get_family, self.model.family_names()):
            if self.task not in family.tasks:
                raise ValueError(f"the {family.name} family does not do {self.task} (it does: {', '.join(family.tasks)})")
        if self.task != "stance" and (stance_only := self.model.stance_settings()):
            # Refused here, when the config is read, not by the model inside a started run.
            raise ValueError(stance_settings_problem(stance_only))
        weighted = [f"extra_training.{index}.weight" for index, extra in enumerate(self.extra_training) if extra.weight != 1]
        if weighted and not self.model.weighs_rows():
            # Else refused by the model in the first fold, inside a started run, which then ended FAILED.
            raise ValueError(
                f"{weighted[0]}: the {self.model.family} family's models do not weight rows: leave extra_training weights at 1"
            )
        if self.neighbour_weight and self.task != "topic":
            raise ValueError("neighbour_weight is for topic models: a stance row's neighbours may be about other targets")
        if self.target_aliases and self.task != "stance":
            raise ValueError("target_aliases are for stance models: a topic model has no targets")
        for target, aliases in self.target_aliases.items():
            if not _WORD.search(target):
                raise ValueError(f"target_aliases: the target {target!r} has no word to name it by")
            if not aliases:
                raise ValueError(f"target_aliases.{target}: give at least one alias")
            unnamed = [alias for alias in aliases if not _WORD.search(alias)]
            if unnamed:
                # Mentions are matched word by word: such an alias would never match, and say nothing about why.
                raise ValueError(f"target_aliases.{target}: {', '.join(map(repr, unnamed))} has no word a text could match")
        if self.evaluation.parallel_folds > 1 and not self.model.fits_in_threads():
            raise ValueError(
                f"evaluation.parallel_folds: the {self.model.family} family's models are fitted one at a time "
                f"(those of {', '.join(_side_by_side_families())} can be fitted side by side): set it to 1"
            )
        empty = [key for key, values in self.sweep.items() if not values]
        if empty:
            raise ValueError(f"sweep values must be non-empty lists: {', '.join(empty)}")
        repeated = [key for key, values in self.sweep.items() if len({json.dumps(value, sort_keys=True) for value in values}) < len(values)]
        if repeated:
            # Two children of the same settings and name: the sweep would train one of them for nothing.
            raise ValueError(f"sweep: {', '.join(repeated)} lists a value more than once")
        fixed = [key for key in self.sweep if key.split(".")[0] not in SWEEPABLE]
        if fixed:
            # A sweep's runs share their data, splits and registered model: a swept data path or weight would be
            # logged by each child while all of them trained on the same rows.
            raise ValueError(
                f"sweep: {', '.join(fixed)} cannot be swept: the runs of a sweep vary only "
                f"{', '.join(f'{root}.*' if root == 'model' else root for root in SWEEPABLE)}; train one config per value instead"
            )
        if "seed" in self.sweep and self.evaluation.cv != "leave_one_group_out":
            # The seed also draws these splits: each child would be scored on other rows, and the best child would be
            # the luckiest split, not the best model.
            raise ValueError(
                f"sweep: seed cannot be swept with evaluation.cv={self.evaluation.cv}, whose split it draws: the runs "
                "would be scored on different rows; sweep it with leave_one_group_out, or train one config per seed"
            )
        return self

    @property
    def dataset_name(self) -> str:
        """`seeds`, the folder of other files in the seeds' layout, the JSONL file's stem, or the benchmark's name."""
        return _other_data_name(self.data) or "seeds"

    @property
    def experiment_name(self) -> str:
        """The MLflow experiment the runs go to: the config's `experiment`, else `<task>-<dataset_name>`."""
        return self.experiment or f"{self.task}-{self.dataset_name}"
