"""Chat attachments: ChatKit's two-phase upload and the files it writes.

`attachments.create` checks the name, type and size the browser declares, before a byte
is sent, and answers with an upload URL on this server (`POST /api/attachments/{id}/upload`,
behind the same auth as the rest of the API). The upload streams into a file under
`<data>/attachments` only, with a name cleaned of folders, control characters and overlong
parts. Every look-up goes through the chat store keyed by the RequestContext user: another
user's attachment is not found (404), never read, replaced, deleted or sent.

Until its message is sent a file lives in `uploads/<user>/<id>/`; sending moves it into the
thread's scratch folder (server.scratch), and it is deleted with its thread.
"""

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from chatkit.store import AttachmentStore
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
)
from pydantic import AnyUrl

from ingest.loaders import SUPPORTED_SUFFIXES
from server.context import RequestContext
from server.names import safe_parts
from server.preflight import RequestRefused
from server.store import SQLStore


def user_key(user_id: str) -> str:
    """A user's folder and collection part: any user id becomes 16 safe characters."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def safe_name(name: str) -> str:
    """The last part of `name`, cleaned as every stored name is (server/names.py), its
    suffix in lower case; raises RequestRefused (415) for a type the loaders cannot read."""
    parts = safe_parts(name)
    stem, suffix = os.path.splitext(parts[-1] if parts else "")
    suffix = suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        shown = suffix or "(no extension)"
        raise RequestRefused(415, f"{shown} files cannot be attached; attach one of {kinds}")
    return (stem or "attachment") + suffix


class AttachmentFiles(AttachmentStore[RequestContext]):
    """The attachment half of ChatKit: records in the chat store, bytes under `root`."""

    def __init__(self, root: Path, store: SQLStore, max_bytes: int) -> None:
        self.root = root
        self.store = store
        self.max_bytes = max_bytes

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return f"atc_{uuid.uuid4().hex}"  # unguessable, though every look-up is per user

    async def create(
        self, params: AttachmentCreateParams, context: RequestContext, origin: str
    ) -> Attachment:
        """A pending attachment whose upload URL is on `origin` (where the browser asked)."""
        name = safe_name(params.name)
        if params.size <= 0:
            raise RequestRefused(400, f"{name} is empty: there is nothing to attach")
        if params.size > self.max_bytes:
            raise RequestRefused(413, f"{name} is {_mb(params.size)}: {self.limit}")
        attachment_id = self.generate_attachment_id(params.mime_type, context)
        folder = Path("uploads", user_key(context.user_id), attachment_id)
        url = f"{origin.rstrip('/')}/api/attachments/{attachment_id}/upload"
        attachment = FileAttachment(
            id=attachment_id,
            name=name,
            mime_type=params.mime_type[:255],
            upload_descriptor=AttachmentUploadDescriptor(url=AnyUrl(url), method="POST"),
            metadata={"path": (folder / name).as_posix(), "size": params.size},
        )
        await self.store.save_attachment(attachment, context)
        return attachment

    @property
    def limit(self) -> str:
        return f"attachments may be at most {_mb(self.max_bytes)} (KB_ATTACHMENT_MAX_MB)"

    async def upload(
        self, attachment_id: str, body: AsyncIterator[bytes], context: RequestContext
    ) -> Attachment:
        """Writes the bytes of a pending attachment; the declared size is the most taken."""
        attachment = await self.store.load_attachment(attachment_id, context)  # NotFound: 404
        if attachment.upload_descriptor is None:
            raise RequestRefused(409, f"{attachment.name} is already uploaded")
        declared = int(_meta(attachment)["size"])
        target = self.path(attachment)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{uuid.uuid4().hex}.part")  # never one a sync reads
        try:
            written = await _write(partial, body, declared)
            if written != declared:
                message = f"{attachment.name}: got {written} bytes of the {declared} announced"
                raise RequestRefused(400, message)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        done = attachment.model_copy(update={"upload_descriptor": None})
        await self.store.save_attachment(done, context)
        return done

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        """Removes an unsent attachment's file (the ChatKit server then drops its record)."""
        attachment = await self.store.load_attachment(attachment_id, context)  # NotFound: 404
        if attachment.thread_id is not None:
            raise RequestRefused(409, f"{attachment.name} was sent: it goes with its thread")
        path = self.path(attachment)
        path.unlink(missing_ok=True)
        for folder in (path.parent, path.parent.parent):
            if folder != self.root and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def path(self, attachment: Attachment) -> Path:
        """Where the attachment's bytes are; always inside `root`."""
        relative = Path(str(_meta(attachment)["path"]))
        path = (self.root / relative).resolve()
        if relative.is_absolute() or not path.is_relative_to(self.root.resolve()):
            raise RequestRefused(400, f"attachment {attachment.id} has no valid file")
        return path

    def moved(self, attachment: Attachment, path: Path) -> Attachment:
        relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        return attachment.model_copy(update={"metadata": {**_meta(attachment), "path": relative}})


async def _write(path: Path, body: AsyncIterator[bytes], most: int) -> int:
    written = 0
    with path.open("wb") as handle:
        async for part in body:
            written += len(part)
            if written > most:
                raise RequestRefused(413, f"the upload is larger than the {most} bytes announced")
            handle.write(part)
    return written


def _meta(attachment: Attachment) -> dict[str, Any]:
    return attachment.metadata or {}


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"
