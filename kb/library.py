"""The catalog as the Library lists it: documents paged, sorted and filtered, each with its
chunk count and how many pages (slides, sheets...) its passages come from, and the chunks
of one document in order.

Only the page asked for is counted: the per-document figures are one grouped query over
that page's documents, so a page costs the same at 100 or 100,000 documents.
"""

import json
import sqlite3
from dataclasses import dataclass
from enum import StrEnum

from kb.catalog import (
    CHUNK_ROWS,
    DOCUMENT_COLUMNS,
    Catalog,
    ChunkRow,
    DocumentRecord,
    chunk_from_row,
)
from kb.collections import SCRATCH_PREFIX


class LibrarySort(StrEnum):
    NAME = "name"
    INDEXED = "indexed"
    SIZE = "size"


class CatalogStatus(StrEnum):
    """What the catalog knows of a document: its last ingest indexed it, or failed (a
    previously indexed version, if any, stays searchable)."""

    INDEXED = "indexed"
    FAILED = "failed"


ORDER = {
    LibrarySort.NAME: "d.path COLLATE NOCASE",
    LibrarySort.INDEXED: "d.indexed_at",
    LibrarySort.SIZE: "d.size",
}
STATUS_SQL = {
    CatalogStatus.INDEXED: "d.error IS NULL AND d.content_hash IS NOT NULL",
    CatalogStatus.FAILED: "d.error IS NOT NULL",
}


@dataclass(frozen=True)
class LibraryQuery:
    name: str = ""  # part of the path, any case
    status: CatalogStatus | None = None
    collection: str | None = None  # only this one
    readable: frozenset[str] | None = None  # only these (None: all)
    sort: LibrarySort = LibrarySort.NAME
    descending: bool = False
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True)
class LibraryRow:
    record: DocumentRecord
    chunks: int
    part_kind: str | None  # "page", "slide", "sheet"...: what `parts` counts
    parts: int


def library_page(catalog: Catalog, query: LibraryQuery) -> tuple[int, list[LibraryRow]]:
    """(documents matching, the page of them asked for)."""
    where, params = _filters(query)
    db = catalog.db
    total: int = db.execute(f"SELECT COUNT(*) FROM documents d WHERE {where}", params).fetchone()[0]
    direction = "DESC" if query.descending else "ASC"
    sql = (
        f"SELECT {', '.join('d.' + c for c in DOCUMENT_COLUMNS)} FROM documents d WHERE {where}"
        f" ORDER BY {ORDER[query.sort]} {direction}, d.doc_id {direction}"
        " LIMIT :limit OFFSET :offset"
    )
    page = {**params, "limit": query.limit, "offset": query.offset}
    records = [DocumentRecord(**dict(row)) for row in _rows(db, sql, page)]
    figures = _figures(db, [record.doc_id for record in records])
    rows = [LibraryRow(record, *figures.get(record.doc_id, (0, None, 0))) for record in records]
    return total, rows


def document_chunks(
    catalog: Catalog, doc_id: str, offset: int, limit: int
) -> tuple[int, list[ChunkRow]]:
    """(chunks of the document, those from `offset`), in document order."""
    db = catalog.db
    total: int = db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id = ?", (doc_id,)).fetchone()[0]
    sql = f"{CHUNK_ROWS} WHERE c.doc_id = :doc_id ORDER BY c.ord LIMIT :limit OFFSET :offset"
    found = _rows(db, sql, {"doc_id": doc_id, "limit": limit, "offset": offset})
    return total, [chunk_from_row(row) for row in found]


def _filters(query: LibraryQuery) -> tuple[str, dict[str, object]]:
    clauses = [f"d.collection NOT LIKE '{SCRATCH_PREFIX}%'"]  # attachments: never listed
    params: dict[str, object] = {}
    if query.collection is not None:
        clauses.append("d.collection = :collection")
        params["collection"] = query.collection
    if query.readable is not None:
        clauses.append("d.collection IN (SELECT value FROM json_each(:readable))")
        params["readable"] = json.dumps(sorted(query.readable))
    if query.name:
        clauses.append("d.path LIKE :name ESCAPE '\\'")
        escaped = query.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["name"] = f"%{escaped}%"
    if query.status is not None:
        clauses.append(STATUS_SQL[query.status])
    return " AND ".join(clauses), params


def _figures(db: sqlite3.Connection, doc_ids: list[str]) -> dict[str, tuple[int, str | None, int]]:
    """Document id -> (chunks, locator kind, distinct locators: pages, slides, sheets...)."""
    sql = (
        "SELECT doc_id, COUNT(*), MAX(locator_kind), COUNT(DISTINCT CASE"
        " WHEN locator_kind = 'sheet' AND instr(locator_value, '!') > 0"
        " THEN substr(locator_value, 1, instr(locator_value, '!')) ELSE locator_value END)"
        " FROM chunks WHERE doc_id IN (SELECT value FROM json_each(?)) GROUP BY doc_id"
    )
    rows = db.execute(sql, (json.dumps(doc_ids),))
    return {doc_id: (chunks, kind, parts) for doc_id, chunks, kind, parts in rows}


def _rows(db: sqlite3.Connection, sql: str, params: dict[str, object]) -> list[sqlite3.Row]:
    cursor = db.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, params).fetchall()


def folder_counts(catalog: Catalog) -> dict[str, tuple[str, int]]:
    """Ingested folder -> (its collection, how many of its documents the catalog holds)."""
    rows = catalog.db.execute(
        "SELECT root, MAX(collection), COUNT(*) FROM documents"
        f" WHERE collection NOT LIKE '{SCRATCH_PREFIX}%' GROUP BY root"
    )
    return {root: (collection, count) for root, collection, count in rows}
