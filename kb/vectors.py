"""Vectors in Chroma (an embedded `PersistentClient` under the data dir).

Chroma holds only vectors and the owning document id; texts and metadata live in the
catalog, which decides what is visible.
"""

from pathlib import Path

import numpy as np

COLLECTION = "chunks"


class VectorStore:
    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        self._collection = self._client.get_or_create_collection(
            COLLECTION, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        self._batch = self._client.get_max_batch_size()

    def upsert(self, ids: list[str], vectors: np.ndarray, doc_ids: list[str]) -> None:
        for start in range(0, len(ids), self._batch):
            end = start + self._batch
            self._collection.upsert(
                ids=ids[start:end],
                embeddings=vectors[start:end],
                metadatas=[{"doc_id": doc_id} for doc_id in doc_ids[start:end]],
            )

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), self._batch):
            self._collection.delete(ids=ids[start : start + self._batch])

    def query(
        self, vector: np.ndarray, limit: int, doc_ids: list[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first."""
        total = self._collection.count()
        if total == 0 or doc_ids == []:
            return []
        where = {"doc_id": {"$in": doc_ids}} if doc_ids is not None else None
        result = self._collection.query(
            query_embeddings=[vector],
            n_results=min(limit, total),
            where=where,
            include=["distances"],
        )
        return [
            (chunk_id, 1.0 - distance)
            for chunk_id, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def similarities(self, vector: np.ndarray, ids: list[str]) -> dict[str, float]:
        """Cosine similarity of `vector` to the stored vectors of `ids` (unit length)."""
        if not ids:
            return {}
        found = self._collection.get(ids=ids, include=["embeddings"])
        scores = np.asarray(found["embeddings"], dtype=np.float32) @ vector
        return dict(zip(found["ids"], scores.tolist(), strict=True))

    def count(self) -> int:
        return self._collection.count()


def release_vector_stores() -> None:
    """Forget Chroma's per-process clients, before their files are deleted."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
