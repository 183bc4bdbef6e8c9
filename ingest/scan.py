"""Find the files of a docs folder that can be indexed, and say why the others are not.

Symbolic links are followed only to files inside the folder: a link to /etc/hostname in a
shared folder must not put that file in the index. Links to folders are never followed
(no loops, no file indexed twice). A name that is not valid UTF-8 cannot be stored or
shown as it is, so that file fails on its own, named with its odd bytes escaped.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import SUPPORTED_SUFFIXES


@dataclass(frozen=True)
class FoundFile:
    path: str  # relative to the root, with forward slashes
    absolute: Path  # the file itself, links resolved
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skip:
    path: str
    reason: str


@dataclass(frozen=True)
class Failure:
    path: str
    error: str


def scan(root: Path, max_bytes: int) -> tuple[list[FoundFile], list[Skip], list[Failure]]:
    root = root.resolve()
    found: list[FoundFile] = []
    skips: list[Skip] = []
    failures: list[Failure] = []
    for folder, subfolders, files in os.walk(root):
        folder_path = Path(folder)
        kept: list[str] = []
        for name in sorted(subfolders):
            reason = _folder_skip_reason(folder_path / name, root)
            if reason:
                skips.append(Skip(display_path(_relative(folder_path / name, root)) + "/", reason))
            else:
                kept.append(name)
        subfolders[:] = kept
        for name in sorted(files):
            outcome = _classify(folder_path / name, root, max_bytes)
            if isinstance(outcome, FoundFile):
                found.append(outcome)
            elif isinstance(outcome, Skip):
                skips.append(outcome)
            else:
                failures.append(outcome)
    return found, skips, failures


def _classify(path: Path, root: Path, max_bytes: int) -> FoundFile | Skip | Failure:
    relative = _relative(path, root)
    reason = _skip_reason(path, root, max_bytes)
    if reason:
        return Skip(display_path(relative), reason)
    if not is_utf8(relative):
        error = "file name is not valid UTF-8: rename the file to index it"
        return Failure(display_path(relative), error)
    target = path.resolve()
    stat = target.stat()
    return FoundFile(relative, target, stat.st_size, stat.st_mtime_ns)


def is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by Python as lone surrogates
        return False
    return True


def display_path(name: str) -> str:
    """`name` with the bytes that are not UTF-8 written as \\xNN escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _folder_skip_reason(path: Path, root: Path) -> str | None:
    if path.name.startswith("."):
        return "hidden folder"
    if path.is_symlink():
        if not path.resolve().is_relative_to(root):
            return "link to a folder outside the ingested folder (not followed)"
        return "link to a folder (not followed; its files are indexed where they are)"
    return None


def _skip_reason(path: Path, root: Path, max_bytes: int) -> str | None:
    if path.name.startswith("."):
        return "hidden file"
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"unsupported file type {display_path(path.suffix) or '(no extension)'}"
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        return "link to a file outside the ingested folder (not followed)"
    if not path.is_file():
        return "not a regular file"
    size = path.stat().st_size
    if size > max_bytes:
        return f"larger than KB_MAX_FILE_MB ({size / 2**20:.1f} MB > {max_bytes / 2**20:g} MB)"
    return None


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
