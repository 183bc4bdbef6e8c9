"""OpenDocument (.odt, .odp, .ods) via odfpy.

Text: outline levels of `text:h` give the heading path (a "Title" paragraph heads it);
pages come from where LibreOffice recorded that they began when it last laid the document
out (`text:soft-page-break`) and from explicit page breaks (`fo:break-before="page"`).
Presentations: one locator per slide (`draw:page`), its title frame as heading, speaker
notes included. Spreadsheets: the displayed text of each cell (`text:p`), for sheets.py.
"""

import io
from collections.abc import Iterator
from typing import Any

from odf import teletype
from odf.namespaces import DCNS, DRAWNS, FONS, PRESENTATIONNS, STYLENS, TABLENS, TEXTNS
from odf.opendocument import load
from odf.table import Table
from odf.text import SoftPageBreak

from ingest.document import LoadError, LoadOptions, ParsedDocument
from ingest.formats.common import HeadingTrail, SectionList, pipe_table, reading, squash
from ingest.formats.containers import open_zip
from ingest.formats.pptx import NOTES
from kb.types import Locator, page_locator

_SKIP = {(TEXTNS, "table-of-content"), (TEXTNS, "tracked-changes"), (DRAWNS, "image")}
_PAGE_BREAK = (TEXTNS, "soft-page-break")
_FIELDS = {"page-number", "date-time", "footer", "header"}  # slide furniture, not content
MAX_REPEAT = 1000  # a repeated cell or row with content is written out this often at most
MAX_COLUMNS = 16_384  # a spreadsheet's widest row (Excel's and LibreOffice's limit)
Row = tuple[int, list[str]]  # 1-based row number, the displayed text of each cell


def open_odf(data: bytes, options: LoadOptions, what: str) -> Any:
    """The document as odfpy's untyped element tree (its attributes are made at run time)."""
    archive = open_zip(data, options.max_bytes, what)
    if "META-INF/manifest.xml" not in archive.namelist():
        raise LoadError(f"corrupt {what}: no META-INF/manifest.xml")
    if b"encryption-data" in archive.read("META-INF/manifest.xml"):
        raise LoadError(f"encrypted {what}: password required")
    return load(io.BytesIO(data))


def parse_odt(data: bytes, options: LoadOptions) -> ParsedDocument:
    what = "OpenDocument text"
    with reading(what):
        document = open_odf(data, options, what)
        walker = _TextWalker(_page_break_styles(document), _title_styles(document))
        walker.paged = bool(walker.breaking) or bool(document.text.getElementsByType(SoftPageBreak))
        walker.walk(document.text)
        title = _meta_title(document)
    return ParsedDocument(title or walker.trail.first or "", list(walker.sections))


def parse_odp(data: bytes, options: LoadOptions) -> ParsedDocument:
    what = "OpenDocument presentation"
    sections = SectionList()
    first_title = ""
    with reading(what):
        document = open_odf(data, options, what)
        slides = [n for n in document.presentation.childNodes if n.qname == (DRAWNS, "page")]
        for number, slide in enumerate(slides, start=1):
            title = _slide_title(slide)
            first_title = first_title or title
            _slide(slide, (title,) if title else (), Locator("slide", str(number)), sections)
        title = _meta_title(document)
    return ParsedDocument(title or first_title, list(sections))


def ods_sheets(data: bytes, options: LoadOptions) -> Iterator[tuple[str, Iterator[Row]]]:
    """Each sheet's name and its rows (1-based row number, displayed cell texts)."""
    document = open_odf(data, options, "OpenDocument spreadsheet")
    for table in document.spreadsheet.getElementsByType(Table):
        yield str(table.getAttrNS(TABLENS, "name") or ""), _ods_rows(table)


def _ods_rows(table: Any) -> Iterator[Row]:
    number = 0
    for row in _descendants(table, (TABLENS, "table-row")):
        cells = _ods_cells(row)
        repeat = int(row.getAttrNS(TABLENS, "number-rows-repeated") or 1)
        if not any(cells):  # blank rows (LibreOffice writes a million of them as one)
            number += repeat
            continue
        for _ in range(min(repeat, MAX_REPEAT)):
            number += 1
            yield number, cells
        number += max(repeat - MAX_REPEAT, 0)


def _ods_cells(row: Any) -> list[str]:
    cells: list[str] = []
    for cell in row.childNodes:
        if cell.qname not in ((TABLENS, "table-cell"), (TABLENS, "covered-table-cell")):
            continue
        paragraphs = [p for p in cell.childNodes if p.qname == (TEXTNS, "p")]
        text = "\n".join(teletype.extractText(p) for p in paragraphs)
        repeat = int(cell.getAttrNS(TABLENS, "number-columns-repeated") or 1)
        cells.extend([squash(text)] * min(repeat, MAX_REPEAT if text.strip() else MAX_COLUMNS))
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _descendants(element: Any, qname: tuple[str, str]) -> Iterator[Any]:
    """Elements named `qname` under `element` (header rows, row groups), not inside them."""
    for child in element.childNodes:
        if getattr(child, "qname", None) == qname:
            yield child
        elif getattr(child, "childNodes", None):
            yield from _descendants(child, qname)


def _page_break_styles(document: Any) -> set[str]:
    """Names of the paragraph styles that start a new page."""
    names: set[str] = set()
    for style in document.automaticstyles.childNodes + document.styles.childNodes:
        for properties in getattr(style, "childNodes", []):
            if properties.qname == (STYLENS, "paragraph-properties") and (
                properties.getAttrNS(FONS, "break-before") == "page"
            ):
                names.add(str(style.getAttrNS(STYLENS, "name")))
    return names


def _title_styles(document: Any) -> set[str]:
    """ "Title" and the automatic styles derived from it."""
    names = {"Title"}
    for style in document.automaticstyles.childNodes:
        if getattr(style, "qname", None) == (STYLENS, "style") and (
            style.getAttrNS(STYLENS, "parent-style-name") == "Title"
        ):
            names.add(str(style.getAttrNS(STYLENS, "name")))
    return names


class _TextWalker:
    def __init__(self, breaking: set[str], titles: set[str]) -> None:
        self.breaking = breaking
        self.titles = titles
        self.paged = False
        self.page = 1
        self.trail = HeadingTrail()
        self.sections = SectionList()

    def locator(self) -> Locator | None:
        return page_locator(self.page) if self.paged else None

    def walk(self, element: Any) -> None:
        for child in element.childNodes:
            name = getattr(child, "qname", None)
            if name is None or name in _SKIP:
                continue
            style = str(child.getAttrNS(TEXTNS, "style-name") or "")
            if style in self.breaking and self.sections:  # a break before any text is no page
                self.page += 1
            level = self.heading_level(child, name, style)
            if name == _PAGE_BREAK:
                self.page += 1
            elif level is not None:
                self.trail.enter(level, teletype.extractText(child))
            elif name == (TEXTNS, "p"):
                text = squash(teletype.extractText(child))
                self.sections.add(text, self.trail.path, locator=self.locator())
            elif name == (TEXTNS, "list"):
                text = "\n".join(_list_lines(child, 0))
                self.sections.add(text, self.trail.path, locator=self.locator())
            elif name == (TABLENS, "table"):
                self.sections.add(_table_text(child), self.trail.path, "table", self.locator())
            else:
                self.walk(child)
            if name in ((TEXTNS, "h"), (TEXTNS, "p")):  # a page that began inside it
                self.page += _breaks_inside(child)

    def heading_level(self, element: Any, name: tuple[str, str], style: str) -> int | None:
        """The outline level of a heading (0 for a "Title" paragraph), None for the rest."""
        if name == (TEXTNS, "p") and style in self.titles:
            return 0
        if name == (TEXTNS, "h"):
            return int(element.getAttrNS(TEXTNS, "outline-level") or 1)
        return None


def _breaks_inside(element: Any) -> int:
    return len(element.getElementsByType(SoftPageBreak))


def _list_lines(element: Any, depth: int) -> list[str]:
    lines: list[str] = []
    for item in element.childNodes:
        if getattr(item, "qname", None) not in ((TEXTNS, "list-item"), (TEXTNS, "list-header")):
            continue
        for child in item.childNodes:
            if child.qname == (TEXTNS, "list"):
                lines.extend(_list_lines(child, depth + 1))
            elif text := squash(teletype.extractText(child)):
                lines.append(f"{'  ' * depth}- {text}")
    return lines


def _table_text(table: Any) -> str:
    rows = [_ods_cells(row) for row in _descendants(table, (TABLENS, "table-row"))]
    return pipe_table(rows)


def _slide(slide: Any, headings: tuple[str, ...], locator: Locator, out: SectionList) -> None:
    for frame in slide.childNodes:
        name = getattr(frame, "qname", None)
        if name == (PRESENTATIONNS, "notes"):
            notes = "\n".join(_texts(frame))
            out.add(notes, (*headings, NOTES), locator=locator)
        elif name and frame.getAttrNS(PRESENTATIONNS, "class") not in ("title", *_FIELDS):
            for table in _descendants(frame, (TABLENS, "table")):
                out.add(_table_text(table), headings, "table", locator)
            out.add("\n".join(_texts(frame)), headings, locator=locator)


def _texts(element: Any) -> Iterator[str]:
    """Paragraph texts under `element`, tables and images left out."""
    for child in element.childNodes:
        name = getattr(child, "qname", None)
        if name and child.getAttrNS(PRESENTATIONNS, "class") in _FIELDS:
            continue
        if name in ((TEXTNS, "p"), (TEXTNS, "h")):
            if text := squash(teletype.extractText(child)):
                yield text
        elif name not in (None, (TABLENS, "table"), (DRAWNS, "image")):
            yield from _texts(child)


def _slide_title(slide: Any) -> str:
    for frame in slide.childNodes:
        if getattr(frame, "qname", None) and frame.getAttrNS(PRESENTATIONNS, "class") == "title":
            return " ".join(_texts(frame))
    return ""


def _meta_title(document: Any) -> str:
    titles = [n for n in document.meta.childNodes if n.qname == (DCNS, "title")]
    return squash(teletype.extractText(titles[0])) if titles else ""
