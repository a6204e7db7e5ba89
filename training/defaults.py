"""The default models: what `make run` trains when the registry has no champion yet."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from classifiers import store
from training import locations, tracking
from training.config.resolve import load_config
from training.promotion import champion_version

if TYPE_CHECKING:
    from training.trainer import TrainResult

logger = logging.getLogger(__name__)

DEFAULT_CONFIGS: dict[str, Path] = {
    "topic": locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml",
    "stance": locations.CONFIGS_DIR / "stance" / "tfidf_logreg.yaml",
}


def train_defaults(retrain: bool = False) -> list[TrainResult]:
    """Train each default config whose registered model has no champion (all of them with retrain)."""
    # Imported here: `train-defaults --help` need not pay for the trainer's imports.
    from training.trainer import train

    client = store.use_store()
    results = []
    for task, path in DEFAULT_CONFIGS.items():
        config = load_config(path)
        if not retrain and champion_version(client, config.registered_model) is not None:
            logger.info("%s already has a champion; not retraining the default %s model", config.registered_model, task)
            continue
        results.append(train(config, config_path=path.relative_to(locations.PROJECT_ROOT)))
    return results
