"""Search modes against a real index (Chroma + FTS5), fusion, filters, catalog migrations."""

import sqlite3

import pytest

from ingest.pipeline import ingest
from kb.index import KnowledgeIndex
from kb.index.schema import SQLITE_MIGRATIONS as MIGRATIONS
from kb.index.sqlite import SqliteCatalog as Catalog
from kb.search import Candidates, FusionMethod, FusionParams, Searcher, fuse
from kb.types import SearchMode


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
    assert searcher.search("E4711", k=1, mode=SearchMode.LEXICAL)[0].source == "errors.md"
    hit = searcher.search("what does E4711 mean", k=1)[0]
    assert (hit.source, hit.heading) == ("errors.md", "Error codes > E4711")


def test_dense_finds_meaning_without_shared_words(searcher):
    query = "automobile engine trouble in winter"
    assert searcher.search(query, k=3, mode=SearchMode.LEXICAL) == []
    assert searcher.search(query, k=1, mode=SearchMode.DENSE)[0].source == "cars.md"
    assert searcher.search(query, k=1, mode=SearchMode.HYBRID)[0].source == "cars.md"


def test_a_passage_with_several_vectors_is_one_hit_scored_by_its_best(settings, docs, embedder):
    sentences = [f"Step {n} of the ritual is to {verb}." for n, verb in enumerate(VERBS)]
    (docs / "ritual.md").write_text("# Ritual\n\n" + " ".join(sentences) + "\n")
    ingest(settings, docs, embedder=embedder)
    with KnowledgeIndex.open(settings) as index:
        assert index.vectors.count() == index.catalog.vector_count() == len(VERBS) - 1
        hits = Searcher(index, embedder).search("polish the brass bell", k=5, mode=SearchMode.DENSE)
        assert len(hits) == 1 and "polish the brass bell" in hits[0].text
        pair = embedder.embed(["Ritual\n" + " ".join(sentences[2:4])])[0]
        query = embedder.embed_queries(["polish the brass bell"])[0]
        # bf16 vectors move by ~3e-4 with the batch a text is embedded in; the next best
        # window scores 0.05 lower
        assert hits[0].score == pytest.approx(float(pair @ query), abs=1e-3)


def test_undecodable_bytes_in_a_query_are_ignored_in_every_mode(searcher):
    # A command-line argument with bytes that are not UTF-8 arrives with lone surrogates.
    for mode in ("dense", "lexical", "hybrid"):
        hits = searcher.search("\udcff E4711 license\udcfe", k=1, mode=mode)
        assert [hit.source for hit in hits] == ["errors.md"], mode


VERBS = ["light a candle", "ring the gong", "polish the brass bell", "sweep the floor", "rest"]


def test_source_glob_filters_every_mode(searcher):
    for mode in SearchMode:
        hits = searcher.search("sauce car license", k=10, mode=mode, source="sub/*")
        assert {hit.source for hit in hits} == {"sub/cooking.txt"}, mode
        assert searcher.search("sauce", k=10, mode=mode, source="*.pdf") == []
    assert searcher.search("sauce", k=5, source="cooking.txt")[0].source == "sub/cooking.txt"


def test_hits_carry_their_metadata_and_empty_queries_return_nothing(searcher):
    hit = searcher.search("tomato sauce", k=1)[0]
    assert hit.title == "cooking" and hit.page is None and "forty minutes" in hit.text
    fields = {"chunk_id", "source", "title", "page", "locator", "heading", "score", "text"}
    assert set(hit.to_json()) == fields | {"before", "after"}
    assert hit.to_json()["locator"] is None
    assert searcher.search("   ", k=5) == []
    assert searcher.search("the of and", mode=SearchMode.LEXICAL) == []


def test_convex_fusion_normalises_each_side():
    candidates = Candidates(
        dense={"a": 0.9, "b": 0.5, "c": 0.1},
        lexical={"c": 30.0, "b": 20.0, "a": 10.0},
        document={"a": 5.0, "b": 5.0, "c": 1.0},
    )
    fused = dict(
        fuse(candidates, FusionParams(FusionMethod.CONVEX, alpha=0.5, document_weight=0.0))
    )
    assert fused == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.5})
    ranked = fuse(candidates, FusionParams(FusionMethod.CONVEX, alpha=0.75, document_weight=0.0))
    assert [cid for cid, _ in ranked] == ["a", "b", "c"]
    # The document side: a and b share the better document, c's lexical lead is cut.
    fused = dict(
        fuse(candidates, FusionParams(FusionMethod.CONVEX, alpha=0.5, document_weight=0.5))
    )
    assert fused == pytest.approx({"a": 0.75, "b": 0.625, "c": 0.25})


def test_unknown_mode_and_fusion_method_are_errors(searcher: Searcher) -> None:
    with pytest.raises(ValueError, match="semantic"):
        searcher.search("anything", mode="semantic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="linear"):
        FusionParams("linear")  # type: ignore[arg-type]


def test_rrf_fusion():
    candidates = Candidates(dense={"a": 1.0, "b": 0.5}, lexical={"b": 9.0}, document={})
    fused = fuse(candidates, FusionParams(FusionMethod.RRF, k=60))
    assert fused[0] == ("b", pytest.approx(1 / 62 + 1 / 61))
    assert fused[1] == ("a", pytest.approx(1 / 61))


REPORTS = {
    "acme.md": "# Quarterly report\n\nAcme Corporation (the Company) builds industrial robots."
    "\n\n## Inventories\n\nInventories were $4.1 million as the Company stocked motors.\n",
    "globex.md": "# Quarterly report\n\nGlobex Inc. (the Company) sells garden tools.\n\n"
    "## Inventories\n\nInventories rose: inventories of tools and inventories of seeds.\n",
}


def test_hybrid_finds_the_passage_of_the_document_a_question_names(settings, docs, embedder):
    """The passage never names the company; its document does (as a 10-Q says "the
    Company"). BM25 of the whole document lets hybrid tell the two reports apart."""
    for name, text in REPORTS.items():
        (docs / name).write_text(text)
    ingest(settings, docs, embedder=embedder)
    with KnowledgeIndex.open(settings) as index:
        query = "Acme inventories"
        for weight, expected in ((0.7, "acme.md"), (0.0, "globex.md")):
            fusion = FusionParams(document_weight=weight, name_weight=0.0)  # not acme.md's name
            searcher = Searcher(index, embedder, fusion)
            inventories = [h for h in searcher.search(query, k=4) if "Inventories" in h.heading]
            assert inventories[0].source == expected, weight


def test_document_index_follows_changes_and_deletions(settings, docs, embedder):
    for name, text in REPORTS.items():
        (docs / name).write_text(text)
    ingest(settings, docs, embedder=embedder)
    (docs / "acme.md").write_text("# Quarterly report\n\nInitech sells staplers.\n")
    (docs / "globex.md").unlink()
    ingest(settings, docs, embedder=embedder)
    with KnowledgeIndex.open(settings) as index:
        catalog = index.catalog
        doc_ids = [doc.doc_id for doc in catalog.documents()]
        assert len(doc_ids) == 1
        assert catalog.db.execute("SELECT COUNT(*) FROM documents_fts").fetchone()[0] == 1
        assert catalog.document_scores("Acme Globex", doc_ids) == {}
        assert set(catalog.document_scores("Initech staplers", doc_ids)) == set(doc_ids)


def test_an_index_from_before_the_document_index_gains_it_on_open(settings, docs, embedder):
    for name, text in REPORTS.items():
        (docs / name).write_text(text)
    ingest(settings, docs, embedder=embedder)
    db = sqlite3.connect(settings.index_dir / "catalog.sqlite")  # back to migration 002
    with db:
        db.execute("DROP TABLE documents_fts")
        db.execute("DELETE FROM migrations WHERE name = '003_document_lexical'")
    db.close()
    with KnowledgeIndex.open(settings) as index:
        catalog = index.catalog
        by_path = {doc.path: doc.doc_id for doc in catalog.documents()}
        scores = catalog.document_scores("Acme robots", list(by_path.values()))
        assert set(scores) == {by_path["acme.md"]}


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


def statement(period: str, research: str) -> str:
    """A filing's statement of operations: a caption with the period, then a long table."""
    rows = [f"| Product line {n} | {n},1{n:02d} | {n},0{n:02d} |" for n in range(1, 31)]
    rows.insert(24, f"| Research and development | {research} | 5,555 |")
    return (
        "# ACME 10-Q\n\n## Statement of operations\n\n"
        f"Condensed statement of operations, three months ended {period} (in millions).\n\n"
        "| Line item | This quarter | A year earlier |\n|---|---|---|\n"
        + "\n".join(rows)
        + "\n\n## Risk factors\n\nOur suppliers may fail us.\n"
    )


def test_a_hit_in_a_table_is_shown_with_its_caption_and_neighbouring_rows(settings, docs, embedder):
    (docs / "2023 Q3 ACME.md").write_text(statement("July 1, 2023", "7,442"))
    ingest(settings, docs, embedder=embedder)
    query = "research and development expense"
    with KnowledgeIndex.open(settings) as index:
        chunks = Searcher(index, embedder, passage_chars=0).search(query, k=5)
        hits = Searcher(index, embedder).search(query, k=5)
    table = [h for h in chunks if "Statement of operations" in h.heading]
    assert len(table) >= 3  # the table spans chunks: each is a hit of its own
    assert "July 1, 2023" not in table[0].text and "7,442" in table[0].text
    best = hits[0]
    assert "7,442" in best.text and "three months ended July 1, 2023" in best.before
    assert "suppliers" not in best.passage  # a passage stays under its heading
    # Neighbours shown in a better hit's passage are not hits again.
    assert len([h for h in hits if "Statement of operations" in h.heading]) < len(table)
    shown = [line for h in hits for line in h.passage.splitlines() if "Product line" in line]
    assert len(shown) == len(set(shown))


def test_a_question_that_names_a_file_finds_that_filing(settings, docs, embedder):
    # The texts differ only in a figure: the file's name tells the filings apart.
    (docs / "2022 Q3 ACME.md").write_text(statement("the third quarter", "6,797"))
    (docs / "2023 Q3 ACME.md").write_text(statement("the third quarter", "7,442"))
    ingest(settings, docs, embedder=embedder)
    with KnowledgeIndex.open(settings) as index:
        searcher = Searcher(index, embedder)
        for year, figure in (("2022", "6,797"), ("2023", "7,442")):
            question = f"research and development expense in Q3 {year}"
            hit = searcher.search(question, k=1)[0]
            assert hit.source == f"{year} Q3 ACME.md" and figure in hit.passage
