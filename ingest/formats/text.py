"""Bytes to text for the text formats, and plain-text paragraphs."""

import codecs
import re

import charset_normalizer

from ingest.document import LoadError, ParsedDocument, Section
from ingest.formats.common import tidy_lines

# Bytes that never occur in text: C0 controls other than tab, newlines, form feed, escape.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f\x1b") + b"\x7f"
_TEXT_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
# cp1252 is by far the commonest legacy encoding; short samples give the detector too little
# signal to tell it from its cousins (it guesses cp1125 for "café – naïve").
_CHAOS_MARGIN = 0.1


def decode_text(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data or len(data.translate(None, _TEXT_BYTES)) > 0.02 * len(data):
        raise LoadError("binary file, not text (wrong file extension?)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _guess_decode(data)


def _guess_decode(data: bytes) -> str:
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        raise LoadError("binary file, not text (no known text encoding fits)")
    best = matches[0]
    for match in matches:
        close = match.chaos <= best.chaos + _CHAOS_MARGIN
        if close and "cp1252" in match.could_be_from_charset:
            return data.decode("cp1252", errors="replace")
    return str(best)


def text_sections(text: str) -> list[Section]:
    """Paragraphs split on blank lines; line breaks inside a paragraph are kept."""
    blocks = (tidy_lines(block) for block in _BLANK_LINES.split(text.replace("\r\n", "\n")))
    return [Section(block) for block in blocks if block]


def parse_text(text: str) -> ParsedDocument:
    return ParsedDocument("", text_sections(text))
