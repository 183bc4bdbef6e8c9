"""An OpenAI-compatible HTTP server on 127.0.0.1 for tests: the network edge we fake.

It serves `/v1/chat/completions` (streamed or not) from a script of replies, and
`/v1/embeddings` with deterministic vectors, and records every request body.
"""

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


@dataclass
class Reply:
    text: str = ""
    tool_call: tuple[str, dict[str, Any]] | None = None
    delay_s: float = 0.0  # between streamed chunks
    status: int = 200


@dataclass
class FakeOpenAI:
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    dimension: int = 16
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body})
                if self.path.endswith("/embeddings"):
                    self._json(fake.embeddings(body))
                elif self.path.endswith("/chat/completions"):
                    fake.chat(self, body)
                else:
                    self._json({"error": {"message": "not found"}}, 404)

            def _json(self, data: dict, status: int = 200) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def embeddings(self, body: dict) -> dict:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(t, self.dimension)}
            for i, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        return {"object": "list", "data": data, "model": body["model"], "usage": usage}

    def chat(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        reply = self.replies.pop(0) if self.replies else Reply(text="(no scripted reply)")
        if reply.status != 200:
            handler._json({"error": {"message": "scripted failure"}}, reply.status)  # type: ignore[attr-defined]
            return
        if not body.get("stream"):
            handler._json(_completion(reply, body["model"]))  # type: ignore[attr-defined]
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        try:
            for chunk in _chunks(reply, body["model"]):
                handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                handler.wfile.flush()
                time.sleep(reply.delay_s)
            handler.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


def _vector(text: str, dimension: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    vector = np.random.default_rng(seed).normal(size=dimension)
    return (vector / np.linalg.norm(vector)).tolist()


def _base(model: str) -> dict:
    return {"id": "chatcmpl-fake", "created": int(time.time()), "model": model}


def _chunks(reply: Reply, model: str) -> list[dict]:
    def chunk(delta: dict, finish: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {**_base(model), "object": "chat.completion.chunk", "choices": [choice]}

    if reply.tool_call:
        name, arguments = reply.tool_call
        call = {
            "index": 0,
            "id": "call_fake_1",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        return [chunk({"role": "assistant", "tool_calls": [call]}), chunk({}, "tool_calls")]
    words = [w + " " for w in reply.text.split(" ")]
    words[-1] = words[-1].rstrip()
    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": w}) for w in words),
        chunk({}, "stop"),
    ]


def _completion(reply: Reply, model: str) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_call:
        name, arguments = reply.tool_call
        message["tool_calls"] = [
            {
                "id": "call_fake_1",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ]
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return {**_base(model), "object": "chat.completion", "choices": [choice], "usage": usage}
