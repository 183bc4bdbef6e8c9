"""Lexical search scores each row once and only the rows that can reach the top: the
results are those of scoring every row that holds a query term, also when common terms
are skipped, and a bounded search still fills its top."""

import random

import pytest

from kb.index import lexical
from kb.index.catalog import DocumentRecord, NewChunk
from kb.index.sqlite import SqliteCatalog as Catalog
from kb.types import DocFilter

WORDS = [f"w{n}x" for n in range(60)]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """600 chunks in 30 documents: every chunk says "common", half say "frequent", and
    the other words follow a skewed distribution (a few in most chunks, most in few)."""
    catalog = Catalog(tmp_path_factory.mktemp("lexical") / "catalog.sqlite")
    rng = random.Random(7)
    weights = [1 / (n + 1) for n in range(len(WORDS))]
    with catalog.transaction() as db:
        for d in range(30):
            doc_id = f"d{d}"
            record = DocumentRecord(doc_id, "/docs", f"{doc_id}.md", 1, 1, "h", "Doc", None, 1.0)
            catalog.upsert_document(db, record)
            chunks = []
            for c in range(20):
                words = rng.choices(WORDS, weights, k=rng.randint(5, 40))
                words += ["common"] + (["frequent"] * rng.randint(1, 3) if c % 2 else [])
                chunks.append(NewChunk(f"{doc_id}-{c}", "Doc", "", None, " ".join(words)))
            catalog.replace_chunks(db, doc_id, chunks)
    yield catalog
    catalog.close()


QUERIES = [
    "common frequent w40x",
    "common w3x w50x w55x",
    "frequent w1x w2x",
    "w0x w1x w2x w3x common frequent",
    "w59x common",
    "common frequent",
]


def exhaustive(catalog: Catalog, query: str, limit: int) -> list[float]:
    """The best scores by FTS5 over every matching row (the previous algorithm)."""
    match = " OR ".join(f'"{t}"' for t in lexical.query_terms(query))
    rows = catalog.db.execute(
        "SELECT -rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
        (match, limit),
    )
    return [round(score, 9) for (score,) in rows]


@pytest.mark.parametrize("budget", [10**9, 700, 150])
@pytest.mark.parametrize("limit", [1, 5, 50])
def test_same_top_as_scoring_every_row(catalog, monkeypatch, budget, limit):
    """Unbounded, and with budgets where the MaxScore bound decides which rows to skip,
    every query gets exactly the scores of an exhaustive search."""
    monkeypatch.setattr(lexical, "SCORED_ROWS", budget)
    for query in QUERIES:
        found = catalog.lexical_search(query, limit)
        assert [round(score, 9) for _, score in found] == exhaustive(catalog, query, limit)


def test_rows_asked_about_are_scored_in_the_same_pass(catalog):
    """The dense side's candidates get their BM25 with the top, whatever their rank."""
    owners = catalog.chunk_owners(["d3-4", "d7-1", "d9-2"])
    rows = {owner.row for owner in owners.values()}
    scores = catalog.passage_scores("common w1x", 3, also=rows)
    everything = dict(
        catalog.db.execute(
            'SELECT rowid, -rank FROM chunks_fts WHERE chunks_fts MATCH \'"common" OR "w1x"\''
        ).fetchall()
    )
    assert rows <= set(scores)  # every chunk says "common"
    assert all(scores[row] == pytest.approx(everything[row]) for row in scores)
    best = sorted(everything.values(), reverse=True)[:3]
    assert sorted(scores.values(), reverse=True)[:3] == pytest.approx(best)


def test_a_bounded_search_still_fills_its_top(catalog, monkeypatch):
    """With a budget below what the rarest term alone holds, the top is still full and
    holds only rows with a query term, within the filter."""
    monkeypatch.setattr(lexical, "SCORED_ROWS", 5)
    found = catalog.lexical_search("common frequent w2x", 20, DocFilter(("d1", "d2")))
    assert len(found) == 20
    assert all(chunk_id.split("-")[0] in {"d1", "d2"} for chunk_id, _ in found)


def test_an_excluding_filter_leaves_those_documents_out_and_fills_the_top(catalog):
    """A thread's attachments are left out of "every collection" by excluding their few
    documents, not by listing every other one."""
    query = "common frequent w2x"
    top = {chunk_id.split("-")[0] for chunk_id, _ in catalog.lexical_search(query, 20)}
    found = catalog.lexical_search(query, 20, DocFilter(tuple(sorted(top)), excluded=True))
    assert len(found) == 20
    assert not {chunk_id.split("-")[0] for chunk_id, _ in found} & top
