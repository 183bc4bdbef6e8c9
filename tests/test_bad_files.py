"""Bad input in the new formats: each file gets a clear reason, and an ingest indexes the
rest of the folder."""

import io
import zipfile
from pathlib import Path

import pytest
import writers
from helpers import killing_child_processes, make_pdf, search_sources
from msoffcrypto.format.ooxml import OOXMLFile

from ingest.document import LoadError, LoadOptions
from ingest.loaders import load_document
from ingest.pipeline import PARSER_DIED, ingest
from ingest.scan import Failure
from kb.types import SearchMode

MAKERS = {
    ".docx": writers.make_docx,
    ".pptx": writers.make_pptx,
    ".xlsx": writers.make_xlsx,
    ".odt": writers.make_odt,
    ".odp": writers.make_odp,
    ".ods": writers.make_ods,
    ".epub": writers.make_epub,
}


def made(tmp_path: Path, suffix: str) -> bytes:
    return MAKERS[suffix](tmp_path / f"good{suffix}").read_bytes()


def encrypted(data: bytes) -> bytes:
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt("secret", out)
    return out.getvalue()


def zip_bomb(entry: str, size: int) -> bytes:
    """A small zip whose one entry inflates to `size` bytes of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(entry, b"\0" * size)
    return buffer.getvalue()


@pytest.mark.parametrize("suffix", sorted(MAKERS))
def test_truncated_container(tmp_path, suffix):
    data = made(tmp_path, suffix)
    with pytest.raises(LoadError, match=r"^corrupt or truncated .*bad zip"):
        load_document(Path(f"cut{suffix}"), data[: len(data) // 2])


@pytest.mark.parametrize("suffix", sorted(MAKERS))
def test_zip_bomb_is_refused_before_parsing(suffix):
    bomb = zip_bomb("content.xml", 60 * 2**20)
    assert len(bomb) < 100_000
    with pytest.raises(LoadError, match=r"decompresses to 60 MB, over KB_MAX_FILE_MB \(50 MB\)"):
        load_document(Path(f"bomb{suffix}"), bomb)


@pytest.mark.parametrize(("suffix", "what"), [(".docx", "Word document"), (".xlsx", "Excel")])
def test_password_protected_office_file(tmp_path, suffix, what):
    with pytest.raises(LoadError, match=rf"^encrypted {what}.*: password required"):
        load_document(Path(f"locked{suffix}"), encrypted(made(tmp_path, suffix)))


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("report.docx", make_pdf([["Really a PDF."]]), "the file is a PDF, not a Word document"),
        ("chart.xlsx", writers.image_bytes(["x"]), "the file is a PNG image, not a"),
        ("deck.pptx", b"just some text, not a deck", "not a PowerPoint file"),
        ("book.epub", b"<html><body>page</body></html>", "the file is an HTML page, not a"),
    ],
)
def test_wrong_content_for_the_extension(name, data, reason):
    with pytest.raises(LoadError, match=reason):
        load_document(Path(name), data)


def test_valid_zip_with_broken_xml_inside(tmp_path):
    buffer = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(made(tmp_path, ".docx")))
    with source as good, zipfile.ZipFile(buffer, "w") as broken:
        for entry in good.infolist():
            content = good.read(entry)
            broken.writestr(entry, b"<w:doc" if entry.filename == "word/document.xml" else content)
    with pytest.raises(LoadError, match=r"^corrupt Word document: "):
        load_document(Path("broken.docx"), buffer.getvalue())


def test_spreadsheet_over_max_rows(tmp_path):
    data = writers.make_xlsx(tmp_path / "big.xlsx", rows=60).read_bytes()
    with pytest.raises(LoadError, match=r"more than KB_MAX_ROWS \(50\) rows"):
        load_document(Path("big.xlsx"), data, LoadOptions(max_rows=50))
    assert load_document(Path("big.xlsx"), data, LoadOptions(max_rows=63)).sections  # all of them


def test_a_million_rows_hits_the_default_limit():
    rows = b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * 7) for i in range(1_000_000))
    with pytest.raises(LoadError, match=r"more than KB_MAX_ROWS \(100,000\) rows"):
        load_document(Path("million.csv"), rows)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.ipynb", b'{"cells": [', "not a Jupyter notebook"),
        ("notes.ipynb", b'{"nbformat": 4, "cells": "nope"}', "corrupt Jupyter notebook"),
        ("letter.eml", b"Just a line of text.\n", "not an e-mail message"),
        ("box.mbox", b"Subject: no separator line\n\nbody\n", "not a mailbox"),
    ],
)
def test_malformed_notebooks_and_mail(name, data, reason):
    with pytest.raises(LoadError, match=reason):
        load_document(Path(name), data)


def test_ingest_lists_each_bad_file_and_indexes_the_rest(settings, docs, embedder, tmp_path):
    writers.make_docx(docs / "handbook.docx")
    writers.make_pptx(docs / "deck.pptx")
    (docs / "locked.docx").write_bytes(encrypted(made(tmp_path, ".docx")))
    (docs / "cut.pptx").write_bytes(made(tmp_path, ".pptx")[:2000])
    (docs / "bomb.xlsx").write_bytes(zip_bomb("xl/workbook.xml", 60 * 2**20))
    (docs / "report.docx").write_bytes(make_pdf([["Really a PDF."]]))
    (docs / "big.csv").write_text("a,b\n" + "1,2\n" * 200, encoding="utf-8")
    writers.make_image(docs / "blank.png", [])
    report = ingest(settings.model_copy(update={"max_rows": 100}), docs, embedder=embedder)
    failed = {failure.path: failure.error for failure in report.failures}
    skipped = {skip.path: skip.reason for skip in report.skips}
    assert sorted(report.added) == ["deck.pptx", "handbook.docx"]
    assert "password required" in failed["locked.docx"]
    assert "truncated" in failed["cut.pptx"]
    assert "KB_MAX_FILE_MB" in failed["bomb.xlsx"]
    assert "is a PDF" in failed["report.docx"]
    assert "KB_MAX_ROWS" in failed["big.csv"]
    assert skipped == {"blank.png": "no text found by OCR (an image without text?)"}
    assert report.exit_code == 2


def test_password_protected_opendocument(tmp_path):
    """ODF encryption leaves the zip readable and marks each encrypted entry in the
    manifest; content.xml itself is ciphertext."""
    buffer = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(made(tmp_path, ".odt")))
    with source as good, zipfile.ZipFile(buffer, "w") as locked:
        for entry in good.infolist():
            content = good.read(entry)
            if entry.filename == "META-INF/manifest.xml":
                content = content.replace(
                    b'manifest:full-path="content.xml" manifest:media-type="text/xml"/>',
                    b'manifest:full-path="content.xml" manifest:media-type="text/xml">'
                    b'<manifest:encryption-data manifest:checksum-type="SHA1/1K"'
                    b' manifest:checksum="x"/></manifest:file-entry>',
                )
                assert b"encryption-data" in content
            elif entry.filename == "content.xml":
                content = bytes(range(256)) * 8
            locked.writestr(entry, content)
    with pytest.raises(LoadError, match=r"^encrypted OpenDocument text: password required"):
        load_document(Path("locked.odt"), buffer.getvalue())


def test_a_parsing_process_that_dies_costs_its_file_only(settings, docs, embedder):
    for n in range(5):
        (docs / f"note-{n}.md").write_text(f"# Note {n}\n\nThe code of note {n} is ZX{n}Q.\n")
    one_parser = settings.model_copy(update={"parse_workers": 1})
    with killing_child_processes(2) as killed:
        report = ingest(one_parser, docs, embedder=embedder)
    # The first kill breaks the pool; the file it may have held is parsed again alone, and
    # the second kill ends that process: that file fails, the others are indexed.
    assert len(killed) == 2
    assert report.failures == [Failure("note-0.md", PARSER_DIED)]
    assert report.added == [f"note-{n}.md" for n in range(1, 5)]
    again = ingest(one_parser, docs, embedder=embedder)
    assert (again.failures, again.added) == ([], ["note-0.md"])
    assert search_sources(one_parser, embedder, "ZX0Q", SearchMode.LEXICAL) == ["note-0.md"]
