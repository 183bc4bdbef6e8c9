"""`kb users`, `kb grant`, `kb revoke`: accounts and grants in the chat database.

They write the database directly (SQLite or PostgreSQL), so they work whether or not
`kb serve` runs; a running server sees each change on its next request.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from cli.literal import literal
from cli.main import cli, err, fails_cleanly, out, print_json
from kb.settings import Settings

if TYPE_CHECKING:
    from server.accounts import AccountStore

T = TypeVar("T")


def with_accounts(use: Callable[["AccountStore"], Awaitable[T]]) -> T:
    """`use(accounts)` on the chat database the settings name."""
    from server.accounts import AccountStore
    from server.store import default_database_url, open_store

    settings = Settings()

    async def run() -> T:
        store = await open_store(settings.database_url or default_database_url(settings.data_dir))
        try:
            return await use(AccountStore(store.engine))
        finally:
            await store.close()

    return asyncio.run(run())


@cli.group()
def users() -> None:
    """Personal accounts: each has a token for the browser and the API.

    \b
    Example:
        kb users add alice --group hr
        kb grant hr @hr
    """


@users.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May read every collection and see all counts.")
@click.option("--group", "groups", multiple=True, help="A group the user belongs to (repeat).")
@fails_cleanly
def add_user(name: str, admin: bool, groups: tuple[str, ...]) -> None:
    """Create the account NAME and print its token (shown this once)."""
    token = with_accounts(lambda accounts: accounts.add_user(name, admin, frozenset(groups)))
    _show_token(name, token)


@users.command("rotate")
@click.argument("name")
@fails_cleanly
def rotate_user(name: str) -> None:
    """Give NAME a new token; the old one stops working at once."""
    _show_token(name, with_accounts(lambda accounts: accounts.rotate(name)))


@users.command("remove")
@click.argument("name")
@fails_cleanly
def remove_user(name: str) -> None:
    """Delete the account NAME and its grants; its next request is refused."""
    with_accounts(lambda accounts: accounts.remove(name))
    err.print(literal(f"removed {name}"))


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@fails_cleanly
def list_users(as_json: bool) -> None:
    """The accounts, their groups and the collections granted to them."""

    async def listing(accounts: "AccountStore") -> list[dict[str, Any]]:
        grants = await accounts.grants()
        return [
            {
                "name": account.name,
                "admin": account.is_admin,
                "groups": sorted(account.groups),
                "created_at": account.created_at,
                "grants": [
                    {"collection": g.collection, "grantee": g.grantee, "write": g.can_write}
                    for g in grants
                    if g.grantee in {account.name, *(f"@{group}" for group in account.groups)}
                ],
            }
            for account in await accounts.users()
        ]

    found = with_accounts(listing)
    if as_json:
        print_json(found)
        return
    table = Table("user", "admin", "groups", "collections", "created")
    for row in found:
        granted = ", ".join(
            g["collection"] + (" (write)" if g["write"] else "") for g in row["grants"]
        )
        table.add_row(
            literal(row["name"]),
            "yes" if row["admin"] else "",
            literal(", ".join(row["groups"])),
            literal("everything" if row["admin"] else granted),
            row["created_at"],
        )
    out.print(table if found else "No accounts: the server is in single-person mode.")


@cli.command()
@click.argument("collection")
@click.argument("grantee")
@click.option("--write", is_flag=True, help="Also add, remove and re-index its documents.")
@fails_cleanly
def grant(collection: str, grantee: str, write: bool) -> None:
    """Let GRANTEE (a user, or @group) read COLLECTION.

    \b
    Example:
        kb grant hr alice
        kb grant engineering @eng --write
    """
    with_accounts(lambda accounts: accounts.grant(collection, grantee, write))
    err.print(literal(f"{grantee} may {'read and change' if write else 'read'} {collection}"))


@cli.command()
@click.argument("collection")
@click.argument("grantee")
@fails_cleanly
def revoke(collection: str, grantee: str) -> None:
    """Take back GRANTEE's grant on COLLECTION (from the next request on)."""
    with_accounts(lambda accounts: accounts.revoke(collection, grantee))
    err.print(literal(f"{grantee} may no longer read {collection}"))


def _show_token(name: str, token: str) -> None:
    err.print(literal(f"Token for {name} (shown once; only its hash is stored):"))
    click.echo(token)
