"""Collection names: the unit documents are grouped, listed and granted by."""

import re

from kb.errors import KBError

DEFAULT_COLLECTION = "default"
# Per-thread attachment scratch spaces: never listed, never granted, searched only for
# their own thread.
SCRATCH_PREFIX = "thread-"
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
NAME_PATTERN = _NAME.pattern  # for request models (pydantic `pattern`)


def check_collection(name: str) -> str:
    """`name` if it is a valid collection name; a KBError saying why not otherwise."""
    if not _NAME.fullmatch(name):
        raise KBError(
            f"collection name {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-'"
        )
    return name


def is_scratch(name: str) -> bool:
    return name.startswith(SCRATCH_PREFIX)
