"""Attach a file to a question in Chromium, against a real `kb serve` with the offline model."""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import KbServer, OpenPage
from tests.e2e.test_browser import ask, shot, wait_answered

pytestmark = pytest.mark.browser

HERON = """# Project Heron

The Heron launch code is VIOLET-4471, kept by the operations desk.

Project Heron ships on the ninth of March, after the harbour trials.
"""


def test_attach_a_file_and_get_an_answer_cited_from_it(
    offline_server: KbServer, open_page: OpenPage, screenshots: Path, tmp_path: Path
) -> None:
    heron = tmp_path / "heron-brief.md"
    heron.write_text(HERON, encoding="utf-8")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really a pdf")
    page = open_page(offline_server)

    page.get_by_test_id("attach-input").set_input_files([str(heron), str(broken)])
    chips = page.get_by_test_id("attachment-chip")
    expect(chips).to_have_count(2)
    expect(chips.first).to_contain_text("heron-brief.md")
    page.get_by_test_id("attachment-remove").nth(1).click()  # changed my mind about that one
    expect(chips).to_have_count(1)
    page.get_by_test_id("attach-input").set_input_files(str(broken))
    expect(chips).to_have_count(2)
    expect(chips.nth(1)).to_contain_text("B")  # its size: the upload is done
    page.get_by_test_id("composer").fill("What is the Heron launch code?")
    shot(page, screenshots / "attachment-chips.png")

    ask(page, "What is the Heron launch code?")
    wait_answered(page, 1)
    message = page.get_by_test_id("user-message")
    expect(message.get_by_test_id("message-attachment")).to_have_text(
        ["heron-brief.md", "broken.pdf"]
    )
    status = page.get_by_test_id("attachment-status")
    expect(status.first).to_have_text("Read heron-brief.md")
    expect(status.nth(1)).to_contain_text("Could not read broken.pdf: ")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text("VIOLET-4471")
    shot(page, screenshots / "attachment-answer.png")

    answer.get_by_test_id("citation").first.click()
    panel = page.get_by_test_id("source-panel")
    expect(panel.get_by_test_id("source-file")).to_have_text("heron-brief.md")
    expect(panel.get_by_test_id("source-passage")).to_contain_text("VIOLET-4471")
    href = panel.get_by_test_id("open-original").get_attribute("href") or ""
    assert httpx.get(offline_server.url + href).text == HERON  # the file as attached
