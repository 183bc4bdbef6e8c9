"""Plain data shared by ingest, search and the server."""

from dataclasses import asdict, dataclass
from typing import Literal

SearchMode = Literal["hybrid", "dense", "lexical"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "lexical")


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

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("doc_id")
        return data
