"""Each thread's scratch space: the files attached in it, indexed as a hidden collection.

Sending a message moves its attachments into the thread's folder,
`<data>/attachments/threads/<user>-<thread>/`, and the server's job runner (the data dir's
one writer) syncs that folder into the collection `thread-<user>-<thread>` of the same
index: the usual loaders, chunking, locators and crash safety. `search_docs` searches it
first, for that thread only. The name starts with a hash of the user, so a route can tell
whose scratch space a passage is in (`owns`). Deleting the thread empties the folder and
syncs it again, which removes its documents from the index.
"""

import asyncio
import hashlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from chatkit.errors import CustomStreamError
from chatkit.types import (
    Attachment,
    CustomTask,
    ProgressUpdateEvent,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    Workflow,
    WorkflowItem,
)

from ingest.progress import ProgressSnapshot
from ingest.report import IngestReport
from kb.collections import SCRATCH_PREFIX, is_scratch
from server.attachments import AttachmentFiles, user_key
from server.context import RequestContext
from server.jobs import FINISHED, IngestRequest, JobView
from server.syncs import Syncs

POLL_S = 0.2  # how often a waiting answer looks at its ingest job
SCRATCH_FOLDER = re.compile(r"[0-9a-f]{16}-[0-9a-f]{16}")  # scratch_name's form


def scratch_name(context: RequestContext, thread_id: str) -> str:
    thread_key = hashlib.sha256(thread_id.encode()).hexdigest()[:16]
    return f"{user_key(context.user_id)}-{thread_key}"


def scratch_collection(context: RequestContext, thread_id: str) -> str:
    return SCRATCH_PREFIX + scratch_name(context, thread_id)


def owns(context: RequestContext, collection: str) -> bool:
    """Whether `collection` is one of the caller's thread scratch spaces."""
    return collection.startswith(f"{SCRATCH_PREFIX}{user_key(context.user_id)}-")


@dataclass
class ThreadScratch:
    files: AttachmentFiles
    syncs: Syncs | None = None  # the server's job runner; without one nothing is ingested

    def folder(self, context: RequestContext, thread_id: str) -> Path:
        return self.files.root / "threads" / scratch_name(context, thread_id)

    def collection(self, context: RequestContext, thread_id: str) -> str | None:
        """The thread's scratch collection, when something was ever attached in it."""
        found = self.folder(context, thread_id).is_dir()
        return scratch_collection(context, thread_id) if found else None

    async def receive(
        self, thread: ThreadMetadata, attachments: list[Attachment], context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Moves the message's files into the thread's folder and indexes it, showing each
        file's outcome in a workflow item (kept with the thread)."""
        if self.syncs is None:
            raise CustomStreamError("Attachments are read by `kb serve` only.", allow_retry=False)
        names = [
            await self._move_in(thread.id, attachment.id, context) for attachment in attachments
        ]
        workflow = WorkflowItem(
            id=self.files.store.generate_item_id("workflow", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            workflow=Workflow(type="custom", tasks=[_reading(name) for name in names]),
        )
        yield ThreadItemAddedEvent(item=workflow)
        folder, collection = self.folder(context, thread.id), scratch_collection(context, thread.id)
        view = self.syncs.request(folder, collection)
        shown: str | None = None
        while view.state not in FINISHED:
            if (text := _progress(view, len(names))) != shown:
                shown = text
                yield ProgressUpdateEvent(icon="document", text=text)
            await asyncio.sleep(POLL_S)
            view = self.syncs.jobs.view(view.job_id) or view
        workflow.workflow.tasks = [_outcome(name, view) for name in names]
        workflow.workflow.expanded = True
        yield ThreadItemDoneEvent(item=workflow)

    async def _move_in(self, thread_id: str, attachment_id: str, context: RequestContext) -> str:
        # The record, not the message's copy: a retried turn finds the file moved already.
        attachment = await self.files.store.load_attachment(attachment_id, context)
        source = self.files.path(attachment)
        folder = self.folder(context, thread_id)
        if source.parent == folder:  # already moved (a retried turn)
            return source.name
        folder.mkdir(parents=True, exist_ok=True)
        target = _free_name(folder, attachment.name)
        await asyncio.to_thread(os.replace, source, target)
        await asyncio.to_thread(_remove_empty, source.parent, self.files.root)
        await self.files.store.save_attachment(self.files.moved(attachment, target), context)
        return target.name

    async def forget(self, thread_id: str, context: RequestContext) -> None:
        """After the thread is deleted: its files, attachment records and index entries."""
        await self.files.store.delete_thread_attachments(thread_id, context)
        folder = self.folder(context, thread_id)
        if not folder.is_dir():
            return
        await asyncio.to_thread(_empty, folder)
        if self.syncs is not None:
            self.syncs.request(folder, scratch_collection(context, thread_id))

    def resume(self) -> None:
        """At start: the folders of threads deleted while the server stopped (emptied, not
        yet synced) are synced, so their index entries go too."""
        threads = self.files.root / "threads"
        if self.syncs is None or not threads.is_dir():
            return
        for folder in threads.iterdir():
            ours = SCRATCH_FOLDER.fullmatch(folder.name)
            if ours and folder.is_dir() and not any(folder.iterdir()):
                self.syncs.request(folder, SCRATCH_PREFIX + folder.name)


def remove_if_emptied(request: IngestRequest) -> None:
    """After a sync: the emptied folder of a deleted thread goes too."""
    folder = Path(request.root)
    if is_scratch(request.collection) and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _reading(name: str) -> CustomTask:
    return CustomTask(title=f"Reading {name}", icon="document", status_indicator="loading")


def _progress(view: JobView, files: int) -> str:
    if view.state == "queued":
        return "Waiting for another indexing job to finish…"
    snapshot: ProgressSnapshot = view.progress
    if snapshot.file is not None:
        file = snapshot.file
        return f"Reading {file.path}: {file.chunks_done} of {file.chunks_total} passages"
    done = min(snapshot.files_done, files)
    return f"Reading your attachments: {done} of {files} files, {snapshot.chunks_done} passages"


def _outcome(name: str, view: JobView) -> CustomTask:
    report = view.report
    reason = view.error or _problem(name, report)
    if reason:
        title = f"Could not read {name}"
        return CustomTask(title=title, content=reason, icon="document", status_indicator="none")
    return CustomTask(title=f"Read {name}", icon="document", status_indicator="complete")


def _problem(name: str, report: IngestReport | None) -> str | None:
    if report is None:
        return "the ingest job did not finish"
    problems = {f.path: f.error for f in report.failures} | {s.path: s.reason for s in report.skips}
    return problems.get(name)


def _free_name(folder: Path, name: str) -> Path:
    """`name` in `folder`, or `stem (2).ext`, ... when a file of that name is there."""
    target = folder / name
    stem, suffix = target.stem, target.suffix
    number = 2
    while target.exists():
        target = folder / f"{stem} ({number}){suffix}"
        number += 1
    return target


def _remove_empty(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root) and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _empty(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
