"""Files uploaded in the browser, stored under `<data dir>/uploads/<collection>/`.

Each collection's upload folder is an ingest root of its own, synced by a job
(server/syncs.py). Names are sanitised component by component (server/names.py), so nothing
is ever written outside that folder. A file is first written whole to `uploads/.partial/`
and then linked into place under its final name: a sync never reads half a file, and of
two uploads of one name neither overwrites the other (the second is `name (1).ext`).
"""

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

from ingest.loaders import SUPPORTED_SUFFIXES
from kb.collections import check_collection, is_scratch
from kb.errors import KBError
from server.errors import HTTPError
from server.names import safe_parts

MAX_DEPTH = 8  # sub-folders kept from a folder upload


def upload_collection(name: str) -> str:
    """`name` as the folder of a collection's uploads: a valid, listed collection name
    that is not "." or ".." (both valid names, neither a folder of its own)."""
    try:
        check_collection(name)
    except KBError as error:
        raise HTTPError(400, str(error)) from None
    if is_scratch(name) or name.strip(".") == "":
        raise HTTPError(400, f"uploads cannot go into the collection {name!r}")
    return name


def safe_path(name: str) -> str:
    """`name` (a file name, or a relative path from a folder upload) as a relative path that
    stays inside the folder it is stored in."""
    kept = safe_parts(name)
    if not kept:
        raise HTTPError(400, "the file name is empty once unsafe characters are removed")
    return "/".join([*kept[:-1][-MAX_DEPTH:], kept[-1]])


def check_type(path: str) -> None:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"{suffix} files" if suffix else "files without an extension"
        raise HTTPError(415, f"{PurePosixPath(path).name}: {kind} cannot be indexed")


class UploadFolder:
    """Where uploads are stored: one folder per collection, written only through here."""

    def __init__(self, data_dir: Path, max_bytes: int) -> None:
        self.root = (data_dir / "uploads").resolve()
        self.max_bytes = max_bytes
        self._partial = self.root / ".partial"

    def folder(self, collection: str) -> Path:
        return self.root / upload_collection(collection)

    def holds(self, root: str) -> bool:
        """Whether an ingested root is one of the upload folders (the server owns its files)."""
        return Path(root).parent == self.root

    def too_large(self, size: int) -> HTTPError:
        limit = self.max_bytes / 2**20
        return HTTPError(
            413, f"the file is {size / 2**20:.1f} MB; the limit is {limit:g} MB (KB_MAX_FILE_MB)"
        )

    async def store(
        self, collection: str, name: str, body: AsyncIterator[bytes]
    ) -> tuple[str, int]:
        """Write `body` to the collection's folder; (the path it got there, its size)."""
        path = safe_path(name)
        check_type(path)
        self._partial.mkdir(parents=True, exist_ok=True)
        partial = self._partial / uuid.uuid4().hex
        size = 0
        try:
            with partial.open("wb") as out:
                async for part in body:
                    size += len(part)
                    if size > self.max_bytes:
                        raise self.too_large(size)
                    out.write(part)
            return self._place(partial, self.folder(collection), path), size
        finally:
            partial.unlink(missing_ok=True)

    def remove(self, root: str, path: str) -> None:
        folder = Path(root).resolve()
        target = (folder / path).resolve()
        if not self.holds(str(folder)) or not target.is_relative_to(folder):
            raise HTTPError(400, f"{path} is not an uploaded file")
        target.unlink(missing_ok=True)

    def _place(self, partial: Path, folder: Path, path: str) -> str:
        """Link `partial` into `folder` as `path`, or `stem (n).ext` when that name is taken."""
        relative = PurePosixPath(path)
        parent = folder / relative.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HTTPError(409, f"cannot store {path}: {error.strerror}") from None
        if not parent.resolve().is_relative_to(folder.resolve()):  # never, with safe_path
            raise HTTPError(400, f"{path} would be stored outside the upload folder")
        for n in range(10_000):
            name = relative.name if n == 0 else f"{relative.stem} ({n}){relative.suffix}"
            try:
                os.link(partial, parent / name)
            except FileExistsError:
                continue
            return (relative.parent / name).as_posix()
        raise HTTPError(409, f"too many files named {relative.name}")
