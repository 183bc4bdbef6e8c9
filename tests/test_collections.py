"""Collections: ingest into one, list them, and search within some (real index, real HTTP)."""

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cli.main import cli
from ingest.pipeline import IngestOptions, ingest
from kb.errors import KBError
from kb.index import KnowledgeIndex
from kb.search import Searcher
from kb.types import SearchMode
from tests.serving import KbServe, kb_env, run_kb


def write_docs(folder: Path, topic: str, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        text = f"# {topic.title()} note {n}\n\nThe {topic} ledger entry {n} mentions budgets.\n"
        (folder / f"{topic}-{n}.md").write_text(text, "utf-8")
    return folder


@pytest.fixture
def two_collections(settings, tmp_path, embedder):
    """hr: 6 documents that match "budgets ledger" strongly; eng: 4 that match it weakly."""
    hr = write_docs(tmp_path / "hr", "budget", 6)
    eng = tmp_path / "eng"
    eng.mkdir()
    for n in range(4):
        (eng / f"eng-{n}.md").write_text(f"# Build {n}\n\nThe ledger service {n} compiles.\n")
    ingest(settings, hr, collection="hr", embedder=embedder)
    ingest(settings, eng, collection="eng", embedder=embedder)
    return hr, eng


@pytest.mark.parametrize("mode", list(SearchMode))
def test_a_collection_filter_runs_inside_the_search_so_top_k_is_filled(
    settings, embedder, two_collections, mode
):
    with KnowledgeIndex.open(settings) as index:
        searcher = Searcher(index, embedder)
        unfiltered = searcher.search("budget ledger budgets", k=4, mode=mode)
        assert {hit.source.split("-")[0] for hit in unfiltered} == {"budget"}
        hits = searcher.search(
            "budget ledger budgets", k=4, mode=mode, collections=frozenset({"eng"})
        )
        assert sorted(hit.source for hit in hits) == [f"eng-{n}.md" for n in range(4)]
        both = searcher.search("ledger", k=10, mode=mode, collections=frozenset({"eng", "hr"}))
        assert len(both) == 10
        assert searcher.search("ledger", k=3, mode=mode, collections=frozenset()) == []
        globbed = searcher.search(
            "ledger", k=3, mode=mode, source="*-1.md", collections=frozenset({"hr"})
        )
        assert [hit.source for hit in globbed] == ["budget-1.md"]


def test_reingesting_a_folder_into_another_collection_moves_its_documents(
    settings, embedder, two_collections
):
    hr, _ = two_collections
    report = ingest(settings, hr, collection="finance", embedder=embedder)
    assert len(report.unchanged) == 6 and not report.added  # moved, not re-embedded
    with KnowledgeIndex.open(settings) as index:
        names = {row.name: (row.documents, row.chunks) for row in index.catalog.collections()}
        assert set(names) == {"eng", "finance"} and names["finance"][0] == 6
        searcher = Searcher(index, embedder)
        assert searcher.search("budgets", k=5, collections=frozenset({"hr"})) == []
        assert len(searcher.search("budgets", k=5, collections=frozenset({"finance"}))) == 5


def test_kb_collections_lists_documents_and_chunks(settings, two_collections):
    runner = CliRunner()
    result = runner.invoke(cli, ["collections", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) == {"eng", "hr"}
    assert (rows["hr"]["documents"], rows["eng"]["documents"]) == (6, 4)
    assert rows["hr"]["chunks"] >= 6 and rows["eng"]["chunks"] >= 4
    table = runner.invoke(cli, ["collections"])
    assert table.exit_code == 0 and "hr" in table.output and "eng" in table.output


def test_scratch_collections_are_not_listed_and_bad_names_are_refused(settings, tmp_path, embedder):
    ingest(
        settings, write_docs(tmp_path / "a", "memo", 1), collection="thread-abc", embedder=embedder
    )
    runner = CliRunner()
    assert json.loads(runner.invoke(cli, ["collections", "--json"]).output) == []
    for bad in ("", "a/b", "x" * 65, "sp ace"):
        with pytest.raises(KBError, match="collection name"):
            IngestOptions(collection=bad)
    refused = runner.invoke(cli, ["ingest", str(tmp_path / "a"), "--collection", "a/b"])
    assert refused.exit_code == 1 and "collection name" in refused.output


def test_ingest_collections_and_search_through_a_running_server(settings, tmp_path):
    docs = write_docs(tmp_path / "legal", "contract", 3)
    env = kb_env(settings.data_dir)
    with KbServe(env, tmp_path / "serve.log") as server:
        ingested = run_kb(env, "ingest", str(docs), "--collection", "legal", "--json")
        assert ingested.returncode == 0, ingested.stderr
        assert "runs in kb serve" in ingested.stderr and json.loads(ingested.stdout)["added"] == 3
        listed = run_kb(env, "collections", "--json")
        assert [(row["name"], row["documents"]) for row in json.loads(listed.stdout)] == [
            ("legal", 3)
        ]
        search = f"{server.url}/api/search"
        found = httpx.post(search, json={"query": "contract", "collections": ["legal"]})
        assert len(found.json()) == 3
        elsewhere = httpx.post(search, json={"query": "contract", "collections": ["hr"]})
        assert elsewhere.json() == []
        bad = httpx.post(search, json={"query": "contract", "collections": ["../etc"]})
        assert bad.status_code == 400
        job = httpx.post(f"{server.url}/api/jobs", json={"root": str(docs), "collection": "a b"})
        assert job.status_code == 400
