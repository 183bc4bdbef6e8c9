"""Every test gets its own data dir; the embedding model is loaded once per session."""

from pathlib import Path

import pytest

from kb.embedder import LocalEmbedder
from kb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_EVAL = REPO.parent / "shared" / "eval"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("KB_DATA_DIR", str(path))
    for name in ("OPENAI_API_KEY", "KB_MODEL", "KB_MODEL_BASE_URL", "KB_EMBEDDING_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    path = tmp_path / "docs"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> Path:
    """The sample docs ingested once; tests copy its index into their own data dir."""
    from tests.serving import ingest_sample

    data = tmp_path_factory.mktemp("sample") / "data"
    ingest_sample(Settings(data_dir=data), embedder)
    return data
