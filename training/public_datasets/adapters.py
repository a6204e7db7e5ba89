"""Read a public benchmark from its official layout into the trainer's frame: text, [target,] label, group.

A benchmark scored per subset of its rows (VAST: zero-shot and few-shot topics) adds a `subset` column,
which the scorer reads and the trainer's LabelledData leaves out.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from classifiers.errors import UserInputError
from training.linked_components import linked_components
from training.text_decoding import decode_text

logger = logging.getLogger(__name__)

FNC1_UNRELATED = "unrelated"
# A group naming several units ("a|b": an FNC-1 pair whose headline and body come from different stories).
UNIT_SEPARATOR = "|"


@dataclass(frozen=True)
class Benchmark:
    """One public dataset: where it lives, what it labels and how it is officially scored."""

    name: str
    folder: str
    task: str
    labels: tuple[str, ...]
    primary_metric: str
    # split -> the files (or folder) it reads, relative to the dataset folder, under their official names
    splits: Mapping[str, tuple[str, ...]]
    # Values of the frame's `subset` column; the official metrics are also reported on each subset's rows.
    subsets: tuple[str, ...] = ()
    # Splits the project's datasets folder withholds on purpose (models are selected on training data only); they are
    # scored from another data directory that holds the official files.
    withheld: tuple[str, ...] = ()

    def directory(self, data_dir: Path) -> Path:
        """The dataset's folder under a data directory."""
        return data_dir / self.folder

    def resolve_split(self, split: str | None) -> str:
        """The split to read: the one given, else the split models are trained and selected on (listed first)."""
        return split or next(iter(self.splits))


BENCHMARKS: dict[str, Benchmark] = {
    "fnc1": Benchmark(
        name="fnc1",
        folder="fnc1",
        task="stance",
        labels=("agree", "disagree", "discuss", "unrelated"),
        primary_metric="fnc_score",
        splits={
            "train": ("train_bodies.csv", "train_stances.csv"),
            "test": ("competition_test_bodies.csv", "competition_test_stances.csv"),
        },
        withheld=("test",),
    ),
    "semeval2016": Benchmark(
        name="semeval2016",
        folder="semeval2016_task6",
        task="stance",
        labels=("AGAINST", "FAVOR", "NONE"),
        primary_metric="semeval_f_avg",
        splits={
            "train": ("semeval2016-task6-trainingdata.txt",),
            "test": ("SemEval2016-Task6-subtaskA-testdata-gold.txt",),
        },
        withheld=("test",),
    ),
    "bbc_news": Benchmark(
        name="bbc_news",
        folder="bbc_news",
        task="topic",
        labels=("business", "entertainment", "politics", "sport", "tech"),
        primary_metric="accuracy",
        # The published 80% and the withheld 20% share one layout, so a split is "every article in the folder".
        splits={"all": ("bbc",)},
    ),
    "vast": Benchmark(
        name="vast",
        folder="vast",
        task="stance",
        labels=("con", "pro", "neutral"),
        primary_metric="vast_macro_f1",
        # No official dev file is here: a dev split is carved out of train, grouped by topic.
        splits={"train": ("vast_train.csv",), "test": ("vast_test.csv",)},
        subsets=("zero_shot", "few_shot"),
        withheld=("test",),
    ),
}

# Where a user points the project at the datasets, as a message says it.
DATA_DIR_SETTINGS = "NEWS_DATA_DIR, else ../shared/datasets beside the project; a config's data.data_dir; evaluate --data-dir"
# Offending values listed in an error message before the rest are only counted.
SHOWN = 5


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called `name`; UserInputError listing the known ones otherwise."""
    if name not in BENCHMARKS:
        raise UserInputError(f"unknown benchmark '{name}'; known: {', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[name]


def load_benchmark(name: str, data_dir: Path, split: str | None, task: str, limit: int | None = None) -> pd.DataFrame:
    """Rows of one split (default: the training split): `text`, `target` (stance only), `label`, `group`.

    `limit` keeps the first N groups.
    """
    benchmark = get_benchmark(name)
    split = benchmark.resolve_split(split)
    if task != benchmark.task:
        raise UserInputError(f"{name} is a {benchmark.task} dataset; it cannot train the '{task}' task")
    if limit is not None and limit < 1:
        raise UserInputError(f"{name}: limit must be a positive number of groups, got {limit}")
    frame = _read(benchmark, data_dir, split)
    if limit is not None:
        frame = _first_groups(frame, limit)
    logger.info("%s %s: %d rows in %d groups", name, split, len(frame), frame["group"].nunique())
    return frame


def _read(benchmark: Benchmark, data_dir: Path, split: str) -> pd.DataFrame:
    if split not in benchmark.splits:
        raise UserInputError(
            f"unknown split '{split}' for {benchmark.name}; valid splits: {', '.join(benchmark.splits)}"
        )
    folder = benchmark.directory(data_dir)
    expected = ", ".join(benchmark.splits[split])
    withheld = ""
    if split in benchmark.withheld:
        withheld = (
            f"; the '{split}' split is withheld from the project's datasets on purpose (models are selected on training data): "
            f"to score it, give --data-dir (in a config, data.data_dir) a folder holding {benchmark.folder}/ with "
            f"{expected} as published"
        )
    if not folder.is_dir():
        raise UserInputError(
            f"{folder} not found: the {benchmark.name} '{split}' split reads {expected} from that folder"
            + (withheld or f" (the data directory: {DATA_DIR_SETTINGS})")
        )
    paths = [folder / relative for relative in benchmark.splits[split]]
    for path in paths:
        if not path.exists():
            raise UserInputError(f"{path} not found: the {benchmark.name} '{split}' split reads {expected} in {folder}{withheld}")
    return READERS[benchmark.name](paths, benchmark.labels)


def _first_groups(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    # SemEval and BBC files are sorted by target or class, so a prefix of the file would hold one of them.
    # Ordering groups by a hash of their id is fixed yet mixed, and a smaller limit keeps a subset of a larger one.
    # A group may name several units (FNC-1: "a|b"); the first N units are kept, with the rows that draw on them only.
    units = frame["group"].str.split(UNIT_SEPARATOR, regex=False)
    ordered = sorted(set(units.explode()), key=lambda unit: hashlib.sha256(unit.encode()).hexdigest())
    kept = set(ordered[:limit])
    return frame[units.map(kept.issuperset).to_numpy()].reset_index(drop=True)


def _offenders(found: Iterable[tuple[str, str]]) -> str:
    """Each distinct value with where it first occurs and how often, the first few values only."""
    first: dict[str, str] = {}
    counts: dict[str, int] = {}
    for where, value in found:
        first.setdefault(value, where)
        counts[value] = counts.get(value, 0) + 1
    shown = [f"'{value}' ({where}; {counts[value]} in all)" for value, where in list(first.items())[:SHOWN]]
    more = f" and {len(first) - SHOWN} more" if len(first) > SHOWN else ""
    return ", ".join(shown) + more


def _check_labels(source: Path, what: str, found: list[tuple[str, str]], allowed: tuple[str, ...]) -> None:
    unknown = [(where, label) for where, label in found if label not in allowed]
    if unknown:
        raise UserInputError(f"{source}: unknown {what} {_offenders(unknown)}; expected one of {', '.join(allowed)}")


def _check_unique(source: Path, column: str, found: list[tuple[str, str]]) -> None:
    seen: set[str] = set()
    repeated = []
    for where, value in found:
        if value in seen:
            repeated.append((where, value))
        seen.add(value)
    if repeated:
        raise UserInputError(f"{source}: repeated {column} {_offenders(repeated)}")


def _check_filled(source: Path, column: str, rows: list[tuple[str, dict[str, str]]]) -> None:
    """Refuse rows whose `column` is empty or only whitespace, naming their lines: such a row would be trained on and
    scored as if it said something."""
    blank = [where for where, row in rows if not row[column].strip()]
    if blank:
        more = f" and {len(blank) - SHOWN} more" if len(blank) > SHOWN else ""
        raise UserInputError(f"{source}: empty {column} on {', '.join(blank[:SHOWN])}{more} ({len(blank)} in all)")


def _table(
    path: Path, columns: tuple[str, ...], encoding: str = "utf-8", **dialect: Any
) -> list[tuple[str, dict[str, str]]]:
    """The rows of a delimited file with a header row, each keyed by 'line N' (the line it starts on: a quoted
    field may run over several lines)."""
    text = decode_text(path, path.read_bytes(), encoding)
    rows = []
    start = 1
    try:
        # strict: a quote never closed is an error where its row begins; read leniently, it ran on to the end of the
        # file as one field, which in a two-column file (FNC-1's bodies) has the right count and took the rows after it.
        reader = csv.reader(io.StringIO(text, newline=""), strict=True, **dialect)
        header = next(reader, [])
        if header and encoding == "utf-8":
            # A byte-order mark (a CSV saved from Excel) would stick to the first column's name, unseen.
            header[0] = header[0].removeprefix("\ufeff")
        missing = [column for column in columns if column not in header]
        if missing:
            raise UserInputError(
                f"{path}: missing column(s) {', '.join(missing)}; the header has {', '.join(header) or 'nothing'}"
            )
        repeated = [column for column in columns if header.count(column) > 1]
        if repeated:
            # Reading either would be a guess (the first is read), and the other may hold what the name promises.
            raise UserInputError(f"{path}: column(s) {', '.join(repeated)} named more than once in the header")
        positions = {column: header.index(column) for column in columns}
        start = reader.line_num + 1
        for row in reader:
            if row and len(row) != len(header):
                # A quote closed lines later takes them into its field: say where the row began.
                spans = f" (a row from line {start} to line {reader.line_num})" if reader.line_num > start else ""
                raise UserInputError(f"{path}:{start}: {len(row)} fields where the header has {len(header)}{spans}")
            if row:
                rows.append((f"line {start}", {column: row[index] for column, index in positions.items()}))
            start = reader.line_num + 1
    except csv.Error as err:
        raise UserInputError(f"{path}:{start}: cannot read the row ({err})") from err
    if not rows:
        # An empty frame would be scored and fail in the model's input schema, with MLflow's traceback.
        raise UserInputError(f"{path}: no rows under the header")
    return rows


def _read_fnc1(paths: list[Path], labels: tuple[str, ...]) -> pd.DataFrame:
    bodies_path, stances_path = paths
    bodies = _table(bodies_path, ("Body ID", "articleBody"))
    _check_unique(bodies_path, "Body ID", [(where, row["Body ID"]) for where, row in bodies])
    _check_filled(bodies_path, "articleBody", bodies)
    body_text = {row["Body ID"]: row["articleBody"] for _, row in bodies}
    stances = _table(stances_path, ("Headline", "Body ID", "Stance"))
    _check_filled(stances_path, "Headline", stances)
    orphans = [(where, row["Body ID"]) for where, row in stances if row["Body ID"] not in body_text]
    if orphans:
        raise UserInputError(f"{stances_path}: Body ID with no body in {bodies_path.name}: {_offenders(orphans)}")
    _check_labels(stances_path, "Stance", [(where, row["Stance"]) for where, row in stances], labels)
    headlines = [row["Headline"] for _, row in stances]
    body_ids = [row["Body ID"] for _, row in stances]
    stance_labels = [row["Stance"] for _, row in stances]
    return pd.DataFrame(
        {
            "text": [body_text[body] for body in body_ids],
            "target": headlines,
            "label": stance_labels,
            # The news stories each pair draws on (see fnc1_story_groups): the unit the story_* splits hold out.
            "group": fnc1_story_groups(headlines, body_ids, stance_labels),
        }
    )


def fnc1_stories(headlines: Sequence[str], body_ids: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """The news story of each pair's headline and of its body.

    FNC-1 pairs each headline with the bodies of its own story (agree, disagree, discuss) and, as
    `unrelated`, with bodies of other stories. A story is a connected component of the graph that links
    every headline to the bodies it is *related* to (the graph of all pairs is one component); it is
    named `story-<smallest Body ID in it>`. A headline or body with no related pair is a story of its own.
    """
    related = [label != FNC1_UNRELATED for label in labels]
    head_story, body_story = linked_components(headlines, body_ids, related)
    bodies: dict[int, list[str]] = {}
    for story, body in zip(body_story, body_ids, strict=True):
        bodies.setdefault(int(story), []).append(body)
    names = {story: "story-" + min(members, key=lambda body: (len(body), body)) for story, members in bodies.items()}
    # A headline with no related body is a story of its own, named after its text.
    heads = [
        names.get(int(story)) or "story-h" + hashlib.sha256(headline.encode()).hexdigest()[:12]
        for story, headline in zip(head_story, headlines, strict=True)
    ]
    return heads, [names[int(story)] for story in body_story]


def fnc1_story_groups(headlines: Sequence[str], body_ids: Sequence[str], labels: Sequence[str]) -> list[str]:
    """Each pair's group: its story (related pairs), or `<headline's story>|<body's story>` (unrelated pairs),
    so that a split holding out whole stories (cv story_holdout, story_kfold) tests a pair only when both
    its headline and its body belong to held-out stories: new events, as in the competition test."""
    head, body = fnc1_stories(headlines, body_ids, labels)
    return [h if h == b else f"{h}{UNIT_SEPARATOR}{b}" for h, b in zip(head, body, strict=True)]


def _semeval_encoding(path: Path) -> str:
    """latin-1, the official files' encoding; UTF-8 for a file whose bytes are valid UTF-8 and not all ASCII.

    Such a file is a copy re-saved as UTF-8: the official training file is not valid UTF-8 (its non-ASCII bytes stand
    alone), and latin-1 text that happened to be valid UTF-8 would need every such byte in a UTF-8 sequence ("Ã©").
    Read as latin-1, the copy's "é" became "Ã©" without a word; read as UTF-8 it gives the official file's text.
    """
    raw = path.read_bytes()
    if raw.isascii():
        return "latin-1"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    logger.info("%s is UTF-8 (the official SemEval-2016 files are latin-1: a re-saved copy?); read as UTF-8", path)
    return "utf-8"


def _read_semeval2016(paths: list[Path], labels: tuple[str, ...]) -> pd.DataFrame:
    (path,) = paths
    # Tweets contain bare double quotes: with quoting on, csv would merge rows up to the next quote.
    rows = _table(
        path, ("ID", "Target", "Tweet", "Stance"), encoding=_semeval_encoding(path), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    _check_unique(path, "ID", [(where, row["ID"]) for where, row in rows])
    _check_filled(path, "Target", rows)
    _check_filled(path, "Tweet", rows)
    _check_labels(path, "Stance", [(where, row["Stance"]) for where, row in rows], labels)
    return pd.DataFrame(
        {
            "text": [row["Tweet"] for _, row in rows],
            "target": [row["Target"] for _, row in rows],
            "label": [row["Stance"] for _, row in rows],
            # Tweets are independent (none repeats in the training file), so each is its own group.
            "group": [row["ID"] for _, row in rows],
        }
    )


def _article_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        # utf-8-sig: a byte-order mark (an article re-saved by an editor) would begin the title unseen.
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # One published article (sport/199.txt) has a bare latin-1 pound sign; latin-1 reads it as written.
        logger.debug("%s is not UTF-8; read as latin-1", path)
        content = raw.decode("latin-1")
    title, _, body = content.strip().partition("\n")
    if not body.strip():
        raise UserInputError(f"{path}: expected a title line and then the article body")
    return f"{title.strip()}\n{body.strip()}"


def _read_bbc_news(paths: list[Path], labels: tuple[str, ...]) -> pd.DataFrame:
    (root,) = paths
    if not root.is_dir():
        raise UserInputError(f"{root} is not a folder: expected bbc/<class>/NNN.txt articles")
    articles = sorted(root.glob("*/*.txt"))
    if not articles:
        raise UserInputError(f"{root}: no articles; expected <class>/NNN.txt files")
    _check_labels(root, "class folder", [(str(path.relative_to(root)), path.parent.name) for path in articles], labels)
    return pd.DataFrame(
        {
            "text": [_article_text(path) for path in articles],
            "label": [path.parent.name for path in articles],
            "group": [f"{path.parent.name}/{path.stem}" for path in articles],
        }
    )


# The published `label` codes, in the order of the benchmark's labels (0 = con, 1 = pro, 2 = neutral).
VAST_LABEL_CODES = ("0", "1", "2")
# The published `seen?` flag: 1 = the topic occurs in the training file (few-shot), 0 = it does not (zero-shot).
VAST_SEEN = {"0": "zero_shot", "1": "few_shot"}


def _vast_tokens(path: Path, where: str, cell: str) -> str:
    """The published `text` cell (a JSON list of sentences, each a list of tokens) as one line of words."""
    try:
        sentences = json.loads(cell)
        words = [str(word) for sentence in sentences for word in sentence]
    except (ValueError, TypeError) as err:
        raise UserInputError(f"{path}: {where}: empty post, and its text column is not a JSON list of token lists") from err
    if not words:
        raise UserInputError(f"{path}: {where}: empty post and empty text column")
    return " ".join(words)


def _read_vast(paths: list[Path], labels: tuple[str, ...]) -> pd.DataFrame:
    (path,) = paths
    rows = _table(path, ("post", "topic_str", "label", "seen?", "new_id", "text"))
    _check_unique(path, "new_id", [(where, row["new_id"]) for where, row in rows])
    _check_labels(path, "label", [(where, row["label"]) for where, row in rows], VAST_LABEL_CODES)
    _check_labels(path, "seen?", [(where, row["seen?"]) for where, row in rows], tuple(VAST_SEEN))
    blank_topics = [(where, "") for where, row in rows if not row["topic_str"].strip()]
    if blank_topics:
        raise UserInputError(f"{path}: empty topic_str {_offenders(blank_topics)}")
    # The copy here lost the post (and text_s) of 11 training rows, whose post starts with '@' (apparently read as
    # a formula by the xlsx it was converted from); the authors' tokenised post in `text` (stop words removed)
    # stands in, so that every official row is kept and scored.
    blank = [where for where, row in rows if not row["post"].strip()]
    if blank:
        logger.warning("%s: %d row(s) with an empty post (first: %s) read the tokens of `text`", path, len(blank), blank[0])
    texts = [row["post"] if row["post"].strip() else _vast_tokens(path, where, row["text"]) for where, row in rows]
    code = dict(zip(VAST_LABEL_CODES, labels, strict=True))
    return pd.DataFrame(
        {
            "text": texts,
            "target": [row["topic_str"] for _, row in rows],
            "label": [code[row["label"]] for _, row in rows],
            # A topic is the unit VAST holds out (zero-shot), so grouped splits keep its rows together.
            "group": vast_topic_groups([row["topic_str"] for _, row in rows]),
            "subset": [VAST_SEEN[row["seen?"]] for _, row in rows],
        }
    )


def vast_topic_groups(topics: Sequence[str]) -> list[str]:
    """Each row's topic under the first spelling the file gives it: VAST spells some topics two ways ("homeschooling"
    and "home schooling", "u.s" and "us"), and a split holding one out must hold out the other."""
    first: dict[str, str] = {}
    return [first.setdefault(re.sub(r"[\W_]+", "", topic.casefold()), topic) for topic in topics]


READERS: dict[str, Callable[[list[Path], tuple[str, ...]], pd.DataFrame]] = {
    "fnc1": _read_fnc1,
    "semeval2016": _read_semeval2016,
    "bbc_news": _read_bbc_news,
    "vast": _read_vast,
}
