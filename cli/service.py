"""Local entry points that wire settings, index and embedder together for the CLI."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from kb.embedder import create_embedder
from kb.index import KnowledgeIndex
from kb.index.catalog import Catalog, CollectionCount
from kb.index.generations import generations_of
from kb.search import Searcher
from kb.settings import Settings
from kb.status import IndexStatus


@contextmanager
def open_searcher(settings: Settings) -> Iterator[Searcher]:
    index = KnowledgeIndex.open(settings)
    try:
        yield Searcher(index, create_embedder(settings), passage_chars=settings.passage_chars)
    finally:
        index.close()


@contextmanager
def _catalog(settings: Settings) -> Iterator[Catalog]:
    """The catalog alone (no vectors, no model): what the index holds."""
    generations = generations_of(settings)
    catalog = generations.catalog(generations.active())
    try:
        yield catalog
    finally:
        catalog.close()


def index_status(settings: Settings) -> IndexStatus:
    with _catalog(settings) as catalog:
        return replace(IndexStatus.of(settings, catalog), ocr=ocr_status(settings))


def list_collections(settings: Settings) -> list[CollectionCount]:
    with _catalog(settings) as catalog:
        return catalog.collections()


def ocr_status(settings: Settings) -> str:
    """ "available (eng)", "off (KB_OCR=off)", or why not and how to get it."""
    from ingest.formats.ocr import ocr_unavailable

    if settings.ocr == "off":
        return "off (KB_OCR=off)"
    return ocr_unavailable(settings.ocr_languages) or f"available ({settings.ocr_languages})"
