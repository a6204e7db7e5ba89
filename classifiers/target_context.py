"""Find where a text talks about a target: the sentences that mention it, and a few around them.

Stance toward one target is usually voiced next to its mention, and a news paragraph often
names several actors with different stances, so the context is what the sklearn stance model
reads besides the whole text. Matching is by word prefix ("Iran" matches "Iranian"), so it works
for any target string, not only the seed targets.
"""

from __future__ import annotations

import re

_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"”’']?\s+(?=[\"“‘'(\[]?[A-Z0-9])|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset({"the", "of", "and", "for", "a", "an", "in", "on", "to", "is", "are", "movement", "group"})
MIN_STEM = 4


def sentences(text: str) -> list[str]:
    """Split text into sentences (and at line breaks)."""
    return [part.strip() for part in _SENTENCE_BREAK.split(text) if part and part.strip()]


def target_terms(target: str) -> list[str]:
    """Lower-cased content words of a target; all words when every one is a stopword."""
    words = [word.lower() for word in _WORD.findall(target)]
    return [word for word in words if word not in _STOPWORDS] or words


def words(text: str) -> set[str]:
    """The distinct lower-cased words of a text."""
    return {word.lower() for word in _WORD.findall(text)}


def matching_words(vocabulary: set[str], terms: list[str]) -> set[str]:
    """The words that mention a target term: they start with the term, or (MIN_STEM characters or more) start it.

    Testing a word against the term's prefixes as a set keeps this linear in the vocabulary, so a
    long article is matched against many targets cheaply.
    """
    stems = {term[:length] for term in terms for length in range(MIN_STEM, len(term) + 1)}
    return {word for word in vocabulary if word.startswith(tuple(terms)) or word in stems}


def mentions(sentence: str, terms: list[str]) -> bool:
    """True when a word of the sentence mentions a target term (see `matching_words`)."""
    return bool(matching_words(words(sentence), terms))


def target_context(text: str, target: str, window: int = 1) -> str:
    """Sentences that mention the target plus `window` sentences either side.

    Without a mention the whole text is the context: stance toward an unnamed target (a tweet
    about "Legalization of Abortion" that never says so) is carried by the text as a whole.
    """
    parts = sentences(text)
    terms = target_terms(target)
    hits = [index for index, sentence in enumerate(parts) if mentions(sentence, terms)]
    if not hits:
        return " ".join(parts)
    keep = sorted({near for index in hits for near in range(index - window, index + window + 1) if 0 <= near < len(parts)})
    return " ".join(parts[index] for index in keep)


def conjoin(target: str, context: str) -> str:
    """Context words tagged with the target ("iran|praised"): target-specific word weights."""
    key = "_".join(target_terms(target)) or "target"
    return " ".join(f"{key}|{word.lower()}" for word in _WORD.findall(context))
