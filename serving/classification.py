"""A /v1/classify batch: topic for every item (read beside the items of its document, where items give one), stance
for the items with a target; one model call per task."""

from __future__ import annotations

import asyncio

from serving.batching import PredictionBatcher
from serving.prediction import as_prediction, as_stance, beside_neighbours
from serving.schemas import ClassifyItem, ClassifyResponse, ItemResult, ModelsUsed, StancePrediction
from serving.snapshot import ModelSnapshot


async def classify_items(
    batcher: PredictionBatcher, snapshot: ModelSnapshot, items: list[ClassifyItem]
) -> ClassifyResponse:
    """Results in item order; ModelUnavailable when the topic model, or a needed stance model, is missing."""
    targeted = [(index, item.target) for index, item in enumerate(items) if item.target is not None]
    topic = snapshot.require("topic")
    stance = snapshot.require("stance") if targeted else None
    calls = [batcher.predict(topic, {"text": [item.text for item in items]}, "classify")]
    if stance is not None:
        columns = {"text": [items[index].text for index, _ in targeted], "target": [target for _, target in targeted]}
        calls.append(batcher.predict(stance, columns, "classify"))
    topics, *stances = await asyncio.gather(*calls)
    if any(item.document is not None for item in items):
        topics = beside_neighbours(topics, topic, [item.document for item in items])
    by_item: dict[int, StancePrediction] = {}
    if stances:
        by_item = {index: as_stance(scored, target) for (index, target), scored in zip(targeted, stances[0], strict=True)}
    results = [ItemResult(topic=as_prediction(scored), stance=by_item.get(index)) for index, scored in enumerate(topics)]
    return ClassifyResponse(models=ModelsUsed.of(topic, stance), results=results)
