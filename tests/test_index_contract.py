"""The index's contract on both backends, beyond tests/test_ingest.py (which runs every
ingest test on both): BM25 over PostgreSQL ranks exactly as SQLite FTS5 does, a search sees
a document before or after an ingest switched it, a crash between the vector store and the
catalog leaves nothing visible, and a server follows a rebuild made by another process."""

import itertools
import json
import threading
import time

import numpy as np
import pytest

from benchmarks.servers import fresh_postgres_database
from ingest.pipeline import ingest
from kb.index import DocumentWrite, KnowledgeIndex, lexical
from kb.index.catalog import Catalog, DocumentRecord, NewChunk
from kb.index.generations import generations_of
from kb.index.postgres import PostgresCatalog
from kb.index.sqlite import SqliteCatalog
from kb.search import Searcher
from kb.settings import Settings
from kb.types import DocFilter, SearchMode
from server.live import FOLLOW_S, LiveIndex
from tests.conftest import SHARED_EVAL
from tests.helpers import CountingEmbedder, sample, search_sources

SCIFACT = SHARED_EVAL / "scifact"
DOCUMENTS = 400


def scifact_documents() -> list[tuple[DocumentRecord, list[NewChunk]]]:
    """The first SciFact abstracts, each as a document of one or two chunks."""
    documents: list[tuple[DocumentRecord, list[NewChunk]]] = []
    with (SCIFACT / "corpus.jsonl").open() as lines:
        for line in itertools.islice(lines, DOCUMENTS):
            doc = json.loads(line)
            doc_id = f"d{doc['_id']}"
            record = DocumentRecord(
                doc_id, "/docs", f"{doc_id}.txt", 1, 1, "h", doc["title"], None, 1.0
            )
            half = len(doc["text"]) // 2
            parts = (
                [doc["text"]] if len(documents) % 2 else [doc["text"][:half], doc["text"][half:]]
            )
            chunks = [
                NewChunk(f"{doc_id}-{n}", doc["title"], "Abstract", None, part)
                for n, part in enumerate(parts)
            ]
            documents.append((record, chunks))
    return documents


def fill(catalog: Catalog, documents: list[tuple[DocumentRecord, list[NewChunk]]]) -> None:
    with catalog.transaction() as db:
        for record, chunks in documents:
            catalog.upsert_document(db, record)
            catalog.replace_chunks(db, record.doc_id, chunks)


@pytest.fixture(scope="module")
def scifact_queries() -> list[str]:
    if not SCIFACT.is_dir():
        pytest.skip("shared eval data not present")
    with (SCIFACT / "queries.jsonl").open() as lines:
        return [json.loads(line)["text"] for line in itertools.islice(lines, 60)]


@pytest.fixture(scope="module")
def both_catalogs(tmp_path_factory, index_server_url: str, scifact_queries: list[str]):
    """The same SciFact documents in an embedded catalog and one on PostgreSQL; one
    document replaced and one deleted afterwards, so both have kept their statistics
    through changes too."""
    documents = scifact_documents()
    path = tmp_path_factory.mktemp("bm25") / "catalog.sqlite"
    with fresh_postgres_database(index_server_url, "kb_bm25") as url:
        embedded, server = SqliteCatalog(path), PostgresCatalog(url, "kb")
        for catalog in (embedded, server):
            fill(catalog, documents)
            with catalog.transaction() as db:
                record, chunks = documents[3]
                catalog.replace_chunks(db, record.doc_id, chunks[:1])
                catalog.delete_document(db, documents[5][0].doc_id)
        yield embedded, server
        embedded.close()
        server.close()


def assert_same_ranking(found: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [chunk for chunk, _ in found] == [chunk for chunk, _ in expected]
    assert [score for _, score in found] == pytest.approx([s for _, s in expected], rel=1e-9)


def test_bm25_on_postgresql_ranks_exactly_as_fts5(both_catalogs, scifact_queries):
    embedded, server = both_catalogs
    for query in scifact_queries:
        expected = embedded.lexical_search(query, 10)
        assert expected, query
        assert_same_ranking(server.lexical_search(query, 10), expected)


def test_bm25_agrees_when_common_terms_are_skipped_and_within_documents(
    both_catalogs, scifact_queries, monkeypatch
):
    embedded, server = both_catalogs
    monkeypatch.setattr(lexical, "SCORED_ROWS", 40)  # the bounded search, on both
    excluded = DocFilter(tuple(f"d{n}" for n in range(0, 400, 3)), excluded=True)
    for query, within in itertools.product(scifact_queries[:20], (None, excluded)):
        assert_same_ranking(
            server.lexical_search(query, 10, within), embedded.lexical_search(query, 10, within)
        )


def test_documents_whole_score_alike(both_catalogs, scifact_queries):
    embedded, server = both_catalogs
    doc_ids = [f"d{n}" for n in (4, 8, 15, 16, 23, 42)]
    for query in scifact_queries[:20]:
        expected = embedded.document_scores(query, doc_ids)
        found = server.document_scores(query, doc_ids)
        assert found.keys() == expected.keys()
        assert [found[d] for d in expected] == pytest.approx(list(expected.values()), rel=1e-9)


def test_passages_read_the_same_neighbours_and_names(both_catalogs):
    embedded, server = both_catalogs
    documents = [record.doc_id for record, _ in scifact_documents()]
    two, deleted, one = documents[4], documents[5], documents[7]  # as `both_catalogs` left them
    hits = [f"{two}-1", f"{one}-0"]  # the second half of one abstract, another whole
    for catalog in (embedded, server):
        near = catalog.chunks_near(hits, reach=1)
        assert sorted(near) == sorted([f"{two}-0", *hits])
        assert near[f"{two}-0"] == catalog.get_chunks([f"{two}-0"])[f"{two}-0"]
        paths = catalog.document_paths([two, one, deleted])
        assert paths == {two: f"{two}.txt", one: f"{one}.txt"}


def open_index(settings: Settings) -> KnowledgeIndex:
    generations = generations_of(settings)
    return generations.open(generations.active(), "all-MiniLM-L6-v2")


def unit_vectors(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


RECORD = DocumentRecord("doc", "/docs", "doc.md", 1, 1, "h", "Doc", None, 1.0)
OLD = [NewChunk(f"old-{n}", "Doc", "", None, f"old text {n}") for n in range(3)]
NEW = [NewChunk(f"new-{n}", "Doc", "", None, f"new text {n}") for n in range(3)]


def switch_elsewhere(index: KnowledgeIndex) -> None:
    """Switch the document from OLD to NEW in another thread (its own connection, as
    another process would) and wait for it."""
    writer = threading.Thread(
        target=index.write_documents, args=([DocumentWrite(RECORD, NEW, unit_vectors(3, 2))],)
    )
    writer.start()
    writer.join(30)
    assert not writer.is_alive()


def test_a_search_sees_a_document_before_or_after_a_switch_never_both(backend_settings):
    with open_index(backend_settings) as index:
        index.write_documents([DocumentWrite(RECORD, OLD, unit_vectors(3, 1))])
        with index.catalog.snapshot():
            before = index.catalog.get_chunks(["old-0", "new-0"])
            switch_elsewhere(index)
            during = index.catalog.get_chunks(["old-0", "new-0"])
        after = index.catalog.get_chunks(["old-0", "new-0"])
    assert list(before) == list(during) == ["old-0"]
    assert list(after) == ["new-0"]


def test_a_search_racing_a_switch_ranks_what_its_snapshot_holds(backend_settings, embedder):
    """The snapshot still holds the old chunks, whose vectors the switch has deleted: they
    rank by their words alone, and the search does not fail."""
    with open_index(backend_settings) as index:
        index.write_documents([DocumentWrite(RECORD, OLD, unit_vectors(3, 1))])
        searcher = Searcher(index, embedder)
        with index.catalog.snapshot():
            assert list(index.catalog.get_chunks(["old-0"])) == ["old-0"]  # its first read
            switch_elsewhere(index)
            ranked = searcher.rank("old text", 3, SearchMode.HYBRID, None, None)
    assert {chunk_id for chunk_id, _ in ranked} == {"old-0", "old-1", "old-2"}


def test_vectors_a_crash_left_uncommitted_are_never_seen_and_recovered(backend_settings):
    record = DocumentRecord("doc", "/docs", "doc.md", 1, 1, "h", "Doc", None, 1.0)
    chunks = [NewChunk(f"c{n}", "Doc", "", None, f"text {n}") for n in range(4)]
    vectors = unit_vectors(4, 3)
    with open_index(backend_settings) as index:
        index.stage([DocumentWrite(record, chunks, vectors)])  # then the process dies
    with open_index(backend_settings) as index:
        assert index.catalog.get_chunks([chunk.chunk_id for chunk in chunks]) == {}
        assert index.vectors.count() == 4 and index.catalog.vector_count() == 0
        assert index.recover() == 4
        assert index.vectors.count() == 0


def test_a_server_follows_a_rebuild_made_by_another_process(servers_settings, docs, embedder):
    """(Embedded, the server is the data dir's one writer and makes its rebuilds itself.)"""
    backend_settings = servers_settings
    (docs / "a.md").write_text("# Otters\n\nOtters hold hands while they sleep.\n")
    ingest(backend_settings, docs, embedder=embedder)
    generations = generations_of(backend_settings)
    live = LiveIndex(generations, KnowledgeIndex.open(backend_settings))
    first = live.read(lambda index: index.generation)
    ingest(backend_settings, docs, rebuild=True, embedder=embedder)  # as `kb ingest` elsewhere
    time.sleep(FOLLOW_S)
    rebuilt = live.read(lambda index: index.generation)
    assert rebuilt != first and rebuilt == generations.active()
    assert live.read(lambda index: index.catalog.counts()) == (1, 1)
    live.close()


def test_any_worker_serves_the_original_even_without_the_folder(
    servers_settings, docs, embedder, connect, tmp_path
):
    """On servers the catalog keeps the indexed bytes: a worker on a host without the
    ingested folder still opens the original; a replaced version's bytes are forgotten."""
    from server.app import create_app
    from tests.serving import LiveServer

    (docs / "otters.md").write_text("# Otters\n\nOtters hold hands while they sleep.\n")
    ingest(servers_settings, docs, embedder=embedder)
    with open_index(servers_settings) as index:
        (record,) = index.catalog.documents()
    original = (docs / "otters.md").read_bytes()
    docs.rename(tmp_path / "elsewhere")  # this "host" never had the folder
    worker = servers_settings.model_copy(update={"data_dir": tmp_path / "worker"})
    with LiveServer(create_app(worker, embedder=embedder)) as server:
        http = connect(server.url).http
        url = http.post(f"/api/documents/{record.doc_id}/link").json()["url"]
        response = http.get(url)
    assert response.status_code == 200 and response.content == original
    (tmp_path / "elsewhere").rename(docs)
    (docs / "otters.md").write_text("# Otters\n\nSea otters use stones as tools.\n")
    ingest(servers_settings, docs, embedder=embedder)
    with open_index(servers_settings) as index:
        assert index.catalog.original(record.content_hash or "") is None
        (changed,) = index.catalog.documents()
        assert (
            index.catalog.original(changed.content_hash or "") == (docs / "otters.md").read_bytes()
        )


def test_moving_an_embedded_knowledge_base_to_servers_embeds_nothing_again(
    settings, servers_settings, docs, embedder
):
    sample(docs)
    ingest(settings, docs, embedder=embedder)  # the embedded index, and the embedding cache
    counting = CountingEmbedder(embedder)
    report = ingest(servers_settings, docs, rebuild=True, embedder=counting)
    assert report.counts()["added"] == 3
    assert counting.embedded == []
    assert len(counting.queried) == 1  # the check of the model, nothing else
    assert "notes.txt" in search_sources(servers_settings, embedder, "quokka protocol")
    with open_index(servers_settings) as index:
        assert index.vectors.count() == index.catalog.vector_count() > 0
