"""Plain data shared by ingest, search and the server."""

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    DENSE = "dense"
    LEXICAL = "lexical"


@dataclass(frozen=True)
class Hit:
    """One ranked passage returned by a search."""

    chunk_id: str
    doc_id: str
    source: str  # path relative to the ingested folder
    title: str
    page: int | None  # 1-based, PDFs only
    heading: str  # heading path joined with " > ", "" when none
    score: float
    text: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("doc_id")
        return data
