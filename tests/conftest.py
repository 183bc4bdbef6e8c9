"""Every test gets its own data dir; the embedding model is loaded once per session; a
Chroma server is started once per session, and the index on servers gets fresh databases."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.servers import (
    HEARTBEAT,
    answers,
    chroma_server,
    fresh_chroma_database,
    fresh_postgres_database,
)
from kb.embedder import Embedder, create_embedder
from kb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_EVAL = REPO.parent / "shared" / "eval"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("KB_DATA_DIR", str(path))
    names = ("KB_MODEL", "KB_MODEL_BASE_URL", "KB_EMBEDDING_MODEL", "KB_EMBEDDING_RUNTIME")
    # A team's index servers set in the shell must not receive the tests' documents.
    servers = ("KB_INDEX_URL", "KB_CHROMA_URL", "KB_CHROMA_TENANT", "KB_CHROMA_DATABASE")
    for name in ("OPENAI_API_KEY", *names, *servers):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default local embedder (`KB_EMBEDDING_RUNTIME=auto`: bf16 or ONNX fp32, by CPU)."""
    return create_embedder(Settings(data_dir=Path("unused")))


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    path = tmp_path / "docs"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server: CI's (KB_TEST_CHROMA_URL) when it answers, else one started here."""
    url = os.environ.get("KB_TEST_CHROMA_URL")
    if url and answers(url + HEARTBEAT):
        yield url
        return
    with chroma_server(tmp_path_factory.mktemp("chroma")) as server:
        yield server.url


@pytest.fixture
def chroma_database(chroma_url: str) -> Iterator[str]:
    """This test's own database on the Chroma server, deleted after it."""
    with fresh_chroma_database(chroma_url) as name:
        yield name


@pytest.fixture(scope="session")
def index_server_url() -> str:
    """The PostgreSQL server where tests may create databases (`.ci/run` sets it)."""
    url = os.environ.get("KB_TEST_INDEX_URL")
    if not url:
        pytest.skip("set KB_TEST_INDEX_URL to run the tests of the index on PostgreSQL")
    return url


@pytest.fixture
def index_url(index_server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test's index, dropped after it."""
    with fresh_postgres_database(index_server_url, "kb_idx") as url:
        yield url


@pytest.fixture
def server_index_settings(
    data_dir: Path, chroma_url: str, chroma_database: str, index_url: str
) -> dict[str, str]:
    """The environment of a kb whose index lives on servers, this test's alone."""
    return {
        "KB_DATA_DIR": str(data_dir),
        "KB_INDEX_URL": index_url,
        "KB_CHROMA_URL": chroma_url,
        "KB_CHROMA_DATABASE": chroma_database,
    }


@pytest.fixture(params=["embedded", "servers"])
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Settings of an index embedded in the data dir, or on servers (a PostgreSQL database
    and a Chroma database of this test's own): the index's contract holds on both."""
    if request.param == "embedded":
        return settings
    return request.getfixturevalue("servers_settings")


@pytest.fixture
def servers_settings(settings: Settings, server_index_settings: dict[str, str]) -> Settings:
    """Settings of an index on servers, this test's alone."""
    env = server_index_settings
    return settings.model_copy(
        update={
            "index_url": env["KB_INDEX_URL"],
            "chroma_url": env["KB_CHROMA_URL"],
            "chroma_database": env["KB_CHROMA_DATABASE"],
        }
    )


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The sample docs ingested once; tests copy its index into their own data dir."""
    from tests.serving import ingest_sample

    data = tmp_path_factory.mktemp("sample") / "data"
    ingest_sample(Settings(data_dir=data), embedder)
    return data


@pytest.fixture
def live(settings: Settings, sample_index: Path, embedder: Embedder) -> Iterator[Any]:
    """The real app on a loopback port, over a copy of the sample index."""
    from server.app import create_app
    from tests.serving import LiveServer, copy_index

    copy_index(sample_index / "index", settings.index_dir)
    with LiveServer(create_app(settings, embedder=embedder)) as server:
        yield server


@pytest.fixture
def connect() -> Iterator[Callable[..., Any]]:
    """Make clients (user, token) that are closed after the test."""
    from server.client import ChatClient

    made: list[ChatClient] = []

    def make(url: str, user: str = "local", token: str | None = None) -> ChatClient:
        made.append(ChatClient(url, user, token))
        return made[-1]

    yield make
    for client in made:
        client.http.close()


@pytest.fixture
def client(live: Any, connect: Callable[..., Any]) -> Any:
    return connect(live.url)
