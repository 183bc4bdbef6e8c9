"""The Library in headless Chromium against a real `kb serve`: upload a PDF and a Word file,
follow their progress, ask about them, remove one, and see a corrupt file's reason."""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import KbServer, OpenPage
from tests.e2e.test_browser import ask, shot, wait_answered
from tests.helpers import make_pdf
from tests.writers import make_docx

pytestmark = pytest.mark.browser

INDEXING_S = 180_000  # ms: the uploads wait behind an ingest of 60 files on a busy machine
QUOKKA = "Where is the quokka festival held?"


def open_library(page: Page) -> None:
    page.get_by_test_id("library-link").click()
    expect(page.get_by_test_id("library")).to_be_visible()
    expect(page.get_by_test_id("upload-limits")).to_contain_text("MB each")


def busy_folder(root: Path) -> Path:
    """A folder whose ingest keeps the server's one writer busy for a while."""
    folder = root / "busy"
    folder.mkdir()
    for n in range(60):
        text = f"# Meeting {n}\n\nMinutes of meeting {n}: item {n} was discussed at length.\n"
        (folder / f"minutes{n}.md").write_text(text)
    return folder


def test_upload_ask_remove_and_ask_again(
    offline_server: KbServer, open_page: OpenPage, screenshots: Path, tmp_path: Path
) -> None:
    pdf = tmp_path / "quokka.pdf"
    pdf.write_bytes(make_pdf([["The quokka festival is held in Lisbon every April."]]))
    word = make_docx(tmp_path / "handbook.docx")
    page = open_page(offline_server)
    open_library(page)
    shot(page, screenshots / "library-01-empty-uploads.png")

    busy = busy_folder(tmp_path)
    httpx.post(offline_server.url + "/api/jobs", json={"root": str(busy)}).raise_for_status()
    page.get_by_test_id("upload-input").set_input_files([str(pdf), str(word)])
    items = page.get_by_test_id("upload-item")
    expect(items).to_have_count(2)
    expect(
        items.filter(has_text="Queued").or_(items.filter(has_text="Indexing"))
    ).not_to_have_count(0)
    shot(page, screenshots / "library-02-upload-in-progress.png")
    for name in ("quokka.pdf", "handbook.docx"):
        item = items.filter(has_text=name)
        expect(item).to_have_attribute("data-status", "indexed", timeout=INDEXING_S)
    expect(page.get_by_test_id("uploads-summary")).to_have_text("All done")

    page.get_by_test_id("library-search").fill("handbook")
    row = page.get_by_test_id("doc-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("docx")
    row.get_by_test_id("doc-chunks").click()
    chunks = page.get_by_test_id("chunks-panel")
    expect(chunks.get_by_test_id("chunk-item").first).to_be_visible()
    expect(chunks).to_contain_text("zeppelin portal")
    expect(chunks.get_by_test_id("chunk-locator").last).to_have_text("page 2")
    page.get_by_test_id("library-search").fill("")
    shot(page, screenshots / "library-03-indexed.png")
    page.keyboard.press("Escape")

    page.get_by_test_id("new-chat").click()
    expect(page.get_by_test_id("composer")).to_be_visible()
    ask(page, QUOKKA)
    wait_answered(page, 1)
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text("Lisbon")
    answer.get_by_test_id("citation").first.click()
    expect(page.get_by_test_id("source-file")).to_have_text("quokka.pdf")
    shot(page, screenshots / "library-04-answer-from-upload.png")
    page.keyboard.press("Escape")

    open_library(page)
    page.get_by_test_id("library-search").fill("quokka")
    row = page.get_by_test_id("doc-row")
    expect(row).to_have_count(1)
    row.get_by_test_id("doc-remove").click()
    page.get_by_test_id("confirm-remove").click()
    expect(page.get_by_test_id("library-empty")).to_be_visible(timeout=INDEXING_S)

    page.get_by_test_id("new-chat").click()
    ask(page, QUOKKA)
    wait_answered(page, 1)
    expect(page.get_by_test_id("assistant-message")).not_to_contain_text("Lisbon")


def test_a_corrupt_upload_shows_its_reason_and_a_wrong_type_is_not_sent(
    offline_server: KbServer, open_page: OpenPage, screenshots: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 this is not a real Word file")
    tool = tmp_path / "tool.exe"
    tool.write_bytes(b"MZ")
    page = open_page(offline_server)
    open_library(page)
    page.get_by_test_id("upload-input").set_input_files([str(broken), str(tool)])
    items = page.get_by_test_id("upload-item")
    rejected = items.filter(has_text="tool.exe")
    expect(rejected).to_have_attribute("data-status", "rejected")
    expect(rejected.get_by_test_id("upload-reason")).to_have_text(".exe files cannot be indexed")
    failed = items.filter(has_text="broken.docx")
    expect(failed).to_have_attribute("data-status", "failed", timeout=INDEXING_S)
    reason = failed.get_by_test_id("upload-reason").inner_text()
    assert reason.strip(), "a failed upload shows why"
    page.get_by_test_id("filter-status").select_option("failed")
    row = page.get_by_test_id("doc-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("doc-reason")).to_have_text(reason)
    shot(page, screenshots / "library-05-failed-upload.png")
    uploads = httpx.get(offline_server.url + "/api/library/documents?status=failed").json()
    assert [d["name"] for d in uploads["items"]] == ["broken.docx"]
