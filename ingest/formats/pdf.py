"""PDF via pypdf: text per page, split into paragraphs and runs of table rows; pages
without a usable text layer (scans) through OCR (ingest/formats/ocr.py), rendered by
pypdfium2.

pypdf's default safety limits refuse some real filings (LimitReachedError on SEC 10-Qs),
so the one that bites is raised, for our reads only (a context-local configuration).
Plain extraction mode: layout mode measured ~10% slower here, and its column padding
is not what the paragraph and table-row heuristics below expect.
"""

import io
import re
from collections.abc import Iterator
from typing import Any

import pypdf
import pypdfium2
import pypdfium2.raw as pdfium_c
from PIL import Image
from pypdf.errors import FileNotDecryptedError

from ingest.document import LoadError, LoadOptions, ParsedDocument, Section, SectionKind, SkipFile
from ingest.formats.common import squash
from ingest.formats.ocr import ocr_pages, ocr_unavailable
from kb.types import page_locator

# The 10-Qs hold arrays of over 100,000 elements (pypdf's default cap) in their object
# streams; 20 million stays bounded against hostile files. Legacy handling is skipped: we
# set no pypdf module constants, and it costs a check on every reader.
PDF_LIMITS = pypdf.Configuration(
    array_maximum_element_count=20_000_000, disable_legacy_handling=True
)
_NUMBER = re.compile(r"^[($€£-]*[\d.,]+%?\)?$|^[—–-]$")
_CURRENCY = {"$", "€", "£", "%"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)]?$")
_JUNK_TITLES = {"untitled", "document", "title", "none", "null", "pdf"}
USABLE_TEXT = 20  # fewer letters and digits than this on a page: no usable text layer
OCR_DPI = 300  # Tesseract's accuracy falls off below about 300 dpi for body text


def parse_pdf(data: bytes, options: LoadOptions | None = None) -> ParsedDocument:
    options = options or LoadOptions()
    with pypdf.apply_configuration(PDF_LIMITS):
        reader = _open(data)
        errors: list[Exception] = []
        texts = [_page_text(page, errors) for page in reader.pages]
        title = _metadata_title(reader)
    scanned = _ocr_text(data, texts, options)
    texts = [scanned.get(number, text) for number, text in enumerate(texts, start=1)]
    sections = [s for n, text in enumerate(texts, start=1) for s in page_sections(text, n)]
    if not sections and errors:
        raise LoadError(f"corrupt PDF: {_reason(errors[0])}")
    if not sections:
        raise _no_text(bool(scanned), options)
    return ParsedDocument(title, sections)


def _ocr_text(data: bytes, texts: list[str], options: LoadOptions) -> dict[int, str]:
    """OCR text of the pages that need it (1-based page -> text): with KB_OCR=auto the
    pages that show an image and have no usable text layer, with `force` every page."""
    if options.ocr == "off":
        return {}
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return {}  # pypdf read it; without a renderer its text layer is what there is
    try:
        wanted = [n for n in range(1, len(pdf) + 1) if _wants_ocr(pdf, n, texts, options)]
        if wanted and ocr_unavailable(options.ocr_languages) and any(map(_usable, texts)):
            return {}  # the text pages are still worth indexing
        return dict(zip(wanted, ocr_pages(_render(pdf, wanted), options), strict=True))
    finally:
        pdf.close()


def _wants_ocr(
    pdf: pypdfium2.PdfDocument, number: int, texts: list[str], options: LoadOptions
) -> bool:
    if options.ocr == "force":
        return True
    if number > len(texts) or _usable(texts[number - 1]):
        return False
    page: Any = pdf[number - 1]  # pypdfium2 ships no type information
    try:
        images = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3)
        return next(images, None) is not None
    finally:
        page.close()


def _usable(text: str) -> bool:
    return sum(char.isalnum() for char in text) >= USABLE_TEXT


def _render(pdf: pypdfium2.PdfDocument, numbers: list[int]) -> Iterator[Image.Image]:
    for number in numbers:
        page: Any = pdf[number - 1]
        try:
            yield page.render(scale=OCR_DPI / 72, grayscale=True).to_pil()
        finally:
            page.close()


def _no_text(scanned: bool, options: LoadOptions) -> Exception:
    if scanned:
        return SkipFile("no text found by OCR on its scanned pages")
    if options.ocr == "off":
        return LoadError("no extractable text (scanned images? KB_OCR is off)")
    return LoadError("no extractable text")


def _open(data: bytes) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF: password required")
        len(reader.pages)  # reads the page tree: a broken one fails here, not later
    except LoadError:
        raise
    except FileNotDecryptedError as error:
        raise LoadError("encrypted PDF: password required") from error
    except Exception as error:  # pypdf raises many types on malformed input
        raise LoadError(f"corrupt PDF: {_reason(error)}") from error
    return reader


def _page_text(page: pypdf.PageObject, errors: list[Exception]) -> str:
    try:
        return _CONTROL.sub("", page.extract_text())
    except Exception as error:  # one unreadable page must not cost the rest of the document
        errors.append(error)
        return ""


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def _metadata_title(reader: pypdf.PdfReader) -> str:
    """The document-info title, unless it is empty or junk (an accession number, "Untitled")."""
    try:
        title = squash(str(reader.metadata.get("/Title") or "") if reader.metadata else "")
    except Exception:  # broken metadata is no reason to refuse the text
        return ""
    title = re.sub(r"^Microsoft (Word|PowerPoint|Excel) - ", "", title)
    title = re.sub(r"\.(docx?|pptx?|xlsx?|pdf|indd|tex)$", "", title, flags=re.IGNORECASE)
    if title.lower() in _JUNK_TITLES or not re.search(r"[^\W\d_]{3}", title):
        return ""
    return title


def is_table_row(line: str) -> bool:
    """Ends in two or more numeric columns: "Net sales $ 82,959 $ 81,434 304,182"."""
    numbers = 0
    for word in reversed(line.split()):
        if word in _CURRENCY:
            continue
        if not _NUMBER.match(word):
            break
        numbers += 1
    return numbers >= 2


def page_sections(text: str, page: int) -> list[Section]:
    """Paragraphs split at blank lines and sentence-ending lines; table rows grouped."""
    sections: list[Section] = []
    run: list[str] = []
    run_is_table = False

    def close() -> None:
        if run:
            kind: SectionKind = "table" if run_is_table else "text"
            body = "\n".join(run) if run_is_table else " ".join(run)
            sections.append(Section(body, (), page_locator(page), kind))
            run.clear()

    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            close()
            continue
        row = is_table_row(line)
        if row != run_is_table:
            close()
            run_is_table = row
        run.append(line)
        if not row and _SENTENCE_END.search(line):
            close()
    close()
    return sections
