"""The per-request context every ChatKit store call receives."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """Who is asking; the server builds it from the `X-KB-User` header."""

    user_id: str = "local"
