"""Bytes of a file -> ParsedDocument, dispatched on the file suffix.

Every failure a user can cause (wrong extension, encrypted or corrupt PDF, empty file)
is a LoadError whose message says why the file was not indexed.
"""

from collections.abc import Callable
from pathlib import Path

from ingest.document import LoadError, ParsedDocument
from ingest.formats.common import short_title
from ingest.formats.html import parse_html
from ingest.formats.markdown import parse_markdown
from ingest.formats.pdf import parse_pdf
from ingest.formats.rst import parse_rst
from ingest.formats.text import decode_text, text_sections

_TEXT_PARSERS: dict[str, Callable[[str], ParsedDocument]] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".rst": parse_rst,
    ".html": parse_html,
    ".htm": parse_html,
    ".txt": lambda text: ParsedDocument("", text_sections(text)),
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset({*_TEXT_PARSERS, ".pdf"})


def load_document(path: Path, data: bytes) -> ParsedDocument:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type {suffix or '(none)'}")
    if not data.strip():
        raise LoadError("no text: the file is empty")
    parse = _TEXT_PARSERS.get(suffix)
    try:
        document = parse(decode_text(data)) if parse else parse_pdf(data)
    except RecursionError as error:
        raise LoadError("structure nested too deeply to parse") from error
    if not document.sections:
        raise LoadError("no text to index after parsing")
    document.title = short_title(document.title) or fallback_title(path)
    return document


def fallback_title(path: Path) -> str:
    """The file name without its suffix: "2023 Q1 AAPL.pdf" -> "2023 Q1 AAPL"."""
    return path.stem or path.name
