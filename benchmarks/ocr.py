"""OCR throughput: pages of a real filing (the sample docs' PDF for --quick), rendered as
kb renders a scanned page, read by Tesseract on all cores, with no cache."""

import os
import time
from pathlib import Path
from typing import Any

import pypdfium2
from PIL import Image

from benchmarks.corpora import SAMPLE_DOCS, SEC
from ingest.document import LoadOptions
from ingest.formats.ocr import ocr_pages
from ingest.formats.pdf import OCR_DPI

FULL_PAGES = 20


def bench_ocr(quick: bool) -> dict[str, Any]:
    source = SAMPLE_DOCS / "release-notes.pdf" if quick else SEC / "docs" / "2023 Q3 AAPL.pdf"
    pages = _render(source, 2 if quick else FULL_PAGES)
    started = time.perf_counter()
    texts = ocr_pages(pages, LoadOptions(ocr_cache=None))
    seconds = time.perf_counter() - started
    return {
        "source": source.name,
        "pages": len(pages),
        "dpi": OCR_DPI,
        "workers": os.cpu_count() or 1,
        "seconds": round(seconds, 2),
        "pages_per_s": round(len(pages) / seconds, 3),
        "characters": sum(len(text) for text in texts),
    }


def _render(path: Path, count: int) -> list[Image.Image]:
    pdf = pypdfium2.PdfDocument(path)
    try:
        numbers = range(min(count, len(pdf)))
        return [pdf[i].render(scale=OCR_DPI / 72, grayscale=True).to_pil() for i in numbers]
    finally:
        pdf.close()
