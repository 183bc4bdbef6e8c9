"""The servers the tests of the index on servers use: they answer, and no test sees
another's data."""

import chromadb
import httpx
import psycopg
import pytest
from chromadb.config import Settings as ChromaSettings

from benchmarks.servers import HEARTBEAT, fresh_postgres_database
from kb.settings import Settings


def chroma(url: str, database: str) -> chromadb.ClientAPI:
    parts = httpx.URL(url)
    assert parts.port, "the test servers' URLs name their port"
    settings = ChromaSettings(anonymized_telemetry=False)
    return chromadb.HttpClient(parts.host, parts.port, database=database, settings=settings)


def collections(client: chromadb.ClientAPI) -> list[str]:
    return [collection.name for collection in client.list_collections()]


def databases(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def database_name(url: str) -> str:
    return httpx.URL(url).path.lstrip("/")


def test_the_chroma_server_answers(chroma_url: str) -> None:
    response = httpx.get(chroma_url + HEARTBEAT, timeout=5)
    assert response.status_code == 200
    assert "nanosecond heartbeat" in response.json()


# Run twice: whichever runs second would find the collection the first made, were the
# databases shared.
@pytest.mark.parametrize("run", [1, 2])
def test_each_test_has_its_own_chroma_database(
    chroma_url: str, chroma_database: str, run: int
) -> None:
    client = chroma(chroma_url, chroma_database)
    assert collections(client) == []
    client.create_collection("probe")
    assert collections(client) == ["probe"]
    assert "probe" not in collections(chroma(chroma_url, "default_database"))


@pytest.mark.postgres
def test_the_index_database_exists_during_the_test(index_server_url: str, index_url: str) -> None:
    assert database_name(index_url).startswith("kb_idx_")
    assert database_name(index_url) in databases(index_server_url)
    with psycopg.connect(index_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (database_name(index_url),)


@pytest.mark.postgres
def test_the_index_database_is_dropped_afterwards_even_in_use(index_server_url: str) -> None:
    with fresh_postgres_database(index_server_url, "kb_idx") as url:
        left_open = psycopg.connect(url)
    assert database_name(url) not in databases(index_server_url)
    with pytest.raises(psycopg.OperationalError):
        left_open.execute("SELECT 1")
    left_open.close()


@pytest.mark.postgres
def test_server_index_settings_make_a_kb_on_servers(
    server_index_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in server_index_settings.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.shared_index
    assert settings.chroma_database == server_index_settings["KB_CHROMA_DATABASE"]
