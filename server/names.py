"""File names from the outside world (uploads, attachments) made safe to store, by one rule:
each path component NFC-normalised, whitespace as single spaces, without control or bidi
characters, without what Windows refuses, without leading or trailing dots (no `.`, `..`
or hidden names) and at most MAX_NAME_BYTES long, its suffix kept."""

import os
import re
import unicodedata

MAX_NAME_BYTES = 120  # per component, in UTF-8: well under every file system's 255 bytes
UNSAFE = re.compile(r'[<>:"|?*]')
SEPARATORS = re.compile(r"[/\\]+")


def safe_parts(name: str) -> list[str]:
    """The components of `name` (a file name or a relative path, `/` or `\\` separated)
    that are left once cleaned; empty ones are dropped."""
    return [part for part in map(safe_part, SEPARATORS.split(name)) if part]


def safe_part(part: str) -> str:
    part = unicodedata.normalize("NFC", part)
    part = "".join(" " if ch.isspace() else ch for ch in part if ch.isspace() or ch.isprintable())
    part = " ".join(UNSAFE.sub("_", part).split()).strip(" .")
    return _shorten(part)


def _shorten(part: str) -> str:
    if len(part.encode()) <= MAX_NAME_BYTES:
        return part
    stem, suffix = os.path.splitext(part)
    suffix = suffix if len(suffix.encode()) <= 16 else ""
    room = MAX_NAME_BYTES - len(suffix.encode())
    return stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .") + suffix
