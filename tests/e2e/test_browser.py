"""The chat UI in headless Chromium against real `kb serve` processes.

Each test drives the page only through what a user sees (the `data-testid` hooks), saves
screenshots of the main states under data/screenshots/, and checks that the page made no
request outside its own origin and raised no script error.
"""

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.e2e.conftest import KbServer, OpenPage
from tests.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
QUESTION = "How do I install kb?"
SLOW_ANSWER = " ".join(f"word{i}" for i in range(400))


def shot(page: Page, path: Path) -> None:
    page.screenshot(path=path, animations="disabled")


def ask(page: Page, question: str) -> None:
    composer = page.get_by_test_id("composer")
    expect(composer).to_be_enabled()
    composer.fill(question)
    composer.press("Enter")


def wait_answered(page: Page, count: int) -> None:
    """Waits until `count` answers are complete (their feedback buttons appear)."""
    expect(page.get_by_test_id("feedback-up")).to_have_count(count, timeout=60_000)
    expect(page.get_by_test_id("composer")).to_be_enabled()


def test_ask_see_streamed_answer_and_open_a_citation(
    offline_server: KbServer, open_page: OpenPage, screenshots: Path
) -> None:
    page = open_page(offline_server)
    status = page.get_by_test_id("kb-status")
    counts = httpx.get(offline_server.url + "/api/status").json()
    assert counts["documents"] >= 2, counts
    expect(status).to_contain_text(f"{counts['documents']} documents")
    expect(status).to_contain_text(f"{counts['chunks']} chunks")
    expect(status).to_contain_text("offline")
    shot(page, screenshots / "01-empty.png")

    composer = page.get_by_test_id("composer")
    composer.fill("first line")
    composer.press("Shift+Enter")
    composer.type("second line")
    expect(composer).to_have_value("first line\nsecond line")
    expect(page.get_by_test_id("user-message")).to_have_count(0)

    ask(page, QUESTION)
    expect(page.get_by_test_id("user-message")).to_have_text([QUESTION])
    wait_answered(page, 1)
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text("virtual environment")
    expect(page.get_by_test_id("thread-item")).to_contain_text([QUESTION])
    assert "#/t/thr_" in page.url

    tool = page.get_by_test_id("tool-call")
    expect(tool).to_have_count(1)
    expect(tool).to_contain_text(QUESTION)
    expect(tool).to_contain_text("5 hits")
    expect(tool).to_contain_text(" ms")
    tool.locator("summary").click()
    expect(tool.locator(".hits li")).to_have_count(5)
    expect(tool.locator(".hits li").first).to_contain_text(re.compile(r"score \d\.\d{4}"))
    shot(page, screenshots / "02-answer-with-searches.png")

    chips = answer.get_by_test_id("citation")
    assert chips.count() >= 1
    expect(chips.first).to_have_text("1")
    chips.first.click()
    panel = page.get_by_test_id("source-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("source-file")).to_have_text("getting-started.md")
    expect(panel.get_by_test_id("source-heading")).to_contain_text("Install")
    passage = panel.get_by_test_id("source-passage")
    expect(passage).to_have_attribute("aria-busy", "false")
    expect(passage).to_contain_text("make install")
    marked = [m.lower() for m in passage.locator("mark").all_inner_texts()]
    assert "install" in marked and "kb" in marked, marked
    original = panel.get_by_test_id("open-original")
    href = original.get_attribute("href") or ""
    assert href.startswith("/api/documents/") and href.endswith("/file"), href
    assert httpx.get(offline_server.url + href).status_code == 200
    shot(page, screenshots / "03-source-panel.png")

    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)

    page.get_by_test_id("feedback-up").click()
    expect(page.get_by_test_id("feedback-up")).to_have_attribute("aria-pressed", "true")


def test_a_citation_into_a_slide_deck_shows_the_slide(
    offline_server: KbServer, open_page: OpenPage, screenshots: Path
) -> None:
    page = open_page(offline_server)
    ask(page, "Which searches did the agent run? Where to look?")
    wait_answered(page, 1)
    link = page.get_by_test_id("source-link").filter(has_text="tour.pptx")
    expect(link.first).to_contain_text(re.compile(r"tour\.pptx, slide \d"))
    link.first.click()
    panel = page.get_by_test_id("source-panel")
    expect(panel.get_by_test_id("source-file")).to_have_text("tour.pptx")
    expect(panel.get_by_test_id("source-locator")).to_have_text(re.compile(r"^slide \d$"))
    expect(panel.get_by_test_id("source-passage")).to_contain_text("kb logs")
    href = panel.get_by_test_id("open-original").get_attribute("href") or ""
    download = httpx.get(offline_server.url + href)
    assert download.headers["content-disposition"].startswith("attachment"), download.headers
    shot(page, screenshots / "06-slide-citation.png")


def test_follow_up_reload_and_find_the_thread(
    offline_server: KbServer, open_page: OpenPage, screenshots: Path
) -> None:
    page = open_page(offline_server)
    ask(page, "What file formats can kb ingest?")
    wait_answered(page, 1)
    ask(page, "And PDF files?")
    wait_answered(page, 2)
    expect(page.get_by_test_id("user-message")).to_have_text(
        ["What file formats can kb ingest?", "And PDF files?"]
    )
    expect(page.get_by_test_id("tool-call")).to_have_count(2)
    shot(page, screenshots / "04-follow-up.png")

    page.reload()
    expect(page.get_by_test_id("user-message")).to_have_count(2)
    expect(page.get_by_test_id("assistant-message")).to_have_count(2)
    expect(page.get_by_test_id("tool-call")).to_have_count(2)
    expect(page.get_by_test_id("citation").first).to_be_visible()

    fresh = open_page(offline_server)
    row = fresh.get_by_test_id("thread-item").filter(has_text="What file formats can kb ingest?")
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    expect(fresh.get_by_test_id("user-message")).to_have_count(2)
    shot(fresh, screenshots / "05-reopened-thread.png")

    # Rename, then delete, from the list.
    row.get_by_test_id("rename-thread").click()
    title = fresh.get_by_test_id("rename-input")
    title.fill("Formats")
    title.press("Enter")
    expect(fresh.get_by_test_id("thread-item").filter(has_text="Formats")).to_have_count(1)
    fresh.reload()
    renamed = fresh.get_by_test_id("thread-item").filter(has_text="Formats")
    expect(renamed).to_have_count(1)
    renamed.get_by_test_id("delete-thread").click()
    fresh.get_by_test_id("confirm-delete").click()
    expect(fresh.get_by_test_id("thread-item").filter(has_text="Formats")).to_have_count(0)
    expect(fresh.get_by_test_id("user-message")).to_have_count(0)


def test_stop_mid_answer_keeps_the_partial_answer(
    scripted_server: KbServer, scripted: FakeOpenAI, open_page: OpenPage, screenshots: Path
) -> None:
    scripted.replies += [
        Reply(tool_call=("search_docs", {"query": "install"})),
        Reply(text=SLOW_ANSWER, delay_s=0.05),
    ]
    page = open_page(scripted_server)
    ask(page, "Tell me everything about installing")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text("word5", timeout=30_000)
    expect(page.get_by_test_id("composer")).to_be_disabled()
    shot(page, screenshots / "06-streaming.png")
    page.get_by_test_id("stop-button").click()

    expect(page.get_by_test_id("send-button")).to_be_visible()
    expect(page.get_by_test_id("composer")).to_be_enabled()
    expect(page.get_by_test_id("error-retry")).to_have_count(0)
    expect(answer).to_contain_text("word5")
    shown = answer.inner_text()
    assert "word399" not in shown
    shot(page, screenshots / "07-stopped.png")

    page.reload()  # the server kept what was streamed before the stop
    expect(page.get_by_test_id("assistant-message")).to_contain_text("word5")
    assert "word399" not in page.get_by_test_id("assistant-message").inner_text()


def test_model_error_shows_retry_and_retry_answers(
    scripted_server: KbServer, scripted: FakeOpenAI, open_page: OpenPage, screenshots: Path
) -> None:
    scripted.replies += [Reply(status=500), Reply(status=500)]  # the client retries once
    page = open_page(scripted_server)
    ask(page, "Why is the sky blue?")
    retry = page.get_by_test_id("error-retry")
    expect(retry).to_be_visible(timeout=30_000)
    expect(page.get_by_role("alert")).to_contain_text("chat model failed")
    shot(page, screenshots / "08-error.png")

    scripted.replies += [
        Reply(tool_call=("search_docs", {"query": "sky"})),
        Reply(text="Rayleigh scattering, says nobody here."),
    ]
    retry.click()
    expect(page.get_by_test_id("assistant-message")).to_contain_text("Rayleigh scattering")
    expect(retry).to_have_count(0)
    expect(page.get_by_test_id("user-message")).to_have_count(1)


def test_lost_connection_keeps_what_was_typed(
    offline_server: KbServer, open_page: OpenPage
) -> None:
    page = open_page(offline_server)
    page.route("**/chatkit", lambda route: route.abort("connectionreset"))
    ask(page, "Is anyone there?")
    expect(page.get_by_test_id("error-retry")).to_be_visible()
    expect(page.get_by_test_id("composer")).to_have_value("Is anyone there?")
    page.unroute("**/chatkit")
    page.get_by_test_id("error-retry").click()
    wait_answered(page, 1)
    expect(page.get_by_test_id("composer")).to_have_value("")


def test_script_in_a_document_never_runs(
    offline_server: KbServer, open_page: OpenPage, screenshots: Path
) -> None:
    page = open_page(offline_server)
    ask(page, "What does the zebra crossing protocol say?")
    wait_answered(page, 1)
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text("<script>window.__pwned=1</script>")
    answer.get_by_test_id("citation").first.click()
    passage = page.get_by_test_id("source-passage")
    expect(passage).to_contain_text("<script>window.__pwned=1</script>")
    expect(passage).to_contain_text('onerror="window.__pwned=1"')
    page.get_by_test_id("tool-call").locator("summary").click()
    shot(page, screenshots / "09-injected-script-shown-as-text.png")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main script, main img, aside script, aside img").count() == 0


def test_phone_width_and_keyboard(
    offline_server: KbServer, open_page: OpenPage, screenshots: Path
) -> None:
    page = open_page(offline_server, viewport=PHONE)
    expect(page.get_by_test_id("thread-list")).to_be_hidden()
    ask(page, "How do I search?")
    wait_answered(page, 1)
    shot(page, screenshots / "10-phone.png")
    page.get_by_test_id("citation").first.click()
    expect(page.get_by_test_id("source-panel")).to_be_visible()
    shot(page, screenshots / "11-phone-source.png")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("source-panel")).to_have_count(0)

    page.get_by_role("button", name="Conversations").click()
    expect(page.get_by_test_id("thread-list")).to_be_visible()
    shot(page, screenshots / "12-phone-threads.png")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("thread-list")).to_be_hidden()

    # A citation chip is a real button: reachable and usable from the keyboard.
    chip = page.get_by_test_id("citation").first
    chip.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("source-panel")).to_be_visible()
    expect(page.get_by_role("button", name="Close source")).to_be_focused()
