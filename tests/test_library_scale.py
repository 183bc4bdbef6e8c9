"""The Library's catalog queries over 100,000 documents: every page right, and a page
costs about the same wherever it is (figures printed, not asserted)."""

import time
from pathlib import Path

from kb.index.sqlite import SqliteCatalog as Catalog
from kb.library import CatalogStatus, LibraryQuery, LibrarySort, library_page

DOCUMENTS = 100_000


def fill(catalog: Catalog) -> None:
    rows = [
        {
            "doc_id": f"d{n:06}",
            "path": f"folder{n % 7}/report {n:06}.pdf",
            "size": (n * 7919) % 100_003,
            "error": "cannot read it" if n % 1000 == 0 else None,
        }
        for n in range(DOCUMENTS)
    ]
    with catalog.transaction() as db:
        db.executemany(
            "INSERT INTO documents (doc_id, root, path, size, mtime_ns, content_hash, title,"
            " error, indexed_at) VALUES (:doc_id, '/docs', :path, :size, 0,"
            " CASE WHEN :error IS NULL THEN 'h' END, NULL, :error, 1.0)",
            rows,
        )
        db.executemany(
            "INSERT INTO chunks (chunk_id, doc_id, ord, title, heading, text, locator_kind,"
            " locator_value) VALUES (:chunk, :doc, :ord, 't', '', 'x', 'page', :page)",
            [
                {"chunk": f"c{n}-{p}", "doc": f"d{n:06}", "ord": p, "page": str(p + 1)}
                for n in range(0, DOCUMENTS, 97)
                for p in range(3)
            ],
        )


def timed(catalog: Catalog, query: LibraryQuery) -> tuple[float, int, list[str]]:
    started = time.perf_counter()
    total, rows = library_page(catalog, query)
    return (time.perf_counter() - started) * 1000, total, [row.record.doc_id for row in rows]


def test_pages_over_100000_documents(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    fill(catalog)
    figures = {}
    ms, total, first = timed(catalog, LibraryQuery(limit=50))
    figures["first page by name"] = ms
    assert total == DOCUMENTS and first[:2] == ["d000000", "d000007"]
    ms, _, middle = timed(catalog, LibraryQuery(offset=50_000, limit=50))
    figures["page at 50,000 by name"] = ms
    assert len(middle) == 50 and not set(middle) & set(first)
    ms, _, by_size = timed(catalog, LibraryQuery(sort=LibrarySort.SIZE, descending=True))
    figures["first page by size"] = ms
    sizes = [catalog.document(doc_id).size for doc_id in by_size]  # type: ignore[union-attr]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 100_002
    ms, total, failed = timed(catalog, LibraryQuery(status=CatalogStatus.FAILED, limit=200))
    figures["failed only"] = ms
    assert total == 100 and failed[0] == "d000000"
    ms, total, found = timed(catalog, LibraryQuery(name="report 04242"))
    figures["name search"] = ms
    assert total == 10 and found[0] == "d042420"
    _, rows = library_page(catalog, LibraryQuery(limit=1))
    assert (rows[0].chunks, rows[0].part_kind, rows[0].parts) == (3, "page", 3)
    print({name: f"{value:.1f} ms" for name, value in figures.items()})
    catalog.close()
