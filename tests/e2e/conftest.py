"""Real `kb serve` subprocesses over an ingested copy of the sample docs, and Chromium.

One index is built per module (`kb ingest`), then copied for each server so two servers
never share a data dir. `offline_server` runs the offline model; `scripted_server` points
KB_MODEL_BASE_URL at the fake OpenAI-compatible endpoint, whose replies (and their pace)
the test scripts: that is how a test catches an answer mid-stream or makes the model fail.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from benchmarks.servers import ServerProcess, free_port
from tests.fake_openai import FakeOpenAI

REPO = Path(__file__).resolve().parents[2]
KB = Path(sys.executable).parent / "kb"
SAMPLE_DOCS = REPO / "data" / "docs"
STATIC = REPO / "server" / "static" / "index.html"
SCREENSHOTS = REPO / "data" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Text a document may contain; it must show as text and never run.
INJECTION = """# Zebra crossing protocol

The zebra crossing protocol says that <script>window.__pwned=1</script> must be shown as text.

The zebra crossing checklist also lists <img src=x onerror="window.__pwned=1"> as plain text.
"""


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KB_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    env.update(KB_DATA_DIR=str(data_dir), **extra)
    return env


class KbServer(ServerProcess):
    """`kb serve` of the browser tests on a free loopback port."""

    def __init__(self, data_dir: Path, log: Path, **env: str) -> None:
        port = free_port()
        command = [str(KB), "serve", "--host", "127.0.0.1", "--port", str(port)]
        url = f"http://127.0.0.1:{port}"
        super().__init__(command, url, "/healthz", log, _env(data_dir, KB_PORT=str(port), **env))


@pytest.fixture(scope="module")
def built_ui() -> None:
    if not STATIC.is_file():
        pytest.fail("the web UI is not built: run `cd ui && npm ci && npm run build`")


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kb")
    docs = root / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    (docs / "zebra.md").write_text(INJECTION, encoding="utf-8")
    data = root / "index"
    result = subprocess.run(
        [str(KB), "ingest", str(docs)],
        env=_env(data),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return data


def _serve(index_dir: Path, name: str, **env: str) -> Iterator[KbServer]:
    data = index_dir.parent / name
    shutil.copytree(index_dir, data)
    with KbServer(data, index_dir.parent / f"{name}.log", **env) as server:
        yield server


@pytest.fixture(scope="module")
def offline_server(built_ui: None, index_dir: Path) -> Iterator[KbServer]:
    yield from _serve(index_dir, "offline")


@pytest.fixture(scope="module")
def fake_model() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
def scripted(fake_model: FakeOpenAI) -> FakeOpenAI:
    fake_model.replies.clear()
    return fake_model


@pytest.fixture(scope="module")
def scripted_server(built_ui: None, index_dir: Path, fake_model: FakeOpenAI) -> Iterator[KbServer]:
    yield from _serve(
        index_dir,
        "scripted",
        KB_MODEL="fake-model",
        KB_MODEL_BASE_URL=fake_model.base_url,
        KB_MODEL_API_KEY="test",
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install -y chromium` (or `make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


OpenPage = Callable[..., Page]  # (server, path="/", viewport=DESKTOP)


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    opened: list[tuple[Any, list[str], list[str], str]] = []

    def open_page(server: KbServer, path: str = "/", viewport: ViewportSize = DESKTOP) -> Page:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        foreign: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith((server.url, "data:"))
                else foreign.append(request.url)
            ),
        )
        opened.append((context, errors, foreign, server.url))
        page.goto(server.url + path)
        expect(page.get_by_test_id("kb-status")).to_contain_text("documents")
        return page

    yield open_page
    for context, errors, foreign, _ in opened:
        context.close()
        assert errors == [], f"script errors in the page: {errors}"
        assert foreign == [], f"requests outside the app: {foreign}"
