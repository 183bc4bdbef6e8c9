"""E-mail (.eml) and mailboxes (.mbox) with the standard `email` package.

Each message is one locator, "subject (date)"; its From, To, Cc and Date are kept as a
first passage (searchable, and shown with the text); the plain-text body is preferred
to the HTML one; attachments of supported types are read as part of the message, under
a heading of their file name. Attachments are not read recursively (no mail in mail).
"""

import email
import re
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

from ingest.document import LoadError, LoadOptions, ParsedDocument, Section
from ingest.formats.common import placed, squash
from ingest.formats.html import parse_html
from ingest.formats.text import text_sections
from kb.types import Locator

# Reads one attachment (file name, bytes) as a document, or None when it cannot be read.
AttachmentReader = Callable[[str, bytes, LoadOptions], ParsedDocument | None]
_MBOX_SEPARATOR = re.compile(rb"(?:\A|(?<=\n\n)|(?<=\r\n\r\n))From [^\n]*\n")
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
_ADDRESSES = ("from", "to", "cc", "date")
NO_SUBJECT = "(no subject)"


def parse_eml(data: bytes, options: LoadOptions, read: AttachmentReader) -> ParsedDocument:
    message = _message(data)
    if not any(message.get(name) for name in (*_ADDRESSES, "subject")):
        raise LoadError("not an e-mail message: no From, To, Subject or Date header")
    return ParsedDocument(_subject(message), message_sections(message, options, read))


def parse_mbox(data: bytes, options: LoadOptions, read: AttachmentReader) -> ParsedDocument:
    parts = [part for part in _MBOX_SEPARATOR.split(data) if part.strip()]
    if not _MBOX_SEPARATOR.match(data.lstrip(b"\r\n")):
        raise LoadError("not a mailbox: an mbox file starts with a 'From ' line")
    sections: list[Section] = []
    for part in parts:
        sections.extend(message_sections(_message(_ESCAPED_FROM.sub(rb"\1", part)), options, read))
    return ParsedDocument("", sections)


def _message(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default always builds
    return message


def message_sections(
    message: EmailMessage, options: LoadOptions, read: AttachmentReader
) -> list[Section]:
    subject = _subject(message)
    locator = Locator("message", f"{subject} ({_date(message)})" if _date(message) else subject)
    headings = (subject,)
    fields = [(name, message.get(name)) for name in _ADDRESSES]
    header = "\n".join(f"{name.title()}: {squash(str(value))}" for name, value in fields if value)
    sections = [Section(header, headings, locator)]
    body = message.get_body(preferencelist=("plain", "html"))
    if isinstance(body, EmailMessage):
        sections.extend(placed(_body(body), headings, locator))
    for attachment in message.iter_attachments():
        name = attachment.get_filename()
        payload = attachment.get_payload(decode=True)
        if name and isinstance(payload, bytes):
            document = read(name, payload, options)
            if document is not None:
                sections.extend(placed(document, (*headings, name), locator))
    return [section for section in sections if section.text.strip()]


def _body(part: EmailMessage) -> ParsedDocument:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read the bytes leniently
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else ""
    text = content if isinstance(content, str) else ""
    if part.get_content_subtype() == "html":
        return parse_html(text)
    return ParsedDocument("", text_sections(text))


def _subject(message: EmailMessage) -> str:
    return squash(str(message.get("subject") or "")) or NO_SUBJECT


def _date(message: EmailMessage) -> str:
    raw = message.get("date")
    if not raw:
        return ""
    try:
        return parsedate_to_datetime(str(raw)).date().isoformat()
    except (TypeError, ValueError):
        return squash(str(raw))
