"""What loaders produce and the chunker consumes."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from kb.settings import OcrMode, Settings
from kb.types import Locator

SectionKind = Literal["text", "table", "code"]


@dataclass(frozen=True)
class SheetRows:
    """The spreadsheet rows a table section holds, one number per line of its text (None
    for the header's "---" line), so that each chunk can name the range it kept."""

    sheet: str
    first_column: str  # "A"
    last_column: str  # "D"
    numbers: tuple[int | None, ...]

    def locator(self, first: int, last: int) -> Locator:
        """`Budget!A12:D40`, the spreadsheet notation for the rows first..last (quoted
        where the sheet name needs it, `'Q3 plan'!A1:C9`; a CSV file's range alone)."""
        cells = f"{self.first_column}{first}:{self.last_column}{last}"
        if not self.sheet:
            return Locator("sheet", cells)
        name = self.sheet
        if not name.isidentifier():
            name = "'" + name.replace("'", "''") + "'"
        return Locator("sheet", f"{name}!{cells}")


@dataclass(frozen=True)
class Section:
    """A structural block of a document: a paragraph, a list, a table, a code block.

    `headings` is the heading path the block sits under (outermost first); `locator` is
    where it sits in the file (page, slide, sheet, chapter, message, cell), None for plain
    text. A chunk never spans two locators. `rows` is set on a sheet's table.
    """

    text: str
    headings: tuple[str, ...] = ()
    locator: Locator | None = None
    kind: SectionKind = "text"
    rows: SheetRows | None = None


@dataclass
class ParsedDocument:
    title: str
    sections: list[Section] = field(default_factory=list[Section])


@dataclass(frozen=True)
class Chunk:
    """A passage small enough for the embedding model, with where it came from."""

    text: str
    headings: tuple[str, ...] = ()
    locator: Locator | None = None


@dataclass(frozen=True)
class LoadOptions:
    """The settings a loader needs; plain data, so it travels to worker processes."""

    max_bytes: int = 50 * 2**20  # also the cap on a zip container's decompressed size
    max_rows: int = 100_000
    ocr: OcrMode = "auto"
    ocr_languages: str = "eng"
    ocr_cache: Path | None = None  # None: OCR text is not cached

    @classmethod
    def from_settings(cls, settings: Settings) -> "LoadOptions":
        return cls(
            max_bytes=int(settings.max_file_mb * 2**20),
            max_rows=settings.max_rows,
            ocr=settings.ocr,
            ocr_languages=settings.ocr_languages,
            ocr_cache=settings.ocr_cache,
        )


class LoadError(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


class SkipFile(Exception):
    """A file read and deliberately not indexed (an image without text, OCR unavailable);
    listed as skipped with this reason, not as failed."""


class TokenCounter(Protocol):
    """Counts tokens with the embedding model's own tokenizer."""

    def count_tokens(self, texts: list[str]) -> list[int]: ...


def embedding_text(title: str, headings: tuple[str, ...], text: str) -> str:
    """The text that is embedded: title and heading path give a chunk its context."""
    if headings and headings[0] == title:  # a Markdown title is also the first heading
        headings = headings[1:]
    context = " > ".join(part for part in (title, *headings) if part)
    return f"{context}\n{text}" if context else text
