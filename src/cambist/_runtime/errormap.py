"""From an error answer to the right exception: the spec's error table, then the HTTP status."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cambist import errors
from cambist._runtime.endpoint import ErrorCode, Exchange
from cambist._runtime.retry import DEFAULT_BAN_SECONDS, parse_retry_after

KINDS: dict[str, type[errors.APIError]] = {
    "authentication": errors.AuthenticationError,
    "permission": errors.PermissionDeniedError,
    "invalid_request": errors.InvalidRequestError,
    "order_not_found": errors.OrderNotFoundError,
    "insufficient_balance": errors.InsufficientBalanceError,
    "timestamp": errors.TimestampError,
    "rate_limited": errors.RateLimitError,
    "server": errors.ServerError,
    "unavailable": errors.ServerError,
    "other": errors.APIError,
}

ERROR_KINDS: tuple[str, ...] = (*KINDS, "execution_unknown")
"""Every kind a spec's error table may name (``errors[].kind``, ``status_messages``)."""

_STATUS_KINDS = {401: "authentication", 403: "permission", 429: "rate_limited", 418: "banned"}


def normalize_code(code: object) -> str:
    """One spelling per code: ``"0001"``, ``1`` and ``"1"`` are the same code."""
    text = str(code).strip()
    try:
        return str(int(text))
    except ValueError:
        return text


def _pattern(message: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in message.strip().split("%s"))
    return re.compile(".*".join(parts), re.IGNORECASE | re.DOTALL)


class ErrorMap:
    """Maps (HTTP status, exchange code, message) to an exception class and raises it."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self._status_kinds = exchange.status_kinds
        self._by_code: dict[str, list[ErrorCode]] = {}
        for row in exchange.errors:
            self._by_code.setdefault(normalize_code(row.code), []).append(row)
        self._status_messages = exchange.status_messages
        self.success_codes = frozenset(normalize_code(c) for c in exchange.success_codes)

    def kind(self, status: int, code: object, message: str) -> str:
        if status in (418, 429):
            return _STATUS_KINDS[status]
        for prefix, kind in self._status_messages.get(status, {}).items():
            if message.startswith(prefix):
                return kind
        rows = self._by_code.get(normalize_code(code)) if code is not None else None
        if rows:
            for row in rows:
                if len(rows) == 1 or _pattern(row.message).fullmatch(message or ""):
                    return row.kind
            return rows[0].kind
        if status in self._status_kinds:  # the document's meaning of a bare HTTP status
            return self._status_kinds[status]
        if status >= 500:
            return "server"
        return _STATUS_KINDS.get(status, "invalid_request" if status >= 400 else "other")

    def build(
        self,
        *,
        endpoint: str,
        status: int,
        code: str | int | None,
        message: str,
        headers: Mapping[str, str],
        body: bytes,
        safe: bool,
        client_order_ids: tuple[str, ...] = (),
        now: float | None = None,
    ) -> errors.CambistError:
        """The exception for an error answer to ``endpoint`` (``now``: the client clock's
        wall time, for a ban's ``until``)."""
        kind = self.kind(status, code, message)
        # The server failed while handling an order or a transfer: it may have been carried
        # out, whatever status carries the code (BingX answers every error with HTTP 200).
        if kind == "execution_unknown" or (kind == "server" and not safe):
            return errors.ExecutionStatusUnknownError(
                message or f"HTTP {status}",
                endpoint=endpoint,
                client_order_id=",".join(client_order_ids) or None,
                status_code=status,
                code=code,
            )
        common: dict[str, Any] = {
            "endpoint": endpoint,
            "status_code": status,
            "code": code,
            "headers": headers,
            "body": body,
        }
        wait = parse_retry_after(headers.get("retry-after"))
        if kind == "banned":
            if wait is None:  # the spec's assumed length, else the runtime's
                wait = self.exchange.ban_seconds or DEFAULT_BAN_SECONDS
            start = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
            until = start + timedelta(seconds=wait)
            return errors.IPBannedError(message, until=until, retry_after=wait, **common)
        if kind == "rate_limited":
            if wait is None:  # the document's prescribed wait, if any
                wait = self.exchange.after_rate_limit(safe).wait
            return errors.RateLimitError(message, retry_after=wait, **common)
        if kind in ("server", "unavailable"):
            return errors.ServerError(
                message, not_processed=kind == "unavailable", retry_after=wait, **common
            )
        return KINDS.get(kind, errors.APIError)(message, **common)
