"""Office, OpenDocument and EPUB files are zip containers: open them safely.

Before any parser sees a container, its decompressed size is checked against
KB_MAX_FILE_MB (a zip bomb is refused from the listing alone, and zipfile never returns
more bytes than an entry declares), and a file whose content is not a zip gets a reason
that says what it really is.
"""

import io
import zipfile

from ingest.document import LoadError

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: legacy Office, or encrypted OOXML
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_MAGIC: list[tuple[bytes, str]] = [
    (b"%PDF", "a PDF"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"{\\rtf", "an RTF document"),
    (b"<?xml", "an XML file"),
    (b"<!DOCTYPE html", "an HTML page"),
    (b"<html", "an HTML page"),
]


def open_zip(data: bytes, max_bytes: int, what: str) -> zipfile.ZipFile:
    """The zip container of a `what` ("Word document"), or a LoadError saying why not."""
    if not data.startswith(b"PK"):
        raise LoadError(_not_a_zip(data, what))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise LoadError(f"corrupt or truncated {what} (bad zip: {error})") from error
    size = sum(entry.file_size for entry in entries)
    if size > max_bytes:
        raise LoadError(
            f"{what} decompresses to {size / 2**20:,.0f} MB, over KB_MAX_FILE_MB "
            f"({max_bytes / 2**20:g} MB): not opened (a zip bomb?)"
        )
    if any(entry.flag_bits & 0x1 for entry in entries):
        raise LoadError(f"encrypted {what}: password required")
    return archive


def _not_a_zip(data: bytes, what: str) -> str:
    if data.startswith(_OLE2):
        if _ENCRYPTED_PACKAGE in data:
            return f"encrypted {what}: password required"
        return f"legacy binary Office file, not a {what}: save it in the current format"
    head = data[:64].lstrip().lower()
    actual = next((name for magic, name in _MAGIC if head.startswith(magic.lower())), None)
    if actual:
        return f"the file is {actual}, not a {what} (wrong file extension?)"
    return f"not a {what}: the file is not a zip container (corrupt or wrong extension?)"
