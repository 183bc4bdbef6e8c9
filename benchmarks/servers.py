"""Servers the tests and the bench start or borrow: a Chroma server (chromadb ships
`chroma run`) and fresh databases on it and on a PostgreSQL server. Test conftest imports
this module: chromadb and the PostgreSQL drivers load only when used."""

import socket
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit
from uuid import uuid4

import httpx

CHROMA = Path(sysconfig.get_path("scripts")) / "chroma"
HEARTBEAT = "/api/v2/heartbeat"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class ServerProcess:
    """A server in a subprocess, ready once `url + health` answers 200; stopped with SIGTERM
    (a clean shutdown, as Ctrl+C)."""

    def __init__(
        self,
        command: list[str],
        url: str,
        health: str,
        log: Path,
        env: dict[str, str] | None = None,
        timeout: float = 180,
        cwd: Path | None = None,
    ) -> None:
        self.url = url
        self.health = url + health
        self.log = log
        self.timeout = timeout
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
            )

    def __enter__(self) -> Self:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server for {self.url} exited:\n{self._log_tail()}")
            if answers(self.health):
                return self
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"the server for {self.url} did not start:\n{self._log_tail()}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def chroma_server(path: Path) -> ServerProcess:
    """`chroma run` on a free loopback port, keeping its data and log in `path`."""
    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    command = [str(CHROMA), "run", "--path", str(path / "db"), "--host", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}"
    return ServerProcess([*command, "--port", str(port)], url, HEARTBEAT, path / "chroma.log")


@contextmanager
def fresh_chroma_database(url: str, prefix: str = "kb_test") -> Iterator[str]:
    """A fresh database on the Chroma server at `url` (default tenant), deleted afterwards."""
    import chromadb
    from chromadb.config import Settings

    parts = urlsplit(url)
    # Without chroma_api_impl an AdminClient is an embedded, in-memory Chroma: it would
    # create the database in this process and not on the server.
    admin = chromadb.AdminClient(
        Settings(
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
            chroma_server_host=parts.hostname,
            chroma_server_http_port=parts.port,
            anonymized_telemetry=False,
        )
    )
    name = f"{prefix}_{uuid4().hex[:12]}"
    admin.create_database(name)
    try:
        yield name
    finally:
        admin.delete_database(name)
        # chromadb 1.5 leaves its connections open
        admin._server._session.close()  # type: ignore[attr-defined]


@contextmanager
def fresh_postgres_database(url: str, prefix: str) -> Iterator[str]:
    """A fresh database on the PostgreSQL server of `url` (any SQLAlchemy driver), yielded
    as `url` naming it and dropped afterwards, connections a test left open included."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    server = make_url(url)
    name = f"{prefix}_{uuid4().hex[:12]}"
    libpq = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as admin:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))
