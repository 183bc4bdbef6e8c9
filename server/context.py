"""The per-request context every ChatKit store call receives."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, as server/app.py's `_context` resolved it."""

    user_id: str = "local"
    groups: frozenset[str] = frozenset()
    is_admin: bool = False
