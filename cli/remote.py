"""The CLI as a client of the `kb serve` that owns the data dir (see kb.writer).

While a server runs, `kb ingest`, `kb search` and `kb status` run there: the index is
opened by one process only, and a search costs an HTTP request instead of loading torch
and the model. The standard library's http.client keeps the start-up light. The token
(KB_AUTH_TOKEN) goes in the Authorization header only, never in a URL.
"""

import http.client
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.errors import KBError
from kb.settings import Settings, base_model
from kb.types import Hit
from kb.writer import ServerRecord, running_server

if TYPE_CHECKING:  # imported when an ingest runs, not by every command
    from ingest.progress import IngestProgress
    from ingest.report import IngestReport

TIMEOUT_S = 120  # a search may wait behind an ingest's embedding batch
START_WAIT_S = 10  # a server advertises itself just before it listens
FINISHED = ("done", "failed", "cancelled")


class ServerClient:
    def __init__(self, record: ServerRecord, token: str | None) -> None:
        self.record = record
        self._token = token
        parts = urllib.parse.urlsplit(record.url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80

    @property
    def described(self) -> str:
        return f"kb serve (pid {self.record.pid}) at {self.record.url}"

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = json.loads(self._request("GET", "/api/status").read())
        return status

    def search(
        self,
        query: str,
        k: int,
        mode: str,
        source: str | None,
        collections: frozenset[str] | None = None,
        as_user: str | None = None,
    ) -> list[Hit]:
        body = {
            "query": query,
            "k": k,
            "mode": mode,
            "source": source,
            "collections": None if collections is None else sorted(collections),
            "as_user": as_user,
        }
        found = json.loads(self._request("POST", "/api/search", body).read())
        return [Hit.from_fields(hit) for hit in found]

    def collections(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = json.loads(self._request("GET", "/api/collections").read())[
            "data"
        ]
        return found

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        job: dict[str, Any] = json.loads(self._request("POST", "/api/jobs", request).read())
        return job

    def follow(self, job_id: str) -> Iterator[dict[str, Any]]:
        """The job's state at each change, until it is finished."""
        response = self._request("GET", f"/api/jobs/{job_id}/events")
        while line := response.readline():
            view = json.loads(line)
            yield view
            if view["state"] in FINISHED:
                return
        raise KBError(f"{self.described} closed the progress stream of job {job_id}")

    def cancel(self, job_id: str) -> None:
        self._request("DELETE", f"/api/jobs/{job_id}").read()

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        payload = None if body is None else json.dumps(body).encode()
        deadline = time.monotonic() + START_WAIT_S
        while True:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_S)
            try:
                connection.request(method, path, payload, headers)
                response = connection.getresponse()
                break
            except ConnectionRefusedError as error:
                if time.monotonic() > deadline:
                    raise KBError(f"{self.described} does not answer: {error}") from None
                time.sleep(0.1)
            except OSError as error:
                raise KBError(f"{self.described} does not answer: {error}") from None
        if response.status >= 400:
            raise KBError(f"{self.described}: {_message(response)}")
        return response


def server_for(settings: Settings) -> ServerClient | None:
    record = running_server(settings.data_dir)
    return None if record is None else ServerClient(record, settings.auth_token)


def ingest_in_server(
    server: ServerClient,
    settings: Settings,
    root: Path,
    options: dict[str, Any],
    progress: "IngestProgress",
    notice: Callable[[str], None],
) -> "IngestReport":
    """Run the ingest as a job of the server; the same progress and report as a local one.

    Ctrl+C cancels the job (it stops at its next batch).
    """
    from ingest.progress import ProgressSnapshot, replay
    from ingest.report import IngestReport

    _check_same_model(server, settings)
    folder = root.expanduser().resolve()  # the server's working directory is not ours
    job = server.submit({"root": str(folder), **options})
    notice(f"kb: the ingest runs in {server.described} (job {job['job_id']})")
    seen = ProgressSnapshot()
    view = job
    try:
        for view in server.follow(job["job_id"]):
            if view["state"] == "queued" and seen == ProgressSnapshot():
                notice("kb: waiting for the job ahead of this one to finish")
            now = ProgressSnapshot.from_json(view["progress"])
            replay(seen, now, progress)
            seen = now
    except KeyboardInterrupt:
        server.cancel(job["job_id"])
        raise
    if view["state"] != "done":
        raise KBError(view["error"] or f"the ingest job ended {view['state']}")
    return IngestReport.from_dict(view["report"])


def _check_same_model(server: ServerClient, settings: Settings) -> None:
    serving = server.status()["embedding_model"]
    # The server embeds: how this machine would run the same model does not matter.
    if base_model(serving) != settings.embedding_model:
        raise KBError(
            f"{server.described} embeds with {serving!r}, but KB_EMBEDDING_MODEL is "
            f"{settings.embedding_model!r} here; stop the server to ingest with another "
            f"model (`kb ingest --rebuild`), then restart it with the same setting"
        )


def _message(response: http.client.HTTPResponse) -> str:
    raw = response.read()
    try:
        return str(json.loads(raw)["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status}: {raw[:200].decode(errors='replace')}"
