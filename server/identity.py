"""Who is asking: one FastAPI dependency, `request_context`, that every route uses."""

from typing import Annotated

from fastapi import Depends, Request

from server.context import RequestContext
from server.errors import HTTPError

MAX_USER_ID = 128


async def request_context(request: Request) -> RequestContext:
    """The caller, from the `X-KB-User` header (the single-person default)."""
    user = request.headers.get("x-kb-user", "local").strip()
    if not user or len(user) > MAX_USER_ID or not user.isprintable():
        raise HTTPError(400, f"X-KB-User must be 1-{MAX_USER_ID} printable characters")
    return RequestContext(user_id=user)


# A route parameter of this type is the caller.
Caller = Annotated[RequestContext, Depends(request_context)]
