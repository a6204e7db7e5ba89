"""The default models: what `make run` trains when the registry has no champion yet."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from classifiers import store
from classifiers.errors import UserInputError
from training import locations
from training.config.resolve import load_config, parse_override
from training.promotion import champion_version, name_versions, was_tried

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from training.config.schema import ExperimentConfig
    from training.trainer import PreparedTraining, TrainResult

logger = logging.getLogger(__name__)

# The most accurate configs that fit the 10-minute budget on 2 cores: on leave-one-article-out and on news paragraphs
# written outside the seed corpus, for topic also on BBC News (docs/training.md).
DEFAULT_CONFIGS: dict[str, Path] = {
    "topic": locations.CONFIGS_DIR / "topic" / "descriptions_written.yaml",
    "stance": locations.CONFIGS_DIR / "stance" / "minilm_masked_written.yaml",
}


def train_defaults(
    retrain: bool = False, overrides: Sequence[str] = (), on_trained: Callable[[TrainResult], None] | None = None
) -> list[TrainResult]:
    """Train each default config whose registered model has no champion, or one that no version trained from the
    default config has competed with (the default is then made champion only if it beats it); with retrain, all of
    them, and make the new versions champion even where they do not beat the old (which may be a model this version
    cannot load); `overrides` (dotted key=value) apply to every default config; `on_trained` is called with each
    result as soon as it is registered, before the next model trains."""
    # Imported here: `train-defaults --help` need not pay for the trainer's imports.
    from training.trainer import check_encoders, train_prepared

    promoting = [text for text in overrides if parse_override(text)[0].partition(".")[0] == "promote"]
    if retrain and promoting:
        # Refused rather than replaced unseen by the promote: always that retrain sets.
        raise UserInputError(f"--retrain makes the new versions champion (promote=always): leave out '{promoting[0]}'")
    # Every config is read before the first trains: a bad override is named before minutes of topic training (and,
    # with retrain, before the topic champion has been replaced). Retrain's promote: always is set after the user's
    # overrides are read, not as one of them: an error would name it beside them, as if typed.
    configs = {task: load_config(path, overrides) for task, path in DEFAULT_CONFIGS.items()}
    if retrain:
        # A sweep's combinations, expanded from the config, inherit it.
        configs = {task: config.model_copy(update={"promote": "always"}) for task, config in configs.items()}
    for task, config in configs.items():
        check_encoders(config, DEFAULT_CONFIGS[task], overrides)
    if store.made_when_used():
        # A store still to make holds no champion: every default is due, and all their data is read before the store
        # is made (a data error left an empty store behind, as a mistyped override did).
        prepared = _prepared(configs, overrides)
        store.use_store(writable=True)
    else:
        # Every due model's data is read before the first trains too (the stance model's public corpora among them).
        prepared = _prepared(_due(store.use_store(writable=True), configs, retrain), overrides)
    results = []
    for training in prepared:
        results.append(train_prepared(training))
        if on_trained is not None:
            on_trained(results[-1])
    return results


def _due(client: MlflowClient, configs: dict[str, ExperimentConfig], retrain: bool) -> dict[str, ExperimentConfig]:
    """The default configs to train: all with retrain, else those without a champion or that never competed with it."""
    due: dict[str, ExperimentConfig] = {}
    for task, config in configs.items():
        champion = None if retrain else champion_version(client, config.registered_model)
        if champion is not None and _competed(client, config.registered_model, DEFAULT_CONFIGS[task]):
            # Which model is served: a champion promoted by hand from an experiment keeps its place, as it should, but
            # "already has a champion" alone read as if the default were being served.
            logger.info(
                "%s already has a champion (version %s, trained from %s); not retraining the default %s model (train-defaults "
                "--retrain trains it again and makes it champion)",
                config.registered_model, champion.version, _config_path(client, champion) or "a config no longer known", task,
            )
            continue
        if champion is not None:
            # An experiment trained first took the empty name; the default competes once, on its metric.
            logger.info(
                "%s's champion (version %s) was not trained from %s, no version of which has competed with it: training the "
                "default %s model, made champion only if it beats it",
                config.registered_model, champion.version, locations.shown(DEFAULT_CONFIGS[task]), task,
            )
        due[task] = config
    return due


def _prepared(configs: dict[str, ExperimentConfig], overrides: Sequence[str]) -> list[PreparedTraining]:
    """Each config checked and its data read (trainer.prepare) before the first one trains."""
    from training.trainer import prepare

    return [prepare(config, DEFAULT_CONFIGS[task].relative_to(locations.PROJECT_ROOT), overrides) for task, config in configs.items()]


def _config_path(client: MlflowClient, version: ModelVersion) -> str | None:
    """The config a version's run was trained from (the run's `config_path` tag); None for a deleted or untagged run."""
    try:
        return client.get_run(version.run_id).data.tags.get("config_path") if version.run_id else None
    except MlflowException:  # a version whose run was deleted
        return None


def _competed(client: MlflowClient, name: str, config_path: Path) -> bool:
    """Whether a version of `name` trained from the config (its run's `config_path` tag) was judged for champion: one
    trained with `promote: never` has not competed."""
    shown = str(locations.shown(config_path))
    for version in name_versions(client, name):
        if was_tried(version) and _config_path(client, version) == shown:
            return True
    return False
