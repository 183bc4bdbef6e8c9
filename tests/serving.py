"""A real server on a loopback port, and the sample index, for tests."""

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from ingest.pipeline import ingest
from kb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DOCS = REPO / "data" / "docs"


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    @property
    def url(self) -> str:
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


def ingest_sample(settings: Settings, embedder: Any, docs: Path = SAMPLE_DOCS) -> None:
    report = ingest(settings, docs, embedder=embedder)
    assert report.exit_code == 0, report.failures


def copy_index(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)
