"""OCR with the real Tesseract: image files and scanned PDF pages, page locators, the
cache, KB_OCR modes, and what happens when Tesseract is missing."""

import io
import json
import sqlite3
import threading
from pathlib import Path

import pytest
from helpers import make_pdf
from PIL import Image
from writers import SCAN_LINES, make_image, make_scanned_pdf, scan_images

from ingest.document import LoadError, LoadOptions, ParsedDocument, SkipFile
from ingest.formats.ocr import OcrCache, ocr_unavailable, page_key
from ingest.loaders import load_document
from kb.types import Locator

MEMO = " ".join(SCAN_LINES)


@pytest.fixture
def options(tmp_path: Path) -> LoadOptions:
    return LoadOptions(ocr_cache=tmp_path / "cache" / "ocr.sqlite")


def load(path: Path, options: LoadOptions) -> ParsedDocument:
    return load_document(path, path.read_bytes(), options)


def words(doc: ParsedDocument) -> str:
    return " ".join(" ".join(s.text for s in doc.sections).split())


@pytest.mark.parametrize("name", ["memo.png", "memo.jpg", "memo.jpeg", "memo.tif", "memo.webp"])
def test_image_files_are_read_as_page_one(tmp_path, options, name):
    doc = load(make_image(tmp_path / name), options)
    assert words(doc) == MEMO
    assert {s.locator for s in doc.sections} == {Locator("page", "1")}
    assert doc.title == "memo"


def test_multi_page_tiff_has_a_page_per_frame(tmp_path, options):
    first, second = scan_images([["Tiff page one about otters."], ["Tiff page two about beavers."]])
    path = tmp_path / "scan.tiff"
    first.save(path, save_all=True, append_images=[second])
    doc = load(path, options)
    assert [(s.locator, s.text) for s in doc.sections] == [
        (Locator("page", "1"), "Tiff page one about otters."),
        (Locator("page", "2"), "Tiff page two about beavers."),
    ]


def test_scanned_pdf_pages_are_ocred_and_text_pages_kept(tmp_path, options):
    scanned = make_scanned_pdf(tmp_path / "scan.pdf", [["Page one mentions walnuts."]])
    doc = load(scanned, options)
    assert [(s.locator, s.text) for s in doc.sections] == [
        (Locator("page", "1"), "Page one mentions walnuts.")
    ]
    text_pdf = make_pdf([["A text page about hazelnuts."]])
    text_doc = load_document(Path("text.pdf"), text_pdf, options)
    assert words(text_doc) == "A text page about hazelnuts."


def test_mixed_pdf_ocrs_only_the_pages_without_text(tmp_path, options):
    import pypdf

    writer = pypdf.PdfWriter()
    writer.append(pypdf.PdfReader(io.BytesIO(make_pdf([["Typed page about almonds."]]))))
    writer.append(str(make_scanned_pdf(tmp_path / "s.pdf", [["Scanned page about pecans."]])))
    path = tmp_path / "mixed.pdf"
    writer.write(path)
    doc = load(path, options)
    assert [(s.locator, s.text) for s in doc.sections] == [
        (Locator("page", "1"), "Typed page about almonds."),
        (Locator("page", "2"), "Scanned page about pecans."),
    ]


def test_ocr_text_is_cached_by_the_page_image(tmp_path, options):
    path = make_image(tmp_path / "memo.png")
    assert words(load(path, options)) == MEMO
    assert options.ocr_cache is not None
    cache = OcrCache(options.ocr_cache)
    key = page_key(Image.open(path).convert("L"), "eng")
    assert cache.get(key) is not None
    cache.put(key, "Text from the cache, not from Tesseract.")  # proves the next read uses it
    cache.close()
    assert words(load(path, options)) == "Text from the cache, not from Tesseract."
    other = make_image(tmp_path / "other.png", ["A different page entirely."])
    assert words(load(other, options)) == "A different page entirely."


def test_ocr_off_skips_images_and_fails_scans_with_the_reason(tmp_path):
    off = LoadOptions(ocr="off")
    with pytest.raises(SkipFile, match="KB_OCR is off"):
        load(make_image(tmp_path / "memo.png"), off)
    with pytest.raises(LoadError, match="KB_OCR is off"):
        load(make_scanned_pdf(tmp_path / "scan.pdf", [["Nothing read."]]), off)


def test_ocr_force_reads_every_page_from_its_image(tmp_path, options):
    force = LoadOptions(ocr="force", ocr_cache=options.ocr_cache)
    doc = load_document(Path("t.pdf"), make_pdf([["Forced OCR of a typed page."]]), force)
    assert words(doc) == "Forced OCR of a typed page."


def test_image_without_text_is_skipped(tmp_path, options):
    path = tmp_path / "blank.png"
    Image.new("L", (800, 600), color=255).save(path)
    with pytest.raises(SkipFile, match="no text found by OCR"):
        load(path, options)
    blank_scan = tmp_path / "blank.pdf"
    Image.new("L", (1700, 2200), color=255).save(blank_scan, format="PDF", resolution=200)
    with pytest.raises(SkipFile, match="no text found by OCR"):
        load(blank_scan, options)


def test_without_tesseract_scans_are_skipped_with_how_to_get_it(tmp_path, options, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    ocr_unavailable.cache_clear()
    try:
        with pytest.raises(SkipFile, match=r"OCR unavailable: .*make install"):
            load(make_image(tmp_path / "memo.png"), options)
        with pytest.raises(SkipFile, match="OCR unavailable"):
            load(make_scanned_pdf(tmp_path / "scan.pdf", [["Unread."]]), options)
    finally:
        monkeypatch.undo()
        ocr_unavailable.cache_clear()


def test_missing_language_data_is_named():
    assert ocr_unavailable("eng") is None
    reason = ocr_unavailable("eng+zzz")
    assert reason is not None and "tesseract-ocr-zzz" in reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt image|not an image"),
        (b"GIF89a not really", "not an image"),
    ],
)
def test_corrupt_images_fail_with_a_reason(tmp_path, options, data, reason):
    with pytest.raises(LoadError, match=reason):
        load_document(Path("bad.png"), data, options)


def test_status_and_ingest_summary_say_whether_ocr_is_available(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cli.main import cli

    status = CliRunner().invoke(cli, ["status", "--json"])
    assert json.loads(status.output)["ocr"] == "available (eng)"
    monkeypatch.setenv("KB_OCR", "off")
    assert json.loads(CliRunner().invoke(cli, ["status", "--json"]).output)["ocr"] == (
        "off (KB_OCR=off)"
    )
    monkeypatch.delenv("KB_OCR")
    docs = tmp_path / "scans"
    docs.mkdir()
    make_image(docs / "memo.png")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    ocr_unavailable.cache_clear()
    try:
        unavailable = json.loads(CliRunner().invoke(cli, ["status", "--json"]).output)["ocr"]
        assert unavailable.startswith("OCR unavailable: Tesseract is not installed")
        run = CliRunner().invoke(cli, ["ingest", str(docs)])
        assert run.exit_code == 0, run.output
        assert f"skipped memo.png: {unavailable}" in " ".join(run.output.split())
    finally:
        monkeypatch.undo()
        ocr_unavailable.cache_clear()


def test_parsers_opening_a_new_ocr_cache_together_all_get_it(tmp_path: Path) -> None:
    """Two parsing processes met a new cache at once and one file failed with "database
    is locked" (SQLite refuses one of two WAL switches without waiting)."""
    failures: list[str] = []

    def open_and_write(path: Path, start: threading.Barrier) -> None:
        start.wait()
        try:
            cache = OcrCache(path)
            cache.put(f"page-{threading.get_ident()}", "text")
            cache.close()
        except sqlite3.OperationalError as error:
            failures.append(str(error))

    for trial in range(100):
        start = threading.Barrier(4)
        path = tmp_path / f"ocr-{trial}.sqlite"
        threads = [threading.Thread(target=open_and_write, args=(path, start)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
