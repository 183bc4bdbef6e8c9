"""Phase two of a ChatKit attachment over HTTP: the browser POSTs the file's bytes to the
upload URL `attachments.create` answered with (server.attachments). Mounted on the app's
authorised router: the same token and user as every other request."""

from collections.abc import AsyncIterator
from typing import Any

from chatkit.store import NotFoundError
from fastapi import APIRouter, Request
from starlette.requests import ClientDisconnect

from server.errors import HTTPError
from server.guard import FORM_TYPES
from server.identity import Caller
from server.preflight import RequestRefused
from server.services import ChatServices


def add_attachment_routes(router: APIRouter) -> None:
    @router.post("/api/attachments/{attachment_id}/upload")
    async def upload(attachment_id: str, request: Request, context: Caller) -> dict[str, Any]:
        """The file itself is the body; the caller's pending attachment takes it."""
        services: ChatServices = request.app.state.services
        scratch = services.chat.scratch
        if scratch is None:
            raise HTTPError(404, "this server takes no attachments")
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type in FORM_TYPES:
            raise HTTPError(415, "send the file itself as the body, not a form")
        try:
            attachment = await scratch.files.upload(attachment_id, _body(request), context)
        except NotFoundError as error:
            raise HTTPError(404, str(error)) from None
        except RequestRefused as error:
            raise HTTPError(error.status, error.message) from None
        return attachment.model_dump(mode="json", exclude_none=True, exclude={"metadata"})


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for part in request.stream():
            yield part
    except ClientDisconnect:
        raise HTTPError(400, "the client disconnected before sending the whole file") from None
