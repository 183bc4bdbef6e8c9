"""What the knowledge base holds: `kb status` and the server's /api/status."""

import contextlib
import datetime as dt
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kb.collections import is_scratch
from kb.index.catalog import Catalog
from kb.settings import Settings


@dataclass(frozen=True)
class IndexStatus:
    documents: int
    chunks: int
    failed_documents: int
    embedding_model: str
    dimension: int | None
    last_ingest: str | None  # ISO time, UTC
    data_dir: str
    data_size_mb: float
    backends: str = ""  # where the index lives: embedded, or which servers
    ocr: str | None = None  # whether scans can be read (ingest knows; the core does not)

    @classmethod
    def of(
        cls, settings: Settings, catalog: Catalog, collections: frozenset[str] | None = None
    ) -> "IndexStatus":
        """Counts of the given collections (None: all but the conversations' attachments)."""
        if collections is None:
            collections = frozenset(n for n in catalog.collection_names() if not is_scratch(n))
        documents, chunks = catalog.counts(collections=collections)
        failed = sum(1 for doc in catalog.documents(collections=collections) if doc.error)
        return cls(
            documents=documents,
            chunks=chunks,
            failed_documents=failed,
            embedding_model=catalog.get_meta("embedding_model") or settings.embedding_variant,
            dimension=int(catalog.get_meta("dimension") or 0) or None,
            last_ingest=_iso(catalog.get_meta("last_ingest")),
            data_dir=str(settings.data_dir.resolve()),
            data_size_mb=round(_size(settings.data_dir) / 2**20, 2),
            backends=backends(settings),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "IndexStatus":
        return cls(**{field.name: data[field.name] for field in fields(cls) if field.name in data})


def backends(settings: Settings) -> str:
    """Where the index lives, without credentials."""
    if not settings.index_url:
        return "embedded: SQLite and Chroma in the data dir"
    catalog = urlsplit(settings.index_url)
    vectors = urlsplit(settings.chroma_url or "")
    return (
        f"servers: PostgreSQL {catalog.hostname}:{catalog.port or 5432}{catalog.path}, "
        f"Chroma {vectors.scheme}://{vectors.hostname}:{vectors.port}; "
        f"knowledge base {settings.index_name!r}"
    )


def _iso(timestamp: str | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(float(timestamp), dt.UTC).isoformat(timespec="seconds")


def _size(folder: Path) -> int:
    """Bytes under `folder`; what an ingest deletes meanwhile counts as gone."""
    total = 0
    for parent, _, names in os.walk(folder):  # skips folders that vanish
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(parent, name), follow_symlinks=False).st_size
    return total
