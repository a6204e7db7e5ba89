"""VAST dev figures on two splits: topics held out (the configs' split) and topics *and* comments held out.

VAST pairs each comment with about six topics, so the configs' dev split (20% of the topics held out,
seed 13) still tests comments the model was trained on under other topics: 99% of its dev rows. A model
can then score by remembering a comment's usual stance. This script also scores each config on a split
that holds out 20% of the topics and 30% of the comments (seeded) and tests the rows whose topic and
comment are both held out, training on rows with neither (rows mixing the two are left out): no dev
comment and no dev topic was seen in training. Every figure is a dev figure from the training file; the
model of each run is built from the config and fitted on the training side only.

    python benchmarks/vast_dev_splits.py                 # the shipped VAST configs
    python benchmarks/vast_dev_splits.py configs/benchmarks/vast/minilm_matching.yaml
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from dev_check_results import Row, benchmark_configs, config_key, load_results, markdown, save_results
from user_errors import run_script

from classifiers.registry import classifier_factory
from training import locations
from training.evaluation.cross_validation import cross_validate, group_splits
from training.labelled_data import load_labelled_data
from training.public_datasets.scorers import vast_macro_f1

logger = logging.getLogger("benchmarks.vast_dev_splits")
CONFIGS = sorted((locations.CONFIGS_DIR / "benchmarks" / "vast").glob("*.yaml"))
COMMENT_FRACTION = 0.3
RESULTS = Path(__file__).parent / "results" / "vast_dev_splits.json"


def strict_split(comments: pd.Series, topic_test: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Test rows whose topic is held out (topic_test) and whose comment is among COMMENT_FRACTION of the
    comments drawn with seed; train on rows with neither."""
    unique = np.sort(comments.unique())
    chosen = np.random.default_rng(seed).choice(unique, size=round(COMMENT_FRACTION * len(unique)), replace=False)
    in_comments = comments.isin(chosen).to_numpy()
    in_topics = np.zeros(len(comments), dtype=bool)
    in_topics[topic_test] = True
    return np.flatnonzero(~in_topics & ~in_comments), np.flatnonzero(in_topics & in_comments)


def main(
    configs: Annotated[
        list[Path] | None,
        typer.Argument(help="VAST configs to score (default: every config in configs/benchmarks/vast/)."),
    ] = None,
    write: Annotated[
        bool,
        typer.Option(help="Keep the figures in benchmarks/results/vast_dev_splits.json; --no-write only prints them."),
    ] = True,
) -> None:
    """Score each VAST config on two dev splits of the training file: its own (the config's `evaluation`: 20% of the
    topics held out in the shipped configs), and a stricter one that also holds out 30% of the comments and tests only the rows
    whose topic and comment are both held out, training on rows with neither. VAST pairs each comment with about six
    topics, so on the configs' split most dev comments were trained on under another topic; the stricter figure shows
    what that was worth. A model is fitted on each split's training side only, and every figure is a dev figure (the
    test file is not read); each config's are added to benchmarks/results/vast_dev_splits.json as soon as it is
    scored, and all are printed as a markdown table.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results = load_results(RESULTS)
    # All read before the first trains, so a config not found or invalid is reported at once.
    chosen = benchmark_configs(configs or CONFIGS, "vast")
    for path, config in chosen:
        data = load_labelled_data(config.data, config.task, config.extra_training)
        frame, gold = data.frame, data.frame["label"].to_numpy()
        ((topic_train, topic_test),) = group_splits(config.evaluation, frame["group"], config.seed)
        row: Row = {}
        for name, split in (("topics", (topic_train, topic_test)), ("topics_and_comments", strict_split(frame["text"], topic_test, config.seed))):
            validation = cross_validate(classifier_factory(config.model, config.task, config.seed), data, [split])
            row[f"vast_macro_f1_{name}"] = round(vast_macro_f1(gold[validation.tested], validation.predictions), 3)
            row[f"train_rows_{name}"], row[f"dev_rows_{name}"] = len(split[0]), len(split[1])
        results[config_key(path)] = row
        logger.info("%s: %s", config_key(path), row)
        if write:
            # Kept at once, so a later config that fails or is stopped does not take this one's figures with it.
            save_results(RESULTS, results)
    # The rows each figure scored: configs kept from before the split was corrected scored other rows.
    columns = {
        "vast_macro_f1, topics held out (dev)": "vast_macro_f1_topics",
        "its dev rows": "dev_rows_topics",
        "vast_macro_f1, topics and comments held out (dev)": "vast_macro_f1_topics_and_comments",
        "their dev rows": "dev_rows_topics_and_comments",
    }
    typer.echo(markdown(results, columns))

if __name__ == "__main__":
    run_script(main)
