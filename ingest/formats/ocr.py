"""OCR with Tesseract (Debian's `tesseract-ocr`), run as a subprocess per page.

Pages are OCRed in parallel, one Tesseract process per core (each limited to one thread:
Tesseract's own OpenMP threads on top of that only contend). Text is cached by the hash
of the page image (pixels, size, mode) and the languages, under the cache dir, so a
re-ingest or `--rebuild` never OCRs a page twice.
"""

import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path

from PIL import Image

from ingest.document import LoadError, LoadOptions, SkipFile
from kb.sqlite_wal import BUSY_TIMEOUT_S, use_wal

INSTALL_HINT = "install it with `make install` or `apt-get install tesseract-ocr tesseract-ocr-eng`"
PAGE_TIMEOUT_S = 180
_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


@cache
def ocr_unavailable(languages: str = "eng") -> str | None:
    """Why OCR cannot run here (with how to fix it), or None when it can."""
    if shutil.which("tesseract") is None:
        return f"OCR unavailable: Tesseract is not installed; {INSTALL_HINT}"
    try:
        listed = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.split()
    except (OSError, subprocess.SubprocessError) as error:
        return f"OCR unavailable: `tesseract --list-langs` failed ({error})"
    missing = [lang for lang in languages.split("+") if lang not in listed]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        return f"OCR unavailable: no Tesseract data for {'+'.join(missing)}; install {packages}"
    return None


def ocr_pages(images: Iterable[Image.Image], options: LoadOptions) -> list[str]:
    """The text of each page image, in order. Pages already seen come from the cache;
    the others go to Tesseract, as many at a time as there are cores, while the next
    pages are still being rendered by the caller's iterator."""
    reason = ocr_unavailable(options.ocr_languages)
    if reason:
        raise SkipFile(reason)
    cache_db = OcrCache(options.ocr_cache) if options.ocr_cache else None
    try:
        return list(_recognise(images, options.ocr_languages, cache_db))
    finally:
        if cache_db:
            cache_db.close()


def _recognise(
    images: Iterable[Image.Image], languages: str, cache_db: "OcrCache | None"
) -> Iterator[str]:
    workers = os.cpu_count() or 1
    pending: deque[tuple[str, Future[str] | str]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for image in images:
            gray = image.convert("L")
            key = page_key(gray, languages)
            known = cache_db.get(key) if cache_db else None
            result = known if known is not None else pool.submit(tesseract, gray, languages)
            pending.append((key, result))
            while len(pending) > 2 * workers:
                yield _finish(pending.popleft(), cache_db)
        while pending:
            yield _finish(pending.popleft(), cache_db)


def _finish(entry: tuple[str, "Future[str] | str"], cache_db: "OcrCache | None") -> str:
    key, result = entry
    if isinstance(result, str):
        return result
    text = result.result()
    if cache_db:
        cache_db.put(key, text)
    return text


def page_key(image: Image.Image, languages: str) -> str:
    """The cache key of a page image: its pixels, size and mode, and the languages."""
    digest = hashlib.sha256(f"{image.size}|{image.mode}|{languages}|".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def tesseract(image: Image.Image, languages: str) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")  # uncompressed: it only travels down a pipe
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", languages, "--psm", "3"],
            input=buffer.getvalue(),
            capture_output=True,
            timeout=PAGE_TIMEOUT_S,
            env=_ENV,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise LoadError(f"OCR of a page took over {PAGE_TIMEOUT_S} s") from error
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise LoadError(f"OCR failed: {message[-1] if message else done.returncode}")
    return done.stdout.decode("utf-8", errors="replace")


class OcrCache:
    """Page image hash -> OCR text, in SQLite beside the embedding cache."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = use_wal(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None))
        self.db.execute("CREATE TABLE IF NOT EXISTS ocr (key TEXT PRIMARY KEY, text TEXT NOT NULL)")

    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT text FROM ocr WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, text: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO ocr (key, text) VALUES (?, ?)", (key, text))

    def close(self) -> None:
        self.db.close()
