"""The index backends a bench run measures, each as a fresh, empty index: embedded (SQLite
and Chroma in a data dir, the product's default) or servers (a fresh PostgreSQL database
and a fresh database on a Chroma server that the run starts and stops itself)."""

import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.servers import chroma_server, fresh_chroma_database, fresh_postgres_database
from kb.index.postgres import connection_url
from kb.index.vectors import release_vector_stores
from kb.settings import Settings

EMBEDDED = "embedded"
SERVERS = "servers"
BACKENDS = (EMBEDDED, SERVERS)
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVER_SETTINGS = ("index_url", "chroma_url", "chroma_database", "database_url")


class Backends:
    """Fresh indexes under `root`, on either backend; the Chroma server starts with the
    first index on servers and stops with `close`."""

    def __init__(self, root: Path, settings: Settings, postgres: str = POSTGRES) -> None:
        self.root = root
        self.settings = settings
        self.postgres = postgres
        self._stack = ExitStack()
        self._chroma_url: str | None = None

    @contextmanager
    def fresh(self, backend: str, name: str) -> Iterator[Settings]:
        """Settings naming a new, empty index (its data dir under root/backend/name);
        the index is deleted on the way out. On servers the chat database is the index's
        PostgreSQL database, as in `make team`."""
        data = self.root / backend / name
        if backend == EMBEDDED:
            try:
                yield embedded_settings(self.settings, data)
            finally:
                release_vector_stores()
                shutil.rmtree(data, ignore_errors=True)
            return
        with (
            fresh_postgres_database(self.postgres, "kb_bench") as index_url,
            fresh_chroma_database(self._chroma(), "kb_bench") as chroma_database,
        ):
            servers = {
                "index_url": connection_url(index_url),
                "chroma_url": self._chroma(),
                "chroma_database": chroma_database,
                "database_url": connection_url(index_url).replace(
                    "postgresql:", "postgresql+asyncpg:", 1
                ),
            }
            try:
                yield embedded_settings(self.settings, data).model_copy(update=servers)
            finally:
                shutil.rmtree(data, ignore_errors=True)

    def _chroma(self) -> str:
        if self._chroma_url is None:
            server = self._stack.enter_context(chroma_server(self.root / "chroma-server"))
            self._chroma_url = server.url
        return self._chroma_url

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> "Backends":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def embedded_settings(settings: Settings, data_dir: Path) -> Settings:
    """`settings` for the embedded index in `data_dir`, whatever servers they named."""
    local = {"data_dir": data_dir, "cache_dir": data_dir / "cache"}
    return settings.model_copy(update=local | dict.fromkeys(SERVER_SETTINGS))


def server_env(settings: Settings) -> dict[str, str]:
    """The settings naming a backend, for a child process's environment (none: embedded)."""
    return {
        name: str(getattr(settings, name)) for name in SERVER_SETTINGS if getattr(settings, name)
    }
