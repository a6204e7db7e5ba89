"""Do segments read beside their neighbours get their topic right more often, on real news nobody chose a weight on?

BBC News's 414 business and 338 politics articles (`economy` and `domestic_politics`, as in bench_transfer.py), each
cut into segments by the ingest segmenter, as the article endpoint cuts what it is sent; every segment is labelled with
its article's topic (a business article's paragraph about a court case counts as a miss), which is no segment-level
annotation and favours large weights: the figures show the direction, not the best weight.
A registered topic model scores every segment once; the segments of each article are then mixed with their neighbours
at each weight (`classifiers.document_context.mix_neighbours`, what `neighbour_weight` does), and the script reports
segment accuracy and per-topic recall per weight.

    python benchmarks/bench_neighbours.py                                      # the champion in the repo store
    python benchmarks/bench_neighbours.py --store URI --model models:/news-topic/2 --weights 0 --weights 0.3
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from markdown_tables import markdown_table
from sklearn.metrics import accuracy_score, recall_score
from user_errors import run_script

from classifiers import store as model_store
from classifiers.document_context import mix_neighbours
from classifiers.errors import UserInputError
from classifiers.segmenter import segment_body
from training import locations
from training.evaluation.held_out import loaded_model
from training.public_datasets.adapters import load_benchmark
from training.scoring.model import describe_model

logger = logging.getLogger("benchmarks.bench_neighbours")
TOPICS = {"business": "economy", "politics": "domestic_politics"}
RESULTS = Path(__file__).parent / "results" / "bench_neighbours.json"


def article_segments(data_dir: Path) -> pd.DataFrame:
    """One row per segment of the business and politics articles: `article`, `text`, `label` (the article's topic)."""
    articles = load_benchmark("bbc_news", data_dir, None, "topic")
    articles = articles[articles["label"].isin(TOPICS)]
    rows = [
        (article.group, segment, TOPICS[str(article.label)])
        for article in articles.itertuples()
        # The adapter's text is the title line, then the body.
        for segment in segment_body(str(article.text).partition("\n")[2])
    ]
    return pd.DataFrame(rows, columns=["article", "text", "label"])


def scores(segments: pd.DataFrame, probabilities: np.ndarray, labels: list[str], weight: float) -> dict[str, float]:
    """Segment accuracy and per-topic recall with each segment mixed with its neighbours at `weight`."""
    predicted = np.asarray(labels)[mix_neighbours(probabilities, weight, segments["article"]).argmax(axis=1)]
    gold = segments["label"].to_numpy()
    topics = list(TOPICS.values())
    recalls = recall_score(gold, predicted, labels=topics, average=None, zero_division=0)
    row = {"weight": weight, "accuracy": round(float(accuracy_score(gold, predicted)), 3)}
    return row | {f"recall_{topic}": round(float(recall), 3) for topic, recall in zip(topics, recalls, strict=True)}


def table(rows: list[dict[str, float]]) -> str:
    """Markdown table of the scores per neighbour weight."""
    columns = ("weight", "accuracy", "recall_economy", "recall_domestic_politics")
    headers = ["neighbour weight", "segment accuracy", "economy recall", "domestic_politics recall"]
    return markdown_table(headers, [[row[column] for column in columns] for row in rows], ["right"] * len(columns))


def main(
    model: Annotated[str, typer.Option(help="Registered topic model.")] = "models:/news-topic@champion",
    store: Annotated[str | None, typer.Option(help="Tracking URI (default: MLFLOW_TRACKING_URI or the repo store).")] = None,
    weights: Annotated[
        list[float] | None,
        typer.Option(min=0.0, max=1.0, help="A neighbour weight, 0 to 1, repeated for several (default: 0 0.1 0.2 0.3 0.5)."),
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Folder holding bbc_news/.")] = locations.DEFAULT_DATA_DIR,
    write: Annotated[bool, typer.Option(help=f"Write the figures to {RESULTS.name}.")] = True,
) -> None:
    """Print a table of segment accuracy per neighbour weight."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # The data first: a folder not found is reported before the model loads.
    segments = article_segments(data_dir)
    # A store that is not there is named, not made empty (it then had no champion).
    model_store.use_store(store, create=False)
    logger.info("%d segments of %d articles", len(segments), segments["article"].nunique())
    spec = describe_model(model)
    if spec.task != "topic":
        # Read with no target, a stance model failed in a KeyError.
        raise UserInputError(f"{model} is a {spec.task} model: neighbours mix a topic model's probabilities")
    with loaded_model(spec) as loaded:
        classifier = loaded.model.unwrap_python_model().classifier
        probabilities = classifier.predict_proba(segments[["text"]])
    rows = [scores(segments, probabilities, classifier.labels, weight) for weight in weights or [0, 0.1, 0.2, 0.3, 0.5]]
    lines = [
        f"{model} (its own neighbour weight: {classifier.neighbour_weight}); {len(segments)} segments of "
        f"{segments['article'].nunique()} articles",
        table(rows),
    ]
    typer.echo("\n".join(lines))
    if write:
        figures = {"model": model, "segments": len(segments), "rows": rows}
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    run_script(main)
