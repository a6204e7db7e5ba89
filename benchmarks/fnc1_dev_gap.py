"""Why the FNC-1 dev figure read high: one model, several dev splits of the training file.

The lexical `pair_features` champion scored fnc_score 88.84 / macro-F1 0.690 on the `disjoint_holdout`
dev split and 78.08 / 0.570 on the withheld competition test. This script trains the same config on
several splits of the *training* file (everything fitted on the training side only: the family fits its
TF-IDF, SVD and class weights in `fit`) and reports for each split:

- fnc_score, macro-F1 and per-class F1 of the test side (a dev figure, never a test figure);
- the same two figures reweighted to the competition test's published class shares (unrelated .722,
  discuss .176, agree .074, disagree .027), so splits with different class balances compare;
- how much of the test side the training side already saw: exact and near-duplicate (TF-IDF cosine
  > 0.9, vectoriser fitted on the training side) headlines and bodies, and the share of test pairs whose
  news story has pairs in training;
- optionally the FNC-1 official baseline (its features re-implemented here, gradient boosting with
  200 trees) on the same split, to calibrate a split against the baseline's published dev/test pair
  (79.53 on its hold-out, 75.20 on the competition test).

Splits (`--splits`):
- `disjoint`: the shipped `cv: disjoint_holdout` (30% of bodies and 30% of headlines, seed 13).
- `body`: 20% of bodies (GroupShuffleSplit, seed 13), the split used before the disjoint one.
- `baseline`: the official baseline's procedure: body ids in file order, shuffled by
  `random.Random(1489215)`, the last 20% held out. (The baseline's own code shuffles with the global
  `random`, not its seeded generator, so its shipped ids cannot be regenerated; this is the procedure.)
- `story`: news stories held out whole (`cv: story_holdout`). A story is a connected component of the
  graph linking each headline to the bodies it is *related* to (agree/disagree/discuss); FNC-1 builds its
  unrelated pairs by pairing a headline with bodies of other stories, so all pairs linked as one
  component. 30% of the stories are held out (seed 13); test pairs have both headline and body in
  held-out stories, training pairs both in kept ones: new events on the test side, as in the competition.
- `story5`: the story split as 5 folds (`cv: story_kfold`, what the FNC-1 configs log; every story tested once), pooled.

Model variants: `--override model.<key>=<value>` with a `--label`; `--tune-disagree` scales the disagree
probability by a factor chosen on an inner story split of each training side. Results go to `--out`
(`benchmarks/results/fnc1_dev_gap.json`, which docs/benchmarks.md quotes), each run's test-side predictions and the
baseline's feature cache to `--scratch`; `--table` prints the results file as a markdown table.

    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/fnc1_dev_gap.py --splits disjoint --splits body --splits baseline \
        --splits story --baseline
"""

from __future__ import annotations

import json
import logging
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from markdown_tables import aligned, markdown_table
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupShuffleSplit
from user_errors import folder_to_make, run_script, writable_file, writable_folder

from classifiers.errors import UserInputError
from classifiers.registry import classifier_factory
from training import locations
from training.atomic_files import write_texts_atomically
from training.config.resolve import load_config
from training.config.schema import EvaluationConfig, ExperimentConfig
from training.evaluation.cross_validation import disjoint_holdout, group_splits
from training.public_datasets.adapters import load_benchmark
from training.public_datasets.scorers import fnc_score, fnc_test_mix, fnc_test_weights

logger = logging.getLogger("benchmarks.fnc1_dev_gap")
RESULTS = locations.PROJECT_ROOT / "benchmarks" / "results" / "fnc1_dev_gap.json"
LABELS = ["agree", "disagree", "discuss", "unrelated"]
LEXICAL = locations.CONFIGS_DIR / "benchmarks" / "fnc1" / "pair_features_lexical.yaml"
BASELINE_SEED = 1489215
SPLITS = ("disjoint", "body", "baseline", "story", "story5")
Split = tuple[np.ndarray, np.ndarray]


# --- splits -----------------------------------------------------------------------------------


def baseline_holdout(body_of_pair: pd.Series, bodies_in_file_order: list[str], training: float = 0.8) -> Split:
    """The FNC-1 baseline's `generate_hold_out_split` procedure with its seed: body ids shuffled, the last 20% held out."""
    ids = [int(body) for body in bodies_in_file_order]
    random.Random(BASELINE_SEED).shuffle(ids)
    cut = int(training * len(ids))
    held = {str(body) for body in ids[cut:]}
    test = body_of_pair.isin(held).to_numpy()
    return np.flatnonzero(~test), np.flatnonzero(test)


def make_splits(frame: pd.DataFrame, body_of_pair: pd.Series, bodies: list[str], names: list[str], seed: int) -> dict[str, list[Split]]:
    """Train/test rows of each named split; `frame["group"]` holds the stories (the adapter's groups)."""
    groups, targets, stories = body_of_pair, frame["target"], frame["group"]
    out: dict[str, list[Split]] = {}
    for name in names:
        match name:
            case "disjoint":
                out[name] = [disjoint_holdout(groups, targets, 0.3, seed)]
            case "body":
                splitter = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
                out[name] = list(splitter.split(np.zeros(len(frame)), groups=groups.to_numpy()))
            case "baseline":
                out[name] = [baseline_holdout(body_of_pair, bodies)]
            case "story":
                out[name] = group_splits(EvaluationConfig(cv="story_holdout", holdout_fraction=0.3), stories, seed)
            case "story5":
                out[name] = group_splits(EvaluationConfig(cv="story_kfold", n_splits=5), stories, seed)
            case _:
                raise typer.BadParameter(f"unknown split {name}")
    return out


# --- what the training side already saw ------------------------------------------------------


def nearest_cosine(train_texts: list[str], test_texts: list[str]) -> np.ndarray:
    """For each test text, the highest TF-IDF cosine to a training text (vectoriser fitted on the training texts)."""
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=1)
    train = vectorizer.fit_transform(train_texts)
    test = vectorizer.transform(test_texts)
    best = np.zeros(len(test_texts))
    for start in range(0, len(test_texts), 500):
        block = (test[start : start + 500] @ train.T).toarray()
        best[start : start + 500] = block.max(axis=1)
    return best


def overlap(frame: pd.DataFrame, stories: pd.Series, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """How much of a split's test side its training side already holds: the same or near-same headlines and
    bodies, and related pairs whose story it trained on."""
    tr, te = frame.iloc[train], frame.iloc[test]
    out: dict[str, float] = {}
    for column, what in (("target", "headlines"), ("text", "bodies")):
        train_texts, test_texts = list(dict.fromkeys(tr[column])), list(dict.fromkeys(te[column]))
        seen = set(train_texts)
        out[f"{what}_exact_seen"] = float(np.mean([text in seen for text in test_texts]))
        cosine = nearest_cosine(train_texts, test_texts)
        out[f"{what}_near_dup_0.9"] = float(np.mean(cosine > 0.9))
        out[f"{what}_near_dup_0.5"] = float(np.mean(cosine > 0.5))
    # The story of a pair is its body's story for related pairs; a pair "knows its story" when the training
    # side has pairs of that story.
    train_stories = set(stories.iloc[train].str.split("|").explode())
    related = te["label"] != "unrelated"
    test_story = stories.iloc[test][related.to_numpy()].str.split("|").str[0]
    out["related_pairs_story_in_training"] = float(test_story.isin(train_stories).mean()) if len(test_story) else 0.0
    return out


# --- scores -----------------------------------------------------------------------------------


def scores(gold: np.ndarray, predicted: np.ndarray) -> dict[str, float | dict[str, float]]:
    """FNC-1 score, macro-F1 and per-class F1 as they are and reweighted to the test's class shares."""
    out: dict[str, float | dict[str, float]] = {
        "n": len(gold),
        "fnc_score": fnc_score(gold, predicted),
        "macro_f1": float(f1_score(gold, predicted, labels=LABELS, average="macro", zero_division=0)),
    }
    per_class = f1_score(gold, predicted, labels=LABELS, average=None, zero_division=0)
    out.update({f"f1_{label}": float(value) for label, value in zip(LABELS, per_class, strict=True)})
    # Reweighted to the competition test's class shares: each gold class weighs test share / dev share.
    out.update(fnc_test_mix(gold, predicted))
    mixed = f1_score(gold, predicted, labels=LABELS, average=None, zero_division=0, sample_weight=fnc_test_weights(gold))
    shares = pd.Series(gold).value_counts(normalize=True)
    out.update({f"f1_{label}_test_mix": float(value) for label, value in zip(LABELS, mixed, strict=True)})
    out["class_shares"] = {label: float(shares.get(label, 0.0)) for label in LABELS}
    return out


# --- the official baseline's features (re-implemented; nltk's lemmatiser left out) -------------

_WORD = re.compile(r"\w+")
REFUTING = ["fake", "fraud", "hoax", "false", "deny", "denies", "not", "despite", "nope", "doubt", "doubts",
            "bogus", "debunk", "pranks", "retract"]


def _clean(text: str) -> str:
    return " ".join(_WORD.findall(text)).lower()


def _stop(words: list[str]) -> list[str]:
    return [word for word in words if word not in ENGLISH_STOP_WORDS]


def _chargram_hits(headline: str, body: str, size: int) -> list[int]:
    joined = " ".join(_stop(headline.split()))
    # As published: `' '.join(x)` of a character gram spaces its characters out ("abc" -> "a b c").
    grams = [" ".join(joined[i : i + size]) for i in range(len(joined) - size + 1)]
    return [sum(g in body for g in grams), sum(g in body[:255] for g in grams), sum(g in body[:100] for g in grams)]


def _ngram_hits(headline: str, body: str, size: int) -> list[int]:
    words = headline.split(" ")
    grams = [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]
    return [sum(g in body for g in grams), sum(g in body[:255] for g in grams)]


def baseline_features(headline: str, body: str) -> list[float]:
    """hand (26) + polarity (2) + refuting (15) + overlap (1), in the baseline's column order."""
    h, b = _clean(headline), _clean(body)
    h_words, b_words = h.split(" "), b.split(" ")
    hand = [sum(t in b for t in h_words), sum(t in b[:255] for t in h_words)]
    stops = sum(t in b for t in _stop(h_words))
    hand += [stops, stops]
    for size in (2, 8, 4, 16):
        hand += _chargram_hits(h, b, size)
    for size in (2, 3, 4, 5, 6):
        hand += _ngram_hits(h, b, size)
    polarity = [sum(t in REFUTING for t in h_words) % 2, sum(t in REFUTING for t in b_words) % 2]
    refuting = [1 if word in h_words else 0 for word in REFUTING]
    overlap_ = [len(set(h_words) & set(b_words)) / max(len(set(h_words) | set(b_words)), 1)]
    return [*hand, *polarity, *refuting, *overlap_]


def baseline_matrix(frame: pd.DataFrame, cache: Path | None) -> np.ndarray:
    """The official baseline's features of every pair, read from `cache` when it exists, else computed and saved there."""
    if cache is not None and cache.exists():
        return np.load(cache)
    started = time.perf_counter()
    matrix = np.asarray([baseline_features(h, b) for h, b in zip(frame["target"], frame["text"], strict=True)], dtype=float)
    logger.info("baseline features for %d pairs in %.0f s", len(frame), time.perf_counter() - started)
    if cache is not None:
        np.save(cache, matrix)
    return matrix


# --- runs -------------------------------------------------------------------------------------


BOOSTS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)


def _fit_predict(config: ExperimentConfig, frame: pd.DataFrame, train: np.ndarray, test: np.ndarray) -> tuple[list[str], np.ndarray]:
    model = classifier_factory(config.model, config.task, config.seed)()
    tr = frame.iloc[train]
    model.fit(tr[["text", "target"]], tr["label"].to_numpy())
    return model.labels, model.predict_proba(frame.iloc[test][["text", "target"]])


def _boosted(labels: list[str], probabilities: np.ndarray, boost: float) -> np.ndarray:
    scaled = probabilities.copy()
    scaled[:, labels.index("disagree")] *= boost
    return np.asarray(labels, dtype=object)[scaled.argmax(axis=1)]


def run_ours(frame: pd.DataFrame, splits: list[Split], config: ExperimentConfig, tune_disagree: bool = False) -> np.ndarray:
    """Out-of-fold labels of the lexical config (with its overrides) on the test sides.

    `tune_disagree` multiplies the disagree probability by the factor (of BOOSTS) that gives the best macro-F1 at
    the competition test's class mix on an inner story hold-out of the *training side* (25% of its stories),
    then refits on the whole training side and applies that factor to the test side.
    """
    predicted = np.full(len(frame), None, dtype=object)
    for train, test in splits:
        boost = 1.0
        if tune_disagree:
            side = frame.iloc[train].reset_index(drop=True)
            ((inner_train, inner_dev),) = group_splits(
                EvaluationConfig(cv="story_holdout", holdout_fraction=0.25), side["group"], config.seed
            )
            labels, probabilities = _fit_predict(config, side, inner_train, inner_dev)
            gold = side["label"].to_numpy()[inner_dev]
            by_boost = {b: fnc_test_mix(gold, _boosted(labels, probabilities, b))["macro_f1_test_mix"] for b in BOOSTS}
            boost = max(by_boost, key=lambda b: by_boost[b])
            logger.info("disagree boost %.1f chosen on the inner split: %s", boost, {b: round(v, 3) for b, v in by_boost.items()})
        labels, probabilities = _fit_predict(config, frame, train, test)
        predicted[test] = _boosted(labels, probabilities, boost)
    return predicted


def run_baseline(frame: pd.DataFrame, features: np.ndarray, splits: list[Split]) -> np.ndarray:
    """The official baseline's gradient-boosted trees, fitted per split: each test row's predicted label."""
    predicted = np.full(len(frame), None, dtype=object)
    y = frame["label"].to_numpy()
    for train, test in splits:
        trees = GradientBoostingClassifier(n_estimators=200, random_state=14128)
        trees.fit(features[train], y[train])
        predicted[test] = trees.predict(features[test])
    return predicted


def markdown(results: dict[str, dict[str, object]]) -> str:
    """One row per (split, model) of a results file: dev figures, raw and at the competition test's class mix."""
    headers = [
        "dev split",
        "model",
        "test-side pairs",
        "fnc_score (dev)",
        "macro-F1 (dev)",
        "fnc_score at test mix (dev)",
        "macro-F1 at test mix (dev)",
        "F1 agree / disagree / discuss / unrelated (dev)",
    ]
    rows = []
    for split, entry in results.items():
        for model, row in entry.items():
            if model in ("sides", "seen"):
                continue
            figures: dict = row  # type: ignore[assignment]
            mixed = [figures.get(f"f1_{label}_test_mix") for label in LABELS]
            per_class = " / ".join(f"{value:.2f}" for value in mixed) if None not in mixed else "–"
            rows.append(
                [
                    split,
                    model,
                    f"{figures['n']:,}",
                    f"{figures['fnc_score']:.2f}",
                    f"{figures['macro_f1']:.3f}",
                    f"{figures['fnc_score_test_mix']:.2f}",
                    f"{figures['macro_f1_test_mix']:.3f}",
                    per_class,
                ]
            )
    return markdown_table(headers, rows, aligned(("left", 2), ("right", 5), ("left", 1)))


def main(
    splits: Annotated[
        list[str],
        typer.Option(
            help="A dev split to score, repeatable: disjoint (30% of bodies and of headlines), body (20% of bodies), "
            "baseline (the official baseline's hold-out), story (30% of the news stories) or story5 (5 story folds)."
        ),
    ] = ["disjoint", "body", "baseline", "story"],  # noqa: B006
    baseline: Annotated[bool, typer.Option(help="Also score the re-implemented official baseline.")] = False,
    ours: Annotated[bool, typer.Option(help="Score the lexical pair_features config.")] = True,
    override: Annotated[list[str], typer.Option(help="Dotted overrides of the lexical config, e.g. model.max_iter=200.")] = [],  # noqa: B006
    label: Annotated[
        str,
        typer.Option(
            help="Name of this model variant in the output (a result of that name is replaced). The default names the "
            "config as it is now, so that a run with no overrides never files its figures under an older variant's name."
        ),
    ] = "lexical_shipped",
    tune_disagree: Annotated[bool, typer.Option(help="Scale the disagree probability by a factor tuned on an inner story split of each training side.")] = False,
    data_dir: Annotated[
        Path, typer.Option(help="Folder holding the benchmark folders; reads fnc1/train_bodies.csv and train_stances.csv.")
    ] = locations.DEFAULT_DATA_DIR,
    out: Annotated[Path, typer.Option(help="Results file; each split and variant is added to it.")] = RESULTS,
    scratch: Annotated[
        Path, typer.Option(help="Folder for each run's test-side predictions and the baseline's feature cache.")
    ] = Path(tempfile.gettempdir()) / "fnc_gap",
    seed: Annotated[
        int, typer.Option(help="Seed of the disjoint, body and story splits (the baseline split keeps its own).")
    ] = 13,
    table: Annotated[bool, typer.Option(help="Only print the results file as a markdown table.")] = False,
) -> None:
    """Why the FNC-1 dev figure read high: train the lexical pair_features config (and, with --baseline, a
    re-implementation of the official FNC-1 baseline) on several dev splits of the training file, everything fitted on
    the training side, and report for each split the test side's fnc_score, macro-F1 and per-class F1, raw and
    reweighted to the competition test's class mix, with how much of the test side (headlines, bodies, news stories)
    the training side already saw. Every figure is a dev figure (the competition test is not read); each split and
    variant is added to --out and the results are printed as JSON, or, with --table, only the results file as a
    markdown table.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if table:
        if not out.is_file():
            raise UserInputError(f"results file {out} not found (written by a run of this script without --table)")
        typer.echo(markdown(json.loads(out.read_text())))
        return
    # Every argument is checked before the data is read, the baseline's features computed or the scratch folder made.
    unknown = [name for name in splits if name not in SPLITS]
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: a split is one of {', '.join(SPLITS)}", param_hint="--splits")
    config = load_config(LEXICAL, override)
    writable_file(out, "results file")
    folder_to_make(scratch, "scratch folder")
    frame = load_benchmark("fnc1", data_dir, "train", "stance")
    writable_folder(scratch, "scratch folder")
    folder = data_dir / "fnc1"
    bodies = pd.read_csv(folder / "train_bodies.csv", dtype=str)["Body ID"].tolist()
    # The adapter's group is the pair's stories; the body-level splits need each pair's Body ID.
    body_of_pair = pd.read_csv(folder / "train_stances.csv", dtype=str)["Body ID"]
    if len(body_of_pair) != len(frame):
        raise SystemExit("train_stances.csv read differently by pandas and the adapter")
    stories = frame["group"]
    results = json.loads(out.read_text()) if out.exists() else {}
    features = baseline_matrix(frame, scratch / "baseline_features_v2.npy") if baseline else None
    for name, split in make_splits(frame, body_of_pair, bodies, splits, seed).items():
        entry = results.setdefault(name, {})
        test = np.concatenate([t for _, t in split])
        entry["sides"] = {"train_pairs": int(np.mean([len(t) for t, _ in split])), "test_pairs": len(test)}
        entry["seen"] = overlap(frame, stories, *split[0])
        gold = frame["label"].to_numpy()[test]
        if ours:
            started = time.perf_counter()
            predicted = run_ours(frame, split, config, tune_disagree)[test]
            entry[label] = {**scores(gold, predicted), "seconds": round(time.perf_counter() - started)}
            np.save(scratch / f"predicted_{name}_{label}.npy", predicted.astype(str))
            logger.info("%s %s: %s", name, label, {k: v for k, v in entry[label].items() if k != "class_shares"})
        if features is not None:
            predicted = run_baseline(frame, features, split)[test]
            entry["official_baseline"] = scores(gold, predicted)
            np.save(scratch / f"predicted_{name}_official_baseline.npy", predicted.astype(str))
            logger.info("%s baseline: %s", name, entry["official_baseline"])
        write_texts_atomically({out: json.dumps(results, indent=2)})
    json.dump(results, sys.stdout, indent=2)


if __name__ == "__main__":
    run_script(main)
