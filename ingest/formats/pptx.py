"""PowerPoint (.pptx) via python-pptx: one locator per slide, the slide title as its
heading, text boxes and tables in shape order, then the speaker notes."""

import io
from collections.abc import Iterable, Iterator
from typing import Any

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER

from ingest.document import LoadOptions, ParsedDocument
from ingest.formats.common import SectionList, pipe_table, reading, squash
from ingest.formats.containers import open_zip
from kb.types import Locator

WHAT = "PowerPoint file"
NOTES = "Speaker notes"
_TITLES = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE)


def parse_pptx(data: bytes, options: LoadOptions) -> ParsedDocument:
    open_zip(data, options.max_bytes, WHAT)
    sections = SectionList()
    with reading(WHAT):
        presentation = pptx.Presentation(io.BytesIO(data))
        first_title = ""
        for number, slide in enumerate(presentation.slides, start=1):
            title = _slide_title(slide.shapes)
            first_title = first_title or title
            _slide(slide, title, Locator("slide", str(number)), sections)
        title = squash(presentation.core_properties.title or "") or first_title
    return ParsedDocument(title, list(sections))


def _slide(slide: Any, title: str, locator: Locator, sections: SectionList) -> None:
    headings = (title,) if title else ()
    for shape in _shapes(slide.shapes):
        if shape.has_text_frame and not _is_title(shape):
            sections.add(_frame_text(shape.text_frame), headings, locator=locator)
        elif shape.has_table:
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            sections.add(pipe_table(rows), headings, "table", locator)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None:
            sections.add(_frame_text(notes), (*headings, NOTES), locator=locator)


def _shapes(shapes: Iterable[Any]) -> Iterator[Any]:
    """Every shape, those inside groups included, top to bottom as they are stacked."""
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _is_title(shape: Any) -> bool:
    return shape.is_placeholder and shape.placeholder_format.type in _TITLES


def _slide_title(shapes: Iterable[Any]) -> str:
    for shape in _shapes(shapes):
        if shape.has_text_frame and _is_title(shape):
            return squash(shape.text_frame.text)
    return ""


def _frame_text(frame: Any) -> str:
    """One line per paragraph; indented bullet levels keep their nesting."""
    lines: list[str] = []
    for paragraph in frame.paragraphs:
        text = squash("".join(run.text for run in paragraph.runs) or paragraph.text or "")
        if text:
            lines.append(("  " * paragraph.level + "- " if paragraph.level else "") + text)
    return "\n".join(lines)
