"""Real-world PDFs end to end: the 20 SEC 10-Q filings ingest completely, re-sync in a
nothing read again, and a deleted filing disappears from search."""

import io
import shutil
from pathlib import Path

import pypdf
import pytest

from benchmarks.previous_release import PDF_LIMITS
from ingest.pipeline import ingest
from kb.index import KnowledgeIndex
from kb.search import Searcher
from kb.types import SearchMode
from tests.conftest import SHARED_EVAL

SEC_DOCS = SHARED_EVAL / "sec-10-q" / "docs"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SEC_DOCS.is_dir(), reason="shared eval data not present"),
]


def pages_with_chunks(index: KnowledgeIndex, path: str) -> set[int]:
    rows = index.catalog.db.execute(
        "SELECT DISTINCT c.locator_value FROM chunks c JOIN documents d USING (doc_id)"
        " WHERE d.path = :path AND c.locator_kind = 'page'",
        {"path": path},
    )
    return {int(page) for (page,) in rows}


def assert_every_page_with_text_is_indexed(index: KnowledgeIndex, pdf: Path) -> None:
    """pypdf, the previous release's reader, is the witness of which pages hold text."""
    covered = pages_with_chunks(index, pdf.name)
    with pypdf.apply_configuration(PDF_LIMITS):
        reader = pypdf.PdfReader(io.BytesIO(pdf.read_bytes()))
        missing = set(range(1, len(reader.pages) + 1)) - covered
        assert all(not reader.pages[p - 1].extract_text().strip() for p in missing), pdf.name
    assert covered and len(missing) <= 1, (pdf.name, missing)


def test_sec_filings_ingest_resync_and_delete(settings, tmp_path, embedder):
    docs = Path(shutil.copytree(SEC_DOCS, tmp_path / "sec"))
    first = ingest(settings, docs, embedder=embedder)
    assert first.counts()["added"] == 20 and first.failures == [] and first.chunks > 1000
    index = KnowledgeIndex.open(settings)
    for pdf in sorted(docs.glob("*.pdf")):
        assert_every_page_with_text_is_indexed(index, pdf)
    hits = Searcher(index, embedder).search(
        "Apple total net sales for the quarter ended July 1, 2023", k=5
    )
    assert any(hit.source == "2023 Q3 AAPL.pdf" and hit.page for hit in hits)
    index.close()

    again = ingest(settings, docs, embedder=embedder)  # nothing read, parsed or embedded
    assert again.counts()["unchanged"] == 20 and again.counts()["added"] == 0

    (docs / "2023 Q3 AAPL.pdf").unlink()
    after = ingest(settings, docs, embedder=embedder)
    assert after.deleted == ["2023 Q3 AAPL.pdf"]
    index = KnowledgeIndex.open(settings)
    for mode in SearchMode:
        hits = Searcher(index, embedder).search("Apple total net sales July 1, 2023", 20, mode)
        assert all(hit.source != "2023 Q3 AAPL.pdf" for hit in hits)
    index.close()
