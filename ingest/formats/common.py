"""Helpers shared by the format parsers."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from ingest.document import LoadError, ParsedDocument, Section, SectionKind, SkipFile
from kb.types import Locator

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
TITLE_MAX_CHARS = 120


def squash(text: str) -> str:
    """Collapse all whitespace (newlines included) to single spaces."""
    return " ".join(text.split())


def tidy_lines(text: str) -> str:
    """Collapse spaces inside each line, drop blank lines: for lists and table rows."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def short_title(text: str) -> str:
    """A title fit for every chunk's prefix: one line, cut at a word boundary."""
    title = squash(text)
    if len(title) <= TITLE_MAX_CHARS:
        return title
    return title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] + "…"


class HeadingTrail:
    """The heading path at the current point of a document (outermost first)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []
        self.first: str | None = None

    def enter(self, level: int, text: str) -> None:
        text = squash(text)
        if not text:
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        self.first = self.first or text

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._stack)


class SectionList(list[Section]):
    """Sections being collected; blank blocks are dropped on the way in."""

    def add(
        self,
        text: str,
        headings: tuple[str, ...],
        kind: SectionKind = "text",
        locator: Locator | None = None,
    ) -> None:
        if text.strip():
            self.append(Section(text.strip("\n"), headings, locator, kind))


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Library errors on malformed input (they raise many types) become one clear reason."""
    try:
        yield
    except (LoadError, SkipFile, RecursionError, MemoryError):
        raise
    except Exception as error:
        raise LoadError(f"corrupt {what}: {str(error) or type(error).__name__}") from error


def placed(
    document: ParsedDocument, headings: tuple[str, ...], locator: Locator | None
) -> list[Section]:
    """A nested document's sections (a chapter, an attachment) placed under `headings`."""
    return [
        replace(s, headings=(*headings, *s.headings), locator=locator) for s in document.sections
    ]


def pipe_table(rows: list[list[str]]) -> str:
    """Rows of cells as "a | b" lines, the first one marked as the header ("--- | ---"),
    the form the chunker repeats at the top of every chunk of a long table."""
    kept = [[squash(cell) for cell in row] for row in rows if any(map(str.strip, row))]
    lines = [" | ".join(row) for row in kept]
    if len(lines) > 1:
        lines.insert(1, " | ".join("---" for _ in kept[0]))
    return "\n".join(lines)
