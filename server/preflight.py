"""Checks a ChatKit request before anything is answered.

`ChatKitServer.process` fails on many well-formed requests only once it streams (after
the 200 header: the client sees a cut stream) or with a bare exception (a 500). Each such
case is refused here first with a status and a message that says what is wrong:
400 malformed or unsupported, 404 unknown id, 409 the thread is not in a state that
accepts the request. Unsupported request types are a 400, not a 501: the server is fine,
it is the request this server cannot take.
"""

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chatkit.store import NotFoundError, Store
from chatkit.types import (
    Attachment,
    AttachmentsDeleteReq,
    ChatKitReq,
    ClientToolCallItem,
    ItemsFeedbackReq,
    ItemsListReq,
    StructuredInputItem,
    ThreadItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsUpdateReq,
    UserMessageItem,
)
from pydantic import TypeAdapter, ValidationError

from server.context import RequestContext

REQUEST: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)

UNSUPPORTED = {
    "input.transcribe": "kb has no speech transcription",
    "threads.custom_action": "kb sends no widgets with actions",
    "threads.sync_custom_action": "kb sends no widgets with actions",
}
# Explicit directional formatting (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI): they can
# make a title read backwards or reorder the text around it.
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


class RequestRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_request(body: str | bytes | bytearray) -> ChatKitReq:
    try:
        return REQUEST.validate_json(body)
    except ValidationError as error:
        raise RequestRefused(400, "invalid ChatKit request: " + describe(error.errors())) from None


async def preflight(
    store: Store[RequestContext], request: ChatKitReq, context: RequestContext
) -> ChatKitReq:
    """The request, cleaned (titles); raises RequestRefused for what cannot be served."""
    reason = UNSUPPORTED.get(request.type)
    if reason:
        raise RequestRefused(400, f"{request.type} is not supported: {reason}")
    if isinstance(request, ThreadsListReq | ItemsListReq) and (request.params.limit or 0) < 0:
        raise RequestRefused(400, f"limit must be 0 or more, not {request.params.limit}")
    attachments = await _attachments(store, request, context)
    if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
        _check_attachments(attachments)
    items = await _referenced_items(store, request, context)
    await _check_state(store, request, items, context)
    if isinstance(request, ThreadsUpdateReq):
        request.params.title = clean_title(request.params.title)
    return request


def clean_title(text: str) -> str:
    """One line of visible text: no control or bidi-override characters."""
    kept = (
        " " if char.isspace() else char
        for char in text
        if char.isspace() or (unicodedata.category(char) != "Cc" and char not in BIDI_CONTROLS)
    )
    return " ".join("".join(kept).split())


def describe(errors: Iterable[Mapping[str, Any]]) -> str:
    parts: list[str] = []
    for error in list(errors)[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "; ".join(parts)


async def _attachments(
    store: Store[RequestContext], request: ChatKitReq, context: RequestContext
) -> list[Attachment]:
    """The caller's attachments the request names: unknown ones (or others') are a 404."""
    try:
        return [await store.load_attachment(i, context=context) for i in _attachment_ids(request)]
    except NotFoundError as error:
        raise RequestRefused(404, str(error)) from None


def _check_attachments(attachments: list[Attachment]) -> None:
    """A message sends uploaded attachments, once: each lives in one thread's scratch space."""
    for attachment in attachments:
        if attachment.upload_descriptor is not None:
            raise RequestRefused(409, f"{attachment.name} is not uploaded yet")
        if attachment.thread_id is not None:
            raise RequestRefused(409, f"{attachment.name} was sent already: attach it again")


async def _referenced_items(
    store: Store[RequestContext], request: ChatKitReq, context: RequestContext
) -> list[ThreadItem]:
    """Loads the thread and items the request names: unknown ones are a 404."""
    thread_id: str | None = getattr(request.params, "thread_id", None)
    try:
        if thread_id is None:
            return []
        await store.load_thread(thread_id, context=context)
        return [
            await store.load_item(thread_id, item_id, context=context)
            for item_id in _item_ids(request)
        ]
    except NotFoundError as error:
        raise RequestRefused(404, str(error)) from None


def _item_ids(request: ChatKitReq) -> Sequence[str]:
    if isinstance(request, ItemsFeedbackReq):
        return request.params.item_ids
    if isinstance(request, ThreadsAddStructuredInputReq | ThreadsRetryAfterItemReq):
        return [request.params.item_id]
    return []


def _attachment_ids(request: ChatKitReq) -> Sequence[str]:
    if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
        return request.params.input.attachments
    if isinstance(request, AttachmentsDeleteReq):
        return [request.params.attachment_id]
    return []


async def _check_state(
    store: Store[RequestContext],
    request: ChatKitReq,
    items: list[ThreadItem],
    context: RequestContext,
) -> None:
    if isinstance(request, ThreadsAddStructuredInputReq):
        item = items[0]
        if not isinstance(item, StructuredInputItem):
            raise RequestRefused(400, f"item {item.id} is a {item.type}, not a structured input")
        if item.status != "pending":
            raise RequestRefused(409, f"structured input {item.id} was already {item.status}")
    elif isinstance(request, ThreadsRetryAfterItemReq):
        item = items[0]
        if not isinstance(item, UserMessageItem):
            message = f"item {item.id} is a {item.type}: retry after a user_message"
            raise RequestRefused(400, message)
    elif isinstance(request, ThreadsAddClientToolOutputReq):
        thread_id = request.params.thread_id
        latest = await store.load_thread_items(thread_id, None, 1, "desc", context)
        if not any(
            isinstance(item, ClientToolCallItem) and item.status == "pending"
            for item in latest.data
        ):
            raise RequestRefused(409, f"no client tool call is waiting for output in {thread_id}")
