"""The knowledge index: the catalog (documents, chunks, lexical) plus vectors (Chroma), each
embedded in the data dir or on servers (kb.index.generations opens either).

Writes follow one protocol so that a crash at any point leaves a consistent index:
vector ids that Chroma may hold without the catalog agreeing are first recorded as
*pending* (`stage`, in as many slices as a large document needs); the catalog switches a
document to its new chunks in one transaction (`commit`); stale vectors are deleted
afterwards. `recover()` deletes whatever a crash left pending.
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from kb.errors import KBError
from kb.index.catalog import Catalog, DocumentRecord, NewChunk, Session
from kb.index.vectors import VectorStore, vector_ids
from kb.settings import BF16, BF16_VARIANT, ONNX, Settings, base_model


@dataclass(frozen=True)
class DocumentWrite:
    """New chunks of a document (all of them, or a slice of a large one) and their vectors."""

    record: DocumentRecord
    chunks: list[NewChunk]
    vectors: np.ndarray  # one row per vector, chunk by chunk (NewChunk.vectors each)


@dataclass(frozen=True)
class NewVersion:
    """A document's record and every one of its new chunks, switched to at once."""

    record: DocumentRecord
    chunks: list[NewChunk]


class KnowledgeIndex:
    def __init__(
        self,
        catalog: Catalog,
        open_vectors: Callable[[], VectorStore],
        embedding_model: str,
        generation: str,
    ) -> None:
        self.catalog = catalog
        self._open_vectors = open_vectors
        self.embedding_model = embedding_model
        self.generation = generation  # its name among kb.index.generations
        try:
            self._check_model()
        except KBError:
            catalog.close()
            raise

    @classmethod
    def open(cls, settings: Settings) -> "KnowledgeIndex":
        """The generation in use, embedded or on the servers the settings name."""
        from kb.index.generations import generations_of

        generations = generations_of(settings)
        return generations.open(generations.active(), settings.embedding_variant)

    @cached_property
    def vectors(self) -> VectorStore:
        return self._open_vectors()

    def _check_model(self) -> None:
        """Searching needs the same model; its bf16 and fp32 variants both serve (queries
        are embedded in fp32 either way), writing needs the same variant (check_writer)."""
        recorded = self.catalog.get_meta("embedding_model")
        if recorded is None or base_model(recorded) == base_model(self.embedding_model):
            return
        dimension = self.catalog.get_meta("dimension")
        raise KBError(
            f"this index was built with the embedding model {recorded!r} "
            f"({dimension} dimensions), but KB_EMBEDDING_MODEL is "
            f"{base_model(self.embedding_model)!r}; mixing them would return wrong results. "
            f"Run `kb ingest --rebuild DIR` to re-embed with the new model, or set "
            f"KB_EMBEDDING_MODEL={base_model(recorded)}."
        )

    def check_writer(self, embedder_name: str) -> None:
        """Refuse vectors of another variant than those the index holds (`embedder_name`:
        the one that makes them): bf16 vectors are not the fp32 model's output, and one
        index holds one kind."""
        recorded = self.catalog.get_meta("embedding_model")
        if recorded is None or recorded == embedder_name:
            return
        precision = _precision(recorded)
        runtime = BF16 if precision == BF16 else ONNX  # the runtime that makes them
        raise KBError(
            f"this index holds {precision} vectors of {base_model(recorded)!r}, "
            f"but this process embeds in {_precision(embedder_name)} "
            f"(KB_EMBEDDING_RUNTIME); the two are not the same model output. Run `kb ingest "
            f"--rebuild DIR` to re-embed, or set KB_EMBEDDING_RUNTIME={runtime}."
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
        self.stage(writes)
        self.commit([NewVersion(write.record, write.chunks) for write in writes])

    def stage(self, writes: list[DocumentWrite]) -> None:
        """Write the vectors of new chunks to Chroma, journaled as pending: no search sees
        them until `commit` switches their documents."""
        ids = [v for write in writes for chunk in write.chunks for v in _ids(chunk)]
        if not ids:
            return
        vectors = np.concatenate([write.vectors for write in writes if len(write.chunks)])
        owners = [write.record.doc_id for write in writes for _ in range(len(write.vectors))]
        with self.catalog.transaction() as db:
            self._record_model(db, vectors.shape[1])
            self.catalog.add_pending(db, ids)
        self.vectors.upsert(ids, vectors, owners)

    def commit(self, versions: list[NewVersion]) -> None:
        """Switch each document to its staged chunks in one catalog transaction, then
        delete the vectors of the chunks they replaced."""
        new_ids = [v for version in versions for chunk in version.chunks for v in _ids(chunk)]
        doc_ids = [version.record.doc_id for version in versions]
        stale = sorted(set(self.catalog.document_vector_ids(doc_ids)) - set(new_ids))
        replaced = self._hashes(doc_ids)
        originals = self._originals([version.record for version in versions])
        with self.catalog.transaction() as db:
            for version in versions:
                self.catalog.upsert_document(db, version.record)
                self.catalog.replace_chunks(db, version.record.doc_id, version.chunks)
            for content_hash, data in originals.items():
                self.catalog.put_original(db, content_hash, data)
            self.catalog.drop_unused_originals(db, replaced)
            self.catalog.clear_pending(db, new_ids)
            self.catalog.add_pending(db, stale)
        self._drop_vectors(stale)

    def _hashes(self, doc_ids: list[str]) -> list[str]:
        """The content hashes the given documents have now (originals they may free)."""
        if not self.catalog.keeps_originals:
            return []
        return self.catalog.content_hashes(doc_ids)

    def _originals(self, records: list[DocumentRecord]) -> dict[str, bytes]:
        """Content hash -> the indexed bytes, for a catalog that keeps them: read again
        from the file, kept only while it still holds what was indexed."""
        if not self.catalog.keeps_originals:
            return {}
        found = {}
        for record in records:
            try:
                data = (Path(record.root) / record.path).read_bytes()
            except OSError:
                continue  # gone meanwhile: the next sync removes the document
            if record.content_hash and hashlib.sha256(data).hexdigest() == record.content_hash:
                found[record.content_hash] = data
        return found

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
        ids = self.catalog.document_vector_ids([doc_id])
        hashes = self._hashes([doc_id])
        with self.catalog.transaction() as db:
            self.catalog.add_pending(db, ids)
            self.catalog.delete_document(db, doc_id)
            self.catalog.drop_unused_originals(db, hashes)
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

    def _record_model(self, db: Session, dimension: int) -> None:
        if self.catalog.get_meta("embedding_model") is None:
            self.catalog.set_meta(db, "embedding_model", self.embedding_model)
            self.catalog.set_meta(db, "dimension", str(dimension))

    def __enter__(self) -> "KnowledgeIndex":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection, in every thread, and release the vectors' memory."""
        self.catalog.close()
        if "vectors" in self.__dict__:  # opened (a cached_property)
            self.vectors.close()


def _ids(chunk: NewChunk) -> list[str]:
    return vector_ids(chunk.chunk_id, chunk.vectors)


def _precision(embedding_model: str) -> str:
    return BF16 if embedding_model.endswith(BF16_VARIANT) else "fp32"
