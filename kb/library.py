"""The catalog as the Library lists it: documents paged, sorted and filtered, each with its
chunk count and how many pages (slides, sheets...) its passages come from, and the chunks
of one document in order.

Only the page asked for is counted: the per-document figures are one grouped query over
that page's documents, so a page costs the same at 100 or 100,000 documents.
"""

from dataclasses import dataclass
from enum import StrEnum

from kb.collections import SCRATCH_PREFIX
from kb.index.catalog import (
    CHUNK_ROWS,
    DOCUMENT_COLUMNS,
    Catalog,
    ChunkRow,
    Dialect,
    DocumentRecord,
    chunk_from_row,
)


class LibrarySort(StrEnum):
    NAME = "name"
    INDEXED = "indexed"
    SIZE = "size"


class CatalogStatus(StrEnum):
    """What the catalog knows of a document: its last ingest indexed it, or failed (a
    previously indexed version, if any, stays searchable)."""

    INDEXED = "indexed"
    FAILED = "failed"


def _order(dialect: Dialect, sort: LibrarySort) -> str:
    if sort is LibrarySort.NAME:
        return dialect.nocase("d.path")
    return "d.indexed_at" if sort is LibrarySort.INDEXED else "d.size"


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
    where, params = _filters(catalog, query)
    db = catalog.db
    total: int = db.execute(f"SELECT COUNT(*) FROM documents d WHERE {where}", params).fetchone()[0]
    direction = "DESC" if query.descending else "ASC"
    sql = (
        f"SELECT {', '.join('d.' + c for c in DOCUMENT_COLUMNS)} FROM documents d WHERE {where}"
        f" ORDER BY {_order(catalog.dialect, query.sort)} {direction}, d.doc_id {direction}"
        " LIMIT :limit OFFSET :offset"
    )
    page = {**params, "limit": query.limit, "offset": query.offset}
    records = [DocumentRecord(**row) for row in db.dicts(sql, page)]
    figures = _figures(catalog, [record.doc_id for record in records])
    rows = [LibraryRow(record, *figures.get(record.doc_id, (0, None, 0))) for record in records]
    return total, rows


def document_chunks(
    catalog: Catalog, doc_id: str, offset: int, limit: int
) -> tuple[int, list[ChunkRow]]:
    """(chunks of the document, those from `offset`), in document order."""
    db = catalog.db
    count = "SELECT COUNT(*) FROM chunks WHERE doc_id = :doc_id"
    total: int = db.execute(count, {"doc_id": doc_id}).fetchone()[0]
    sql = f"{CHUNK_ROWS} WHERE c.doc_id = :doc_id ORDER BY c.ord LIMIT :limit OFFSET :offset"
    found = db.dicts(sql, {"doc_id": doc_id, "limit": limit, "offset": offset})
    return total, [chunk_from_row(row) for row in found]


def _filters(catalog: Catalog, query: LibraryQuery) -> tuple[str, dict[str, object]]:
    dialect = catalog.dialect
    clauses = ["d.collection NOT LIKE :scratch"]  # attachments: never listed
    params: dict[str, object] = {"scratch": f"{SCRATCH_PREFIX}%"}
    if query.collection is not None:
        clauses.append("d.collection = :collection")
        params["collection"] = query.collection
    if query.readable is not None:
        clauses.append(dialect.member("d.collection", "readable"))
        params["readable"] = dialect.listed(sorted(query.readable))
    if query.name:
        clauses.append(f"d.path {dialect.like_nocase} :name ESCAPE '\\'")
        escaped = query.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["name"] = f"%{escaped}%"
    if query.status is not None:
        clauses.append(STATUS_SQL[query.status])
    return " AND ".join(clauses), params


def _figures(catalog: Catalog, doc_ids: list[str]) -> dict[str, tuple[int, str | None, int]]:
    """Document id -> (chunks, locator kind, distinct locators: pages, slides, sheets...)."""
    dialect = catalog.dialect
    bang = f"{dialect.position}(locator_value, '!')"
    sql = (
        "SELECT doc_id, COUNT(*), MAX(locator_kind), COUNT(DISTINCT CASE"
        f" WHEN locator_kind = 'sheet' AND {bang} > 0"
        f" THEN substr(locator_value, 1, {bang}) ELSE locator_value END)"
        f" FROM chunks WHERE {dialect.member('doc_id', 'ids')} GROUP BY doc_id"
    )
    rows = catalog.db.execute(sql, {"ids": dialect.listed(doc_ids)})
    return {doc_id: (chunks, kind, parts) for doc_id, chunks, kind, parts in rows}


def folder_counts(catalog: Catalog) -> dict[str, tuple[str, int]]:
    """Ingested folder -> (its collection, how many of its documents the catalog holds)."""
    rows = catalog.db.execute(
        "SELECT root, MAX(collection), COUNT(*) FROM documents"
        " WHERE collection NOT LIKE :scratch GROUP BY root",
        {"scratch": f"{SCRATCH_PREFIX}%"},
    )
    return {root: (collection, count) for root, collection, count in rows}
