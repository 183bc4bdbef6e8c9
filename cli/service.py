"""Local entry points that wire settings, index and embedder together for the CLI."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from kb.catalog import Catalog
from kb.embedder import create_embedder
from kb.generations import active_dir
from kb.index import KnowledgeIndex
from kb.search import Searcher
from kb.settings import Settings
from kb.status import IndexStatus


@contextmanager
def open_searcher(settings: Settings) -> Iterator[Searcher]:
    index = KnowledgeIndex.open(settings)
    try:
        yield Searcher(index, create_embedder(settings))
    finally:
        index.close()


def index_status(settings: Settings) -> IndexStatus:
    catalog = Catalog(active_dir(settings.index_dir) / "catalog.sqlite")
    try:
        return replace(IndexStatus.of(settings, catalog), ocr=ocr_status(settings))
    finally:
        catalog.close()


def ocr_status(settings: Settings) -> str:
    """ "available (eng)", "off (KB_OCR=off)", or why not and how to get it."""
    from ingest.formats.ocr import ocr_unavailable

    if settings.ocr == "off":
        return "off (KB_OCR=off)"
    return ocr_unavailable(settings.ocr_languages) or f"available ({settings.ocr_languages})"
