"""A /v1/classify batch: topic for every item, stance for the items with a target; one model call per task."""

from __future__ import annotations

import asyncio

from serving.batching import PredictionBatcher
from serving.schemas import ClassifyItem, ItemResult, StancePrediction
from serving.snapshot import LoadedModel


async def classify_items(
    batcher: PredictionBatcher, topic: LoadedModel, stance: LoadedModel | None, items: list[ClassifyItem]
) -> list[ItemResult]:
    """Results in item order; `stance` must be given when any item has a target."""
    targeted = [(index, item.target) for index, item in enumerate(items) if item.target is not None]
    if targeted and stance is None:
        raise ValueError("items with a target need a stance model")
    calls = [batcher.predict(topic, {"text": [item.text for item in items]}, "classify")]
    if stance is not None and targeted:
        columns = {"text": [items[index].text for index, _ in targeted], "target": [target for _, target in targeted]}
        calls.append(batcher.predict(stance, columns, "classify"))
    topics, *stances = await asyncio.gather(*calls)
    by_item: dict[int, StancePrediction] = {}
    if stances:
        by_item = {index: scored.stance(target) for (index, target), scored in zip(targeted, stances[0], strict=True)}
    return [ItemResult(topic=scored.prediction(), stance=by_item.get(index)) for index, scored in enumerate(topics)]
