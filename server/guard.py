"""Who the server answers, and the headers on everything it sends.

The server listens on loopback without a token by default, so the browser is the threat:
- a page on attacker.example whose name re-resolves to 127.0.0.1 (DNS rebinding) sends
  `Host: attacker.example`: only the names in KB_ALLOWED_HOSTS are answered;
- any page the user visits can send a POST to 127.0.0.1: a request that a browser marks
  as coming from another origin (`Origin`, `Sec-Fetch-Site`) may only read, never change.
Clients that are not browsers send neither header and are not affected.
"""

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.settings import host_name

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Requests a page on another site can send without a CORS preflight; ChatKit speaks JSON.
FORM_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
# What our own page needs (same as its <meta> policy), and no framing by other sites.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Indexed files: nothing in them may run or load anything. Chromium 156 still shows PDFs in
# its viewer under this policy (checked by hand; its viewer is not subject to it).
FILE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": PAGE_POLICY,
    "referrer-policy": "no-referrer",  # "Open original" links carry ?token=
    "cross-origin-resource-policy": "same-origin",
}


class Guard:
    """ASGI middleware: refuses foreign hosts and cross-origin writes, adds SECURITY_HEADERS
    to every response that has not set its own."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str]) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        refusal = self.refusal(scope["method"], Headers(scope=scope))
        if refusal is None:
            await self.app(scope, receive, send_secured)
            return
        status, message = refusal
        await JSONResponse({"error": message}, status_code=status)(scope, receive, send_secured)

    def refusal(self, method: str, headers: Headers) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if "*" not in self.allowed_hosts and host_name(host) not in self.allowed_hosts:
            return 400, f"host {host!r} is not served here: add it to KB_ALLOWED_HOSTS"
        if method in READ_ONLY_METHODS:
            return None
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return 403, f"{method} refused: the browser says it comes from a {site} page"
        origin = headers.get("origin")
        if origin is not None and _netloc(origin) != host.lower():
            return 403, f"{method} refused: it comes from another origin ({origin})"
        return None


def _netloc(origin: str) -> str:
    try:
        return urlsplit(origin).netloc.lower()
    except ValueError:  # a malformed Origin matches nothing
        return ""
