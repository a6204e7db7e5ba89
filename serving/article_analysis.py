"""A whole article: its segments classified, plus a topic distribution and a stance per target.

Segments come from the ingest segmenter, so an article is cut exactly as the training corpus was. A topic
model with a neighbour weight reads each segment beside the segments just before and after it
(`classifiers.document_context`), as its leave-one-article-out evaluation did.
Stance is classified only for the (segment, target) pairs where the segment names the target by
one of its aliases (the stance model's own among them), by the same rule as the stance model's target mask and
context features (`classifiers.target_context`). A target that no segment names gets `mentioned: false` and no
label: the service does not guess a stance from text that never names the target.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import numpy as np
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from classifiers.contract import Scored
from classifiers.target_context import SHIPPED_ONLY, Searchable, TargetAliases, target_matcher
from serving.batching import PredictionBatcher
from serving.model_loading import not_served
from serving.prediction import as_prediction, as_stance, beside_neighbours
from serving.request_body import body_error
from serving.schemas import (
    ArticleResponse,
    ArticleSummary,
    ModelsUsed,
    SegmentResult,
    StanceEvidence,
    StancePrediction,
    TargetStance,
    TopicShare,
)
from serving.snapshot import ModelSnapshot, ModelUnavailable


@dataclass(frozen=True)
class SegmentedArticle:
    """An article request after segmentation (done once, where the segment limit is checked)."""

    title: str
    segments: list[str]
    targets: list[str]


def mention_pairs(
    segments: list[str], targets: list[str], extra: TargetAliases = SHIPPED_ONLY
) -> list[tuple[int, str]]:
    """(position, target) for each segment that mentions each target (by its aliases, `extra`'s included): target by
    target, positions ascending.

    The matches of `mentions(segment, target, extra)`, but each segment is folded and tokenised once and
    each target's aliases compiled once (and cached), so a 200,000-character article is not
    re-read once per target.
    """
    prepared = [Searchable.of(segment) for segment in segments]
    pairs: list[tuple[int, str]] = []
    for target in targets:
        matcher = target_matcher(target, extra)
        pairs += [(position, target) for position, text in enumerate(prepared) if matcher.found_in(text)]
    return pairs


async def analyse_article(
    batcher: PredictionBatcher, snapshot: ModelSnapshot, article: SegmentedArticle, max_pairs: int
) -> ArticleResponse:
    """Classify every segment (one call per task) and summarise the article.

    ModelUnavailable when the topic model is missing, or the stance model when a segment names a target (it is not
    run, and not reported as used, for targets no segment names). A 422 (RequestValidationError), before any model
    runs, when the segments name the targets more than `max_pairs` times. A stance-only server (topic not served)
    gives every segment a null topic and the summary no topic shares; to an article without targets it has nothing to
    answer (ModelUnavailable, lasting).
    """
    if "topic" not in snapshot.served and not article.targets:
        # As /v1/classify's item without a target: a 200 with nothing classified read as success.
        raise ModelUnavailable(f"the article has no targets, and {not_served('topic')}: give it targets", lasting=True)
    topic = snapshot.require("topic") if "topic" in snapshot.served else None
    served = snapshot.models.get("stance")
    # A stance model trained with aliases of its own finds its targets by them; without one, only whether a target is
    # named at all matters (the error for the missing model).
    aliases = served.classifier.target_aliases if served is not None else SHIPPED_ONLY
    # Even tokenised once, a maximal article takes tens of ms: too long to hold up the event loop.
    pairs = await run_in_threadpool(mention_pairs, article.segments, article.targets, aliases)
    # Each pair is a stance row: 256 segments naming 20 targets each were 5,120 rows, minutes of one request.
    if len(pairs) > max_pairs:
        message = (
            f"the {len(article.segments)} segments name the {len(article.targets)} targets {len(pairs)} times; at most "
            f"{max_pairs} (segment, target) pairs are classified per request"
        )
        raise RequestValidationError([body_error("too_many_stance_pairs", message, "targets")])
    stance = snapshot.require("stance") if pairs else None
    calls = []
    if topic is not None:
        calls.append(batcher.predict(topic, {"text": article.segments}, "articles"))
    if stance is not None:
        columns = {
            "text": [article.segments[position] for position, _ in pairs],
            "target": [target for _, target in pairs],
        }
        calls.append(batcher.predict(stance, columns, "articles"))
    answers = await asyncio.gather(*calls)
    topics = beside_neighbours(answers.pop(0), topic) if topic is not None else None
    stances: list[Scored] = answers[0] if stance is not None else []
    per_segment: list[list[StancePrediction]] = [[] for _ in article.segments]
    evidence: dict[str, list[tuple[int, Scored]]] = {target: [] for target in article.targets}
    for (position, target), scored in zip(pairs, stances, strict=True):
        per_segment[position].append(as_stance(scored, target, mentioned=True))  # only segments naming it are asked
        evidence[target].append((position, scored))
    segments = [
        SegmentResult(
            position=position,
            text=text,
            topic=as_prediction(topics[position]) if topics is not None else None,
            stances=per_segment[position],
        )
        for position, text in enumerate(article.segments)
    ]
    summary = ArticleSummary(
        segments=len(segments),
        topics=topic_distribution(topics, topic.labels) if topic is not None and topics is not None else [],
        stances=[target_stance(target, found) for target, found in evidence.items()],
    )
    return ArticleResponse(models=ModelsUsed.of(topic, stance), title=article.title, segments=segments, summary=summary)


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
