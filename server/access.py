"""Who may do what with which collection: every permission rule lives here, nowhere else.

With no accounts configured (the single-person default) everything is allowed for
everyone.
"""

from enum import StrEnum

from kb.collections import is_scratch
from server.context import RequestContext
from server.errors import HTTPError
from server.scratch import owns


class Action(StrEnum):
    READ = "read"  # search, chunks, original files, citations, counts
    WRITE = "write"  # add / remove / re-index documents of a collection (uploads, library)
    ADMIN = "admin"  # users, grants, every collection


class Access:
    async def require(self, context: RequestContext, action: Action, collection: str) -> None:
        """Raises HTTPError(403) when `context` may not do `action` on `collection`."""
        if is_scratch(collection) and not owns(context, collection):
            raise HTTPError(403, "that file was attached in another user's conversation")

    async def readable(self, context: RequestContext) -> frozenset[str] | None:
        """The collections this user may read; None: all of them."""
        return None

    async def writable(self, context: RequestContext) -> frozenset[str] | None:
        """The collections this user may change; None: all of them."""
        return None


def within(
    requested: frozenset[str] | None, allowed: frozenset[str] | None
) -> frozenset[str] | None:
    """The collections a search may look in: those requested (None: all) that are allowed
    (None: all)."""
    if requested is None:
        return allowed
    return requested if allowed is None else requested & allowed
