"""`train(config)`: cross-validate, fit on all data, log everything to MLflow, register, promote."""

from __future__ import annotations

import json
import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas  # by its module: mlflow.data adds it at run time, unseen by mypy
from mlflow.entities import LoggedModelStatus, RunStatus
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH
from tqdm.auto import tqdm

import classifiers
from classifiers import pyfunc_entry, store
from classifiers.contract import predict
from classifiers.encoder import precision_name, resolve_encoder
from classifiers.errors import UserInputError
from classifiers.interface import Trainable
from classifiers.lineage import (
    DATA_DIGEST_TAG,
    FINISHED,
    PRIMARY_METRIC_TAG,
    PRIMARY_METRIC_VALUE_TAG,
)
from classifiers.pyfunc import ARTIFACT_KEY, model_signature
from classifiers.registry import classifier_factory, embeds_text, requirement_pins
from classifiers.store import CHAMPION
from classifiers.target_context import TargetAliases, alias_table, lookup_key
from training import locations, stop_requests, tracking
from training.config.resolve import config_source, expand_sweep, flatten, parse_override, to_yaml
from training.config.schema import BenchmarkData, ExperimentConfig
from training.evaluation.cross_validation import (
    CV_MEAN_SUFFIX,
    CV_STD_SUFFIX,
    CrossValidation,
    check_training_sides,
    cross_validate,
    group_splits,
)
from training.evaluation.logged_predictions import PREDICTIONS_ARTIFACT, PROBABILITY_PREFIX
from training.evaluation.metrics import (
    OVERALL_METRICS,
    PER_CLASS_METRICS,
    averaged_labels,
    classification_metric_names,
    classification_metrics,
    confusion_matrix_figure,
    group_bootstrap_interval,
    report_text,
)
from training.evaluation.seen_rows import CONFIG_ARTIFACT
from training.labelled_data import LabelledData, frame_digest, load_labelled_data
from training.mlflow_names import NAME_RULE, logged_model_name, name_taken
from training.peak_memory import PeakMemory
from training.promotion import (
    Promotion,
    PromotionRefused,
    champion_version,
    check_task,
    name_versions,
    promote,
    record_not_tried,
    record_refusal,
    restore_champion,
)
from training.public_datasets.adapters import get_benchmark
from training.public_datasets.scorers import dev_metrics, official_metrics
from training.run_names import child_name, config_name, default_run_name, sets_the_sweep, with_overrides

logger = logging.getLogger(__name__)

EXAMPLE_ROWS = 3
# The prediction-time package travels inside every registered model (MLflow code_paths).
CODE_PATHS = [str(Path(classifiers.__file__).parent)]


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced; for a sweep, `run_id` is the best child's."""

    run_id: str
    metrics: dict[str, float]
    primary_metric: str
    registered_model: str
    version: str
    promotion: Promotion | None
    parent_run_id: str | None = None
    child_run_ids: list[str] = field(default_factory=list)
    # Why the config kept the version from competing for champion, where `promotion` is None.
    not_tried: str = "promote: never"

    @property
    def primary_value(self) -> float:
        """The figure of `primary_metric`, the one promotion compares."""
        return self.metrics[self.primary_metric]


@dataclass(frozen=True)
class PreparedTraining:
    """An experiment whose config, data and model requirements were checked: what remains can fail only while
    training, inside a run."""

    config: ExperimentConfig
    config_path: Path | None
    combinations: list[tuple[dict[str, Any], ExperimentConfig]]
    data: LabelledData


def prepare(config: ExperimentConfig, config_path: Path | None = None, overrides: Sequence[str] = ()) -> PreparedTraining:
    """Load the data and check the primary metric and the model's requirements, before anything exists in MLflow.
    `overrides`, the dotted settings the config was loaded with, go into the default run name (a sweep's grid aside)."""
    given = config.run_name
    # A sweep's grid is in its params and its parent's name ends in `-sweep`: the name leaves its overrides out.
    # Each written as its param is (`[1, 2]` for `[1,2]`), so one setting gives one name however it was typed.
    named = [_as_param(text) for text in overrides if not (config.sweep and sets_the_sweep(text))]
    if given and not any(text.partition("=")[0].strip() == "run_name" for text in overrides):
        # A name from the file (a logged config.yaml's, trained again) shows the overrides given on top of it: each run
        # trained again with other settings was named as the first.
        given = with_overrides(given, named)
    # Named before the sweep is expanded, so its children and the logged config.yaml carry the name.
    config = config.model_copy(update={"run_name": given or default_run_name(config, config_path, named)})
    check_encoders(config, config_path, overrides)
    combinations = expand_sweep(config)
    if config.sweep:
        # Each child is named as a run trained with its values as overrides is: by its values alone, it could be any
        # config's in a list of runs or a comparison.
        combinations = [
            (
                assignments,
                child.model_copy(update={"run_name": child_name(given, config, config_path, named, _assigned(assignments))}),
            )
            for assignments, child in combinations
        ]
    data = load_labelled_data(config.data, config.task, config.extra_training)
    _warn_of_test_splits(config)
    if config.target_aliases:
        _warn_of_odd_aliases(config.target_aliases, data)
    # The data named: which file held the label was not said.
    _check_metric_names(
        data.labels, f"the data, {data.source} (or map it to another with the data's labels or an extra source's mapping)"
    )
    extra_labels = {label for extra in data.extra for label in extra.frame["label"]}
    unmeasured: dict[str, set[str]] = {}
    for _, child_config in combinations:
        _check_primary_metric(child_config, data.labels)
        splits = group_splits(child_config.evaluation, data.frame["group"], child_config.seed, data.frame.get("target"))
        check_training_sides(splits, data.frame["label"].to_numpy(), data.frame["group"], extra_labels)
        try:
            child_config.model.check_labels(data.labels)
        except UserInputError as err:
            # As the config's other errors do, it names the file to edit, and the overrides that may have set it.
            raise UserInputError(f"{config_source(config_path, overrides)}: {err}" if config_path else str(err)) from err
        for key, labels in child_config.model.labels_it_names().items():
            # A zero-shot model also answers the labels it only describes, and they are scored (`f1_<label>`) too.
            _check_metric_names(labels, key)
            unmeasured.setdefault(key, set()).update(set(labels) - set(data.labels))
        requirement_pins(child_config.model)
    for key, without_rows in unmeasured.items():
        if without_rows:
            # Say it: on data of one's own, adding to the shipped descriptions keeps the news topics in the model.
            logger.warning(
                "%s: label(s) %s have no rows in the data: the model answers them, but nothing measures them (each "
                "counts as 0 in macro-F1 where it is predicted); to name only the data's labels, give %s whole "
                "('%s={...}')",
                key, ", ".join(sorted(without_rows)), key, key,
            )
    precision_name()  # a bad NEWS_ENCODER_PRECISION stops here, before any run exists
    return PreparedTraining(config, config_path, combinations, data)


def check_encoders(config: ExperimentConfig, config_path: Path | None = None, overrides: Sequence[str] = ()) -> None:
    """Refuse an encoder that the config, or a combination of its sweep, names and that is no model folder, naming its
    key (and the config's file and `overrides`, those it was loaded with): found from the folder's small files, before
    any data, store or run is touched (a model's weights would be read only inside the run)."""
    for _, combination in expand_sweep(config):
        for key, name in combination.model.encoders().items():
            try:
                resolve_encoder(name)
            except UserInputError as err:
                # As the config's other errors do, it names the file to edit, and the overrides that may have set it.
                where = f"{config_source(config_path, overrides)}: " if config_path else ""
                raise UserInputError(f"{where}{key}: {err}") from err


def train(config: ExperimentConfig, config_path: Path | None = None, overrides: Sequence[str] = ()) -> TrainResult:
    """Run the experiment the config describes (a grid of child runs when it has a sweep); `overrides` are the dotted
    settings it was loaded with, shown in the default run name.

    The data, the primary metric and the model's requirements are checked before anything is
    created in MLflow, so bad input leaves no empty experiment or run behind. A tracking server, or a store that
    exists, is asked first, before the data (which may take a while) is loaded; a SQLite store still to make is made
    only once the data holds too: a data error left an empty store behind.
    """
    to_make = store.made_when_used()
    if not to_make:
        store.use_store(writable=True)
    prepared = prepare(config, config_path, overrides)
    if to_make:
        store.use_store(writable=True)
    return train_prepared(prepared)


def train_prepared(prepared: PreparedTraining) -> TrainResult:
    """Run an experiment `prepare` checked (several can be checked before the first one trains)."""
    config, config_path, data = prepared.config, prepared.config_path, prepared.data
    client = store.use_store()
    check_task(client, config.registered_model, config.task)
    if (deleted := tracking.deleted_experiment(config.experiment_name)) is not None:
        # MLflow would refuse the first run with a traceback.
        raise UserInputError(f"{deleted} (the config's `experiment` key)")
    experiment_id = tracking.ensure_experiment(config.experiment_name, tracking.EXPERIMENT_KIND)
    if not config.experiment:
        _warn_of_other_data_under_the_name(experiment_id, config)
    with tracking.retry_settings_kept():
        if len(prepared.combinations) == 1:
            # A grid of one value per key is one run of that combination (the config itself when it sweeps nothing).
            return _single(client, experiment_id, prepared.combinations[0][1], config_path, data)
        return _sweep(client, experiment_id, config, prepared.combinations, config_path, data)


# The params that tell one data source from another (the seed corpus's files, a JSONL file, a benchmark).
_DATA_IDENTITY = ("data.source", "data.segments", "data.path", "data.name")
# Runs of the experiment read for their data: enough to find another file's, few enough to read in a moment.
_RUNS_READ_FOR_DATA = 50


def _warn_of_other_data_under_the_name(experiment_id: str, config: ExperimentConfig) -> None:
    """Say where the experiment a config's data named (`<task>-<file name>`) holds runs of other data: two files of one
    name (train.jsonl in two folders) would share its runs table and its registered model, whose promotions then
    refuse one file's versions as evaluated on other data."""
    params = flatten({"data": config.data.model_dump(mode="json")})
    ours = {key: _comparable(params.get(key)) for key in _DATA_IDENTITY if key in params}
    runs = mlflow.search_runs([experiment_id], max_results=_RUNS_READ_FOR_DATA, output_format="list")
    others = sorted(
        {
            ", ".join(f"{key}={run.data.params[key]}" for key in ours if key in run.data.params)
            for run in runs
            if any(run.data.params.get(key, value) != value for key, value in ours.items())
        }
    )
    if others:
        logger.warning(
            "the experiment %r (named after this data) also holds runs of other data (%s): give this config an "
            "`experiment` key of its own, and a `registered_model` where its versions would sit beside theirs",
            config.experiment_name, "; ".join(others[:3]),
        )


def _single(
    client: MlflowClient, experiment_id: str, config: ExperimentConfig, config_path: Path | None, data: LabelledData
) -> TrainResult:
    started, memory = time.perf_counter(), PeakMemory()
    with _undone_on_failure(client, config.registered_model) as registration:
        with tracking.tracked_run(experiment_id=experiment_id, run_name=config.run_name) as run:
            _log_setup(config, config_path)
            _log_dataset(data)
            factory = model_factory(config)
            metrics = _evaluate(factory, data, config, memory)
            version = _fit_register(client, factory, data, config, config_path, started, memory, registration)
        promotion = _auto_promote(client, config, version)
        # Made inside the block: a stop while it is made is undone and said so, not left with no run to name (the
        # command's closing line said the stop came before the run started).
        result = TrainResult(
            run.info.run_id,
            metrics,
            config.evaluation.primary_metric,
            config.registered_model,
            version,
            promotion,
            not_tried=_why_not_tried(config) or "promote: never",
        )
    return result


def _sweep(
    client: MlflowClient,
    experiment_id: str,
    config: ExperimentConfig,
    combinations: list[tuple[dict[str, Any], ExperimentConfig]],
    config_path: Path | None,
    data: LabelledData,
) -> TrainResult:
    sweep_started = time.perf_counter()
    primary = config.evaluation.primary_metric
    # The parent run inside the undoing block too: a stop as it ends, once the best child's version is registered and
    # promoted, undoes them rather than leave them beside a FAILED parent, said as undone.
    with (
        _undone_on_failure(client, config.registered_model) as registration,
        tracking.tracked_run(experiment_id=experiment_id, run_name=f"{config.run_name}-sweep") as parent,
    ):
        _log_setup(config, config_path)
        mlflow.set_tag("sweep_size", str(len(combinations)))
        _log_dataset(data)
        # run id, config, metrics, seconds and peak MB of each child's cross-validation
        children: list[tuple[str, ExperimentConfig, dict[str, float], float, float]] = []
        for assignments, child_config in tqdm(combinations, desc="sweep", unit="run"):
            stop_requests.raise_if_requested()
            # Its logged config.yaml names it so: trained again from that file, a child keeps its own name.
            name = child_config.run_name
            started, memory = time.perf_counter(), PeakMemory()
            with tracking.tracked_run(experiment_id=experiment_id, run_name=name, nested=True) as child:
                _log_setup(child_config, config_path)
                mlflow.set_tag("sweep_assignment", ",".join(_assigned(assignments)))
                _log_dataset(data)
                factory = model_factory(child_config)
                metrics = _evaluate(factory, data, child_config, memory)
            children.append((child.info.run_id, child_config, metrics, time.perf_counter() - started, memory.peak_mb()))
        best_id, best_config, best_metrics, best_seconds, best_peak = max(children, key=lambda child: child[2][primary])
        mlflow.log_metric(f"best_{primary}", best_metrics[primary])
        mlflow.set_tag("best_run_id", best_id)
        logger.info("best of %d: run %s with %s = %.4f", len(children), best_id, primary, best_metrics[primary])
        with tracking.tracked_run(run_id=best_id, nested=True):
            factory = model_factory(best_config)
            # The best child's own cost: its cross-validation plus the final fit, not the whole sweep's.
            final_started, final_memory = time.perf_counter() - best_seconds, PeakMemory(floor_mb=best_peak)
            version = _fit_register(
                client, factory, data, best_config, config_path, final_started, final_memory, registration
            )
        promotion = _auto_promote(client, best_config, version)
        sweep_peak = max([final_memory.peak_mb(), *(child[4] for child in children)])
        mlflow.log_metrics({"sweep_seconds": time.perf_counter() - sweep_started, "sweep_peak_rss_mb": sweep_peak})
        mlflow.set_tag("registered_version", version)
        result = TrainResult(
            best_id,
            best_metrics,
            primary,
            config.registered_model,
            version,
            promotion,
            parent_run_id=parent.info.run_id,
            child_run_ids=[child[0] for child in children],
            not_tried=_why_not_tried(best_config) or "promote: never",
        )
    return result


def _as_param(override: str) -> str:
    """A dotted override with its value written as the run's param shows it: `model.word_ngrams=[1, 2]`."""
    key, value = parse_override(override)
    return f"{key}={_comparable(value)}"


def _assigned(assignments: dict[str, Any]) -> list[str]:
    """A sweep child's values as overrides write them: `model.char_ngrams=null`, not Python's None."""
    return [f"{key}={_comparable(value)}" for key, value in assignments.items()]


def _log_setup(config: ExperimentConfig, config_path: Path | None) -> None:
    # The experiment the run is in, where the config leaves it to be derived: an empty param would say nothing.
    params = flatten(config.model_dump(mode="json", exclude={"sweep", "target_aliases"})) | {
        "experiment": config.experiment_name,
        # One param, not one per target: a target's name ("Hamas's allies") need not be a valid MLflow param name.
        "target_aliases": _aliases_param(config.target_aliases),
    }
    # A sweep's parent trains none of the swept values: its own would read as the one trained. Settings the evaluation
    # or the model does not read (the folds of a leave-one-group-out, a topic model's stance settings) are left out
    # too; config.yaml keeps them.
    unused = (
        config.sweep.keys()
        | {f"evaluation.{name}" for name in config.evaluation.unused_settings()}
        | {f"model.{name}" for name in config.model.unused_settings(config.task)}
    )
    # A mapping setting (stance descriptions) is flattened to a param per key.
    params = {
        key: _comparable(value)
        for key, value in params.items()
        if not any(key == name or key.startswith(f"{name}.") for name in unused)
    }
    params |= {f"sweep.{key}": _comparable(values) for key, values in config.sweep.items()}
    mlflow.log_params({key: _within_param_limit(value) for key, value in params.items()})
    mlflow.log_text(to_yaml(config), CONFIG_ARTIFACT)
    mlflow.set_tags(
        {
            "task": config.task,
            "model_family": config.model.family,
            # From the project root wherever the command ran, so one config's runs share the tag.
            "config_path": str(locations.shown(config_path)) if config_path else "(none)",
            "git_commit": tracking.git_commit(),
            PRIMARY_METRIC_TAG: config.evaluation.primary_metric,
        }
    )
    if embeds_text(config.model):
        # Embeddings, and so the figures, differ slightly between float32 and bfloat16.
        mlflow.set_tag("encoder_precision", precision_name())


def _aliases_param(aliases: dict[str, list[str]]) -> str:
    """The config's target aliases as JSON, or where MLflow's param limit cannot hold them, where to read them."""
    shown = json.dumps(aliases, ensure_ascii=False)
    return shown if len(shown) <= MAX_PARAM_VAL_LENGTH else f"{len(aliases)} targets: see config.yaml"


def _within_param_limit(value: str) -> str:
    """A param value MLflow takes: one past its length limit (a label's many description sentences), which MLflow would
    refuse inside the run, is left to config.yaml."""
    return value if len(value) <= MAX_PARAM_VAL_LENGTH else f"{len(value)} characters: see config.yaml"


def _comparable(value: Any) -> str:
    """A param as it reads in a config or a dotted override: JSON (a subset of YAML) for what is not a string, so
    `true`, `null` and `["a", "b"]` rather than Python's `True`, `None` and `['a', 'b']`; a file of the project named
    from its root, and the public datasets as ../shared/datasets, so two checkouts' runs of one config show the same
    params (the logged config.yaml writes a file of the project `project:<path>`, which reads from the project's root
    wherever the file lies, a data file in the data directory `datasets:<path>`, and keeps other whole paths, so that
    it trains again where it was downloaded). A swept key's values, and the folders in a swept section's, are shown as
    each would be alone."""
    shown = _shown_paths(value)
    return shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)


def _shown_paths(value: Any) -> Any:
    """A whole path as `locations.shown` gives it, and so each in a list or section; anything else as it is."""
    if isinstance(value, list):
        return [_shown_paths(item) for item in value]
    if isinstance(value, dict):
        return {key: _shown_paths(item) for key, item in value.items()}
    return str(locations.shown(Path(value))) if isinstance(value, str) and Path(value).is_absolute() else value


def _log_dataset(data: LabelledData) -> None:
    """The evaluated data (its digest is what promotions compare on) and each extra training source."""
    with warnings.catch_warnings():
        # MLflow registers its local-file source twice and warns that a path is ambiguous between the two.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        dataset = from_pandas(
            data.frame, source=data.source, targets="label", name=data.name, digest=frame_digest(data.frame)
        )
        extras = [
            from_pandas(
                extra.frame, source=extra.source, targets="label", name=extra.name, digest=frame_digest(extra.frame)
            )
            for extra in data.extra
        ]
    mlflow.log_input(dataset, context="training")
    for extra in extras:
        mlflow.log_input(extra, context="extra_training")
    mlflow.set_tags(
        {
            DATA_DIGEST_TAG: dataset.digest,
            "data_rows": str(len(data.frame)),
            "extra_training_rows": str(sum(len(extra.frame) for extra in data.extra)),
            # What could otherwise have inflated the figures (training.input_copies).
            "groups_joined_by_shared_input": str(data.groups_joined),
            "extra_rows_left_out_as_copies": str(sum(extra.copies_left_out for extra in data.extra)),
        }
    )


def _warn_of_test_splits(config: ExperimentConfig) -> None:
    """Say where a benchmark's test split is trained on: its figures are the ones that must stay unseen."""
    extras = [(f"extra_training.{index}.data", extra.data) for index, extra in enumerate(config.extra_training)]
    sources = [("data", config.data), *extras]
    for where, data in sources:
        if isinstance(data, BenchmarkData) and data.split == "test":
            logger.warning(
                "%s.split=test: the model learns %s's test split, whose figures must stay unseen for it to compare with "
                "published ones; train and select models on its training split",
                where, data.name,
            )


def _warn_of_odd_aliases(aliases: dict[str, list[str]], data: LabelledData) -> None:
    """Say where `target_aliases` names a target no training row has (a misspelt target: its aliases then act only
    on requests that name it), or gives as an alias a target of its own (another actor, so its mentions would be
    taken for this one's)."""
    targets = {lookup_key(target) for target in data.frame["target"]}
    known = targets | set(alias_table())
    for target, names in aliases.items():
        if lookup_key(target) not in targets:
            logger.warning(
                "target_aliases: %r names no target of the data (a misspelling?); its aliases act only where a request "
                "names it", target,
            )
        others = [name for name in names if lookup_key(name) in known and lookup_key(name) != lookup_key(target)]
        if others:
            logger.warning(
                "target_aliases: %s of %r %s a target of its own: its mentions will be taken for %r",
                ", ".join(map(repr, others)), target, "is" if len(others) == 1 else "are", target,
            )


def _check_metric_names(labels: list[str], rename_in: str) -> None:
    """Refuse, before any model is trained, a label MLflow would not take in a metric name (`f1_<label>`, and the
    longest, `precision_<label>_cv_mean`): it would refuse the run's metrics after the whole cross-validation."""
    for label in labels:
        names = [f"{kind}_{label}{fold}" for kind in PER_CLASS_METRICS for fold in ("", CV_MEAN_SUFFIX, CV_STD_SUFFIX)]
        refused = next((name for name in names if not name_taken(name)), None)
        if refused is not None:
            raise UserInputError(
                f"label {label!r} cannot be part of an MLflow metric name ({refused}): {NAME_RULE} Rename it in {rename_in}"
            )


def _check_primary_metric(config: ExperimentConfig, labels: list[str]) -> None:
    """Refuse, before any model is trained, a primary metric that the evaluation would not compute."""
    official = [get_benchmark(config.data.name).primary_metric] if isinstance(config.data, BenchmarkData) else []
    fold_means = [f"{name}{CV_MEAN_SUFFIX}" for name in OVERALL_METRICS]
    valid = {*classification_metric_names(labels), *official, *fold_means}
    if config.evaluation.primary_metric not in valid:
        raise UserInputError(
            f"evaluation.primary_metric '{config.evaluation.primary_metric}' is not computed; choose one of "
            f"{', '.join([*OVERALL_METRICS, *official, *fold_means])}, or f1_, precision_ or recall_ followed by "
            f"one of the data's labels ({', '.join(labels)})"
        )


def model_factory(config: ExperimentConfig) -> Callable[[], Trainable]:
    """New untrained classifiers of the config's model that carry its neighbour weight and target aliases."""
    untrained = classifier_factory(config.model, config.task, config.seed)
    aliases = TargetAliases.of(config.target_aliases)

    def make() -> Trainable:
        classifier = untrained()
        classifier.neighbour_weight = config.neighbour_weight
        classifier.target_aliases = aliases
        return classifier

    return make


def _evaluate(
    factory: Callable[[], Trainable], data: LabelledData, config: ExperimentConfig, memory: PeakMemory
) -> dict[str, float]:
    """Grouped cross-validation; logs metrics, its cost, confusion matrix, report and predictions."""
    splits = group_splits(config.evaluation, data.frame["group"], config.seed, data.frame.get("target"))
    started = time.perf_counter()
    result = cross_validate(factory, data, splits, config.evaluation.parallel_folds)
    # Every run's own cost, sweep children that were not registered included. Named apart from the registered run's
    # train_seconds and peak_rss_mb (with the final fit): logged again under one name, a metric would be listed twice
    # by the run's logged model, which takes the run's metrics as they stand when it is logged and every one after.
    mlflow.log_metrics({"cv_seconds": time.perf_counter() - started, "cv_peak_rss_mb": memory.peak_mb()})
    tested = data.frame[result.tested]
    y_true, y_pred = tested["label"].to_numpy(), result.predictions
    metrics = {**classification_metrics(y_true, y_pred, result.labels), **result.fold_summary()}
    interval = group_bootstrap_interval(y_true, y_pred, tested["group"].to_numpy(), result.labels, config.seed)
    if interval is not None:
        metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"] = interval
    if isinstance(config.data, BenchmarkData):
        # BBC News's official figure is accuracy, which the run logs already.
        official = official_metrics(config.data.name, y_true, y_pred)
        metrics.update({name: value for name, value in official.items() if name not in metrics})
        metrics.update(dev_metrics(config.data.name, y_true, y_pred))
        mlflow.set_tag("macro_f1_labels", ", ".join(averaged_labels(y_true, y_pred, result.labels)))
    mlflow.log_metrics(metrics)
    _log_reports(tested, result, config)
    return metrics


def _log_reports(tested: pd.DataFrame, result: CrossValidation, config: ExperimentConfig) -> None:
    y_true, y_pred = tested["label"].to_numpy(), result.predictions
    title = f"{config.task} / {config.model.family}: out-of-fold ({config.evaluation.cv})"
    mlflow.log_figure(confusion_matrix_figure(y_true, y_pred, result.labels, title), "evaluation/confusion_matrix.png")
    mlflow.log_text(report_text(y_true, y_pred, result.labels), "evaluation/classification_report.txt")
    mlflow.log_dict({"folds": result.fold_reports()}, "evaluation/folds.json")
    probabilities = result.probabilities[result.tested]
    # Every label's probability too, so that runs compare beyond their top answers (calibration, precision-recall).
    by_label = {f"{PROBABILITY_PREFIX}{label}": probabilities[:, index] for index, label in enumerate(result.labels)}
    predictions = tested.assign(predicted=y_pred, score=probabilities.max(axis=1), **by_label)
    mlflow.log_table(predictions.reset_index(drop=True), PREDICTIONS_ARTIFACT)


@dataclass
class _Registration:
    """The version a training registered (None until it has), its run, the champion just before it did, and whether
    the registered model's name existed before."""

    version: str | None = None
    run_id: str | None = None
    previous: ModelVersion | None = None
    name_existed: bool = True


@contextmanager
def _undone_on_failure(client: MlflowClient, name: str) -> Iterator[_Registration]:
    """If the block fails after registering a version, or a stop asked for during it is still to be raised as it ends,
    delete the version (giving `champion` back to the version that had it) and leave its run FAILED: nothing is left
    half-registered, the name never loses its champion."""
    registration = _Registration()
    try:
        yield registration
        # The training's last checkpoint. A stop that lands in its last store calls (promotion's, a sweep's parent run
        # ending) waits for the call to return and is sent again a moment later, by then past this block: it ended the
        # command after its report in Click's bare "Aborted!", the version registered and champion all the same.
        stop_requests.raise_if_requested()
    except BaseException as err:
        # With the server lost nothing can be undone (each call would wait out MLflow's retries to fail again).
        if (
            registration.run_id is None
            or isinstance(err, tracking.TrackingServerLost)
            or store.lost_server_reason(err) is not None
        ):
            raise
        # A second Ctrl-C raised between these calls would leave the version registered, or champion.
        with stop_requests.undoing():
            # A signal can land inside log_model after it registered the version and before it returned its number.
            version = registration.version or _registered_by(client, name, registration.run_id)
            if version is None:
                # Or after it logged the model's files and before it registered them: the model is READY all the same.
                _mark_logged_models_failed(client, registration.run_id)
                raise
            # Deleting a version also deletes its aliases: hand `champion` back first.
            restore_champion(client, name, version, registration.previous)
            client.delete_model_version(name, version)
            logger.error("deleted %s version %s: the run failed after registering it", name, version)
            tracking.note_undone(err, f"{name} version {version}, which it had registered, deleted")
            if not registration.name_existed and not name_versions(client, name):
                # Created for the version just deleted: an empty name would list in the registry as a model.
                client.delete_registered_model(name)
            _mark_logged_models_failed(client, registration.run_id)
            # A failure inside the run already marked it; one after it ended (in promotion) must mark it too, and the
            # sweep's parent, if that had ended too (a stop raised at the last checkpoint).
            run = client.get_run(registration.run_id)
            parent_id = run.data.tags.get(MLFLOW_PARENT_RUN_ID)
            for ended in [run, *([client.get_run(parent_id)] if parent_id else [])]:
                if ended.info.status == FINISHED:
                    run_id = ended.info.run_id
                    client.set_tag(run_id, tracking.ERROR_TAG, tracking.failure_reason(err)[: tracking.MAX_TAG_LENGTH])
                    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
                    tracking.note_undone(err, f"run {run_id} ({ended.info.run_name}) marked FAILED")
        raise


def _name_exists(client: MlflowClient, name: str) -> bool:
    try:
        client.get_registered_model(name)
    except MlflowException as err:
        if err.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return False
        raise
    return True


def _mark_logged_models_failed(client: MlflowClient, run_id: str) -> None:
    """The run's logged model, READY once its files were written, marked FAILED with the run: the UI's Models tab
    would list it among the usable ones."""
    experiment_id = client.get_run(run_id).info.experiment_id
    for model in client.search_logged_models([experiment_id], filter_string=f"source_run_id = '{run_id}'"):
        client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)


def _registered_by(client: MlflowClient, name: str, run_id: str) -> str | None:
    """The version of `name` that run registered, if it did."""
    found = [version for version in client.search_model_versions(f"run_id='{run_id}'") if version.name == name]
    return str(found[0].version) if found else None


def _fit_register(
    client: MlflowClient,
    factory: Callable[[], Trainable],
    data: LabelledData,
    config: ExperimentConfig,
    config_path: Path | None,
    started: float,
    memory: PeakMemory,
    registration: _Registration,
) -> str:
    """Inside the active run: fit on all data, log and register the pyfunc, and write the version's
    lineage tags, so the version is complete once the run ends FINISHED; returns the version."""
    # Known before log_model registers, so a failure from then on can find and remove what it registered.
    active = mlflow.active_run()
    assert active is not None, "called inside the run"
    registration.run_id = active.info.run_id
    registration.previous = champion_version(client, config.registered_model)
    registration.name_existed = _name_exists(client, config.registered_model)
    classifier = factory()
    classifier.fit(*data.training_side())
    example = data.inputs.head(EXAMPLE_ROWS).reset_index(drop=True)
    with tempfile.TemporaryDirectory(prefix="classifier-") as scratch:
        # MLflow names the artifact after the folder: `artifacts/classifier/` in every model, not a random name.
        saved = Path(scratch) / ARTIFACT_KEY
        classifier.save(saved)
        info = mlflow.pyfunc.log_model(
            # Listed by it in the experiment's Models tab, beside its run: the config it was trained from.
            name=logged_model_name(config_name(config, config_path)),
            python_model=pyfunc_entry.__file__,
            artifacts={ARTIFACT_KEY: str(saved)},
            signature=model_signature(example, predict(classifier, example)),
            input_example=example,
            pip_requirements=requirement_pins(config.model),
            code_paths=CODE_PATHS,
            metadata={"task": config.task, "labels": classifier.labels, "family": config.model.family},
            registered_model_name=config.registered_model,
        )
    version = str(info.registered_model_version)
    registration.version = version
    stop_requests.raise_if_requested()
    mlflow.log_metrics({"train_seconds": time.perf_counter() - started, "peak_rss_mb": memory.peak_mb()})
    run = client.get_run(info.run_id)
    metrics = run.data.metrics
    tags = {
        "task": config.task,
        "model_family": config.model.family,
        # The run's name in the UI (the config's; a sweep child's is its assignment), where the registry shows only
        # the run's id.
        "run_name": run.info.run_name,
        PRIMARY_METRIC_TAG: config.evaluation.primary_metric,
        PRIMARY_METRIC_VALUE_TAG: f"{metrics[config.evaluation.primary_metric]:.6f}",
        "labels": ",".join(classifier.labels),
    }
    if MLFLOW_PARENT_RUN_ID in run.data.tags:
        tags["sweep_run_name"] = client.get_run(run.data.tags[MLFLOW_PARENT_RUN_ID]).info.run_name
    for key, value in tags.items():
        client.set_model_version_tag(config.registered_model, version, key, value)
    if not client.get_registered_model(config.registered_model).description:
        # What the registry's Models page shows first; a description someone wrote there is kept.
        client.update_registered_model(config.registered_model, description=REGISTERED_MODEL_DESCRIPTION[config.task])
    return version


_REGISTRY_NOTE = (
    "Trained by `python -m training train`. Each version's tags give its run, family, labels and primary metric, its "
    "description its promotion history; the server loads the version the `champion` alias points at."
)
REGISTERED_MODEL_DESCRIPTION = {
    "topic": f"News topic classifier: a text in, its topic out. {_REGISTRY_NOTE}",
    "stance": f"News stance classifier: a text and a target in, the text's stance toward the target out. {_REGISTRY_NOTE}",
}


def _why_not_tried(config: ExperimentConfig) -> str | None:
    """Why `promote: auto` leaves a version of this config out of the competition for champion; None where it competes
    (`promote: never` is said by the caller)."""
    limit = getattr(config.data, "limit", None)
    if config.promote == "auto" and limit is not None:
        # A quick run on part of a benchmark would take an empty name, and the full run, scored on other data, could
        # not replace it.
        return f"trained on part of the data (data.limit={limit}), a quick run"
    return None


def _auto_promote(client: MlflowClient, config: ExperimentConfig, version: str) -> Promotion | None:
    """With `promote: auto`, try to make the version (its run FINISHED) champion (a name's first always wins); with
    `always`, make it champion; with `never`, leave it."""
    # The last checkpoint: a stop asked for while the model was logged must not end in a promotion.
    stop_requests.raise_if_requested()
    if config.promote == "never":
        record_not_tried(client, config.registered_model, version)
        return None
    why = _why_not_tried(config)
    if why is not None:
        logger.info("%s version %s not made %s: %s", config.registered_model, version, CHAMPION, why)
        record_not_tried(client, config.registered_model, version, why)
        return None
    champion = champion_version(client, config.registered_model)
    try:
        promotion = promote(
            client, config.registered_model, version, force=config.promote == "always", forced_by="promote: always"
        )
    except PromotionRefused as refusal:
        logger.warning("%s", refusal)
        record_refusal(client, config.registered_model, version, refusal)
        previous = str(champion.version) if champion is not None else None
        return Promotion(config.registered_model, version, False, previous, str(refusal))
    return promotion
