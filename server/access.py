"""Who may do what with which collection: every permission rule lives here, nowhere else.

With no accounts, single sign-on or proxy configured (the single-person default) everything
is allowed for everyone. Otherwise admins may do everything; others read the collections
granted to them or to one of their groups, and change those granted with `--write`.
"""

from collections.abc import Awaitable, Callable
from enum import StrEnum

from kb.collections import is_scratch
from server.accounts import AccountStore, Grant
from server.context import RequestContext
from server.errors import HTTPError
from server.scratch import owns


class Action(StrEnum):
    READ = "read"  # search, chunks, original files, citations, counts
    WRITE = "write"  # add / remove / re-index documents of a collection (uploads, library)
    ADMIN = "admin"  # users, grants, every collection


class Access:
    def __init__(
        self,
        accounts: AccountStore | None = None,
        multi_user: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """`multi_user` says whether identities are configured (None: never, allow all)."""
        self._accounts = accounts
        self._multi_user = multi_user

    async def require(self, context: RequestContext, action: Action, collection: str) -> None:
        """Raises HTTPError(403) when `context` may not do `action` on `collection`."""
        if is_scratch(collection):  # a thread's attachments: its owner's, never granted
            if not owns(context, collection):
                raise HTTPError(403, "that file was attached in another user's conversation")
            return
        if action is Action.ADMIN:
            allowed = await self._unrestricted(context)
        else:
            found = await (self.readable if action is Action.READ else self.writable)(context)
            allowed = found is None or collection in found
        if not allowed:
            raise HTTPError(403, f"{context.user_id} may not {action} collection {collection!r}")

    async def readable(self, context: RequestContext) -> frozenset[str] | None:
        """The collections this user may read; None: all of them."""
        return await self._granted(context, lambda grant: True)

    async def writable(self, context: RequestContext) -> frozenset[str] | None:
        """The collections this user may change; None: all of them."""
        return await self._granted(context, lambda grant: grant.can_write)

    async def _unrestricted(self, context: RequestContext) -> bool:
        if self._multi_user is None or self._accounts is None:
            return True
        return context.is_admin or not await self._multi_user()

    async def _granted(
        self, context: RequestContext, counts: Callable[[Grant], bool]
    ) -> frozenset[str] | None:
        if self._accounts is None or await self._unrestricted(context):
            return None
        grantees = frozenset({context.user_id, *(f"@{group}" for group in context.groups)})
        found = await self._accounts.grants(grantees)
        return frozenset(grant.collection for grant in found if counts(grant))


def within(
    requested: frozenset[str] | None, allowed: frozenset[str] | None
) -> frozenset[str] | None:
    """The collections a search may look in: those requested (None: all) that are allowed
    (None: all)."""
    if requested is None:
        return allowed
    return requested if allowed is None else requested & allowed
