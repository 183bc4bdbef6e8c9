"""Entry points that wire settings, index and embedder together for the CLI and server."""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kb.catalog import Catalog
from kb.embedder import create_embedder
from kb.index import KnowledgeIndex
from kb.search import Searcher
from kb.settings import Settings


@contextmanager
def open_searcher(settings: Settings) -> Iterator[Searcher]:
    index = KnowledgeIndex.open(settings)
    try:
        yield Searcher(index, create_embedder(settings))
    finally:
        index.close()


def index_status(settings: Settings) -> dict[str, Any]:
    catalog = Catalog(settings.index_dir / "catalog.sqlite")
    try:
        documents, chunks = catalog.counts()
        failed = sum(1 for doc in catalog.documents() if doc.error)
        last = catalog.get_meta("last_ingest")
        return {
            "documents": documents,
            "chunks": chunks,
            "failed_documents": failed,
            "embedding_model": catalog.get_meta("embedding_model") or settings.embedding_model,
            "dimension": int(catalog.get_meta("dimension") or 0) or None,
            "last_ingest": _iso(last),
            "data_dir": str(settings.data_dir.resolve()),
            "data_size_mb": round(_size(settings.data_dir) / 2**20, 2),
            "ocr": _ocr(settings),
        }
    finally:
        catalog.close()


def _ocr(settings: Settings) -> str:
    """ "available (eng)", "off (KB_OCR=off)", or why not and how to get it."""
    from ingest.formats.ocr import ocr_unavailable

    if settings.ocr == "off":
        return "off (KB_OCR=off)"
    return ocr_unavailable(settings.ocr_languages) or f"available ({settings.ocr_languages})"


def _iso(timestamp: str | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(float(timestamp), dt.UTC).isoformat(timespec="seconds")


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
