"""Signed "Open original" links: a new tab cannot send the Authorization header, so the link
carries a short-lived signature for one document and one user instead of a secret.

The signature is HMAC-SHA256, with a key kept in the chat database, over the document id,
the user and the expiry; it is issued only after the user's access to the document was
checked (POST /api/documents/{id}/link).
"""

import hashlib
import hmac
import time
from urllib.parse import urlencode

from server.errors import HTTPError


class LinkSigner:
    def __init__(self, key: bytes, seconds: int) -> None:
        self._key = key
        self.seconds = seconds

    def url(self, doc_id: str, user: str) -> str:
        expires = int(time.time()) + self.seconds
        query = urlencode({"user": user, "exp": expires, "sig": self._sign(doc_id, user, expires)})
        return f"/api/documents/{doc_id}/file?{query}"

    def check(self, doc_id: str, user: str, expires: int, signature: str) -> None:
        """Raises HTTPError(403) unless the signature is ours and still valid."""
        expected = self._sign(doc_id, user, expires)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise HTTPError(403, "this link is not valid: open the document from the chat again")
        if expires < time.time():
            raise HTTPError(403, "this link has expired: open the document from the chat again")

    def _sign(self, doc_id: str, user: str, expires: int) -> str:
        message = f"{doc_id}\n{user}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
