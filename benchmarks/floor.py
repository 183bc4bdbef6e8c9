"""The floor of an ingest: parse every file, then embed the chunk texts, nothing else.

Run as its own process (like `kb ingest`, so interpreter start and imports count on both
sides): sequential `prepare()` over the files the ingest would read, then a fresh local
embedder of the bench's KB_EMBEDDING_RUNTIME (model load included, no cache) over the
distinct texts an ingest embeds (chunks or their sentence windows) in one call, with the
same batch size and chunk size.
"""

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--max-tokens", type=int, required=True)
    parser.add_argument("--max-bytes", type=int, required=True)
    parser.add_argument("--whole-chunks", action="store_true", help="no sentence windows")
    args = parser.parse_args()
    texts, parse_s = parse_all(args.root, args.max_tokens, args.max_bytes, not args.whole_chunks)
    embed_s = embed_all(texts, args.batch_size)
    print(json.dumps({"parse_s": parse_s, "embed_s": embed_s, "texts": len(texts)}))


def parse_all(
    root: Path, max_tokens: int, max_bytes: int, windows: bool
) -> tuple[list[str], float]:
    from ingest.document import LoadOptions
    from ingest.prepare import prepare
    from ingest.scan import scan

    started = time.perf_counter()
    found, _, _ = scan(root, max_bytes)
    options = LoadOptions(max_bytes=max_bytes)  # no OCR cache: the floor pays for OCR
    texts: list[str] = []
    for file in found:
        texts.extend(prepare(file.absolute, None, max_tokens, windows, options).embedding_texts)
    return list(dict.fromkeys(texts)), time.perf_counter() - started


def embed_all(texts: list[str], batch_size: int) -> float:
    """With the local model as KB_EMBEDDING_RUNTIME (from the bench) runs it."""
    started = time.perf_counter()
    from kb.embedder import create_embedder
    from kb.settings import Settings

    create_embedder(Settings(embedding_batch_size=batch_size)).embed(texts)
    return time.perf_counter() - started
