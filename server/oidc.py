"""Single sign-on: verify a JWT from the identity provider (PyJWT).

Checked: the signature (RS256 or ES256 only: never `none`, never a shared-secret HMAC
algorithm chosen by the token), the issuer, the audience and the expiry (30 s leeway for
clock skew). Keys come from the issuer's discovery document, a JWKS URL or a JWKS file,
fetched when first needed and again when a token names a key not seen yet.
"""

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import jwt

from kb.errors import KBError
from kb.settings import Settings

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_S = 30
FETCH_TIMEOUT_S = 10


class InvalidToken(Exception):
    pass


class OIDCVerifier:
    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer or not settings.oidc_audience:
            raise KBError("KB_OIDC_ISSUER needs KB_OIDC_AUDIENCE (the `aud` its tokens name)")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.user_claim = settings.oidc_user_claim
        self.groups_claim = settings.oidc_groups_claim
        self._jwks = settings.oidc_jwks
        self._keys: jwt.PyJWKClient | jwt.PyJWKSet | None = None

    async def identify(self, token: str) -> tuple[str, frozenset[str]]:
        """(user, groups) of a valid token; InvalidToken says why not."""
        claims = await asyncio.to_thread(self._verify, token)
        user = claims.get(self.user_claim) or claims.get("sub")
        if not isinstance(user, str) or not user:
            raise InvalidToken(f"the token has no {self.user_claim!r} or 'sub' claim")
        groups = claims.get(self.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        return user, frozenset(str(group) for group in groups)

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            key = self._signing_key(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, OSError, ValueError, KeyError) as error:
            raise InvalidToken(str(error) or type(error).__name__) from None
        return claims

    def _signing_key(self, token: str) -> Any:
        keys = self._keys or self._load_keys()
        if isinstance(keys, jwt.PyJWKClient):
            return keys.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        for key in keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise InvalidToken(f"no key {kid!r} in {self._jwks}")

    def _load_keys(self) -> jwt.PyJWKClient | jwt.PyJWKSet:
        source = self._jwks
        if source and not source.startswith(("http://", "https://")):
            self._keys = jwt.PyJWKSet.from_json(Path(source).read_text(encoding="utf-8"))
        else:
            self._keys = jwt.PyJWKClient(source or self._discover(), timeout=FETCH_TIMEOUT_S)
        return self._keys

    def _discover(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
            uri = json.load(response)["jwks_uri"]
        return str(uri)
