"""Sync semantics, bad input, the embedding cache, crash safety and the ingest lock."""

import os
from pathlib import Path

import pytest

from ingest.pipeline import PROBE_TEXT, ingest
from kb.embedder import Embedder
from kb.errors import KBError
from kb.index import KnowledgeIndex
from kb.index.generations import ServerGenerations, generations_of
from kb.search import Searcher
from kb.settings import Settings
from kb.types import SearchMode
from kb.writer import index_lock
from tests.helpers import CountingEmbedder, sample, search_sources, write


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    """Every test here runs on the embedded index and on the servers."""
    return backend_settings


@pytest.fixture
def counting(embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def test_first_ingest_adds_every_file_with_metadata(settings, docs, counting):
    sample(docs)
    report = ingest(settings, docs, embedder=counting)
    assert report.counts()["added"] == 3
    assert report.exit_code == 0
    index = KnowledgeIndex.open(settings)
    hits = Searcher(index, counting).search("zanzibar installer", k=1, mode=SearchMode.LEXICAL)
    index.close()
    assert hits[0].source == "install.md"
    assert hits[0].title == "Installing"
    assert hits[0].heading == "Installing > Linux"
    assert hits[0].page is None


def test_unchanged_files_are_neither_parsed_nor_embedded(settings, docs, counting):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    counting.embedded.clear()
    report = ingest(settings, docs, embedder=counting)
    assert report.counts() | {"chunks": 0} == {
        "added": 0,
        "updated": 0,
        "unchanged": 3,
        "deleted": 0,
        "skipped": 0,
        "failed": 0,
        "chunks": 0,
    }
    assert counting.embedded == []


def test_touched_but_identical_file_is_unchanged(settings, docs, counting):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    stat = (docs / "notes.txt").stat()
    os.utime(docs / "notes.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    report = ingest(settings, docs, embedder=counting)
    assert report.counts()["unchanged"] == 3


def test_changed_file_replaces_its_old_chunks(settings, docs, counting):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    write(docs / "notes.txt", "The pelican protocol replaced it.")
    report = ingest(settings, docs, embedder=counting)
    assert report.updated == ["notes.txt"]
    for mode in SearchMode:
        index = KnowledgeIndex.open(settings)
        hits = Searcher(index, counting).search("quokka protocol retries", k=10, mode=mode)
        index.close()
        assert all("quokka" not in hit.text for hit in hits)
    assert "notes.txt" in search_sources(settings, counting, "pelican", SearchMode.LEXICAL)


def test_only_changed_chunks_are_embedded_again(settings, docs, counting):
    paragraphs = [f"Paragraph {i} about topic number {i}. " * 30 for i in range(6)]
    write(docs / "long.md", "# Long\n\n" + "\n\n".join(paragraphs))
    ingest(settings, docs, embedder=counting)
    first = len(counting.embedded)
    assert first >= 3
    counting.embedded.clear()
    paragraphs[-1] = "A brand new closing paragraph."
    write(docs / "long.md", "# Long\n\n" + "\n\n".join(paragraphs))
    ingest(settings, docs, embedder=counting)
    assert 1 <= len(counting.embedded) < first


def test_deleted_file_disappears_from_every_search_mode(settings, docs, counting):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    (docs / "notes.txt").unlink()
    report = ingest(settings, docs, embedder=counting)
    assert report.deleted == ["notes.txt"]
    for mode in SearchMode:
        assert "notes.txt" not in search_sources(settings, counting, "quokka protocol", mode)
    index = KnowledgeIndex.open(settings)
    assert index.vectors.count() == index.catalog.vector_count()
    index.close()


def test_no_delete_keeps_vanished_files(settings, docs, counting):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    (docs / "notes.txt").unlink()
    report = ingest(settings, docs, delete=False, embedder=counting)
    assert report.deleted == []
    assert "notes.txt" in search_sources(settings, counting, "quokka", SearchMode.LEXICAL)


def test_other_roots_are_untouched(settings, tmp_path, counting):
    first, second = tmp_path / "a", tmp_path / "b"
    write(first / "one.md", "# One\n\nThe aardvark file.")
    write(second / "two.md", "# Two\n\nThe narwhal file.")
    ingest(settings, first, embedder=counting)
    ingest(settings, second, embedder=counting)
    (first / "one.md").unlink()
    write(first / "three.md", "# Three\n\nAnother file.")
    report = ingest(settings, first, embedder=counting)
    assert report.deleted == ["one.md"] and report.added == ["three.md"]
    assert "two.md" in search_sources(settings, counting, "narwhal", SearchMode.LEXICAL)


def test_rebuild_starts_empty_and_reuses_cached_embeddings(settings, docs, counting):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    counting.embedded.clear()
    counting.queried.clear()
    report = ingest(settings, docs, rebuild=True, embedder=counting)
    assert report.counts()["added"] == 3
    assert counting.embedded == []
    assert counting.queried == [PROBE_TEXT]  # the check of the model, nothing else


def test_dry_run_reports_and_changes_nothing(settings, docs, counting):
    sample(docs)
    report = ingest(settings, docs, dry_run=True, embedder=counting)
    assert sorted(report.added) == ["guide/page.html", "install.md", "notes.txt"]
    assert report.chunks == 0
    ingest(settings, docs, embedder=counting)
    write(docs / "notes.txt", "Changed.")
    (docs / "install.md").unlink()
    report = ingest(settings, docs, dry_run=True, embedder=counting)
    assert (report.updated, report.deleted) == (["notes.txt"], ["install.md"])
    assert "install.md" in search_sources(settings, counting, "zanzibar", SearchMode.LEXICAL)


def test_bad_files_are_listed_and_the_rest_is_indexed(settings, docs, counting):
    sample(docs)
    write(docs / "broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not a pdf")
    write(docs / "binary.txt", bytes(range(256)) * 20)
    write(docs / "legacy.txt", "Le café est très chaud: crème brûlée.".encode("cp1252"))
    write(docs / "image.png", b"\x89PNG\r\n")  # truncated
    write(docs / "archive.zip", b"PK\x03\x04")
    write(docs / ".secret.md", "# hidden")
    write(docs / ".git" / "config.md", "# hidden folder")
    write(docs / "huge.md", "x" * (2 * 2**20))
    report = ingest(settings.model_copy(update={"max_file_mb": 1.0}), docs, embedder=counting)
    failed = {failure.path: failure.error for failure in report.failures}
    skipped = {skip.path: skip.reason for skip in report.skips}
    assert set(failed) == {"broken.pdf", "binary.txt", "image.png"}
    assert "pdf" in failed["broken.pdf"].lower() and "binary" in failed["binary.txt"].lower()
    assert "image" in failed["image.png"]
    assert set(skipped) == {"archive.zip", ".secret.md", ".git/", "huge.md"}
    assert "KB_MAX_FILE_MB" in skipped["huge.md"]
    assert report.exit_code == 2
    assert sorted(report.added) == ["guide/page.html", "install.md", "legacy.txt", "notes.txt"]
    index = KnowledgeIndex.open(settings)
    hits = Searcher(index, counting).search("café crème brûlée", k=1, mode=SearchMode.LEXICAL)
    index.close()
    assert "café est très chaud" in hits[0].text


def test_failed_file_is_retried_and_keeps_its_last_good_version(settings, docs, counting):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    write(docs / "notes.txt", b"\x00\x01\x02 binary now")
    report = ingest(settings, docs, embedder=counting)
    assert [f.path for f in report.failures] == ["notes.txt"]
    assert "notes.txt" in search_sources(settings, counting, "quokka", SearchMode.LEXICAL)
    assert [f.path for f in ingest(settings, docs, embedder=counting).failures] == ["notes.txt"]
    write(docs / "notes.txt", "Fixed: the heron protocol.")
    report = ingest(settings, docs, embedder=counting)
    assert report.updated == ["notes.txt"] and report.exit_code == 0


def test_links_that_leave_the_folder_are_skipped_and_never_indexed(settings, tmp_path, counting):
    outside = tmp_path / "outside"
    write(outside / "secret.md", "# Secret\n\nThe vault code is 7421 for the walrus room.\n")
    write(outside / "more" / "deep.md", "# Deep\n\nThe walrus tunnel has a vault.\n")
    docs = tmp_path / "docs"
    write(docs / "real.md", "# Real\n\nThe heron nests by the river.\n")
    (docs / "secret.md").symlink_to(outside / "secret.md")
    (docs / "hostname.txt").symlink_to("/etc/hostname")
    (docs / "elsewhere").symlink_to(outside / "more", target_is_directory=True)
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    (docs / "alias.md").symlink_to(docs / "real.md")  # inside the folder: fine
    write(docs / "sub" / "keep.txt", "Kept.")
    (docs / "sub" / "up.md").symlink_to("../real.md")
    report = ingest(settings, docs, embedder=counting)
    assert report.exit_code == 0
    assert sorted(report.added) == ["alias.md", "real.md", "sub/keep.txt", "sub/up.md"]
    skipped = {skip.path: skip.reason for skip in report.skips}
    assert set(skipped) == {"secret.md", "hostname.txt", "elsewhere/", "loop/"}
    for path in ("secret.md", "hostname.txt", "elsewhere/"):
        assert "outside the ingested folder" in skipped[path]
    assert "not followed" in skipped["loop/"]
    assert search_sources(settings, counting, "vault code walrus", SearchMode.LEXICAL) == []
    hostname = Path("/etc/hostname").read_text().strip()
    assert search_sources(settings, counting, hostname, SearchMode.LEXICAL) == []
    # A link re-pointed outside is no longer followed: its indexed copy goes away.
    (docs / "alias.md").unlink()
    (docs / "alias.md").symlink_to(outside / "secret.md")
    report = ingest(settings, docs, embedder=counting)
    assert report.deleted == ["alias.md"] and "alias.md" in {s.path for s in report.skips}
    assert search_sources(settings, counting, "heron", SearchMode.LEXICAL) == [
        "real.md",
        "sub/up.md",
    ]


def test_missing_folder_is_a_clear_error(settings, tmp_path, counting):
    with pytest.raises(KBError, match="is not a folder"):
        ingest(settings, tmp_path / "nope", embedder=counting)


def test_second_ingest_fails_at_once_while_one_runs(settings, docs, counting):
    sample(docs)
    with (
        index_lock(settings, "kb ingest"),
        pytest.raises(KBError, match=r"`kb ingest` \(pid \d+( on [^)]+)?\) is writing to"),
    ):
        ingest(settings, docs, embedder=counting)


def test_other_embedding_model_is_refused_with_rebuild_advice(settings, docs, counting):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    other = settings.model_copy(update={"embedding_model": "openai:text-embedding-3-small"})
    with pytest.raises(KBError, match="kb ingest --rebuild"):
        KnowledgeIndex.open(other)


def test_crash_between_vectors_and_catalog_leaves_old_version_then_recovers(
    settings, docs, counting, monkeypatch
):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    # Three sentences: the chunk gets two window vectors, so `<chunk id>#1` is orphaned too.
    write(docs / "notes.txt", "The ibis protocol replaced it. It runs nightly. It never sleeps.")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if killed after Chroma got the new vectors

    monkeypatch.setattr("kb.index.catalog.Catalog.replace_chunks", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest(settings, docs, embedder=counting)
    monkeypatch.undo()
    # Search still sees the complete old version and nothing of the new one.
    assert "notes.txt" in search_sources(settings, counting, "quokka", SearchMode.LEXICAL)
    assert "notes.txt" not in search_sources(settings, counting, "ibis", SearchMode.LEXICAL)
    index = KnowledgeIndex.open(settings)
    assert index.vectors.count() > index.catalog.vector_count()  # orphans from the crash
    index.close()
    report = ingest(settings, docs, embedder=counting)
    assert report.updated == ["notes.txt"]
    index = KnowledgeIndex.open(settings)
    assert index.vectors.count() == index.catalog.vector_count()
    index.close()
    assert "notes.txt" in search_sources(settings, counting, "ibis", SearchMode.LEXICAL)


def test_sentence_windows_can_be_turned_off_and_rebuild_applies_them(settings, docs, counting):
    write(docs / "long.md", "# Long\n\n" + " ".join(f"Fact {n} is true." for n in range(6)))
    ingest(settings.model_copy(update={"sentence_windows": False}), docs, embedder=counting)
    with KnowledgeIndex.open(settings) as index:
        assert index.vectors.count() == index.catalog.vector_count() == 1
    ingest(settings, docs, embedder=counting)  # unchanged file: nothing re-embedded
    with KnowledgeIndex.open(settings) as index:
        assert index.vectors.count() == 1
    ingest(settings, docs, embedder=counting, rebuild=True)
    with KnowledgeIndex.open(settings) as index:
        assert index.vectors.count() == index.catalog.vector_count() == 5


def index_files(settings: Settings) -> list[str]:
    """What holds the index: the index folder's entries, or the generations on servers."""
    generations = generations_of(settings)
    if isinstance(generations, ServerGenerations):
        return generations.names()
    return sorted(entry.name for entry in settings.index_dir.iterdir())


@pytest.mark.parametrize(
    "bad",
    [
        {"embedding_model": "all-MiniLM-L6-v3"},  # a typo
        {
            "embedding_model": "openai:text-embedding-3-small",
            "embedding_base_url": "http://127.0.0.1:9/v1",
        },
    ],
    ids=["unknown model", "unreachable embeddings server"],
)
def test_rebuild_checks_the_embedding_model_before_touching_the_index(
    settings, docs, counting, bad
):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    before = index_files(settings)
    with pytest.raises(KBError, match="the index was not changed"):
        ingest(settings.model_copy(update=bad), docs, rebuild=True)
    assert index_files(settings) == before
    assert "install.md" in search_sources(
        settings, counting, "zanzibar installer", SearchMode.DENSE
    )


def test_rebuild_that_fails_part_way_leaves_the_previous_index(
    settings, docs, counting, monkeypatch
):
    sample(docs)
    ingest(settings, docs, embedder=counting)
    before = index_files(settings)
    write(docs / "notes.txt", "The ibis protocol replaced it.")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # every document is in the new index; not yet switched to

    monkeypatch.setattr("kb.index.KnowledgeIndex.mark_ingested", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest(settings, docs, rebuild=True, embedder=counting)
    monkeypatch.undo()
    assert index_files(settings) == before  # the half-built generation is gone
    assert "notes.txt" in search_sources(settings, counting, "quokka protocol", SearchMode.HYBRID)
    assert "notes.txt" not in search_sources(settings, counting, "ibis", SearchMode.LEXICAL)
    report = ingest(settings, docs, rebuild=True, embedder=counting)
    assert report.counts()["added"] == 3
    active = generations_of(settings).active()  # the rebuilt one, alone
    assert index_files(settings) in (["CURRENT", Path(active).name], [active])
    assert "notes.txt" in search_sources(settings, counting, "ibis", SearchMode.LEXICAL)


class RecordingProgress:
    """Keeps every progress call; runs `during` at each batch of a large document."""

    def __init__(self, during=None) -> None:
        self.during = during
        self.within: list[tuple[str, int, int]] = []
        self.advanced: list[tuple[int, int]] = []

    def start(self, total_files: int) -> None:
        self.total_files = total_files

    def advance(self, files: int, chunks: int) -> None:
        self.advanced.append((files, chunks))

    def within_file(self, path: str, chunks_done: int, chunks_total: int) -> None:
        self.within.append((path, chunks_done, chunks_total))
        if self.during:
            self.during()


def test_a_large_document_is_written_in_bounded_batches_and_switched_at_once(
    settings, docs, counting
):
    small = settings.model_copy(
        update={"ingest_batch_chunks": 40, "chunk_tokens": 32, "sentence_windows": False}
    )
    lines = [f"Line {n} of the log: the walrus counted {n} fish today." for n in range(300)]
    write(docs / "big.txt", "\n\n".join(lines))
    write(docs / "small.md", "# Small\n\nThe heron protocol.")
    first = RecordingProgress()
    report = ingest(small, docs, embedder=counting, progress=first)
    total = report.chunks - 1  # all but small.md's one chunk
    assert total > 3 * 40
    steps = [done for path, done, of in first.within if path == "big.txt" and of == total]
    assert steps == sorted(steps) and steps[-1] == total and len(steps) == -(-total // 40)
    assert max(b - a for a, b in zip([0, *steps], steps, strict=False)) <= 40
    assert max(counting.calls) <= 40  # never more texts than one batch in memory
    assert sorted(first.advanced) == [(1, 1), (1, total)]

    seen: list[tuple[list[str], list[str]]] = []

    def search_meanwhile() -> None:
        seen.append(
            (
                search_sources(settings, counting, "walrus fish", SearchMode.LEXICAL),
                search_sources(settings, counting, "narwhal", SearchMode.LEXICAL),
            )
        )

    write(docs / "big.txt", "\n\n".join(line.replace("walrus", "narwhal") for line in lines))
    ingest(small, docs, embedder=counting, progress=RecordingProgress(search_meanwhile))
    assert len(seen) > 3
    assert all("big.txt" in old and new == [] for old, new in seen)  # the old version, whole
    assert search_sources(settings, counting, "walrus", SearchMode.LEXICAL) == []
    assert "big.txt" in search_sources(settings, counting, "narwhal fish", SearchMode.LEXICAL)
    with KnowledgeIndex.open(settings) as index:
        assert index.vectors.count() == index.catalog.vector_count()
