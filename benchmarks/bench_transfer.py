"""Score models trained on the seed corpus on public news they never saw, and write the figures into docs/training.md.

The seed corpus has eight articles and the configs were chosen on its leave-one-article-out figures, so those figures
are noisy and may flatter. These corpora took no part in training the configs below (outside news sets b and c
decided which stance config is the default, after its settings were fixed, and set d which topic config is):

- topic: BBC News's 414 `business` and 338 `politics` articles, scored as `economy` and `domestic_politics` (British
  news, other writers, whole articles); its sport, tech and entertainment articles have no topic of ours and are left
  out. Accuracy is the share of the 752 articles given their topic; the other three topics have no rows here, so a
  macro-F1 would mean little.
- stance: SemEval-2016 Task 6's 2,814 training tweets, FAVOR / AGAINST / NONE toward five targets that no seed row
  names (Atheism, Climate Change is a Real Concern, Feminist Movement, Hillary Clinton, Legalization of Abortion):
  the official F_avg and macro-F1. Tweets, not news: a test of stance toward a new target in new wording. VAST and
  FNC-1 are training data of some stance configs, so they are not used here.
- both: `benchmarks/outside_news/` (its README says who wrote them and when), news paragraphs of the seeds' beat
  labelled by the annotation guideline: macro-F1 over the five topics and the three stances. Set `b` (50 paragraphs,
  60 pairs, balanced) was written by a writer that saw only the guideline; set `c` (60, 115 pairs, as unbalanced as
  real news: most pairs `none`) by another such writer, in the manner of wire copy; set `d` (60, 125) by another,
  in the manner of the regional press; set `a` (40, 36) by the developer of the stance descriptions, in plainer
  words that flatter them. Written, not real news, and by the same kind of writer as the defaults' written training
  rows (corpora/guideline_written), which they flatter.

Every candidate is trained as `python -m training train CONFIG [OVERRIDES]` would (in this process, into a temporary
store) and scored with `training evaluate --dataset ... --label-map ...`'s code.

    python benchmarks/bench_transfer.py                 # every candidate (about 32 minutes on 2 cores, bfloat16)
    python benchmarks/bench_transfer.py --only topic    # the topic candidates
    python benchmarks/bench_transfer.py --config configs/stance/minilm_described.yaml   # one config's candidates
"""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from doc_markers import write_between_markers
from machine import cpu_description
from markdown_tables import Align, aligned, markdown_table
from user_errors import run_script

from classifiers.encoder import precision_name
from training import locations
from training.atomic_files import write_texts_atomically
from training.config.resolve import load_config
from training.evaluation.held_out import evaluate_benchmark, evaluate_file
from training.public_datasets.adapters import load_benchmark
from training.trainer import train

logger = logging.getLogger("benchmarks.transfer")
DOC = locations.PROJECT_ROOT / "docs" / "training.md"
RESULTS = locations.PROJECT_ROOT / "benchmarks" / "results" / "bench_transfer.json"
OUTSIDE_NEWS = locations.PROJECT_ROOT / "benchmarks" / "outside_news"
OUTSIDE_SETS = ("a", "b", "c", "d")


@dataclass(frozen=True)
class Transfer:
    """Where a task's models are scored, and how the benchmark's labels read as ours."""

    dataset: str
    label_map: dict[str, str]


TRANSFERS = {
    "topic": Transfer("bbc_news", {"business": "economy", "politics": "domestic_politics"}),
    "stance": Transfer("semeval2016", {"FAVOR": "favor", "AGAINST": "against", "NONE": "none"}),
}


@dataclass(frozen=True)
class Candidate:
    task: str
    config: str
    overrides: tuple[str, ...] = ()
    note: str = ""

    @property
    def key(self) -> str:
        return " ".join([self.config, *self.overrides])


CANDIDATES = [
    Candidate("topic", "configs/topic/tfidf_svm.yaml", note="old default"),
    Candidate("topic", "configs/topic/minilm_frozen.yaml", note="old best"),
    Candidate("topic", "configs/topic/descriptions.yaml", ("model.description_weight=1",), "zero-shot: no labelled row"),
    Candidate("topic", "configs/topic/descriptions.yaml", note="prototypes (default until 2026-12-03)"),
    Candidate("topic", "configs/topic/descriptions_written.yaml", note="default: also 300 written paragraphs, a head"),
    Candidate("topic", "configs/topic/setfit.yaml"),
    Candidate("stance", "configs/stance/tfidf_logreg.yaml", note="old default"),
    Candidate("stance", "configs/stance/minilm_separate.yaml", note="seeds only"),
    Candidate("stance", "configs/stance/minilm_separate_vast.yaml", note="seeds and VAST"),
    Candidate("stance", "configs/stance/minilm_separate_vast_fnc1.yaml", note="seeds, VAST and FNC-1"),
    Candidate("stance", "configs/stance/minilm_described.yaml", note="the same, mixed with stance descriptions"),
    Candidate("stance", "configs/stance/minilm_described_written.yaml", note="also on 635 written pairs (default until 2026-12-03)"),
    Candidate("stance", "configs/stance/minilm_masked_written.yaml", note="default: the same, the text also with the target masked"),
]


CONFIGS = list(dict.fromkeys(candidate.config for candidate in CANDIDATES))


def measure(candidate: Candidate, data_dir: Path) -> dict[str, object]:
    """Train the candidate on the seed corpus (into the current store) and score it on its task's transfer corpus."""
    path = locations.PROJECT_ROOT / candidate.config
    started = time.perf_counter()
    result = train(load_config(path, [*candidate.overrides, "promote=never"]), path)
    transfer, uri = TRANSFERS[candidate.task], f"models:/{result.registered_model}/{result.version}"
    scored = evaluate_benchmark(uri, transfer.dataset, data_dir, None, transfer.label_map)
    return {
        "candidate": candidate.key,
        "note": candidate.note,
        "task": candidate.task,
        "measured": f"{time.strftime('%Y-%m-%d')}, {cpu_description()}, "
        f"Python {platform.python_version()}, encoder {precision_name()}",
        "seconds": time.perf_counter() - started,
        "seed_macro_f1": result.metrics["macro_f1"],
        "transfer": scored,
        "outside_news": {
            subset: evaluate_file(uri, OUTSIDE_NEWS / subset / f"{candidate.task}.jsonl") for subset in OUTSIDE_SETS
        },
    }


def _outside(row: dict[str, object]) -> list[str]:
    """Macro-F1 on outside sets b, c, d and a, then each class's F1 on b, c and d."""
    scored: dict = row["outside_news"]  # type: ignore[assignment]

    def per_class(subset: str) -> str:
        return ", ".join(f"{label} {value:.2f}" for label, value in sorted(scored[subset]["per_class"].items()))

    return [
        f"**{scored['b']['macro_f1']:.3f}**",
        f"{scored['c']['macro_f1']:.3f}",
        f"**{scored['d']['macro_f1']:.3f}**",
        f"{scored['a']['macro_f1']:.3f}",
        per_class("b"),
        per_class("c"),
        per_class("d"),
    ]


def _topic_row(row: dict[str, object]) -> list[str]:
    scored: dict = row["transfer"]  # type: ignore[assignment]
    recall, confusion = scored["per_class_recall"], scored["confusion"]
    called = sorted(confusion["economy"].items(), key=lambda item: -item[1])
    elsewhere = ", ".join(f"{label} {count}" for label, count in called if label != "economy")
    return [
        f"`{row['candidate']}`",
        str(row["note"]),
        f"{row['seed_macro_f1']:.3f}",
        f"**{scored['accuracy']:.3f}**",
        f"{recall['economy']:.3f}",
        f"{recall['domestic_politics']:.3f}",
        elsewhere,
        *_outside(row),
    ]


def _stance_row(row: dict[str, object]) -> list[str]:
    scored: dict = row["transfer"]  # type: ignore[assignment]
    low, high = scored["macro_f1_interval"]
    per_class = ", ".join(f"{label} {value:.2f}" for label, value in sorted(scored["per_class"].items()))
    return [
        f"`{row['candidate']}`",
        str(row["note"]),
        f"{row['seed_macro_f1']:.3f}",
        f"**{scored['semeval_f_avg']:.1f}**",
        f"{scored['macro_f1']:.3f} ({low:.3f}–{high:.3f})",
        per_class,
        *_outside(row),
    ]


# The outside sets' columns that end both tables (_outside's cells), with their alignments.
_OUTSIDE_ALIGN: list[Align] = aligned(("right", 4), ("left", 3))

# Per task: the table's headings, each column's alignment, and the function writing a row's cells.
HEADERS: dict[str, tuple[list[str], list[Align], Callable[[dict[str, object]], list[str]]]] = {
    "topic": (
        [
            "config",
            "",
            "seed LOAO macro-F1",
            "BBC accuracy (752)",
            "economy recall (414 business)",
            "domestic_politics recall (338 politics)",
            "business articles called",
            "outside b macro-F1 (50)",
            "outside c (60)",
            "outside d (60)",
            "outside a (40)",
            "per topic F1 on b",
            "per topic F1 on c",
            "per topic F1 on d",
        ],
        ["left", "left", "right", "right", "right", "right", "left", *_OUTSIDE_ALIGN],
        _topic_row,
    ),
    "stance": (
        [
            "config",
            "",
            "seed LOAO macro-F1",
            "SemEval F_avg",
            "SemEval macro-F1 (95% interval)",
            "per class F1",
            "outside b macro-F1 (60)",
            "outside c (115)",
            "outside d (125)",
            "outside a (36)",
            "per stance F1 on b",
            "per stance F1 on c",
            "per stance F1 on d",
        ],
        ["left", "left", "right", "right", "right", "left", *_OUTSIDE_ALIGN],
        _stance_row,
    ),
}


def table(task: str, rows: list[dict[str, object]]) -> str:
    """Markdown table of a task's kept rows in the order of CANDIDATES, with when they were measured: rows measured on
    different occasions are numbered, each number naming its occasion under the table (as bench_training's are)."""
    headers, align, line = HEADERS[task]
    occasions = list(dict.fromkeys(str(row["measured"]) for row in rows))
    cells = []
    for row in rows:
        first, *rest = line(row)
        mark = f" ({occasions.index(str(row['measured'])) + 1})" if len(occasions) > 1 else ""
        cells.append([f"{first}{mark}", *rest])
    grid = markdown_table(headers, cells, align)
    if len(occasions) == 1:
        return "\n".join([grid, "", f"Measured {occasions[0]}."])
    return "\n".join([grid, "", *(f"({number}) Measured {when}." for number, when in enumerate(occasions, start=1))])


def chosen_candidates(only: str | None, configs: list[str] | None) -> list[Candidate]:
    """The candidates of a task (None: both) and of the given configs (None: all), or a usage error naming what is wrong."""
    if only not in (None, *TRANSFERS):
        raise typer.BadParameter(f"--only must be one of {', '.join(TRANSFERS)}")
    unknown = sorted(set(configs or ()) - set(CONFIGS))
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)} is not a candidate; candidates: {', '.join(CONFIGS)}")
    chosen = [c for c in CANDIDATES if only in (None, c.task) and (configs is None or c.config in configs)]
    if not chosen:
        raise typer.BadParameter(f"no {only} candidate has config {', '.join(configs or ())}")
    return chosen


def main(
    only: Annotated[str | None, typer.Option(help="topic or stance (default: both).")] = None,
    config: Annotated[
        list[str] | None, typer.Option(help="Only the candidates of this config, as CANDIDATES names it (repeatable).")
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Folder holding the benchmark folders.")] = locations.DEFAULT_DATA_DIR,
    write: Annotated[
        bool,
        typer.Option(
            help="Keep the figures in benchmarks/results/bench_transfer.json and write the tables into docs/training.md; "
            "--no-write only prints them (the new figures beside the kept ones), changing no file of the repository."
        ),
    ] = True,
) -> None:
    """Train each candidate on the seeds, score it on public news, keep the figures and write the tables."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    chosen = chosen_candidates(only, config)
    # Read once before anything trains, so a data folder not found is reported before minutes of training.
    for task in dict.fromkeys(candidate.task for candidate in chosen):
        load_benchmark(TRANSFERS[task].dataset, data_dir, None, task)
    kept = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as scratch:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{scratch}/mlflow.db"
        for candidate in chosen:
            logger.info("training and scoring %s", candidate.key)
            kept[candidate.key] = measure(candidate, data_dir)
            if write:
                # Kept at once, so a later candidate that fails does not take this one's figures with it.
                write_texts_atomically({RESULTS: json.dumps(kept, indent=2, sort_keys=True) + "\n"})
    for task in dict.fromkeys(candidate.task for candidate in chosen):
        text = table(task, [kept[c.key] for c in CANDIDATES if c.task == task and c.key in kept])
        typer.echo(f"\n{text}")
        if write:
            write_between_markers(DOC, f"bench:transfer-{task}", text)


if __name__ == "__main__":
    run_script(main)
