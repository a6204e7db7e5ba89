"""A /v1/classify batch: topic for every item (read beside the items of its document, where items give one), stance
for the items with a target; one model call per task."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from classifiers.target_context import mentions
from serving.batching import PredictionBatcher
from serving.model_loading import not_served
from serving.prediction import as_prediction, as_stance, beside_neighbours
from serving.schemas import ClassifyItem, ClassifyResponse, ItemResult, ModelsUsed, Prediction, StancePrediction
from serving.snapshot import ModelSnapshot, ModelUnavailable


async def classify_items(
    batcher: PredictionBatcher, snapshot: ModelSnapshot, items: list[ClassifyItem]
) -> ClassifyResponse:
    """Results in item order; ModelUnavailable when the topic model, or a needed stance model, is missing. A
    stance-only server (topic not served) answers items with a target, their topic null; an item without one needs
    the topic model it does not serve."""
    targeted = [(index, item.target) for index, item in enumerate(items) if item.target is not None]
    untargeted = [index for index, item in enumerate(items) if item.target is None]
    if untargeted and "topic" not in snapshot.served:
        # Lasting: no retry helps; the caller is told which items to give a target.
        raise ModelUnavailable(
            f"{', '.join(f'items[{index}]' for index in untargeted[:5])}{' ...' if len(untargeted) > 5 else ''} "
            f"{'has' if len(untargeted) == 1 else 'have'} no target, and {not_served('topic')}: give every item a target",
            lasting=True,
        )
    # Stance first: where it is not served, no retry helps (501), whatever a missing topic model would say (503).
    stance = snapshot.require("stance") if targeted else None
    topic = snapshot.require("topic") if "topic" in snapshot.served else None
    calls = []
    if topic is not None:
        calls.append(batcher.predict(topic, {"text": [item.text for item in items]}, "classify"))
    if stance is not None:
        columns = {"text": [items[index].text for index, _ in targeted], "target": [target for _, target in targeted]}
        calls.append(batcher.predict(stance, columns, "classify"))
    answers = await asyncio.gather(*calls)
    topics: list[Prediction | None] = [None] * len(items)
    if topic is not None:
        scored_topics = answers.pop(0)
        if any(item.document is not None for item in items):
            scored_topics = beside_neighbours(scored_topics, topic, [item.document for item in items])
        topics = [as_prediction(scored) for scored in scored_topics]
    by_item: dict[int, StancePrediction] = {}
    if stance is not None:
        aliases = stance.classifier.target_aliases
        # Up to 256 texts of 20,000 characters are read for their mentions: not on the event loop.
        named = await run_in_threadpool(lambda: [mentions(items[index].text, target, aliases) for index, target in targeted])
        by_item = {
            index: as_stance(scored, target, mentioned)
            for (index, target), scored, mentioned in zip(targeted, answers[0], named, strict=True)
        }
    results = [ItemResult(topic=predicted, stance=by_item.get(index)) for index, predicted in enumerate(topics)]
    return ClassifyResponse(models=ModelsUsed.of(topic, stance), results=results)
