"""Find the files of a docs folder that can be indexed, and say why the others are not."""

import os
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import SUPPORTED_SUFFIXES


@dataclass(frozen=True)
class FoundFile:
    path: str  # relative to the root, with forward slashes
    absolute: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skip:
    path: str
    reason: str


def scan(root: Path, max_bytes: int) -> tuple[list[FoundFile], list[Skip]]:
    found: list[FoundFile] = []
    skips: list[Skip] = []
    for folder, subfolders, files in os.walk(root, onerror=None):
        folder_path = Path(folder)
        hidden = [name for name in subfolders if name.startswith(".")]
        for name in hidden:
            skips.append(Skip(_relative(folder_path / name, root) + "/", "hidden folder"))
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            absolute = folder_path / name
            relative = _relative(absolute, root)
            reason = _skip_reason(absolute, max_bytes)
            if reason:
                skips.append(Skip(relative, reason))
                continue
            stat = absolute.stat()
            found.append(FoundFile(relative, absolute, stat.st_size, stat.st_mtime_ns))
    return found, skips


def _skip_reason(path: Path, max_bytes: int) -> str | None:
    if path.name.startswith("."):
        return "hidden file"
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"unsupported file type {path.suffix or '(no extension)'}"
    if not path.is_file():
        return "not a regular file"
    size = path.stat().st_size
    if size > max_bytes:
        return f"larger than KB_MAX_FILE_MB ({size / 2**20:.1f} MB > {max_bytes / 2**20:g} MB)"
    return None


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
