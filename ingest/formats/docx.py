"""Word (.docx) via python-docx: heading styles give the heading path; paragraphs, lists
and tables (as tables) in document order.

Pages are known only where the file records them: Word writes a marker where each page
began when it last laid the document out (w:lastRenderedPageBreak); other producers
write only explicit page breaks. Either one gives a page locator; a file with neither
has none (its heading path still places every passage).
"""

import io
import re
from typing import Any

import docx
from docx.document import Document
from docx.text.paragraph import Paragraph

from ingest.document import LoadOptions, ParsedDocument
from ingest.formats.common import HeadingTrail, SectionList, pipe_table, reading, squash
from ingest.formats.containers import open_zip
from kb.types import Locator, page_locator

WHAT = "Word document"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEADING_STYLE = re.compile(r"^heading (\d)$", re.IGNORECASE)


def parse_docx(data: bytes, options: LoadOptions) -> ParsedDocument:
    open_zip(data, options.max_bytes, WHAT)
    with reading(WHAT):
        document = docx.Document(io.BytesIO(data))
        walker = _Walker(document)
        walker.walk()
        title = squash(document.core_properties.title or "")
    return ParsedDocument(title or walker.first_title or walker.trail.first or "", walker.sections)


class _Walker:
    def __init__(self, document: Document) -> None:
        self.document = document
        element: Any = document.element
        self.body: Any = element.body
        self.trail = HeadingTrail()
        self.sections = SectionList()
        self.list_lines: list[str] = []
        self.first_title: str | None = None
        self.rendered = bool(self.body.xpath(".//w:lastRenderedPageBreak"))
        self.paged = self.rendered or bool(
            self.body.xpath('.//w:br[@w:type="page"] | .//w:pageBreakBefore')
        )
        self.page = 1

    def walk(self) -> None:
        for child in self.body.iterchildren():
            if child.tag == f"{_W}p":
                self.paragraph(child)
            elif child.tag == f"{_W}tbl":
                self.flush_list()
                rows = _table_rows(child)
                self.sections.add(pipe_table(rows), self.trail.path, "table", self.locator())
        self.flush_list()

    def locator(self) -> Locator | None:
        return page_locator(self.page) if self.paged else None

    def paragraph(self, element: Any) -> None:
        before, after = self.breaks(element)
        self.page += before
        paragraph = Paragraph(element, self.document)
        text = paragraph.text.strip()
        style = paragraph.style.name if paragraph.style is not None else ""
        heading = _HEADING_STYLE.match(style or "")
        if text and (heading or style == "Title"):
            self.flush_list()
            self.trail.enter(int(heading.group(1)) if heading else 0, text)
            if not heading:
                self.first_title = self.first_title or squash(text)
        elif text and _is_list_item(element, style or ""):
            self.list_lines.append("  " * _list_level(element, style or "") + "- " + squash(text))
        elif text:
            self.flush_list()
            self.sections.add(text, self.trail.path, locator=self.locator())
        self.page += after

    def breaks(self, paragraph: Any) -> tuple[int, int]:
        """Page breaks (before the paragraph's first text, after it)."""
        before = after = 0
        seen_text = False
        for element in paragraph.iter():
            if element.tag == f"{_W}t" and element.text:
                seen_text = True
            elif self.is_break(element):
                if seen_text:
                    after += 1
                else:
                    before += 1
        return before, after

    def is_break(self, element: Any) -> bool:
        tag: str = element.tag
        if self.rendered:
            return tag == f"{_W}lastRenderedPageBreak"
        page_break = tag == f"{_W}br" and element.get(f"{_W}type") == "page"
        return page_break or tag == f"{_W}pageBreakBefore"

    def flush_list(self) -> None:
        if self.list_lines:
            self.sections.add("\n".join(self.list_lines), self.trail.path, locator=self.locator())
            self.list_lines = []


def _is_list_item(paragraph: Any, style: str) -> bool:
    return style.lower().startswith("list") or bool(paragraph.xpath("./w:pPr/w:numPr"))


def _list_level(paragraph: Any, style: str) -> int:
    """Nesting from the numbering level, else from the style ("List Bullet 2" is level 1)."""
    levels = paragraph.xpath("./w:pPr/w:numPr/w:ilvl/@w:val")
    if levels and str(levels[0]).isdigit():
        return int(levels[0])
    last = style.rsplit(" ", 1)[-1]
    return int(last) - 1 if last.isdigit() and int(last) > 0 else 0


def _table_rows(table: Any) -> list[list[str]]:
    """Cell texts row by row (a merged cell once; a cell continuing a vertical merge is
    empty); nested tables are read as part of their cell."""
    return [
        [_text(cell) for cell in row.iterchildren(f"{_W}tc")]
        for row in table.iterchildren(f"{_W}tr")
    ]


def _text(cell: Any) -> str:
    paragraphs = ("".join(t.text or "" for t in p.iter(f"{_W}t")) for p in cell.iter(f"{_W}p"))
    return squash(" ".join(paragraphs))
