"""How much near-duplicate tweets lift the SemEval-2016 dev figures.

The SemEval configs are compared by 5-fold cross-validation on the training tweets. Some tweets are
near-copies of others (retweets, templates), and a model that has seen one copy in training finds the
other easy; the withheld test, collected later, holds far fewer such pairs. For each config this script
runs the configs' own folds (`group_splits` with the config's seed, a fresh model per fold, as training
does) and reports `semeval_f_avg` over all tweets and over the tweets with no near-duplicate on the
training side of their fold: TF-IDF cosine above 0.8, the vectoriser fitted on that training side only.

    python benchmarks/semeval_near_duplicates.py                       # the three shipped configs
    python benchmarks/semeval_near_duplicates.py configs/benchmarks/semeval2016/ensemble.yaml
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from dev_check_results import Row, benchmark_configs, config_key, load_results, markdown, save_results
from sklearn.feature_extraction.text import TfidfVectorizer
from user_errors import run_script

from classifiers.registry import classifier_factory
from training import locations
from training.evaluation.cross_validation import cross_validate, group_splits
from training.labelled_data import load_labelled_data
from training.public_datasets.scorers import semeval_f_avg

logger = logging.getLogger("benchmarks.semeval_near_duplicates")
CONFIGS = locations.CONFIGS_DIR / "benchmarks" / "semeval2016"
DEFAULT_CONFIGS = [CONFIGS / "tfidf_svm.yaml", CONFIGS / "minilm_per_target.yaml", CONFIGS / "ensemble.yaml"]
NEAR = 0.8
RESULTS = Path(__file__).parent / "results" / "semeval_near_duplicates.json"


def near_duplicates(texts: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """True for each tested tweet whose fold's training side holds a tweet at TF-IDF cosine above NEAR."""
    near = np.zeros(len(texts), dtype=bool)
    for train, test in splits:
        vectoriser = TfidfVectorizer(sublinear_tf=True).fit(texts[train])
        similarity = vectoriser.transform(texts[test]) @ vectoriser.transform(texts[train]).T
        near[test] = similarity.max(axis=1).toarray().ravel() > NEAR
    return near


def figures(gold: np.ndarray, near: np.ndarray, tested: np.ndarray, predicted: np.ndarray) -> Row:
    """F_avg of the tested rows with and without their near-duplicates (None where every one is), and their share.

    `predicted` covers only the rows some fold tested: all of them under group_kfold, not under a holdout.
    """
    gold, near = gold[tested], near[tested]
    # With every tested row a near-duplicate none is left to score (semeval_f_avg refuses an empty set).
    without = round(semeval_f_avg(gold[~near], predicted[~near]), 2) if not near.all() else None
    return {
        "semeval_f_avg": round(semeval_f_avg(gold, predicted), 2),
        "semeval_f_avg_without_near_duplicates": without,
        "near_duplicate_share": round(float(near.mean()), 4),
    }


def main(
    configs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="SemEval-2016 configs to score (default: tfidf_svm, minilm_per_target and ensemble in "
            "configs/benchmarks/semeval2016/)."
        ),
    ] = None,
    write: Annotated[
        bool,
        typer.Option(help="Keep the figures in benchmarks/results/semeval_near_duplicates.json; --no-write only prints them."),
    ] = True,
) -> None:
    """Measure how much near-duplicate tweets (retweets, templates) lift each SemEval-2016 config's dev F_avg: run
    the config's own cross-validation folds on the training tweets (a fresh model per fold, as training does) and
    report semeval_f_avg over every tested tweet and over the tweets with no near-duplicate on the training side of
    their fold (TF-IDF cosine above 0.8, the vectoriser fitted on that training side only), with the share of
    near-duplicates. Every figure is a dev figure (the test file is not read); each config's are added to
    benchmarks/results/semeval_near_duplicates.json as soon as it is scored, and all are printed as a markdown table.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results = load_results(RESULTS)
    # All read before the first trains, so a config not found or invalid is reported at once.
    chosen = benchmark_configs(configs or DEFAULT_CONFIGS, "semeval2016")
    for path, config in chosen:
        data = load_labelled_data(config.data, config.task, config.extra_training)
        splits = group_splits(config.evaluation, data.frame["group"], config.seed)
        near = near_duplicates(data.frame["text"].to_numpy(), splits)
        validation = cross_validate(classifier_factory(config.model, config.task, config.seed), data, splits)
        results[config_key(path)] = figures(data.frame["label"].to_numpy(), near, validation.tested, validation.predictions)
        logger.info("%s: %s", config_key(path), results[config_key(path)])
        if results[config_key(path)]["semeval_f_avg_without_near_duplicates"] is None:
            logger.warning(
                "%s: every tested tweet has a near-duplicate on its fold's training side: no figure without them (n/a)",
                config_key(path),
            )
        if write:
            # Kept at once, so a later config that fails or is stopped does not take this one's figures with it.
            save_results(RESULTS, results)
    columns = {
        "semeval_f_avg (dev)": "semeval_f_avg",
        "without near-duplicates (dev)": "semeval_f_avg_without_near_duplicates",
        "near-duplicate share": "near_duplicate_share",
    }
    typer.echo(markdown(results, columns))

if __name__ == "__main__":
    run_script(main)
