"""Who is asking: resolved once per request by one FastAPI dependency, `request_context`.

In order: the user header of an authenticating proxy, only from `KB_TRUSTED_PROXIES`; a
Bearer credential: the shared `KB_AUTH_TOKEN`, a JWT of the `KB_OIDC_ISSUER`, or a personal
token (`kb users`). `X-KB-User` names the user only in the single-person mode (no accounts,
no single sign-on, no proxy); otherwise a request without valid credentials is a 401.
"""

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Request

from kb.errors import KBError
from kb.settings import Settings
from server.accounts import TOKEN_PREFIX, AccountStore, check_name
from server.context import RequestContext
from server.errors import HTTPError
from server.oidc import InvalidToken, OIDCVerifier

MAX_USER_ID = 128
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Identity:
    def __init__(self, settings: Settings, accounts: AccountStore) -> None:
        """Raises KBError for a bad setting (see `check_settings`)."""
        self.settings = settings
        self.accounts = accounts
        self.oidc = OIDCVerifier(settings) if settings.oidc_issuer else None
        self.proxies = _networks(settings.trusted_proxies)
        self.admin_groups = _names(settings.admin_groups)

    async def multi_user(self) -> bool:
        """Whether identities are configured: single sign-on, a proxy, or any account."""
        return self.settings.multi_user or await self.accounts.any_user()

    async def resolve(self, request: Request) -> RequestContext:
        proxied = self._proxied_user(request)
        if proxied is not None:
            groups = _names(request.headers.get(self.settings.trusted_groups_header or "", ""))
            return await self.person(proxied, groups)
        bearer = _bearer(request.headers.get("authorization"))
        multi = await self.multi_user()
        shared = self.settings.auth_token
        if not multi:  # the single-person mode, guarded by the shared token if set
            if shared and not (bearer and _same(bearer, shared)):
                raise unauthorized("send Authorization: Bearer <token>")
            return _header_user(request)
        if bearer is None:
            raise unauthorized("send Authorization: Bearer <token>")
        if shared and _same(bearer, shared):
            return RequestContext("local", is_admin=True)  # the operator (kb commands)
        if self.oidc and not bearer.startswith(TOKEN_PREFIX) and bearer.count(".") == 2:
            try:
                user, groups = await self.oidc.identify(bearer)
            except InvalidToken as error:
                raise unauthorized(f"the token was refused: {error}") from None
            return await self.person(user, groups)
        account = await self.accounts.by_token(bearer)
        if account is None:
            raise unauthorized("the token is not valid (rotated or removed?)")
        return self._context(account.name, account.groups, account.is_admin)

    def _proxied_user(self, request: Request) -> str | None:
        header = self.settings.trusted_user_header
        if not header or request.client is None:
            return None
        try:
            caller = ipaddress.ip_address(request.client.host)
        except ValueError:
            return None
        if not any(caller in network for network in self.proxies):
            return None  # anyone can send the header: only the proxy is believed
        return request.headers.get(header) or None

    async def person(self, user: str, groups: frozenset[str]) -> RequestContext:
        """A user named by the identity provider or proxy; an account of the same name
        adds its groups and admin flag."""
        try:
            check_name(user)
        except KBError as error:
            raise unauthorized(str(error)) from None
        account = await self.accounts.account(user)
        if account is None:
            return self._context(user, groups, False)
        return self._context(user, groups | account.groups, account.is_admin)

    def _context(self, user: str, groups: frozenset[str], admin: bool) -> RequestContext:
        return RequestContext(user, groups, admin or bool(groups & self.admin_groups))


def check_settings(settings: Settings) -> None:
    """Raises KBError for a bad identity setting: `kb serve` checks before it starts."""
    if settings.oidc_issuer:
        OIDCVerifier(settings)
    _networks(settings.trusted_proxies)


async def request_context(request: Request) -> RequestContext:
    """The caller (FastAPI caches it for the request, whichever routes ask)."""
    identity: Identity = request.app.state.services.identity
    return await identity.resolve(request)


# A route parameter of this type is the caller.
Caller = Annotated[RequestContext, Depends(request_context)]


def unauthorized(why: str) -> HTTPError:
    challenge = {"WWW-Authenticate": 'Bearer realm="kb"'}
    return HTTPError(401, f"missing or wrong token: {why}", challenge)


def _header_user(request: Request) -> RequestContext:
    user = request.headers.get("x-kb-user", "local").strip()
    if not user or len(user) > MAX_USER_ID or not user.isprintable():
        raise HTTPError(400, f"X-KB-User must be 1-{MAX_USER_ID} printable characters")
    return RequestContext(user_id=user)


def _bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _names(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def _networks(text: str) -> list[Network]:
    try:
        return [ipaddress.ip_network(item, strict=False) for item in _names(text)]
    except ValueError as error:
        raise KBError(f"KB_TRUSTED_PROXIES: {error}") from None
