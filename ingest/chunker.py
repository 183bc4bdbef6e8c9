"""Sections -> chunks the embedding model reads whole, following document structure.

A chunk never spans two locators (pages, slides, sheets...) or two heading paths.
Consecutive sections under the same path are packed up to the token budget; an oversized
section is split at paragraphs, then lines, sentences, words and (last resort)
characters; tables only between rows, repeating a pipe table's header row; a sheet's
chunk names the rows it holds. Token counts are taken once per piece, in batches, and
summed: WordPiece counts of whitespace-joined pieces are additive. A final batched exact count of
every chunk re-splits the rare chunk that still exceeds the budget.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import groupby, pairwise

from ingest.document import (
    Chunk,
    ParsedDocument,
    Section,
    SheetRows,
    TokenCounter,
    embedding_text,
)
from kb.types import Locator

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_DELIMITER_ROW = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$")
_LONG_DASHES = re.compile(r"-{3,}")
_SENTENCE_GAP = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]]))\s+")
_LIST_ITEM = re.compile(r"^\s+([-*+•]|\d+[.)])\s")
_PARAGRAPH_GAP = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class _Unit:
    """A piece that is never split further when packed: text, its token count (no specials),
    the separator that goes before it inside a chunk, the table header to repeat when a
    chunk starts with it, and the sheet rows (first, last) it holds."""

    text: str
    tokens: int
    joiner: str = "\n\n"
    header: "_Unit | None" = None
    rows: tuple[int, int] | None = None


class _Counter:
    """Token counts without the model's [CLS]/[SEP], so that counts of pieces add up."""

    def __init__(self, counter: TokenCounter) -> None:
        self._counter = counter
        self.specials = counter.count_tokens([""])[0]

    def __call__(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [count - self.specials for count in self._counter.count_tokens(texts)]


def chunk_document(doc: ParsedDocument, counter: TokenCounter, max_tokens: int) -> list[Chunk]:
    if max_tokens < 16:
        raise ValueError(f"max_tokens={max_tokens} leaves no room for text")
    count = _Counter(counter)
    sections = [s for s in (replace(s, text=normalise(s)) for s in doc.sections) if s.text]
    groups = [(key, list(run)) for key, run in groupby(sections, key=_place)]
    paths, prefixes = _heading_paths(doc.title, [key[1] for key, _ in groups], count, max_tokens)
    section_tokens = iter(count([s.text for s in sections]))
    chunks: list[Chunk] = []
    for ((locator, _), run), path, prefix in zip(groups, paths, prefixes, strict=True):
        budget = max_tokens - count.specials - prefix
        units = [u for s in run for u in _section_units(s, next(section_tokens), budget, count)]
        sheet = next((s.rows for s in run if s.rows), None)
        for text, rows in _pack(units, budget):
            chunks.append(Chunk(text, path, sheet.locator(*rows) if sheet and rows else locator))
    return _enforce(doc.title, chunks, count, max_tokens)


def _place(section: Section) -> tuple[Locator | None, tuple[str, ...]]:
    return section.locator, section.headings


def normalise(section: Section) -> str:
    """Spaces collapsed and lines trimmed; newlines kept (rows, list items, code lines)."""
    lines = section.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if section.kind == "code":
        return _BLANK_RUNS.sub("\n\n", "\n".join(line.rstrip() for line in lines)).strip("\n")
    if section.kind == "table":
        rows = (_compact_delimiter(_SPACES.sub(" ", line).strip()) for line in lines)
        return "\n".join(row for row in rows if row)
    tidy = (_indent(line) + _SPACES.sub(" ", line.strip()) for line in lines)
    return _BLANK_RUNS.sub("\n\n", "\n".join(tidy)).strip()


def _compact_delimiter(row: str) -> str:
    """`|------|:-----:|` as `| --- | :---: |`: a hand-aligned delimiter row costs a token
    per dash, enough to make the header too big to repeat in each chunk of its table."""
    if "----" not in row or not _DELIMITER_ROW.match(row):
        return row
    cells = [_LONG_DASHES.sub("---", cell.strip()) for cell in row.strip("|").split("|")]
    return "| " + " | ".join(cells) + " |"


def _indent(line: str) -> str:
    """Indentation is kept only where it means nesting: list items."""
    return line[: len(line) - len(line.lstrip())] if _LIST_ITEM.match(line) else ""


def _heading_paths(
    title: str, paths: list[tuple[str, ...]], count: _Counter, max_tokens: int
) -> tuple[list[tuple[str, ...]], list[int]]:
    """Each group's heading path (shortened where too long) and its prefix token count."""
    prefixes = count([embedding_text(title, path, "") for path in paths])
    limit = max_tokens // 2 - count.specials
    for i, prefix in enumerate(prefixes):
        if prefix > limit:
            paths[i] = _fit_headings(title, paths[i], count, max_tokens)
            prefixes[i] = count([embedding_text(title, paths[i], "")])[0]
    return paths, prefixes


def _fit_headings(
    title: str, headings: tuple[str, ...], count: _Counter, max_tokens: int
) -> tuple[str, ...]:
    """Shorten a heading path whose prefix would take more than half the budget:
    outer headings go first, then words from the end of the innermost one."""
    limit = max_tokens // 2 - count.specials

    def fits(path: tuple[str, ...]) -> bool:
        return count([embedding_text(title, path, "")])[0] <= limit

    if not fits(()):
        raise ValueError(f"document title too long for max_tokens={max_tokens}: {title[:80]!r}")
    while len(headings) > 1 and not fits(headings):
        headings = headings[1:]
    words = headings[0].split() if headings else []
    while words and not fits((" ".join(words) + " …",)):
        words = words[: len(words) // 2] if len(words) > 8 else words[:-1]
    return (" ".join(words) + " …",) if words else ()


def _section_units(section: Section, tokens: int, budget: int, count: _Counter) -> list[_Unit]:
    numbers = _row_numbers(section)
    if tokens <= budget:
        rows = [n for n in numbers or () if n is not None]
        return [_Unit(section.text, tokens, rows=(min(rows), max(rows)) if rows else None)]
    if section.kind == "table":
        return _table_units(section.text, budget, count, numbers)
    return _split(section.text, tokens, budget, count)


def _row_numbers(section: Section) -> tuple[int | None, ...] | None:
    """The sheet row of each line, when the rows still line up with the text."""
    rows: SheetRows | None = section.rows
    if rows is None or len(rows.numbers) != section.text.count("\n") + 1:
        return None
    return rows.numbers


# (how a text splits, the separator put back between its pieces), coarsest first
_LEVELS: list[tuple[Callable[[str], list[str]], str]] = [
    (_PARAGRAPH_GAP.split, "\n\n"),
    (lambda text: text.split("\n"), "\n"),
    (_SENTENCE_GAP.split, " "),
    (str.split, " "),
]


def _split(text: str, tokens: int, budget: int, count: _Counter, level: int = 0) -> list[_Unit]:
    """Units of at most `budget` tokens, cut at the coarsest boundary that works."""
    if tokens <= budget:
        return [_Unit(text, tokens)]
    if level == len(_LEVELS):
        return _split_characters(text, tokens, budget, count)
    splitter, joiner = _LEVELS[level]
    parts = [part.strip() for part in splitter(text) if part.strip()]
    if len(parts) <= 1:
        return _split(text, tokens, budget, count, level + 1)
    units: list[_Unit] = []
    for part, part_tokens in zip(parts, count(parts), strict=True):
        pieces = _split(part, part_tokens, budget, count, level + 1)
        units.append(replace(pieces[0], joiner=joiner))
        units.extend(pieces[1:])
    return [replace(units[0], joiner="\n\n"), *units[1:]]


def _split_characters(text: str, tokens: int, budget: int, count: _Counter) -> list[_Unit]:
    """A single enormous "word": cut into character runs sized from its token density."""
    size = max(1, len(text) * budget // max(tokens, 1))
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    units: list[_Unit] = []
    for piece, piece_tokens in zip(pieces, count(pieces), strict=True):
        if piece_tokens > budget and len(piece) > 1:
            units.extend(_split_characters(piece, piece_tokens, max(budget - 1, 1), count))
        else:
            units.append(_Unit(piece, piece_tokens, ""))  # glued back: _enforce re-checks
    return units


def _table_units(
    text: str, budget: int, count: _Counter, numbers: tuple[int | None, ...] | None = None
) -> list[_Unit]:
    """One unit per row; the header (row + delimiter row) goes with the first row and is
    repeated at the top of every chunk that starts inside the table."""
    rows = text.split("\n")
    spans = [(n, n) if n is not None else None for n in numbers or [None] * len(rows)]
    has_header = len(rows) > 2 and bool(_DELIMITER_ROW.match(rows[1]))
    header_text = "\n".join(rows[:2]) if has_header else ""
    header_tokens, *row_tokens = count([header_text, *rows[2 if has_header else 0 :]])
    header = _Unit(header_text, header_tokens) if has_header else None
    if header and header_tokens > budget // 2:
        header, row_tokens = None, count(rows)  # too big to repeat: plain rows
    body = rows[2:] if header else rows
    body_spans = spans[2:] if header else spans
    room = budget - (header.tokens if header else 0)
    units: list[_Unit] = []
    for row, tokens, span in zip(body, row_tokens, body_spans, strict=True):
        pieces = _split(row, tokens, room, count, level=3)
        units.append(_Unit(pieces[0].text, pieces[0].tokens, "\n", header, span))
        units.extend(replace(piece, joiner=" ", rows=span) for piece in pieces[1:])
    if header:
        first = units[0]
        text, tokens = f"{header.text}\n{first.text}", header.tokens + first.tokens
        units[0] = _Unit(text, tokens, rows=_merge([spans[0], first.rows]))
    return units


def _merge(spans: list[tuple[int, int] | None]) -> tuple[int, int] | None:
    """The smallest row range covering the given ones."""
    known = [span for span in spans if span]
    return (min(a for a, _ in known), max(b for _, b in known)) if known else None


def _pack(units: list[_Unit], budget: int) -> Iterator[tuple[str, tuple[int, int] | None]]:
    """Greedy: add units to the chunk while the summed count fits the budget. Yields each
    chunk's text and the sheet rows it holds (None outside sheets)."""
    current: list[_Unit] = []
    used = 0
    for unit in units:
        if current and used + unit.tokens <= budget:
            current.append(unit)
            used += unit.tokens
            continue
        if current:
            yield _join(current)
        current = [unit.header, unit] if unit.header else [unit]
        used = sum(u.tokens for u in current)
    if current:
        yield _join(current)


def _join(units: list[_Unit]) -> tuple[str, tuple[int, int] | None]:
    text = units[0].text + "".join(unit.joiner + unit.text for unit in units[1:])
    return text, _merge([unit.rows for unit in units])


def _enforce(title: str, chunks: list[Chunk], count: _Counter, max_tokens: int) -> list[Chunk]:
    """Exact check of every chunk, in one batch; re-split the rare one that is over."""
    totals = count([embedding_text(title, c.headings, c.text) for c in chunks])
    result: list[Chunk] = []
    for chunk, total in zip(chunks, totals, strict=True):
        over = total + count.specials - max_tokens
        if over <= 0:
            result.append(chunk)
            continue
        text_tokens = count([chunk.text])[0]
        budget = max(text_tokens - over, 1)
        pieces = _split(chunk.text, text_tokens, budget, count)
        smaller = [Chunk(text, chunk.headings, chunk.locator) for text, _ in _pack(pieces, budget)]
        result.extend(_enforce(title, smaller, count, max_tokens))
    return result


def vector_texts(title: str, chunk: Chunk, windows: bool = True) -> list[str]:
    """The texts embedded for a chunk: with `windows`, every pair of adjacent sentences
    when it has three or more; else the chunk whole (short passages, and tables and code,
    which rarely have sentence breaks). A question usually matches a sentence or two,
    which a vector of the whole chunk dilutes with the rest (README: Retrieval quality)."""
    sentences = [s for s in _SENTENCE_GAP.split(chunk.text) if s.strip()] if windows else []
    if len(sentences) < 3:
        return [embedding_text(title, chunk.headings, chunk.text)]
    return [
        embedding_text(title, chunk.headings, f"{first} {second}")
        for first, second in pairwise(sentences)
    ]
