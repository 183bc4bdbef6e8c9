"""Every test gets its own data dir; the embedding model is loaded once per session."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kb.embedder import Embedder, create_embedder
from kb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_EVAL = REPO.parent / "shared" / "eval"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("KB_DATA_DIR", str(path))
    names = ("KB_MODEL", "KB_MODEL_BASE_URL", "KB_EMBEDDING_MODEL", "KB_EMBEDDING_RUNTIME")
    for name in ("OPENAI_API_KEY", *names):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default local embedder (int8 ONNX, built by `make install`)."""
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
