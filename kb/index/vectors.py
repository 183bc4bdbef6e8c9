"""Vectors in Chroma: an embedded `PersistentClient` under the data dir (the default), or a
Chroma server shared by a team (`KB_CHROMA_URL`); one collection client for both.

Chroma holds only vectors and the owning document id; texts and metadata live in the
catalog, which decides what is visible. A chunk may have several vectors (one per
window of its text): the first is stored under the chunk id, the others under
`<chunk id>#<n>`, and a chunk scores as its best vector.
"""

from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

import numpy as np

from kb.errors import KBError
from kb.types import DocFilter

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import CreateHNSWConfiguration
    from chromadb.base_types import Where
    from chromadb.config import Settings as ChromaSettings

    from kb.settings import Settings

COLLECTION = "chunks"
# Chroma's HNSW defaults (16 neighbours, ef 100) missed the true nearest vector for 1-2 of
# 60 SciFact queries on 35k sentence-window vectors and made dense nDCG@10 vary by 0.01
# between two builds of one corpus; with these, 0 of 60, at twice the (small) build time.
HNSW: "CreateHNSWConfiguration" = {
    "space": "cosine",
    "max_neighbors": 32,
    "ef_construction": 200,
    "ef_search": 200,
}
OVERFETCH = 2  # vectors fetched per chunk wanted: a chunk's windows crowd the top ranks


def vector_ids(chunk_id: str, count: int) -> list[str]:
    """The ids of a chunk's `count` vectors."""
    return [chunk_id, *(f"{chunk_id}#{n}" for n in range(1, count))]


def chunk_of(vector_id: str) -> str:
    return vector_id.split("#", 1)[0]


def _best_per_chunk(pairs: list[tuple[str, float]]) -> dict[str, float]:
    best: dict[str, float] = {}
    for vector_id, score in pairs:
        chunk_id = chunk_of(vector_id)
        best[chunk_id] = max(score, best.get(chunk_id, score))
    return best


class VectorStore:
    def __init__(self, client: "ClientAPI", collection: str = COLLECTION) -> None:
        self._client = client
        self._collection = client.get_or_create_collection(
            collection, configuration={"hnsw": HNSW}, embedding_function=None
        )
        self._batch = client.get_max_batch_size()

    @classmethod
    def embedded(cls, path: Path) -> "VectorStore":
        import chromadb

        path.mkdir(parents=True, exist_ok=True)
        return cls(chromadb.PersistentClient(path=str(path), settings=_chroma_settings()))

    @classmethod
    def server(cls, settings: "Settings", collection: str) -> "VectorStore":
        return cls(server_client(settings), collection)

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
        self, vector: np.ndarray, limit: int, within: DocFilter | None = None
    ) -> list[tuple[str, float]]:
        """Up to `limit` (chunk id, cosine similarity of its best vector), best first."""
        if within is not None and within.admits_nothing:
            return []
        result = self._collection.query(  # fewer stored than asked for: returns them all
            query_embeddings=[vector],
            n_results=limit * OVERFETCH,
            where=_where(within),
            include=["distances"],
        )
        distances = result["distances"] or [[]]  # asked for, so always present
        pairs = zip(result["ids"][0], distances[0], strict=True)
        best = _best_per_chunk([(vector_id, 1.0 - distance) for vector_id, distance in pairs])
        return list(best.items())[:limit]  # dicts keep the first, i.e. best, order

    def similarities(self, vector: np.ndarray, ids: list[str]) -> dict[str, float]:
        """Chunk id -> cosine similarity of `vector` (unit length) to the best of the
        stored vectors `ids`."""
        if not ids:
            return {}
        found = self._collection.get(ids=ids, include=["embeddings"])
        if not found["ids"]:  # deleted since the search's catalog snapshot (an ingest switched)
            return {}
        scores = np.asarray(found["embeddings"], dtype=np.float32) @ vector
        return _best_per_chunk(list(zip(found["ids"], scores.tolist(), strict=True)))

    def count(self) -> int:
        return self._collection.count()

    def close(self) -> None:
        """Release this client; Chroma stops the path's (or server's) system with its last
        client."""
        close_client(self._client)


def close_client(client: "ClientAPI") -> None:
    """Close a client, its HTTP connections included: chromadb 1.5 never closes those of
    an HTTP client (nor of the admin client inside it), even once its system stops."""
    servers = [client, getattr(client, "_admin_client", None)]
    sessions = [getattr(getattr(c, "_server", None), "_session", None) for c in servers]
    client.close()  # type: ignore[attr-defined]  # on every client, not in ClientAPI
    for session in sessions:
        if session is not None:
            session.close()


def _where(within: DocFilter | None) -> "Where | None":
    # mypy cannot infer Chroma's union of literal-keyed filter dicts from a literal
    if within is None:
        return None
    operator = "$nin" if within.excluded else "$in"
    return cast("Where", {"doc_id": {operator: list(within.ids)}})


def release_vector_stores() -> None:
    """Forget Chroma's per-process clients, before their files are deleted."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def server_client(settings: "Settings") -> "ClientAPI":
    """A client of the Chroma server at `KB_CHROMA_URL`; fails with what to check."""
    import chromadb

    url = urlsplit(settings.chroma_url or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise KBError(f"KB_CHROMA_URL must be http(s)://host:port, not {settings.chroma_url!r}")
    tenancy = {"tenant": settings.chroma_tenant, "database": settings.chroma_database}
    try:
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 80),
            ssl=url.scheme == "https",
            headers=settings.chroma_headers,
            settings=_chroma_settings(),
            **{name: value for name, value in tenancy.items() if value},
        )
    except Exception as error:  # chromadb raises plain ValueError/Exception for these
        raise KBError(
            f"cannot use the Chroma server at {url.scheme}://{url.netloc} ({error}); check "
            "that it runs (`make chroma`), that KB_CHROMA_TENANT/KB_CHROMA_DATABASE exist "
            "and that its chromadb version matches this one's"
        ) from error


def _chroma_settings() -> "ChromaSettings":
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)
