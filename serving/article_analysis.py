"""A whole article: its segments classified, plus a topic distribution and a stance per target.

Segments come from the ingest segmenter, so an article is cut exactly as the training corpus was.
Stance is classified only for the (segment, target) pairs where the segment mentions the target,
matched the way the stance model's own context features match it. A target that no segment
mentions gets `mentioned: false` and no label: the service does not guess a stance from text
that never names the target.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import numpy as np

from serving.batching import PredictionBatcher
from serving.prediction import Scored
from serving.schemas import ArticleSummary, SegmentResult, StanceEvidence, StancePrediction, TargetStance, TopicShare
from serving.snapshot import LoadedModel
from training.models.target_context import mentions, target_terms


@dataclass(frozen=True)
class SegmentedArticle:
    """An article request after segmentation (done once, where the segment limit is checked)."""

    title: str
    segments: list[str]
    targets: list[str]


def mentioning_segments(segments: list[str], target: str) -> list[int]:
    """Positions of the segments that mention the target."""
    terms = target_terms(target)
    return [position for position, segment in enumerate(segments) if mentions(segment, terms)]


async def analyse_article(
    batcher: PredictionBatcher, article: SegmentedArticle, topic: LoadedModel, stance: LoadedModel | None
) -> tuple[list[SegmentResult], ArticleSummary]:
    """Classify every segment (one call per task) and summarise the article; `stance` is needed for targets."""
    if article.targets and stance is None:
        raise ValueError("an article with targets needs a stance model")
    pairs = [
        (position, target) for target in article.targets for position in mentioning_segments(article.segments, target)
    ]
    calls = [batcher.predict(topic, {"text": article.segments}, "articles")]
    if stance is not None and pairs:
        columns = {
            "text": [article.segments[position] for position, _ in pairs],
            "target": [target for _, target in pairs],
        }
        calls.append(batcher.predict(stance, columns, "articles"))
    topics, *stance_calls = await asyncio.gather(*calls)
    stances: list[Scored] = stance_calls[0] if stance_calls else []
    per_segment: list[list[StancePrediction]] = [[] for _ in article.segments]
    for (position, target), scored in zip(pairs, stances, strict=True):
        per_segment[position].append(scored.stance(target))
    segments = [
        SegmentResult(position=position, text=text, topic=topics[position].prediction(), stances=per_segment[position])
        for position, text in enumerate(article.segments)
    ]
    summary = ArticleSummary(
        segments=len(segments),
        topics=topic_distribution(topics, topic.labels),
        stances=[
            target_stance(
                target,
                [(position, scored) for (position, name), scored in zip(pairs, stances, strict=True) if name == target],
            )
            for target in article.targets
        ],
    )
    return segments, summary


def topic_distribution(topics: list[Scored], labels: tuple[str, ...]) -> list[TopicShare]:
    """Count and share of segments per topic label (zero for unseen labels), most frequent first."""
    counts = Counter(scored.label for scored in topics)
    ordered = sorted(labels, key=lambda label: (-counts[label], labels.index(label)))
    return [TopicShare(label=label, count=counts[label], share=counts[label] / len(topics)) for label in ordered]


def target_stance(target: str, evidence: list[tuple[int, Scored]]) -> TargetStance:
    """The article's stance toward a target: the mean stance probabilities over the segments that mention it."""
    if not evidence:
        return TargetStance(target=target, mentioned=False, label=None, score=None, probabilities=None, segments=[])
    labels = list(evidence[0][1].probabilities)
    mean = np.mean([[scored.probabilities[label] for label in labels] for _, scored in evidence], axis=0)
    best = int(mean.argmax())
    return TargetStance(
        target=target,
        mentioned=True,
        label=labels[best],
        score=float(mean[best]),
        probabilities=dict(zip(labels, mean.tolist(), strict=True)),
        segments=[
            StanceEvidence(position=position, label=scored.label, score=scored.score) for position, scored in evidence
        ],
    )
