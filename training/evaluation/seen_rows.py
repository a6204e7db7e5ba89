"""How many rows of an evaluation the model was trained on: its figures on them are training figures, not held-out
ones (a file of the model's own training rows scored 1.0)."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from classifiers.errors import UserInputError
from classifiers.lineage import DATA_DIGEST_TAG
from classifiers.store import made_when_used, tracking_uri
from training.config.resolve import load_config
from training.input_copies import input_keys
from training.labelled_data import frame_digest, load_labelled_data

logger = logging.getLogger(__name__)

# The run's resolved config, which names its data and extra sources (whole paths, but for the checkout's seed files and
# ../shared/datasets, left to the default, other files of the project, named `project:<path>` from its root, and data
# files in the data directory, named `datasets:<path>` from it: it trains again where it was logged); training logs it
# under this name.
CONFIG_ARTIFACT = "config.yaml"


def rows_trained_on(run_id: str | None, frame: pd.DataFrame, task: str) -> int | None:
    """Rows of `frame` whose input (case and spacing aside) is one the run's final fit was trained on: its data and
    extra sources read again through its logged config, exactly as it read them (`data.limit` included). None where
    that cannot be known: no run, no logged config, data that is gone, or data whose digest is no longer the run's."""
    if run_id is None:
        return None
    if made_when_used():
        # A model folder scored beside no store: asked for its run, MLflow would make the store, empty.
        logger.info("which rows the model was trained on is not known: the tracking store %s does not exist", tracking_uri())
        return None
    client = MlflowClient()
    try:
        run = client.get_run(run_id)
        with tempfile.TemporaryDirectory(prefix="news-config-") as folder:
            config = load_config(Path(client.download_artifacts(run_id, CONFIG_ARTIFACT, folder)))
        with _quiet():
            data = load_labelled_data(config.data, config.task, config.extra_training)
    except (MlflowException, OSError, UserInputError) as err:
        logger.info("which rows the model was trained on is not known: %s", err)
        return None
    if frame_digest(data.frame) != run.data.tags.get(DATA_DIGEST_TAG):
        logger.info("which rows the model was trained on is not known: its data changed since it was trained")
        return None
    trained = set(input_keys(data.frame, task))
    for extra in data.extra:
        trained.update(input_keys(extra.frame, task))
    return int(input_keys(frame, task).isin(trained).sum())


@contextmanager
def _quiet() -> Iterator[None]:
    """The training data's own notices (copies joined, rare labels) were given when it trained: not again here."""
    loggers = [logging.getLogger(name) for name in ("training.labelled_data", "training.input_copies", "training.public_datasets")]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.setLevel(level)
