"""PDF via pdfium (pypdfium2): text per page, split into paragraphs and runs of table rows;
pages without a usable text layer (scans) through OCR (ingest/formats/ocr.py).

pdfium reads the 20 SEC filings' text in 19 s where pypdf (pure Python, the previous
release's reader) took 140 s. Its text page leaves out the whitespace-only rows that
filings use as table rules and empty paragraphs, and the paragraph and table-row
heuristics below split at those rows; `_blank_rows` finds them among the page's text
objects, placed as pypdf's plain mode places them (a row is its own line when it lies more
than 0.8 of its font size from the lines around it).
"""

import bisect
import ctypes
import re
import threading
from collections.abc import Iterator
from typing import Any

import pypdfium2
import pypdfium2.raw as pdfium_c
from PIL import Image

from ingest.document import LoadError, LoadOptions, ParsedDocument, Section, SectionKind, SkipFile
from ingest.formats.common import squash
from ingest.formats.ocr import ocr_pages, ocr_unavailable
from kb.types import page_locator

_NUMBER = re.compile(r"^[($€£-]*[\d.,]+%?\)?$|^[—–-]$")
_CURRENCY = {"$", "€", "£", "%"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)]?$")
_JUNK_TITLES = {"untitled", "document", "title", "none", "null", "pdf"}
USABLE_TEXT = 20  # fewer letters and digits than this on a page: no usable text layer
OCR_DPI = 300  # Tesseract's accuracy falls off below about 300 dpi for body text
SAME_BASELINE = 1.0  # points: a text object this close to a line's baseline is on that line
LINE_SPACING = 0.8  # of the font size: pypdf's distance for a new line
# pdfium is not thread-safe. Ingests parse in one thread per process (a server's in
# worker processes); the lock keeps any caller that parses on threads correct.
_PDFIUM = threading.Lock()


def parse_pdf(data: bytes, options: LoadOptions | None = None) -> ParsedDocument:
    options = options or LoadOptions()
    with _PDFIUM:
        pdf = _open(data)
        try:
            errors: list[Exception] = []
            texts = [_page_text(pdf, number, errors) for number in range(len(pdf))]
            title = _metadata_title(pdf)
            scanned = _ocr_text(pdf, texts, options)
        finally:
            pdf.close()
    texts = [scanned.get(number, text) for number, text in enumerate(texts, start=1)]
    sections = [s for n, text in enumerate(texts, start=1) for s in page_sections(text, n)]
    if not sections and errors:
        raise LoadError(f"corrupt PDF: {_reason(errors[0])}")
    if not sections:
        raise _no_text(bool(scanned), options)
    return ParsedDocument(title, sections)


def _open(data: bytes) -> pypdfium2.PdfDocument:
    try:
        return pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        if error.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise LoadError("encrypted PDF: password required") from error
        raise LoadError(f"corrupt PDF: {_reason(error)}") from error


def _page_text(pdf: pypdfium2.PdfDocument, index: int, errors: list[Exception]) -> str:
    page: Any = None  # pypdfium2 ships no type information
    try:
        page = pdf[index]
        return _CONTROL.sub("", "\n".join(_page_lines(page)))
    except pypdfium2.PdfiumError as error:  # one unreadable page must not cost the rest
        errors.append(error)
        return ""
    finally:
        if page is not None:
            page.close()


def _page_lines(page: Any) -> Iterator[str]:
    textpage = page.get_textpage()
    try:
        lines = textpage.get_text_range().split("\r\n")
        baselines = _baselines(textpage, lines)
    finally:
        textpage.close()
    blanks = _blank_rows(page, sorted(y for y in baselines if y is not None))
    return _with_blank_lines(lines, baselines, blanks)


def _baselines(textpage: Any, lines: list[str]) -> list[float | None]:
    """The baseline height of each line (None for an empty one), from its first character."""
    x, y = ctypes.c_double(), ctypes.c_double()
    baselines: list[float | None] = []
    index = 0
    for line in lines:
        found = bool(line) and pdfium_c.FPDFText_GetCharOrigin(textpage.raw, index, x, y)
        baselines.append(y.value if found else None)
        index += len(line) + 2  # the "\r\n" pdfium puts between lines
    return baselines


def _blank_rows(page: Any, baselines: list[float]) -> list[tuple[float, float]]:
    """(height, the distance that makes it a line of its own) of each upright text object
    on no line of the page's text: whitespace only, as the text page drops it."""
    matrix, size = pdfium_c.FS_MATRIX(), ctypes.c_float()
    blanks = []
    for number in range(pdfium_c.FPDFPage_CountObjects(page.raw)):
        obj = pdfium_c.FPDFPage_GetObject(page.raw, number)
        if pdfium_c.FPDFPageObj_GetType(obj) != pdfium_c.FPDF_PAGEOBJ_TEXT:
            continue
        if not pdfium_c.FPDFPageObj_GetMatrix(obj, matrix) or matrix.b or matrix.c:
            continue
        nearest = bisect.bisect_left(baselines, matrix.f - SAME_BASELINE)
        if nearest < len(baselines) and baselines[nearest] <= matrix.f + SAME_BASELINE:
            continue
        pdfium_c.FPDFTextObj_GetFontSize(obj, size)
        blanks.append((matrix.f, LINE_SPACING * size.value * abs(matrix.d)))
    return sorted(blanks)


def _with_blank_lines(
    lines: list[str], baselines: list[float | None], blanks: list[tuple[float, float]]
) -> Iterator[str]:
    """The lines, with an empty line where a blank row lies between two of them."""
    heights = [height for height, _ in blanks]
    above: float | None = None
    for line, baseline in zip(lines, baselines, strict=True):
        if above is not None and baseline is not None and baseline < above:
            between = blanks[
                bisect.bisect_right(heights, baseline) : bisect.bisect_left(heights, above)
            ]
            if any(above - y > apart and y - baseline > apart for y, apart in between):
                yield ""
        yield line
        if baseline is not None:
            above = baseline


def _ocr_text(pdf: pypdfium2.PdfDocument, texts: list[str], options: LoadOptions) -> dict[int, str]:
    """OCR text of the pages that need it (1-based page -> text): with KB_OCR=auto the
    pages that show an image and have no usable text layer, with `force` every page."""
    if options.ocr == "off":
        return {}
    wanted = [n for n in range(1, len(pdf) + 1) if _wants_ocr(pdf, n, texts, options)]
    if wanted and ocr_unavailable(options.ocr_languages) and any(map(_usable, texts)):
        return {}  # the text pages are still worth indexing
    return dict(zip(wanted, ocr_pages(_render(pdf, wanted), options), strict=True))


def _wants_ocr(
    pdf: pypdfium2.PdfDocument, number: int, texts: list[str], options: LoadOptions
) -> bool:
    if options.ocr == "force":
        return True
    if number > len(texts) or _usable(texts[number - 1]):
        return False
    page: Any = pdf[number - 1]
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


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def _metadata_title(pdf: pypdfium2.PdfDocument) -> str:
    """The document-info title, unless it is empty or junk (an accession number, "Untitled")."""
    title = squash(pdf.get_metadata_value("Title"))
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
