"""The index the server searches, which a rebuild replaces while searches run.

On servers another process (a worker, or `kb ingest --rebuild` on another machine) may
switch the index to a new generation: a reader checks which one is active (at most once
a second) and follows.

Every reader holds the index it started with until it is done (`reading`); `replace`
switches new readers to the rebuilt index at once, waits for the last reader of the old
one, then closes it and deletes its files. No search ever sees a closed index or a mix of
two.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from kb.embedder import Embedder
from kb.index import KnowledgeIndex
from kb.index.generations import Generations
from kb.search import Searcher
from kb.types import Hit, SearchMode

T = TypeVar("T")
FOLLOW_S = 1.0  # how stale the server's view of the active generation may be


class LiveIndex:
    def __init__(self, generations: Generations, index: KnowledgeIndex) -> None:
        self._generations = generations
        self._index = index
        self._readers: dict[int, int] = {}  # id(index) -> readers in flight
        self._changed = threading.Condition()
        self._follows = generations.shared
        self._checked = time.monotonic()
        self._following = threading.Lock()  # one reader checks; the others go on

    def current(self) -> KnowledgeIndex:
        """The index in use; for the one writer (the job runner), which never closes it."""
        return self._index

    @contextmanager
    def reading(self) -> Iterator[KnowledgeIndex]:
        self._follow()
        with self._changed:
            index = self._index
            self._readers[id(index)] = self._readers.get(id(index), 0) + 1
        try:
            yield index
        finally:
            with self._changed:
                self._readers[id(index)] -= 1
                self._changed.notify_all()

    def read(self, use: Callable[[KnowledgeIndex], T]) -> T:
        """`use(index)` on the live index (for asyncio.to_thread)."""
        with self.reading() as index:
            return use(index)

    def replace(self, rebuilt: KnowledgeIndex) -> None:
        self._generations.activate(rebuilt.generation)
        self._switch(rebuilt)
        self._generations.remove_inactive()

    def _follow(self) -> None:
        if not self._follows or time.monotonic() - self._checked < FOLLOW_S:
            return
        if not self._following.acquire(blocking=False):
            return
        try:
            self._checked = time.monotonic()
            active = self._generations.active()
            index = self._index
            if active != index.generation:
                self._switch(self._generations.open(active, index.embedding_model))
        finally:
            self._following.release()

    def _switch(self, rebuilt: KnowledgeIndex) -> None:
        """New readers use `rebuilt`; the old index closes after its last reader."""
        with self._changed:
            old, self._index = self._index, rebuilt
            self._changed.wait_for(lambda: self._readers.get(id(old), 0) == 0)
            self._readers.pop(id(old), None)
        old.close()

    def close(self) -> None:
        self._index.close()


class LiveSearcher:
    """A Searcher over whichever index is live when each search starts."""

    def __init__(self, live: LiveIndex, embedder: Embedder, passage_chars: int) -> None:
        self.live = live
        self.embedder = embedder
        self.passage_chars = passage_chars

    def search(
        self,
        query: str,
        k: int = 5,
        mode: SearchMode = SearchMode.HYBRID,
        source: str | None = None,
        collections: frozenset[str] | None = None,
    ) -> list[Hit]:
        with self.live.reading() as index:
            searcher = Searcher(index, self.embedder, passage_chars=self.passage_chars)
            return searcher.search(query, k, mode, source, collections)
