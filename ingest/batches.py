"""Embed and write documents about `limit` chunks at a time, whatever the size of one.

Small documents go together in one batch: one embedding call, one Chroma upsert, one
catalog transaction. A larger one goes alone, in slices of `limit` chunks: each slice is
embedded and staged (its vectors journaled as pending, invisible to search), then the
document is switched to all its new chunks in one catalog transaction. Memory holds one
batch of vectors at most, and searches see the whole old version until the whole new one.
"""

from collections.abc import Sequence

from ingest.prepare import Prepared
from ingest.progress import IngestProgress
from kb.embedder import CachedEmbedder
from kb.index import DocumentWrite, KnowledgeIndex, NewVersion
from kb.index.catalog import DocumentRecord, NewChunk


class BatchWriter:
    def __init__(
        self,
        index: KnowledgeIndex,
        embedder: CachedEmbedder,
        limit: int,
        progress: IngestProgress | None,
    ) -> None:
        self._index = index
        self._embedder = embedder
        self._limit = limit
        self._progress = progress
        self._batch: list[tuple[DocumentRecord, Prepared]] = []

    def add(self, record: DocumentRecord, prepared: Prepared) -> None:
        if len(prepared.chunks) > self._limit:
            self.flush()
            self._write_large(record, prepared)
            return
        self._batch.append((record, prepared))
        if sum(len(p.chunks) for _, p in self._batch) >= self._limit:
            self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        parts: list[tuple[DocumentRecord, list[NewChunk], Sequence[str]]] = [
            (record, new_chunks(record, prepared), prepared.embedding_texts)
            for record, prepared in self._batch
        ]
        self._index.write_documents(self._embedded(parts))
        if self._progress:
            self._progress.advance(len(self._batch), sum(len(c) for _, c, _ in parts))
        self._batch = []

    def _write_large(self, record: DocumentRecord, prepared: Prepared) -> None:
        chunks = new_chunks(record, prepared)
        offset = 0
        for start in range(0, len(chunks), self._limit):
            part = chunks[start : start + self._limit]
            count = sum(chunk.vectors for chunk in part)
            texts = prepared.embedding_texts[offset : offset + count]
            self._index.stage(self._embedded([(record, part, texts)]))
            offset += count
            if self._progress:
                self._progress.within_file(record.path, start + len(part), len(chunks))
        self._index.commit([NewVersion(record, chunks)])
        if self._progress:
            self._progress.advance(1, len(chunks))

    def _embedded(
        self, parts: list[tuple[DocumentRecord, list[NewChunk], Sequence[str]]]
    ) -> list[DocumentWrite]:
        """One embedding call for the texts of every part, split back per part."""
        vectors = self._embedder.embed([text for _, _, texts in parts for text in texts])
        writes: list[DocumentWrite] = []
        offset = 0
        for record, chunks, texts in parts:
            writes.append(DocumentWrite(record, chunks, vectors[offset : offset + len(texts)]))
            offset += len(texts)
        return writes


def new_chunks(record: DocumentRecord, prepared: Prepared) -> list[NewChunk]:
    return [
        NewChunk(
            chunk_id=f"{record.doc_id}-{prepared.content_hash[:8]}-{ord_}",
            title=prepared.title or record.path,
            heading=" > ".join(chunk.headings),
            locator=chunk.locator,
            text=chunk.text,
            vectors=vectors,
        )
        for ord_, (chunk, vectors) in enumerate(
            zip(prepared.chunks, prepared.vector_counts, strict=True)
        )
    ]
