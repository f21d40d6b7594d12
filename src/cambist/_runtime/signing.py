"""Request signers: one per scheme a spec can name. Pure functions of the bytes to send."""

from __future__ import annotations

import hashlib
import hmac


class Credentials:
    """An API key and secret. Neither ever appears in a repr or a message."""

    __slots__ = ("_secret", "api_key")

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self._secret = api_secret.encode()

    def sign(self, payload: bytes) -> str:
        """HMAC-SHA256 of ``payload`` with the secret, as lower-case hex."""
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "Credentials(api_key='***', api_secret='***')"


def total_params(query: str, body: bytes) -> bytes:
    """totalParams: the query string immediately followed by the body (no separator)."""
    return query.encode() + body
