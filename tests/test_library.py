"""The Library API on a real server over a copy of the sample index: uploads (hostile names,
limits, clashes, during an ingest), remove, re-index, chunks, folders, paging."""

import concurrent.futures
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.pipeline import PARSER_DIED
from kb.settings import Settings
from server.access import Access, Action
from server.app import create_app
from server.context import RequestContext
from server.errors import HTTPError
from tests.helpers import killing_child_processes, make_pdf
from tests.serving import LiveServer, copy_index

FINISHED = ("done", "failed", "cancelled")


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


def upload(http: httpx.Client, name: str, data: bytes, collection: str = "default") -> Any:
    response = http.post(
        "/api/library/uploads", params={"name": name, "collection": collection}, content=data
    )
    assert response.status_code == 202, response.text
    return response.json()


def settled(http: httpx.Client, upload_id: str) -> dict[str, Any]:
    """The upload once its sync finished."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        view: dict[str, Any] = http.get(f"/api/library/uploads/{upload_id}").json()
        if view["status"] not in ("queued", "indexing"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"upload {upload_id} never finished")


def finished(http: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(f"/api/library/jobs/{job_id}").json()
        if job["state"] in FINISHED:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never finished")


def sources(http: httpx.Client, query: str) -> list[str]:
    hits = http.post("/api/search", json={"query": query, "k": 5}).json()
    return [hit["source"] for hit in hits]


def listing(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get("/api/library/documents", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_hostile_names_are_stored_inside_the_upload_folder(
    http: httpx.Client, data_dir: Path
) -> None:
    text = b"# Note\n\nThe lighthouse keeper logs the weather every hour.\n"
    names = {
        "../../escape.md": "escape.md",
        "/etc/passwd.md": "etc/passwd.md",
        "..\\..\\windows.md": "windows.md",
        "nul\x00byte.md": "nulbyte.md",
        "bidi\u202etxt.md": "biditxt.md",
        ".hidden.md": "hidden.md",
        "résumé 日本語.md": "résumé 日本語.md",
        "a" * 300 + ".md": "a" * 117 + ".md",
    }
    stored = {name: upload(http, name, text)["name"] for name in names}
    assert stored == names
    folder = (data_dir / "uploads" / "default").resolve()
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert on_disk == sorted(names.values())
    outside = [p for p in data_dir.parent.rglob("escape.md") if not p.is_relative_to(folder)]
    assert outside == []


def test_only_separators_or_dots_is_refused(http: httpx.Client) -> None:
    for name in ("../..", "/", "...", "\x00"):
        response = http.post("/api/library/uploads", params={"name": name}, content=b"x")
        assert response.status_code == 400, name
        assert "empty" in response.json()["error"]


def test_wrong_type_and_oversize_are_refused_and_store_nothing(
    settings: Settings, sample_index: Path, embedder: Any, data_dir: Path
) -> None:
    small = settings.model_copy(update={"max_file_mb": 0.001})  # 1,048 bytes
    copy_index(sample_index / "index", small.index_dir)
    with LiveServer(create_app(small, embedder=embedder)) as server, httpx.Client() as http:
        info = http.get(f"{server.url}/api/library/info").json()
        assert info["max_file_bytes"] == 1048 and ".pdf" in info["suffixes"]
        wrong = http.post(
            f"{server.url}/api/library/uploads", params={"name": "tool.exe"}, content=b"MZ"
        )
        assert wrong.status_code == 415 and ".exe files cannot be indexed" in wrong.json()["error"]
        big = http.post(
            f"{server.url}/api/library/uploads", params={"name": "big.md"}, content=b"x" * 5000
        )
        assert big.status_code == 413 and "KB_MAX_FILE_MB" in big.json()["error"]

        def chunked() -> Iterator[bytes]:  # no Content-Length: refused while it streams
            yield from (b"y" * 1000 for _ in range(5))

        streamed = http.post(
            f"{server.url}/api/library/uploads", params={"name": "big.md"}, content=chunked()
        )
        assert streamed.status_code == 413
    stored = [p for p in (data_dir / "uploads").rglob("*") if p.is_file()]
    assert stored == []


def test_concurrent_uploads_of_one_name_keep_every_file(http: httpx.Client) -> None:
    def send(n: int) -> Any:
        body = f"# Harbour {n}\n\nHarbour log {n}: the ferry number {n}17 left at dawn.\n"
        return upload(http, "harbour.md", body.encode())

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        views = list(pool.map(send, range(4)))
    names = sorted(view["name"] for view in views)
    assert names == ["harbour (1).md", "harbour (2).md", "harbour (3).md", "harbour.md"]
    assert all(settled(http, v["upload_id"])["status"] == "indexed" for v in views)
    page = listing(http, q="harbour")
    assert page["total"] == 4 and {d["status"] for d in page["items"]} == {"indexed"}


def test_an_upload_while_an_ingest_runs_waits_and_is_indexed(
    http: httpx.Client, tmp_path: Path
) -> None:
    folder = tmp_path / "bulk"
    folder.mkdir()
    for n in range(40):
        (folder / f"note{n}.md").write_text(f"# Note {n}\n\nPlain note number {n} on topic {n}.\n")
    job = http.post("/api/jobs", json={"root": str(folder)}).json()
    sent = upload(http, "walrus.md", b"# Walrus\n\nThe walrus census counted 4,312 walruses.\n")
    running = http.get(f"/api/library/jobs/{job['job_id']}").json()["state"] == "running"
    if running:  # the upload's sync waits for the ingest ahead of it
        assert sent["status"] == "queued" and sent["job"]["job_id"] != job["job_id"]
    assert settled(http, sent["upload_id"])["status"] == "indexed"
    assert finished(http, job["job_id"])["counts"]["added"] == 40
    assert "walrus.md" in sources(http, "walrus census")


def test_a_corrupt_file_fails_with_its_reason_and_the_rest_are_indexed(http: httpx.Client) -> None:
    bad = upload(http, "broken.pdf", b"%PDF-1.7\nthis is not really a pdf")
    good = upload(http, "fine.pdf", make_pdf([["The otter sanctuary opens at nine."]]))
    failed = settled(http, bad["upload_id"])
    assert failed["status"] == "failed" and failed["reason"]
    assert settled(http, good["upload_id"])["status"] == "indexed"
    page = listing(http, status="failed")
    assert [(d["name"], d["reason"]) for d in page["items"]] == [("broken.pdf", failed["reason"])]
    indexed = listing(http, q="fine")["items"][0]
    assert indexed["format"] == "pdf" and indexed["part_kind"] == "page" and indexed["parts"] == 1
    chunks = http.get(f"/api/library/documents/{indexed['doc_id']}/chunks").json()
    assert chunks["total"] >= 1 and chunks["items"][0]["locator"]["label"] == "page 1"
    assert "otter sanctuary" in chunks["items"][0]["text"]


def test_a_parser_that_dies_fails_its_upload_and_the_server_goes_on(http: httpx.Client) -> None:
    """The server parses even one file in a process of its own, so a parser's crash (here
    the process is killed) ends that process, not the server."""
    with killing_child_processes(2) as killed:
        sent = upload(http, "crane.md", b"# Crane\n\nThe crane migration passes in October.\n")
        failed = settled(http, sent["upload_id"])
    assert len(killed) == 2  # the parsing process, then the one that parsed the file again
    assert (failed["status"], failed["reason"]) == ("failed", PARSER_DIED)
    sent = upload(http, "stork.md", b"# Stork\n\nThe white stork nests on the church roof.\n")
    assert settled(http, sent["upload_id"])["status"] == "indexed"
    assert "stork.md" in sources(http, "white stork church roof")


def test_remove_an_upload_and_refuse_to_remove_a_folder_document(
    http: httpx.Client, data_dir: Path
) -> None:
    sent = upload(http, "pelican.md", b"# Pelican\n\nThe pelican festival is in Lisbon.\n")
    doc_id = settled(http, sent["upload_id"])["doc_id"]
    assert "pelican.md" in sources(http, "pelican festival Lisbon")
    job = http.delete(f"/api/library/documents/{doc_id}")
    assert job.status_code == 202
    assert finished(http, job.json()["job_id"])["counts"]["deleted"] == 1
    assert "pelican.md" not in sources(http, "pelican festival Lisbon")
    assert not (data_dir / "uploads" / "default" / "pelican.md").exists()
    assert http.get(f"/api/library/documents/{doc_id}/chunks").status_code == 404

    folder_doc = listing(http, q="getting-started")["items"][0]
    refused = http.delete(f"/api/library/documents/{folder_doc['doc_id']}")
    assert refused.status_code == 409 and "kb does not own" in refused.json()["error"]
    assert listing(http, q="getting-started")["total"] == 1


def test_reindex_reads_an_unchanged_document_again(http: httpx.Client) -> None:
    doc = listing(http, q="faq.txt")["items"][0]
    job = http.post(f"/api/library/documents/{doc['doc_id']}/reindex")
    assert job.status_code == 202
    counts = finished(http, job.json()["job_id"])["counts"]
    assert counts["updated"] == 1 and counts["added"] == 0
    assert http.post("/api/library/documents/nope/reindex").status_code == 404


def test_folders_show_their_last_sync(http: httpx.Client) -> None:
    before = http.get("/api/library/folders").json()
    assert len(before) == 1 and before[0]["documents"] >= 10 and before[0]["last_sync"] is None
    doc = listing(http, q="faq.txt")["items"][0]
    finished(http, http.post(f"/api/library/documents/{doc['doc_id']}/reindex").json()["job_id"])
    (after,) = http.get("/api/library/folders").json()
    assert after["last_sync"]["state"] == "done" and after["last_sync"]["counts"]["updated"] == 1
    assert after["last_sync"]["finished_at"] > 0


def test_listing_sorts_filters_and_pages(http: httpx.Client) -> None:
    everything = listing(http, limit=200)
    names = [d["name"] for d in everything["items"]]
    assert names == sorted(names, key=str.lower) and everything["total"] == len(names)
    first, second = listing(http, limit=3), listing(http, limit=3, offset=3)
    assert [d["name"] for d in first["items"] + second["items"]] == names[:6]
    by_size = [d["size"] for d in listing(http, sort="size", order="desc", limit=200)["items"]]
    assert by_size == sorted(by_size, reverse=True)
    assert listing(http, q="%")["total"] == 0  # LIKE wildcards are literal
    assert http.get("/api/library/documents", params={"sort": "bogus"}).status_code == 400


def test_uploads_go_into_their_collection(http: httpx.Client) -> None:
    sent = upload(http, "heron.md", b"# Heron\n\nThe grey heron nests by the canal.\n", "birds")
    assert settled(http, sent["upload_id"])["status"] == "indexed"
    birds = listing(http, collection="birds")
    assert [(d["name"], d["collection"]) for d in birds["items"]] == [("heron.md", "birds")]
    assert listing(http, collection="default", q="heron")["total"] == 0
    info = http.get("/api/library/info").json()
    assert "birds" in info["collections"] and "birds" in info["writable"]
    found = http.post(
        "/api/search", json={"query": "grey heron canal", "k": 3, "collections": ["default"]}
    ).json()
    assert "heron.md" not in [hit["source"] for hit in found]
    for bad in ("..", "thread-abc", "a/b", ""):
        refused = http.post(
            "/api/library/uploads", params={"name": "x.md", "collection": bad}, content=b"x"
        )
        assert refused.status_code == 400, bad


class ReadDefaultOnly(Access):
    """A reader of the `default` collection only (what a grant would give)."""

    async def require(self, context: RequestContext, action: Action, collection: str) -> None:
        if action != Action.READ or collection != "default":
            raise HTTPError(403, f"{context.user_id} may not {action} {collection}")

    async def readable(self, context: RequestContext) -> frozenset[str] | None:
        return frozenset({"default"})

    async def writable(self, context: RequestContext) -> frozenset[str] | None:
        return frozenset()


def test_every_library_route_asks_access(
    settings: Settings, sample_index: Path, embedder: Any, data_dir: Path
) -> None:
    copy_index(sample_index / "index", settings.index_dir)
    app = create_app(settings, embedder=embedder)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        hidden = upload(http, "heron.md", b"# Heron\n\nHerons nest by the canal.\n", "birds")
        doc_id = settled(http, hidden["upload_id"])["doc_id"]
        app.state.services = dataclasses.replace(app.state.services, access=ReadDefaultOnly())
        info = http.get("/api/library/info").json()
        assert info["collections"] == ["default"] and info["writable"] == []
        assert {d["collection"] for d in listing(http, limit=200)["items"]} == {"default"}
        assert listing(http, collection="birds")["total"] == 0
        assert http.get(f"/api/library/documents/{doc_id}/chunks").status_code == 404
        assert http.get(f"/api/library/uploads/{hidden['upload_id']}").status_code == 404
        assert http.delete(f"/api/library/documents/{doc_id}").status_code == 404
        shown = listing(http, q="faq.txt")["items"][0]["doc_id"]
        assert http.get(f"/api/library/documents/{shown}/chunks").status_code == 200
        assert http.post(f"/api/library/documents/{shown}/reindex").status_code == 403
        refused = http.post("/api/library/uploads", params={"name": "x.md"}, content=b"# X")
        assert refused.status_code == 403
    assert not (data_dir / "uploads" / "default").exists()
