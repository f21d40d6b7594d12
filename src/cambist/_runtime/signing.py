"""Request signers: one class per auth scheme a spec can name, behind one small interface.

A :class:`Signer` receives a :class:`Draft` (the request's parameters and body before signing)
and adds what its scheme needs: stamps (timestamp, recvWindow), the signature, key headers.
Like httpx's ``Auth.auth_flow`` it is pure, so the sync and the async client share it; adding a
scheme adds a class to :data:`SIGNERS` and the spec format accepts its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from cambist._runtime import redact
from cambist._runtime.credentials import Credentials as Credentials  # re-exported
from cambist._runtime.encode import urlencode

if TYPE_CHECKING:
    from cambist._runtime.endpoint import Exchange


def total_params(query: str, body: bytes) -> bytes:
    """totalParams: the query string immediately followed by the body (no separator)."""
    return query.encode() + body


@dataclass(slots=True)
class Draft:
    """A request before signing: what a signer reads and extends."""

    method: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]] | None  # the form body's pairs, or None (no form body)
    json: bytes  # the JSON body's exact bytes, or b""
    headers: dict[str, str]

    @property
    def params(self) -> list[tuple[str, str]]:
        """Where the request's parameters go: the form body if there is one, else the query."""
        return self.form if self.form is not None else self.query

    def query_string(self) -> str:
        return urlencode(self.query)

    def body(self) -> bytes:
        return urlencode(self.form).encode() if self.form is not None else self.json


@dataclass(frozen=True, slots=True)
class SigningContext:
    """What a signer may use besides the draft."""

    credentials: Credentials
    timestamp: Callable[[], int]  # server-clock milliseconds
    recv_window: int | None


class Signer:
    """One auth scheme. Subclasses set :attr:`scheme` and implement :meth:`sign`."""

    scheme: ClassVar[str]

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        redact.protect(exchange)  # the spec's secret headers and params, out of every log

    def sign(self, draft: Draft, ctx: SigningContext) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class HmacParams(Signer):
    """HMAC-SHA256 (hex) of totalParams (query string then body), sent as the last parameter;
    the timestamp (and recvWindow) parameters are added first. HashKey, BingX, Binance."""

    scheme = "hmac_params"

    def sign(self, draft: Draft, ctx: SigningContext) -> None:
        ex = self.exchange
        if ctx.recv_window and ex.recv_window_param:
            draft.params.append((ex.recv_window_param, str(ctx.recv_window)))
        if ex.timestamp_param:
            draft.params.append((ex.timestamp_param, str(ctx.timestamp())))
        covered = draft.body() if draft.form is not None or ex.json_body_signed else b""
        signature = ctx.credentials.sign(total_params(draft.query_string(), covered))
        draft.params.append((ex.signature_param or "signature", signature))


class HmacBodyHeader(Signer):
    """HMAC-SHA256 (hex) of the query string (GET) or of the exact body bytes, sent in a
    header, with an optional expiry header. Bibox."""

    scheme = "hmac_body_header"

    def sign(self, draft: Draft, ctx: SigningContext) -> None:
        ex = self.exchange
        payload = draft.query_string().encode() if draft.method == "GET" else draft.body()
        draft.headers[ex.signature_header or "Signature"] = ctx.credentials.sign(payload)
        if ex.expire_header:
            expires = ctx.timestamp() + (ctx.recv_window or 5000)
            draft.headers[ex.expire_header] = str(expires)


SIGNERS: dict[str, type[Signer]] = {s.scheme: s for s in (HmacParams, HmacBodyHeader)}
"""Every auth scheme a spec may name (``exchange.auth.scheme``), and its signer."""
