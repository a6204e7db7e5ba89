"""Find where a text talks about a target: the sentences that name it, and a few around them.

Stance toward one target is usually voiced next to its mention, and a news paragraph often
names several actors with different stances, so the context is what the sklearn stance model
reads besides the whole text; the article endpoint classifies stance only where a segment names
the target; the frozen-encoder stance model can read the text with the target's mentions masked. All
use `mentions`' matching, so training and serving agree on what a mention is.

What names a target is data: `target_aliases.json` (shipped in this package, so it travels with
every registered model) lists the aliases of each known target and, under "not", longer phrases
that contain an alias without naming the target ("Kataeb Hezbollah" is an Iraqi faction, not
Hezbollah). A model may add aliases of its own (`TargetAliases`, from its experiment config's
`target_aliases`, saved with it). A target in neither has its own name as its only alias.
An alias matches only as a whole phrase on word boundaries, never as a word prefix ("Hama" is not
"Hamas") nor as one word of a longer alias ("state" is not "United States"); inflections match
only when listed as aliases themselves. All-caps aliases (US, PMF) are matched case-sensitively,
so "us" and "used" do not mention the United States; other aliases ignore case and accents ("Erdogan" is Erdoğan).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ALIASES_FILE = Path(__file__).with_name("target_aliases.json")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"”’']?\s+(?=[\"“‘'(\[]?[A-Z0-9])|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
# Latin-1 Supplement and Latin Extended-A and -B letters to their base letters, one character for one ("ğ" to "g");
# letters with no base in Unicode's decomposition ("ø", "ł") stay as they are.
_UNACCENTED = {
    code: base
    for code in range(0xC0, 0x250)
    if (base := unicodedata.normalize("NFD", chr(code))[0]) != chr(code) and base.isascii() and base.isalpha()
}
_STOPWORDS = frozenset({"the", "of", "and", "for", "a", "an", "in", "on", "to", "is", "are", "movement", "group"})


@dataclass(frozen=True)
class TargetNames:
    """The phrases that name a target, and the longer phrases that contain one without naming it."""

    aliases: tuple[str, ...]
    excluded: tuple[str, ...] = ()


def sentences(text: str) -> list[str]:
    """Split text into sentences (and at line breaks)."""
    return [part.strip() for part in _SENTENCE_BREAK.split(text) if part and part.strip()]


def composed(text: str) -> str:
    """The text in Unicode's composed form (NFC): "Türkiye" typed as u and a combining diaeresis, as text copied from
    some systems spells it, is then the same word as "Türkiye" with one ü."""
    return unicodedata.normalize("NFC", text)


def lookup_key(target: str) -> str:
    """How a target is looked up: case, spacing and Unicode composition do not make a different target."""
    return fold(" ".join(composed(target).split()))


@lru_cache(maxsize=1)
def alias_table() -> dict[str, TargetNames]:
    """The alias file, keyed by `lookup_key(target)`; a target's own name is always one of its aliases."""
    entries = json.loads(ALIASES_FILE.read_text(encoding="utf-8"))
    return {
        lookup_key(target): TargetNames(
            aliases=tuple(dict.fromkeys(composed(alias) for alias in [target, *entry["aliases"]])),
            excluded=tuple(composed(phrase) for phrase in entry.get("not", ())),
        )
        for target, entry in entries.items()
    }


@dataclass(frozen=True)
class TargetAliases:
    """Aliases a model adds to the shipped table, by target: a target there gains them, any other target is named by
    them besides its own name. Hashable, so that compiled matchers are cached per model's table."""

    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, aliases: Mapping[str, Sequence[str]]) -> TargetAliases:
        """From {target: [alias, ...]}, as a config or a saved model gives them."""
        by_key: dict[str, tuple[str, ...]] = {}
        for target, names in aliases.items():
            key = lookup_key(target)
            by_key[key] = tuple(dict.fromkeys([*by_key.get(key, ()), *(" ".join(composed(name).split()) for name in names)]))
        return cls(tuple(sorted(by_key.items())))

    def as_dict(self) -> dict[str, list[str]]:
        """{target: [alias, ...]} (targets as they are looked up: case-folded), what `of` reads back."""
        return {key: list(names) for key, names in self.entries}

    def get(self, target: str) -> tuple[str, ...]:
        """The aliases this table adds to a target (none for most)."""
        return dict(self.entries).get(lookup_key(target), ())


SHIPPED_ONLY = TargetAliases()


def target_names(target: str, extra: TargetAliases = SHIPPED_ONLY) -> TargetNames:
    """A known target's aliases, with those `extra` adds; any other target is named by itself (and `extra`'s)."""
    shipped = alias_table().get(lookup_key(target)) or TargetNames(aliases=(" ".join(composed(target).split()),))
    added = extra.get(target)
    if not added:
        return shipped
    return TargetNames(aliases=tuple(dict.fromkeys([*shipped.aliases, *added])), excluded=shipped.excluded)


def known_targets(extra: TargetAliases = SHIPPED_ONLY) -> dict[str, list[str]]:
    """Every target named by more than its own words: the shipped table's by their names there, then those only
    `extra` adds (case-folded, as it keeps them), each with all its aliases, its own name first."""
    shipped = {names.aliases[0]: list(target_names(names.aliases[0], extra).aliases) for names in alias_table().values()}
    added = {key: list(target_names(key, extra).aliases) for key, _ in extra.entries if key not in alias_table()}
    return {**shipped, **added}


def fold(text: str) -> str:
    """Lower-case, and each accented Latin letter as its base letter, without changing length or word boundaries, so
    offsets in the folded text hold in the text: "Erdogan" names Erdoğan, as "Turkiye" does Türkiye.

    str.lower maps only "İ" to two characters (i and a combining dot); mapping it to "i" first keeps
    one character per character.
    """
    return text.replace("İ", "i").lower().translate(_UNACCENTED)


def _is_acronym(alias: str) -> bool:
    """All-caps with two or more letters (US, U.S., PMF): such aliases keep their case."""
    letters = [character for character in alias if character.isalpha()]
    return len(letters) >= 2 and all(character.isupper() for character in letters)


def _phrases(aliases: list[str]) -> re.Pattern[str] | None:
    """One regex for the phrases (longest first): their words in order, any whitespace between, whole words only."""
    if not aliases:
        return None
    alternatives: list[str] = []
    for alias in sorted(aliases, key=len, reverse=True):
        body = r"\s+".join(re.escape(word) for word in alias.split())
        # Typographic and straight apostrophes are the same letter in names ("Asa’ib", "Asa'ib").
        alternatives.append(re.sub("['’]", "['’]", body))
    # Lookarounds, not \b: an alias may start or end with punctuation ("U.S.").
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)")


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with the spans blanked by a character that is neither a word character nor whitespace."""
    for start, end in spans:
        text = text[:start] + "\0" * (end - start) + text[end:]
    return text


@dataclass(frozen=True)
class Searchable:
    """A text prepared once for matching any number of targets."""

    text: str
    folded: str
    words: frozenset[str]

    @classmethod
    def of(cls, text: str) -> Searchable:
        """A text (composed, as targets are) with its folded form and the set of its folded words, computed once for
        every search in it."""
        text = composed(text)
        folded = fold(text)
        return cls(text, folded, frozenset(_WORD.findall(folded)))


@dataclass(frozen=True)
class TargetMatcher:
    """A target's aliases compiled: acronyms matched in the text, the rest in its folded form.

    Regex scans are slow (about 13 ms per target over a 200,000-character article, however few
    aliases), so a text's word set answers first where it can. A whole-word match starts with a whole
    word of the text: a text without any alias's folded first word (`first_words`) names no target.
    A text with a one-word alias among its words (`single_words`) names it, unless it also has every
    word of an excluded phrase (`excluded_words`): then the regex must see where the words stand.
    """

    first_words: frozenset[str]
    single_words: frozenset[str]
    excluded_words: tuple[frozenset[str], ...]
    folded: re.Pattern[str] | None
    exact: re.Pattern[str] | None
    excluded: re.Pattern[str] | None

    def _excluding(self, text: Searchable) -> bool:
        """Whether the text has every word of an excluded phrase (so the regex must see where they stand)."""
        return any(words <= text.words for words in self.excluded_words)

    def _outside_excluded(self, text: Searchable) -> tuple[str, str]:
        """The folded and the original text with the excluded phrases blanked."""
        if self.excluded is None or not self._excluding(text):
            return text.folded, text.text
        spans = [match.span() for match in self.excluded.finditer(text.folded)]
        return _mask(text.folded, spans), _mask(text.text, spans)

    def found_in(self, text: Searchable) -> bool:
        """True when the text names the target outside the excluded phrases."""
        if self.first_words.isdisjoint(text.words):
            return False
        if not self._excluding(text) and not self.single_words.isdisjoint(text.words):
            return True
        folded, original = self._outside_excluded(text)
        return bool(
            (self.folded is not None and self.folded.search(folded))
            or (self.exact is not None and self.exact.search(original))
        )

    def spans_in(self, text: Searchable) -> list[tuple[int, int]]:
        """Where the text names the target (start, end), in order, outside the excluded phrases."""
        if not self.found_in(text):
            return []
        folded, original = self._outside_excluded(text)
        found = [match.span() for match in self.folded.finditer(folded)] if self.folded is not None else []
        found += [match.span() for match in self.exact.finditer(original)] if self.exact is not None else []
        spans: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if not spans or start >= spans[-1][1]:  # an acronym and a folded alias may cover the same words
                spans.append((start, end))
        return spans


# Compiling is most of the cost of a match, and training masks every row in every fold: the cache holds all the
# targets of the stance default's training rows (VAST's 4,641 topics and FNC-1's 1,600-odd headlines) besides the
# seed targets and a client's recent ones.
@lru_cache(maxsize=16384)
def target_matcher(target: str, extra: TargetAliases = SHIPPED_ONLY) -> TargetMatcher:
    """The compiled aliases of a target, with those `extra` adds (cached)."""
    names = target_names(target, extra)
    aliases = [alias for alias in names.aliases if _WORD.search(alias)]  # "!!!" cannot be named
    acronyms = [alias for alias in aliases if _is_acronym(alias)]
    others = [fold(alias) for alias in aliases if not _is_acronym(alias)]
    return TargetMatcher(
        first_words=frozenset(_WORD.findall(fold(alias))[0] for alias in aliases),
        single_words=frozenset(alias for alias in others if _WORD.fullmatch(alias)),
        excluded_words=tuple(frozenset(_WORD.findall(fold(phrase))) for phrase in names.excluded),
        folded=_phrases(others),
        exact=_phrases(acronyms),
        excluded=_phrases([fold(phrase) for phrase in names.excluded]),
    )


def target_identity(target: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """What a target's matcher looks for: its folded aliases, its acronyms as written, its folded excluded phrases.
    Two targets with one identity find the same mentions: Iran, iran and " Iran " do; US and us do not, since an
    all-caps name is matched in its case."""
    names = target_names(target)
    aliases = [" ".join(alias.split()) for alias in names.aliases]
    return (
        frozenset(fold(alias) for alias in aliases if not _is_acronym(alias)),
        frozenset(alias for alias in aliases if _is_acronym(alias)),
        frozenset(fold(phrase) for phrase in names.excluded),
    )


def mentions(text: str, target: str, extra: TargetAliases = SHIPPED_ONLY) -> bool:
    """True when the text names the target by one of its aliases, `extra`'s included (see the module docstring)."""
    return target_matcher(target, extra).found_in(Searchable.of(text))


def mask_mentions(text: str, target: str, placeholder: str, extra: TargetAliases = SHIPPED_ONLY) -> str:
    """The text (composed, as `composed` gives it) with every mention of the target (as `mentions` finds them)
    replaced by `placeholder`.

    "US forces struck Kataeb Hezbollah, Hezbollah said" masked for Hezbollah with "X" reads "US forces struck
    Kataeb Hezbollah, X said": what is said about X is what the text says about the target.
    """
    searchable = Searchable.of(text)
    masked = searchable.text  # the spans' offsets are in the composed text
    for start, end in reversed(target_matcher(target, extra).spans_in(searchable)):
        masked = masked[:start] + placeholder + masked[end:]
    return masked


def target_context(text: str, target: str, window: int = 1, extra: TargetAliases = SHIPPED_ONLY) -> str:
    """Sentences that mention the target (by its aliases, `extra`'s included) plus `window` sentences either side.

    Without a mention the whole text is the context: stance toward an unnamed target (a tweet
    about "Legalization of Abortion" that never says so) is carried by the text as a whole.
    """
    parts = sentences(text)
    hits = [index for index, sentence in enumerate(parts) if mentions(sentence, target, extra)]
    if not hits:
        return " ".join(parts)
    keep = sorted({near for index in hits for near in range(index - window, index + window + 1) if 0 <= near < len(parts)})
    return " ".join(parts[index] for index in keep)


def conjoin(target: str, context: str) -> str:
    """Context words tagged with the target ("iran|praised"): target-specific word weights."""
    words = [word.lower() for word in _WORD.findall(target)]
    key = "_".join([word for word in words if word not in _STOPWORDS] or words) or "target"
    return " ".join(f"{key}|{word.lower()}" for word in _WORD.findall(context))
