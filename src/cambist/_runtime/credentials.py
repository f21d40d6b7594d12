"""API credentials: a small module of their own, so that building a client with a key loads
nothing a call does not need yet (signing, encoding)."""

from __future__ import annotations

import hmac

from cambist._runtime import redact


class Credentials:
    """An API key and secret. Neither ever appears in a repr, a message or a log line
    (both are masked by :mod:`cambist._runtime.redact`)."""

    __slots__ = ("_secret", "api_key")

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self._secret = api_secret.encode()
        redact.secret(api_key)
        redact.secret(api_secret)

    @property
    def can_sign(self) -> bool:
        """Is there a secret to sign with? (An API key alone serves key-only endpoints.)"""
        return bool(self._secret)

    def sign(self, payload: bytes) -> str:
        """HMAC-SHA256 of ``payload`` with the secret, as lower-case hex."""
        return hmac.digest(self._secret, payload, "sha256").hex()  # OpenSSL's one-shot

    def __repr__(self) -> str:
        return "Credentials(api_key='***', api_secret='***')"
