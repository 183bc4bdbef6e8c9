"""Schema changes for the chat database, as an ordered list of named migrations.

Each migration runs once, inside the same transaction that records its name in the
`migrations` table (the simonw/llm pattern). Migrations describe the schema as it was at
that point in time, so they never import the live table definitions from `server.store`.
Append new migrations; never edit or reorder applied ones.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
)

Migration = Callable[[Connection], None]

MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def _migrations_table(metadata: MetaData) -> Table:
    return Table(
        "migrations",
        metadata,
        Column("name", String(255), primary_key=True),
        Column("applied_at", String(32), nullable=False),
    )


@migration
def m001_initial(conn: Connection) -> None:
    # Rows are keyed by (user_id, id): a user who guesses another user's id gets a row of
    # their own instead of touching the other's. created_at is a sortable UTC string so
    # ordering is exact and identical on every dialect.
    md = MetaData()
    threads = Table(
        "threads",
        md,
        Column("user_id", String(255), primary_key=True),
        Column("id", String(255), primary_key=True),
        Column("created_at", String(32), nullable=False),
        Column("data", Text, nullable=False),
    )
    items = Table(
        "items",
        md,
        Column("user_id", String(255), primary_key=True),
        Column("thread_id", String(255), primary_key=True),
        Column("id", String(255), primary_key=True),
        Column("created_at", String(32), nullable=False),
        Column("data", Text, nullable=False),
    )
    Table(
        "attachments",
        md,
        Column("user_id", String(255), primary_key=True),
        Column("id", String(255), primary_key=True),
        Column("data", Text, nullable=False),
    )
    Index("threads_user_created", threads.c.user_id, threads.c.created_at)
    Index("items_thread_created", items.c.thread_id, items.c.created_at)
    md.create_all(conn)


@migration
def m002_feedback(conn: Connection) -> None:
    md = MetaData()
    Table(
        "feedback",
        md,
        Column("user_id", String(255), primary_key=True),
        Column("thread_id", String(255), primary_key=True),
        Column("item_id", String(255), primary_key=True),
        Column("kind", String(16), nullable=False),
        Column("created_at", String(32), nullable=False),
    )
    md.create_all(conn)


@migration
def m003_tool_calls(conn: Connection) -> None:
    # The records of the tool calls made in a thread, for the UI's search details; `data` is
    # the record's JSON (server.toollog.ToolCallRecord).
    md = MetaData()
    calls = Table(
        "tool_calls",
        md,
        Column("user_id", String(255), primary_key=True),
        Column("thread_id", String(255), primary_key=True),
        Column("id", String(255), primary_key=True),
        Column("created_at", String(32), nullable=False),
        Column("data", Text, nullable=False),
    )
    Index("tool_calls_thread_created", calls.c.thread_id, calls.c.created_at)
    md.create_all(conn)


@migration
def m004_accounts(conn: Connection) -> None:
    # Accounts (`kb users`), grants (`kb grant`) and the server's secrets (the key signing
    # "Open original" links), in the chat database: every server process shares them.
    md = MetaData()
    users = Table(
        "users",
        md,
        Column("name", String(255), primary_key=True),
        Column("token_hash", String(64), nullable=False),  # SHA-256 hex of the token
        Column("is_admin", Boolean, nullable=False),
        Column("groups", Text, nullable=False),  # JSON list
        Column("created_at", String(32), nullable=False),
    )
    Index("users_token_hash", users.c.token_hash, unique=True)
    Table(
        "grants",
        md,
        Column("collection", String(64), primary_key=True),
        Column("grantee", String(256), primary_key=True),  # a user name, or @group
        Column("can_write", Boolean, nullable=False),
    )
    Table(
        "secrets",
        md,
        Column("name", String(64), primary_key=True),
        Column("value", Text, nullable=False),
    )
    md.create_all(conn)


@migration
def m005_tool_calls_by_time(conn: Connection) -> None:
    # `kb logs` on a shared database reads the newest calls of every user and thread.
    calls = Table("tool_calls", MetaData(), Column("created_at", String(32), nullable=False))
    Index("tool_calls_created", calls.c.created_at).create(conn)


def apply_migrations(conn: Connection) -> list[str]:
    """Apply every migration not yet recorded; return the names applied (empty: no-op)."""
    if conn.dialect.name == "postgresql":
        # Workers of `kb serve --workers N` start at once: on a blank database each would
        # create the tables, and all but one fail. One at a time, the others find it done.
        from kb.index.postgres import lock_key

        key = lock_key("chat database migrations")
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    table = _migrations_table(MetaData())
    table.create(conn, checkfirst=True)
    done = set(conn.scalars(select(table.c.name)))
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        fn(conn)
        now = datetime.now(UTC).isoformat()
        conn.execute(table.insert().values(name=fn.__name__, applied_at=now))
        applied.append(fn.__name__)
    return applied
