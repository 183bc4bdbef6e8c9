"""A real server on a loopback port, and a small ChatKit client for tests."""

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
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


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


class ChatClient:
    def __init__(self, base_url: str, user: str = "local", token: str | None = None) -> None:
        headers = {"X-KB-User": user}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=60)

    def request(self, request_type: str, **params: Any) -> httpx.Response:
        return self.http.post("/chatkit", json={"type": request_type, "params": params})

    def stream(self, request_type: str, **params: Any) -> list[dict[str, Any]]:
        response = self.request(request_type, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return [
            json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
        ]

    def ask(self, question: str, thread_id: str | None = None) -> list[dict[str, Any]]:
        if thread_id is None:
            return self.stream("threads.create", input=user_input(question))
        return self.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input(question)
        )

    def items(self, thread_id: str) -> list[dict[str, Any]]:
        response = self.request("items.list", thread_id=thread_id, order="asc", limit=100)
        assert response.status_code == 200, response.text
        return response.json()["data"]


def ingest_sample(settings: Settings, embedder: Any, docs: Path = SAMPLE_DOCS) -> None:
    report = ingest(settings, docs, embedder=embedder)
    assert report.exit_code == 0, report.failures


def copy_index(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)


def thread_id_of(events: list[dict[str, Any]]) -> str:
    return next(e["thread"]["id"] for e in events if e["type"] == "thread.created")


def final_answer(events: list[dict[str, Any]]) -> dict[str, Any]:
    return [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ][-1]


def search_tasks(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tasks = []
    for event in events:
        if event["type"] == "thread.item.done" and event["item"]["type"] == "workflow":
            tasks += event["item"]["workflow"]["tasks"]
    return tasks
