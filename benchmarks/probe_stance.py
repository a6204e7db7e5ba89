"""Does a stance model read the text, or only the target's name? Praise and condemnation of the same
targets, and two neutral reports, through registered stance models.

Leave-one-article-out cannot tell: the seed targets recur across articles with mostly one stance
(Israel: 14 `against`, no `favor`), so a model that learns the target's usual stance scores well there
and still calls praise of Israel `against`. A model that reads the text flips with the wording.

    python benchmarks/probe_stance.py                                   # the champion in the repo store
    python benchmarks/probe_stance.py --store URI models:/news-stance/1 models:/news-stance/2
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer
from markdown_tables import markdown_table
from sklearn.metrics import accuracy_score
from user_errors import run_script

from classifiers import store as model_store
from classifiers.contract import predict
from classifiers.errors import UserInputError
from training.evaluation.held_out import loaded_model
from training.scoring.model import describe_model

# (target, praise, condemnation): the same target, opposite wording.
PAIRS = [
    (
        "Israel",
        "The minister praised Israel for its restraint and said its response was fully justified.",
        "The minister condemned Israel for its aggression and said its response was a war crime.",
    ),
    (
        "Iran",
        "Iraqi leaders thanked Iran for its steadfast support and defended its role in the region.",
        "Iraqi leaders accused Iran of meddling and denounced its destabilising role in the region.",
    ),
    (
        "Hezbollah",
        "Supporters hailed Hezbollah as the heroic defender of Lebanon's sovereignty.",
        "Critics denounced Hezbollah as a reckless militia that endangers Lebanon's sovereignty.",
    ),
    (
        "United States",
        "The government welcomed Washington's help and called the United States a trusted partner.",
        "The government condemned the United States strike as a blatant violation of Iraqi sovereignty.",
    ),
]
NEUTRAL = [
    ("Israel", "The Israeli military said it struck several sites in southern Lebanon on Tuesday."),
    ("Iran", "Iran's foreign minister arrived in Damascus on Saturday for talks."),
]


def probe(uri: str) -> list[str]:
    """One row's cells: the labels for praise / condemnation per target, and for the neutral reports."""
    rows = [(target, praise) for target, praise, _ in PAIRS] + [(target, blame) for target, _, blame in PAIRS] + NEUTRAL
    spec = describe_model(uri)
    if spec.task != "stance":
        # A topic model answered its topics, scored as 0 of 10 as if it were a stance model that got all wrong.
        raise UserInputError(f"{uri} is a {spec.task} model: the probe asks a stance model")
    with loaded_model(spec) as loaded:
        model = loaded.model.unwrap_python_model().classifier
        labels = predict(model, pd.DataFrame({"text": [text for _, text in rows], "target": [t for t, _ in rows]}))["label"]
    praised, blamed, neutral = labels[: len(PAIRS)], labels[len(PAIRS) : 2 * len(PAIRS)], labels[2 * len(PAIRS) :]
    intended = ["favor"] * len(PAIRS) + ["against"] * len(PAIRS) + ["none"] * len(NEUTRAL)
    right = int(accuracy_score(intended, list(labels), normalize=False))
    pairs = " · ".join(f"{target}: {p}/{b}" for (target, _, _), p, b in zip(PAIRS, praised, blamed, strict=True))
    return [f"`{uri}`", pairs, ", ".join(neutral), f"{right}/{len(rows)}"]


def table(rows: list[list[str]]) -> str:
    """Markdown table of probe's rows, one per model."""
    headers = ["model", "praise/condemnation per target", "neutral reports", "as intended"]
    return markdown_table(headers, rows, ["left", "left", "left", "right"])


def main(
    uris: Annotated[list[str] | None, typer.Argument(help="Registered stance models (default: the champion).")] = None,
    store: Annotated[str | None, typer.Option(help="Tracking URI (default: MLFLOW_TRACKING_URI or the repo store).")] = None,
) -> None:
    """Print a table of each model's labels on the probe sentences."""
    # A store that is not there is named, not made empty (it then had no champion).
    model_store.use_store(store, create=False)
    typer.echo(table([probe(uri) for uri in uris or ["models:/news-stance@champion"]]))


if __name__ == "__main__":
    run_script(main)
