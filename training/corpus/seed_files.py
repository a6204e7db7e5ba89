"""Parse scraped seed files into articles and write the segment corpus.

A seed file holds articles back to back. Each article is laid out as

    title / caption / caption / TT / title / caption / caption / body paragraphs ...

(blank lines anywhere in between), and its body runs up to the next article's title, which is
the third non-blank line before the next `TT`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from classifiers.errors import UserInputError
from classifiers.segmenter import segment_paragraphs
from training.atomic_files import write_texts_atomically
from training.path_names import require_utf8_name
from training.text_decoding import decode_text

logger = logging.getLogger(__name__)

MARKER = "TT"
SEED_SUFFIX = ".txt"
SLUG_WORDS = 6


class SeedFormatError(UserInputError):
    """A seed file that does not follow the expected layout; names the file and line."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line


@dataclass(frozen=True)
class ParsedArticle:
    """One article as found in one file."""

    title: str
    caption: str
    paragraphs: tuple[str, ...]
    line: int

    @property
    def content_digest(self) -> str:
        """SHA-256 of title, caption and paragraphs: an article reprinted in several files is one article."""
        payload = "\n".join([self.title, self.caption, *self.paragraphs])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def article_id(self) -> str:
        """Readable and stable: a slug of the title plus a short hash of the content."""
        words = re.findall(r"[a-z0-9]+", self.title.lower())[:SLUG_WORDS]
        return f"{'-'.join(words)}-{self.content_digest[:6]}"


@dataclass
class Article:
    """A distinct article with every file it appears in."""

    parsed: ParsedArticle
    source_files: list[str] = field(default_factory=list)

    def record(self, n_segments: int) -> dict[str, object]:
        """The article's line in articles.jsonl."""
        return {
            "article_id": self.parsed.article_id,
            "title": self.parsed.title,
            "caption": self.parsed.caption,
            "n_segments": n_segments,
            "source_files": self.source_files,
        }


def _decode(path: Path) -> str:
    text = decode_text(path, path.read_bytes())
    # Notepad starts UTF-8 with a byte order mark, which would make the first title differ from its repeat after TT.
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise SeedFormatError(path, 1, "file is empty")
    return text


def parse_seed_file(path: Path) -> list[ParsedArticle]:
    """Articles of one seed file, in file order."""
    text = _decode(path)
    # Any line break, as the server's article endpoint splits a body (`segment_body`): a file saved with old Mac
    # line endings (a lone CR) read as one line had no 'TT' marker.
    # A byte order mark starts any line of files joined with `cat`, each saved by Notepad.
    lines = [(number, raw.strip().removeprefix("\ufeff").strip()) for number, raw in enumerate(text.splitlines(), start=1)]
    filled = [(number, line) for number, line in lines if line]
    markers = [index for index, (_, line) in enumerate(filled) if line == MARKER]
    if not markers:
        raise SeedFormatError(
            path, filled[0][0], f"no '{MARKER}' marker line; each article needs title, caption twice, then {MARKER}"
        )

    heads = [index - 3 for index in markers]
    if heads[0] < 0:
        raise SeedFormatError(path, filled[markers[0]][0], f"'{MARKER}' needs a title and two caption lines before it")
    if heads[0] > 0:
        raise SeedFormatError(path, filled[0][0], "text before the first article's title")

    articles = []
    for number, head in enumerate(heads):
        body_end = heads[number + 1] if number + 1 < len(heads) else len(filled)
        if body_end <= markers[number]:
            raise SeedFormatError(path, filled[markers[number + 1]][0], f"'{MARKER}' follows too closely on the previous one")
        articles.append(_parse_article(path, filled[head:body_end]))
    return articles


def _parse_article(path: Path, filled: list[tuple[int, str]]) -> ParsedArticle:
    """One article from its non-blank lines, the first being its title and the fourth its TT."""
    marker = 3
    (title_line, title), (_, caption), (caption_line, caption_again) = filled[:marker]
    if caption_again != caption:
        raise SeedFormatError(path, caption_line, "the photo caption should appear twice before the TT marker")
    repeat = [line for _, line in filled[marker + 1 : marker + 4]]
    if repeat != [title, caption, caption]:
        at = filled[min(marker + 1, len(filled) - 1)][0]
        raise SeedFormatError(path, at, "after TT the title and the caption (twice) should repeat")
    body = [line for _, line in filled[marker + 4 :]]
    if not body:
        raise SeedFormatError(path, filled[marker][0], f"article '{title}' has no body paragraphs")
    if MARKER in body:
        at = filled[marker + 4 + body.index(MARKER)][0]
        raise SeedFormatError(path, at, f"'{MARKER}' marker without a title and caption before it")
    return ParsedArticle(title=title, caption=caption, paragraphs=tuple(body), line=title_line)


def collect_articles(raw_dir: Path) -> list[Article]:
    """Distinct articles across every `*.txt` under raw_dir (the suffix in any case), in order of first appearance."""
    # An article saved as ARTICLE.TXT (a Windows download) is a text file too: it was left out unseen.
    paths = sorted(path for path in raw_dir.iterdir() if path.name.lower().endswith(SEED_SUFFIX))
    if not paths:
        raise UserInputError(f"{raw_dir}: no seed files found (names ending in {SEED_SUFFIX}, in any case)")
    for path in paths:
        # Found now, not as the output is written (a traceback there): saved in Latin-1 on an older system.
        require_utf8_name(
            path, "seed file", "articles.jsonl (UTF-8 JSON naming each article's source files) cannot record"
        )
    by_digest: dict[str, Article] = {}
    for path in paths:
        for parsed in parse_seed_file(path):
            article = by_digest.setdefault(parsed.content_digest, Article(parsed))
            if path.name not in article.source_files:
                article.source_files.append(path.name)
    return list(by_digest.values())


def build_corpus(raw_dir: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Article records and segment records for the seed files under raw_dir."""
    article_records: list[dict[str, object]] = []
    segment_records: list[dict[str, object]] = []
    for article in collect_articles(raw_dir):
        article_id = article.parsed.article_id
        segments = segment_paragraphs(article.parsed.paragraphs)
        article_records.append(article.record(len(segments)))
        for position, text in enumerate(segments):
            segment_records.append(
                {
                    "segment_id": f"{article_id}-{position:03d}",
                    "article_id": article_id,
                    "position": position,
                    "text": text,
                    "title": article.parsed.title,
                }
            )
    return article_records, segment_records


def _jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def output_paths(out_dir: Path) -> tuple[Path, Path]:
    """The files ingest writes into out_dir: its segments, its articles."""
    return out_dir / "segments.jsonl", out_dir / "articles.jsonl"


def ingest(raw_dir: Path, out_dir: Path) -> tuple[Path, Path]:
    """Parse raw_dir and write `segments.jsonl` and `articles.jsonl` into out_dir atomically."""
    articles, segments = build_corpus(raw_dir)
    segments_path, articles_path = output_paths(out_dir)
    write_texts_atomically({segments_path: _jsonl(segments), articles_path: _jsonl(articles)})
    logger.info("wrote %d segments to %s and %d articles to %s", len(segments), segments_path, len(articles), articles_path)
    return segments_path, articles_path
