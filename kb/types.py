"""Plain data shared by ingest, search and the server."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    DENSE = "dense"
    LEXICAL = "lexical"


LocatorKind = Literal["page", "slide", "sheet", "chapter", "message", "cell"]
LOCATOR_KINDS: tuple[LocatorKind, ...] = ("page", "slide", "sheet", "chapter", "message", "cell")


@dataclass(frozen=True)
class DocFilter:
    """The documents a search may return: those in `ids` or, when `excluded`, all but them.
    Excluding a few (a thread's attachments) costs little where listing every other
    document would cost a filter as long as the index."""

    ids: tuple[str, ...]
    excluded: bool = False

    @property
    def admits_nothing(self) -> bool:
        return not self.ids and not self.excluded


@dataclass(frozen=True)
class Locator:
    """Where in its file a passage sits, as precisely as the format allows: a PDF page, a
    slide, a sheet range ("Budget!A12:D40"), an e-book chapter, a mail message, a notebook
    cell. The heading path is kept apart (Hit.heading)."""

    kind: LocatorKind
    value: str

    @property
    def label(self) -> str:
        """What a reader sees: "page 3", "slide 4", "Budget!A12:D40"."""
        if self.kind in ("sheet", "message"):
            return self.value  # a sheet range or "subject (date)" names itself
        return f"{self.kind} {self.value}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value, "label": self.label}


def page_locator(page: int) -> Locator:
    return Locator("page", str(page))


def page_of(locator: Locator | None) -> int | None:
    """The 1-based page of a paged document (PDF, scan, Word file with page breaks)."""
    return int(locator.value) if locator and locator.kind == "page" else None


@dataclass(frozen=True)
class Hit:
    """One ranked passage returned by a search."""

    chunk_id: str
    doc_id: str
    source: str  # path relative to the ingested folder
    title: str
    locator: Locator | None  # page, slide, sheet range...; None for unpaged text
    heading: str  # heading path joined with " > ", "" when none
    score: float
    text: str  # the chunk that matched
    before: str = ""  # the text of its section shown before it (KB_PASSAGE_CHARS)
    after: str = ""  # ... and after it

    @property
    def passage(self) -> str:
        """What a reader (or the agent) is shown: the chunk in its context."""
        return "\n\n".join(part for part in (self.before, self.text, self.after) if part)

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> "Hit":
        """A hit from its fields as `dataclasses.asdict` wrote them (the server's JSON)."""
        locator = data.get("locator")
        return cls(**{**data, "locator": Locator(**locator) if locator else None})

    @property
    def page(self) -> int | None:
        return page_of(self.locator)

    def to_json(self) -> dict[str, Any]:
        """`page` stays for scripts written against earlier releases; `locator` is general."""
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "page": self.page,
            "locator": self.locator.to_json() if self.locator else None,
            "heading": self.heading,
            "score": self.score,
            "text": self.text,
            "before": self.before,
            "after": self.after,
        }
