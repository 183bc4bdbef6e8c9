"""Search modes against a real index (Chroma + FTS5), fusion, filters, catalog migrations."""

import sqlite3

import pytest

from ingest.pipeline import ingest
from kb.catalog import MIGRATIONS, Catalog
from kb.index import KnowledgeIndex
from kb.search import FusionParams, Searcher, fuse


@pytest.fixture
def searcher(settings, docs, embedder):
    (docs / "errors.md").write_text(
        "# Error codes\n\n## E4711\n\nE4711 means the license server refused the seat.\n"
    )
    (docs / "cars.md").write_text(
        "# Vehicles\n\nThe car would not start on a freezing January morning.\n"
    )
    (docs / "sub").mkdir()
    (docs / "sub" / "cooking.txt").write_text("Simmer the tomato sauce for forty minutes.")
    ingest(settings, docs, embedder=embedder)
    index = KnowledgeIndex.open(settings)
    yield Searcher(index, embedder)
    index.close()


def test_lexical_finds_exact_codes_and_hybrid_keeps_them_first(searcher):
    assert searcher.search("E4711", k=1, mode="lexical")[0].source == "errors.md"
    hit = searcher.search("what does E4711 mean", k=1)[0]
    assert (hit.source, hit.heading) == ("errors.md", "Error codes > E4711")


def test_dense_finds_meaning_without_shared_words(searcher):
    query = "automobile engine trouble in winter"
    assert searcher.search(query, k=3, mode="lexical") == []
    assert searcher.search(query, k=1, mode="dense")[0].source == "cars.md"
    assert searcher.search(query, k=1, mode="hybrid")[0].source == "cars.md"


def test_source_glob_filters_every_mode(searcher):
    for mode in ("dense", "lexical", "hybrid"):
        hits = searcher.search("sauce car license", k=10, mode=mode, source="sub/*")
        assert {hit.source for hit in hits} == {"sub/cooking.txt"}, mode
        assert searcher.search("sauce", k=10, mode=mode, source="*.pdf") == []
    assert searcher.search("sauce", k=5, source="cooking.txt")[0].source == "sub/cooking.txt"


def test_hits_carry_their_metadata_and_empty_queries_return_nothing(searcher):
    hit = searcher.search("tomato sauce", k=1)[0]
    assert hit.title == "cooking" and hit.page is None and "forty minutes" in hit.text
    assert set(hit.to_json()) == {"chunk_id", "source", "title", "page", "heading", "score", "text"}
    assert searcher.search("   ", k=5) == [] and searcher.search("the of and", mode="lexical") == []


def test_convex_fusion_normalises_each_side():
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    lexical = [("c", 30.0), ("b", 20.0), ("a", 10.0)]
    fused = dict(fuse(dense, lexical, FusionParams("convex", alpha=0.5)))
    assert fused == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.5})
    fused = fuse(dense, lexical, FusionParams("convex", alpha=0.75))
    assert [cid for cid, _ in fused] == ["a", "b", "c"]


def test_rrf_fusion():
    fused = fuse([("a", 1.0), ("b", 0.5)], [("b", 9.0)], FusionParams("rrf", k=60))
    assert fused[0] == ("b", pytest.approx(1 / 62 + 1 / 61))
    assert fused[1] == ("a", pytest.approx(1 / 61))


def test_catalog_migrations_from_blank_and_noop(tmp_path):
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    Catalog(path).close()  # second open applies nothing
    db = sqlite3.connect(path)
    applied = [row[0] for row in db.execute("SELECT name FROM migrations ORDER BY name")]
    assert applied == [name for name, _ in MIGRATIONS]
    columns = [row[1] for row in db.execute("PRAGMA table_info(chunks_fts)")]
    assert columns == ["context", "text"]
    db.close()
