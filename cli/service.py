"""Local entry points that wire settings, index and embedder together for the CLI."""

from collections.abc import Iterator
from contextlib import contextmanager

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
        return IndexStatus.of(settings, catalog)
    finally:
        catalog.close()
