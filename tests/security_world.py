"""The world the security suite runs in: three collections, users with grants, a real server
(SQLite or PostgreSQL chat database) and an identity provider's keys served on 127.0.0.1."""

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from benchmarks.servers import fresh_postgres_database
from ingest.pipeline import ingest
from kb.index.generations import generations_of
from kb.settings import Settings
from server.accounts import AccountStore
from server.store import open_store

OPERATOR = "operator-s3cret"
AUDIENCE = "kb-test"
DOCS = {
    "hr": ("leave.md", "# Parental leave\n\nZephyrcorp parental leave lasts 26 weeks.\n"),
    "eng": ("deploy.md", "# Deploy runbook\n\nZephyrcorp deploys freeze on Fridays.\n"),
    "handbook": ("welcome.md", "# Welcome\n\nZephyrcorp offices open at nine.\n"),
}


def write_collections(root: Path) -> dict[str, Path]:
    folders = {}
    for collection, (name, body) in DOCS.items():
        folder = root / collection
        folder.mkdir(parents=True)
        (folder / name).write_text(body, "utf-8")
        folders[collection] = folder
    return folders


class IdentityProvider:
    """An OpenID Connect issuer's discovery document and keys (RS256 `rsa`, ES256 `ec`) on
    a real HTTP server on 127.0.0.1; `token()` signs what a real provider would."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        keys = [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key())), "kid": "r1"},
            {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key())), "kid": "e1"},
        ]
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                documents = {
                    "/.well-known/openid-configuration": {
                        "issuer": provider.issuer,
                        "jwks_uri": f"{provider.issuer}/jwks",
                    },
                    "/jwks": {"keys": keys},
                }
                body = json.dumps(documents.get(self.path, {})).encode()
                self.send_response(200 if self.path in documents else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.issuer, "aud": AUDIENCE, "sub": "u-42", "iat": now, "exp": now + 300}
        return {**base, "preferred_username": "dana", "groups": ["hr-team"], **changes}

    def token(self, claims: dict[str, Any] | None = None, key: Any = None, kid: str = "r1") -> str:
        algorithm = "ES256" if kid == "e1" else "RS256"
        signing = key or (self.ec if kid == "e1" else self.rsa)
        return jwt.encode(claims or self.claims(), signing, algorithm, headers={"kid": kid})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class World:
    url: str
    settings: Settings
    tokens: dict[str, str]
    doc_ids: dict[str, str]  # collection -> its document
    chunk_ids: dict[str, str]  # collection -> one of its chunks
    idp: IdentityProvider
    extra: dict[str, Any] = field(default_factory=dict)

    def accounts(self, use: Any) -> Any:
        """`use(AccountStore)` on the server's database (as `kb users` would)."""

        async def run() -> Any:
            store = await open_store(self.settings.database_url or "")
            try:
                return await use(AccountStore(store.engine))
            finally:
                await store.close()

        return asyncio.run(run())


def world_settings(data: Path, database_url: str, idp: IdentityProvider) -> Settings:
    return Settings(
        data_dir=data,
        database_url=database_url,
        auth_token=OPERATOR,
        oidc_issuer=idp.issuer,
        oidc_audience=AUDIENCE,
        trusted_user_header="X-Forwarded-User",
        trusted_proxies="10.9.9.0/24",  # not the tests' 127.0.0.1
        admin_groups="kb-admins",
    )


def populate(
    settings: Settings, root: Path, embedder: Any
) -> tuple[dict[str, str], dict[str, str]]:
    for collection, folder in write_collections(root).items():
        ingest(settings, folder, collection=collection, embedder=embedder)
    generations = generations_of(settings)
    catalog = generations.catalog(generations.active())
    try:
        docs = {doc.collection: doc.doc_id for doc in catalog.documents()}
        chunks = {
            collection: catalog.db.execute(
                "SELECT chunk_id FROM chunks WHERE doc_id = :doc_id", {"doc_id": doc_id}
            ).fetchone()[0]
            for collection, doc_id in docs.items()
        }
    finally:
        catalog.close()
    return docs, chunks


async def add_people(accounts: AccountStore) -> dict[str, str]:
    tokens = {
        "alice": await accounts.add_user("alice", False, frozenset({"everyone"})),
        "bob": await accounts.add_user("bob", False, frozenset({"everyone"})),
        "carol": await accounts.add_user("carol", True, frozenset()),
    }
    await accounts.grant("hr", "alice", write=False)
    await accounts.grant("eng", "bob", write=True)
    await accounts.grant("handbook", "@everyone", write=False)
    await accounts.grant("hr", "@hr-team", write=False)
    return tokens


@contextmanager
def database(kind: str, tmp: Path, test_url: str | None) -> Iterator[str]:
    """A chat database URL: SQLite in `tmp`, or a fresh PostgreSQL database (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp}/chat.sqlite"
        return
    assert test_url
    with fresh_postgres_database(test_url, "kb_accounts") as url:
        yield url
