"""EPUB via ebooklib: the spine's documents in reading order, each a chapter (locator
"chapter N", counting the documents that have text), parsed as HTML for its headings."""

import io
import warnings

from ebooklib import ITEM_DOCUMENT, epub

from ingest.document import LoadOptions, ParsedDocument, Section
from ingest.formats.common import placed, reading, squash
from ingest.formats.containers import open_zip
from ingest.formats.html import parse_html
from ingest.formats.text import decode_text
from kb.types import Locator

WHAT = "EPUB e-book"


def parse_epub(data: bytes, options: LoadOptions) -> ParsedDocument:
    open_zip(data, options.max_bytes, WHAT)
    sections: list[Section] = []
    with reading(WHAT), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ebooklib warns about its own future defaults
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
        chapter = 0
        for item_id, _ in book.spine:
            item = book.get_item_with_id(item_id)
            if item is None or item.get_type() != ITEM_DOCUMENT or not item.is_chapter():
                continue  # the navigation document repeats the table of contents
            document = parse_html(decode_text(item.get_content()))
            if document.sections:
                chapter += 1
                sections.extend(placed(document, (), Locator("chapter", str(chapter))))
        titles = book.get_metadata("DC", "title")
    return ParsedDocument(squash(str(titles[0][0])) if titles else "", sections)
