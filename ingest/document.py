"""What loaders produce and the chunker consumes."""

from dataclasses import dataclass, field
from typing import Literal, Protocol

SectionKind = Literal["text", "table", "code"]


@dataclass(frozen=True)
class Section:
    """A structural block of a document: a paragraph, a list, a table, a code block.

    `headings` is the heading path the block sits under (outermost first); `page` is the
    1-based PDF page, None for other formats.
    """

    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None
    kind: SectionKind = "text"


@dataclass
class ParsedDocument:
    title: str
    sections: list[Section] = field(default_factory=list)


@dataclass(frozen=True)
class Chunk:
    """A passage small enough for the embedding model, with where it came from."""

    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None


class LoadError(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


class TokenCounter(Protocol):
    """Counts tokens with the embedding model's own tokenizer."""

    def count_tokens(self, texts: list[str]) -> list[int]: ...


def embedding_text(title: str, headings: tuple[str, ...], text: str) -> str:
    """The text that is embedded: title and heading path give a chunk its context."""
    if headings and headings[0] == title:  # a Markdown title is also the first heading
        headings = headings[1:]
    context = " > ".join(part for part in (title, *headings) if part)
    return f"{context}\n{text}" if context else text
