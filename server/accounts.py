"""Accounts, grants and the server's secrets, in the chat database (so every server process
and the `kb users` / `kb grant` commands share them; a change counts on the next request).

A personal token is random (`secrets.token_urlsafe(32)`), shown once and stored only as its
SHA-256: a stolen database holds no usable token.
"""

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    MetaData,
    Row,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from kb.collections import check_collection, is_scratch
from kb.errors import KBError

TOKEN_PREFIX = "kb_"  # tells a personal token from a JWT at a glance
_NAME = re.compile(r"[^\s@,][^\s,]{0,127}")  # a user or group: no spaces or commas

# The live schema, kept in step with server.migrations (m004_accounts creates it).
_md = MetaData()
users = Table(
    "users",
    _md,
    Column("name", String(255), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("groups", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)
grants = Table(
    "grants",
    _md,
    Column("collection", String(64), primary_key=True),
    Column("grantee", String(256), primary_key=True),
    Column("can_write", Boolean, nullable=False),
)
secret_values = Table(
    "secrets",
    _md,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


@dataclass(frozen=True)
class Account:
    name: str
    is_admin: bool
    groups: frozenset[str]
    created_at: str


@dataclass(frozen=True)
class Grant:
    collection: str
    grantee: str  # a user name, or "@group"
    can_write: bool


def check_name(name: str, what: str = "user") -> str:
    if not _NAME.fullmatch(name) or not name.isprintable():
        raise KBError(
            f"{what} name {name!r} is not valid: 1-128 characters, no spaces or commas, "
            "not starting with @"
        )
    return name


def check_grantee(grantee: str) -> str:
    """A user name, or @group."""
    if grantee.startswith("@"):
        check_name(grantee[1:], "group")
    else:
        check_name(grantee)
    return grantee


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


class AccountStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- users ---------------------------------------------------------------------------

    async def add_user(self, name: str, admin: bool, groups: frozenset[str]) -> str:
        """Create the account and return its token (shown once; only its hash is kept)."""
        check_name(name)
        for group in groups:
            check_name(group, "group")
        if await self.account(name) is not None:
            raise KBError(f"user {name!r} exists; `kb users rotate {name}` gives a new token")
        token, hashed = _new_token()
        row = {
            "name": name,
            "token_hash": hashed,
            "is_admin": admin,
            "groups": json.dumps(sorted(groups)),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        async with self.engine.begin() as conn:
            await conn.execute(users.insert().values(**row))
        return token

    async def rotate(self, name: str) -> str:
        """A new token for `name`; the old one stops working at once."""
        token, hashed = _new_token()
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(users).where(users.c.name == name).values(token_hash=hashed)
            )
        if done.rowcount != 1:
            raise KBError(f"no user {name!r}")
        return token

    async def remove(self, name: str) -> None:
        """The account and its own grants; its threads stay in the database."""
        async with self.engine.begin() as conn:
            done = await conn.execute(delete(users).where(users.c.name == name))
            await conn.execute(delete(grants).where(grants.c.grantee == name))
        if done.rowcount != 1:
            raise KBError(f"no user {name!r}")

    async def users(self) -> list[Account]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.name))).all()
        return [_account(row) for row in rows]

    async def any_user(self) -> bool:
        async with self.engine.connect() as conn:
            return await conn.scalar(select(users.c.name).limit(1)) is not None

    async def account(self, name: str) -> Account | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        return None if row is None else _account(row)

    async def by_token(self, token: str) -> Account | None:
        hashed = token_hash(token)
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.token_hash == hashed))).first()
        if row is None or not hmac.compare_digest(row.token_hash, hashed):
            return None
        return _account(row)

    # -- grants --------------------------------------------------------------------------

    async def grant(self, collection: str, grantee: str, write: bool) -> None:
        check_collection(collection)
        check_grantee(grantee)
        if is_scratch(collection):
            raise KBError(f"{collection!r} is a thread's scratch space: it cannot be granted")
        async with self.engine.begin() as conn:
            await conn.execute(delete(grants).where(*_grant_row(collection, grantee)))
            await conn.execute(
                grants.insert().values(collection=collection, grantee=grantee, can_write=write)
            )

    async def revoke(self, collection: str, grantee: str) -> None:
        async with self.engine.begin() as conn:
            done = await conn.execute(delete(grants).where(*_grant_row(collection, grantee)))
        if done.rowcount != 1:
            raise KBError(f"{grantee} has no grant on {collection!r}")

    async def grants(self, grantees: frozenset[str] | None = None) -> list[Grant]:
        """Every grant, or those to some grantees (user names and @groups)."""
        query = select(grants).order_by(grants.c.collection, grants.c.grantee)
        if grantees is not None:
            query = query.where(grants.c.grantee.in_(sorted(grantees)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Grant(row.collection, row.grantee, row.can_write) for row in rows]

    # -- secrets -------------------------------------------------------------------------

    async def secret(self, name: str) -> bytes:
        """A random secret kept in the database, made on first use (every process shares it)."""
        query = select(secret_values.c.value).where(secret_values.c.name == name)
        async with self.engine.connect() as conn:
            value = await conn.scalar(query)
        if value is None:
            try:
                async with self.engine.begin() as conn:
                    value = secrets.token_hex(32)
                    await conn.execute(secret_values.insert().values(name=name, value=value))
            except IntegrityError:  # another process made it first: use theirs
                async with self.engine.connect() as conn:
                    value = await conn.scalar(query)
        return bytes.fromhex(str(value))


def _account(row: Row[Any]) -> Account:
    groups = frozenset(json.loads(row.groups))
    return Account(row.name, bool(row.is_admin), groups, row.created_at)


def _grant_row(collection: str, grantee: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return grants.c.collection == collection, grants.c.grantee == grantee
