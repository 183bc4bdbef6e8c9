"""Bytes of a file -> ParsedDocument, dispatched on the file suffix.

Every failure a user can cause (wrong extension, encrypted or corrupt file, a zip bomb,
an empty file) is a LoadError whose message says why the file was not indexed; a file
read and deliberately left out (an image without text, OCR unavailable) is a SkipFile.
"""

import importlib
from collections.abc import Callable
from pathlib import Path

from ingest.document import LoadError, LoadOptions, ParsedDocument, SkipFile
from ingest.formats.common import short_title

Parser = Callable[[bytes, LoadOptions], ParsedDocument]


def _lazy(module: str, name: str, *extra: object) -> Parser:
    """A parser imported on first use: the format libraries take a second to import, which
    an ingest with nothing to parse (and `kb search`) should not pay."""

    def parse(data: bytes, options: LoadOptions) -> ParsedDocument:
        function = getattr(importlib.import_module(f"ingest.formats.{module}"), name)
        document: ParsedDocument = function(data, options, *extra)
        return document

    return parse


def _text(module: str, name: str) -> Parser:
    def parse(data: bytes, options: LoadOptions) -> ParsedDocument:
        from ingest.formats.text import decode_text

        function = getattr(importlib.import_module(f"ingest.formats.{module}"), name)
        document: ParsedDocument = function(decode_text(data))
        return document

    return parse


def read_attachment(name: str, data: bytes, options: LoadOptions) -> ParsedDocument | None:
    """A mail attachment of a supported type as a document; None when it is of another
    type, is mail itself (never read recursively) or cannot be read."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES or suffix in _MAIL:
        return None
    try:
        return load_document(Path(name), data, options)
    except (LoadError, SkipFile):
        return None


_IMAGE = _lazy("images", "parse_image")
_PARSERS: dict[str, Parser] = {
    ".md": _text("markdown", "parse_markdown"),
    ".markdown": _text("markdown", "parse_markdown"),
    ".rst": _text("rst", "parse_rst"),
    ".html": _text("html", "parse_html"),
    ".htm": _text("html", "parse_html"),
    ".txt": _text("text", "parse_text"),
    ".ipynb": _text("notebook", "parse_notebook"),
    ".pdf": _lazy("pdf", "parse_pdf"),
    ".docx": _lazy("docx", "parse_docx"),
    ".pptx": _lazy("pptx", "parse_pptx"),
    ".odt": _lazy("odf", "parse_odt"),
    ".odp": _lazy("odf", "parse_odp"),
    ".xlsx": _lazy("sheets", "parse_xlsx"),
    ".xlsm": _lazy("sheets", "parse_xlsx"),  # macros are never run: stored values are read
    ".ods": _lazy("sheets", "parse_ods"),
    ".csv": _lazy("sheets", "parse_delimited", ","),
    ".tsv": _lazy("sheets", "parse_delimited", "\t"),
    ".epub": _lazy("epub", "parse_epub"),
    ".eml": _lazy("mail", "parse_eml", read_attachment),
    ".mbox": _lazy("mail", "parse_mbox", read_attachment),
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"), _IMAGE),
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_PARSERS)
_MAIL = frozenset({".eml", ".mbox"})


def load_document(path: Path, data: bytes, options: LoadOptions | None = None) -> ParsedDocument:
    suffix = path.suffix.lower()
    parse = _PARSERS.get(suffix)
    if parse is None:
        raise LoadError(f"unsupported file type {suffix or '(none)'}")
    if not data.strip():
        raise LoadError("no text: the file is empty")
    try:
        document = parse(data, options or LoadOptions())
    except RecursionError as error:
        raise LoadError("structure nested too deeply to parse") from error
    if not document.sections:
        raise LoadError("no text to index after parsing")
    document.title = short_title(document.title) or fallback_title(path)
    return document


def fallback_title(path: Path) -> str:
    """The file name without its suffix: "2023 Q1 AAPL.pdf" -> "2023 Q1 AAPL"."""
    return path.stem or path.name
