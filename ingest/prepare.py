"""Read, hash, parse and chunk one file. Runs in worker processes, so it is self-contained."""

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ingest.chunker import chunk_document, vector_texts
from ingest.document import Chunk, LoadError, LoadOptions, SkipFile
from ingest.loaders import load_document
from kb.embedder import WordPieceCounter


@dataclass(frozen=True)
class Prepared:
    content_hash: str
    title: str | None = None
    chunks: tuple[Chunk, ...] = ()
    embedding_texts: tuple[str, ...] = ()  # every vector's text, chunk by chunk
    vector_counts: tuple[int, ...] = ()  # per chunk
    unchanged: bool = False  # same content as indexed: nothing to do
    error: str | None = None
    skip: str | None = None  # read, and deliberately not indexed (e.g. an image without text)


@cache
def _counter() -> WordPieceCounter:
    return WordPieceCounter()


def prepare(
    path: Path, previous_hash: str | None, max_tokens: int, windows: bool, options: LoadOptions
) -> Prepared:
    try:
        data = path.read_bytes()
    except OSError as error:
        return Prepared(content_hash="", error=f"unreadable: {error.strerror or error}")
    content_hash = hashlib.sha256(data).hexdigest()
    if content_hash == previous_hash:
        return Prepared(content_hash, unchanged=True)
    try:
        document = load_document(path, data, options)
        chunks = chunk_document(document, _counter(), max_tokens)
    except LoadError as error:
        return Prepared(content_hash, error=str(error))
    except SkipFile as skip:
        return Prepared(content_hash, skip=str(skip))
    except Exception as error:  # a parser bug must not stop the whole ingest
        return Prepared(content_hash, error=f"could not parse: {type(error).__name__}: {error}")
    if not chunks:
        return Prepared(content_hash, error="no text to index")
    per_chunk = [vector_texts(document.title, chunk, windows) for chunk in chunks]
    texts = tuple(text for texts in per_chunk for text in texts)
    counts = tuple(len(texts) for texts in per_chunk)
    return Prepared(content_hash, document.title, tuple(chunks), texts, counts)
