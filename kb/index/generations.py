"""Where the index lives. Embedded: `<KB_DATA_DIR>/index`, or the generation its `CURRENT`
file names. On servers: a PostgreSQL schema and a Chroma collection (ServerGenerations).

`kb ingest --rebuild` builds a whole new generation (`index/gen-<time>`) next to the index
in use, and only when it is complete switches `CURRENT` to it with one atomic rename. So
the previous index answers searches until the new one is ready, and a rebuild that fails
part-way leaves it exactly as it was. An index that was never rebuilt has no `CURRENT`:
its files sit in `index/` itself. Only the writer (see kb.writer) cleans up what is no
longer current.
"""

import contextlib
import os
import shutil
import time
from abc import ABC, abstractmethod
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from kb.errors import KBError

if TYPE_CHECKING:
    from kb.index import KnowledgeIndex
    from kb.index.catalog import Catalog
    from kb.settings import Settings

POINTER = "CURRENT"
PARTIAL = ".CURRENT.partial"
PREFIX = "gen-"


def active_dir(index_root: Path) -> Path:
    try:
        name = (index_root / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return index_root
    return index_root / name


def new_generation(index_root: Path) -> Path:
    directory = index_root / f"{PREFIX}{time.time_ns()}"
    directory.mkdir(parents=True)
    return directory


def activate(index_root: Path, generation: Path) -> None:
    """Make `generation` the index every later open sees (atomic)."""
    partial = index_root / PARTIAL
    partial.write_text(generation.name, encoding="utf-8")
    os.replace(partial, index_root / POINTER)


def remove_inactive(index_root: Path) -> None:
    """Delete every generation that is not current: the one a rebuild replaced, or one
    a failed or killed rebuild left behind."""
    if not index_root.is_dir():
        return
    active = active_dir(index_root)
    for entry in index_root.iterdir():
        if entry == active or entry.name == POINTER:
            continue
        if active == index_root and not entry.name.startswith((PREFIX, PARTIAL)):
            continue  # the files of an index that was never rebuilt
        remove_path(entry)


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class Generations(ABC):
    """Where an index's generations live, which one is in use, and how one replaces it."""

    shared = False  # other processes may switch the active generation

    @abstractmethod
    def active(self) -> str:
        """The generation every later open sees."""

    @abstractmethod
    def new(self) -> str:
        """A new, empty generation's name (not active)."""

    @abstractmethod
    def open(self, generation: str, embedding_model: str) -> "KnowledgeIndex": ...

    @abstractmethod
    def catalog(self, generation: str) -> "Catalog":
        """The catalog alone (no vectors, no model check): what the index holds."""

    @abstractmethod
    def activate(self, generation: str) -> None:
        """Make `generation` the one every later open sees (atomic)."""

    @abstractmethod
    def remove(self, generation: str) -> None: ...

    @abstractmethod
    def remove_inactive(self) -> None:
        """Delete every generation that is not active (replaced, or left by a failed or
        killed rebuild)."""


class DirectoryGenerations(Generations):
    """The embedded index: a generation is a folder under `<KB_DATA_DIR>/index`."""

    def __init__(self, index_root: Path) -> None:
        self.root = index_root

    def active(self) -> str:
        return str(active_dir(self.root))

    def new(self) -> str:
        return str(new_generation(self.root))

    def open(self, generation: str, embedding_model: str) -> "KnowledgeIndex":
        from kb.index import KnowledgeIndex
        from kb.index.vectors import VectorStore

        vectors = partial(VectorStore.embedded, Path(generation) / "chroma")
        return KnowledgeIndex(self.catalog(generation), vectors, embedding_model, generation)

    def catalog(self, generation: str) -> "Catalog":
        from kb.index.sqlite import SqliteCatalog

        return SqliteCatalog(Path(generation) / "catalog.sqlite")

    def activate(self, generation: str) -> None:
        activate(self.root, Path(generation))

    def remove(self, generation: str) -> None:
        remove_path(Path(generation))

    def remove_inactive(self) -> None:
        remove_inactive(self.root)


class ServerGenerations(Generations):
    """The index on servers: a generation is a PostgreSQL schema of the `KB_INDEX_URL`
    database with a Chroma collection of the same name; the active one is named in
    the table `public.kb_generation`, switched in one transaction. Several knowledge
    bases may share the servers, each under its `KB_INDEX_NAME`: an index never rebuilt
    is the schema of that name, its rebuilds `<name>_gen_<time>`."""

    shared = True

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self.url = settings.index_url or ""
        self.name = settings.index_name

    def active(self) -> str:
        import psycopg

        from kb.index.postgres import connect

        with connect(self.url) as db:  # read once a second by every worker: no DDL here
            try:
                row = db.execute(
                    "SELECT generation FROM public.kb_generation WHERE name = %s", (self.name,)
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                row = None  # never rebuilt: `activate` creates the table
        return str(row[0]) if row else self.name

    def new(self) -> str:
        return f"{self.name}_gen_{time.time_ns()}"

    def open(self, generation: str, embedding_model: str) -> "KnowledgeIndex":
        from kb.index import KnowledgeIndex
        from kb.index.vectors import VectorStore

        vectors = partial(VectorStore.server, self.settings, vector_collection(generation))
        return KnowledgeIndex(self.catalog(generation), vectors, embedding_model, generation)

    def catalog(self, generation: str) -> "Catalog":
        from kb.index.postgres import PostgresCatalog

        return PostgresCatalog(self.url, generation)

    def activate(self, generation: str) -> None:
        from kb.index.postgres import connect

        with connect(self.url) as db, db.transaction():
            db.execute(_POINTER_TABLE)
            db.execute(
                "INSERT INTO public.kb_generation (name, generation) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET generation = excluded.generation",
                (self.name, generation),
            )

    def remove(self, generation: str) -> None:
        from kb.index.postgres import connect
        from kb.index.vectors import close_client, server_client

        with connect(self.url) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{generation}" CASCADE')
        client = server_client(self.settings)
        try:
            with contextlib.suppress(Exception):  # chromadb: NotFoundError or ValueError
                client.delete_collection(vector_collection(generation))
        finally:
            close_client(client)

    def remove_inactive(self) -> None:
        active = self.active()
        for generation in self.names():
            if generation != active:
                self.remove(generation)

    def drop(self) -> None:
        """Delete this knowledge base from the servers: every generation, and its name."""
        from kb.index.postgres import connect

        for generation in self.names():
            self.remove(generation)
        with connect(self.url) as db:
            db.execute(_POINTER_TABLE)
            db.execute("DELETE FROM public.kb_generation WHERE name = %s", (self.name,))

    def names(self) -> list[str]:
        """Every generation of this knowledge base on the servers."""
        from kb.index.postgres import connect

        rebuilt = self.name.replace("_", "\\_") + "\\_gen\\_%"
        with connect(self.url) as db:
            found = db.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname = %s OR nspname LIKE %s",
                (self.name, rebuilt),
            ).fetchall()
        return [str(row[0]) for row in found]


_POINTER_TABLE = (
    "CREATE TABLE IF NOT EXISTS public.kb_generation"
    " (name TEXT PRIMARY KEY, generation TEXT NOT NULL)"
)


def vector_collection(generation: str) -> str:
    """The Chroma collection of a generation (its names need 3 characters or more)."""
    return f"{generation}_chunks"


def generations_of(settings: "Settings") -> Generations:
    if settings.index_url or settings.chroma_url:
        check_servers(settings)
        return ServerGenerations(settings)
    return DirectoryGenerations(settings.index_dir)


def check_servers(settings: "Settings") -> None:
    if not (settings.index_url and settings.chroma_url):
        missing = "KB_CHROMA_URL" if settings.index_url else "KB_INDEX_URL"
        raise KBError(
            f"an index on servers needs both KB_INDEX_URL (PostgreSQL) and KB_CHROMA_URL "
            f"(a Chroma server); {missing} is not set"
        )
