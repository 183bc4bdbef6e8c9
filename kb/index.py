"""The knowledge index: the catalog (SQLite: documents, chunks, lexical) plus vectors (Chroma).

Writes follow one protocol so that a crash at any point leaves a consistent index:
vector ids that Chroma may hold without the catalog agreeing are first recorded as
*pending*; the catalog switches a document to its new chunks in one transaction; stale
vectors are deleted afterwards. `recover()` deletes whatever a crash left pending.
"""

import shutil
import sqlite3
import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from kb.catalog import Catalog, DocumentRecord, NewChunk
from kb.errors import KBError
from kb.settings import Settings
from kb.vectors import VectorStore, release_vector_stores, vector_ids


@dataclass(frozen=True)
class DocumentWrite:
    record: DocumentRecord
    chunks: list[NewChunk]
    vectors: np.ndarray  # one row per vector, chunk by chunk (NewChunk.vectors each)


class KnowledgeIndex:
    def __init__(self, directory: Path, embedding_model: str) -> None:
        self.directory = directory
        self.embedding_model = embedding_model
        self.catalog = Catalog(directory / "catalog.sqlite")
        self._check_model()

    @classmethod
    def open(cls, settings: Settings) -> "KnowledgeIndex":
        return cls(settings.index_dir, settings.embedding_model)

    @cached_property
    def vectors(self) -> VectorStore:
        return VectorStore(self.directory / "chroma")

    def _check_model(self) -> None:
        recorded = self.catalog.get_meta("embedding_model")
        if recorded is not None and recorded != self.embedding_model:
            dimension = self.catalog.get_meta("dimension")
            raise KBError(
                f"this index was built with the embedding model {recorded!r} "
                f"({dimension} dimensions), but KB_EMBEDDING_MODEL is "
                f"{self.embedding_model!r}; mixing them would return wrong results. "
                f"Run `kb ingest --rebuild DIR` to re-embed with the new model, or set "
                f"KB_EMBEDDING_MODEL={recorded}."
            )

    def recover(self) -> int:
        """Remove vectors a crashed ingest left behind; returns how many."""
        orphans = self.catalog.orphaned_pending()
        if orphans:
            self.vectors.delete(orphans)
        self.catalog.clear_all_pending()
        return len(orphans)

    def write_documents(self, writes: list[DocumentWrite]) -> None:
        """Switch each document to its new chunks; each one atomically.

        One Chroma upsert and one catalog transaction for the whole batch keep small
        documents cheap.
        """
        new_ids = [
            vector_id
            for write in writes
            for chunk in write.chunks
            for vector_id in vector_ids(chunk.chunk_id, chunk.vectors)
        ]
        old_ids = [
            vector_id
            for write in writes
            for vector_id in self.catalog.document_vector_ids(write.record.doc_id)
        ]
        stale = sorted(set(old_ids) - set(new_ids))
        with self.catalog.transaction() as db:
            self.catalog.add_pending(db, new_ids)
        if new_ids:
            vectors = np.concatenate([write.vectors for write in writes if len(write.chunks)])
            owners = [write.record.doc_id for write in writes for _ in range(len(write.vectors))]
            self.vectors.upsert(new_ids, vectors, owners)
        with self.catalog.transaction() as db:
            self._record_model(db, writes)
            for write in writes:
                self.catalog.upsert_document(db, write.record)
                self.catalog.replace_chunks(db, write.record.doc_id, write.chunks)
            self.catalog.clear_pending(db, new_ids)
            self.catalog.add_pending(db, stale)
        self._drop_vectors(stale)

    def record_failure(self, record: DocumentRecord) -> None:
        """Note a file's error; a previously indexed version stays searchable."""
        previous = self.catalog.document(record.doc_id)
        if previous is not None and previous.content_hash is not None:
            record = replace(previous, error=record.error, indexed_at=time.time())
        with self.catalog.transaction() as db:
            self.catalog.upsert_document(db, record)

    def update_stat(self, record: DocumentRecord) -> None:
        with self.catalog.transaction() as db:
            self.catalog.upsert_document(db, record)

    def delete_document(self, doc_id: str) -> None:
        ids = self.catalog.document_vector_ids(doc_id)
        with self.catalog.transaction() as db:
            self.catalog.add_pending(db, ids)
            self.catalog.delete_document(db, doc_id)
        self._drop_vectors(ids)

    def mark_ingested(self) -> None:
        with self.catalog.transaction() as db:
            self.catalog.set_meta(db, "last_ingest", str(time.time()))

    def _drop_vectors(self, ids: list[str]) -> None:
        if not ids:
            return
        self.vectors.delete(ids)
        with self.catalog.transaction() as db:
            self.catalog.clear_pending(db, ids)

    def _record_model(self, db: sqlite3.Connection, writes: list[DocumentWrite]) -> None:
        vectors = next((w.vectors for w in writes if len(w.chunks)), None)
        if vectors is not None and self.catalog.get_meta("embedding_model") is None:
            self.catalog.set_meta(db, "embedding_model", self.embedding_model)
            self.catalog.set_meta(db, "dimension", str(vectors.shape[1]))

    def __enter__(self) -> "KnowledgeIndex":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.catalog.close()


def remove_index(directory: Path) -> None:
    """Delete the whole index (for `--rebuild`); the embedding cache lives elsewhere."""
    if directory.exists():
        release_vector_stores()
        shutil.rmtree(directory)
