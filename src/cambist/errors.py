"""The exceptions every cambist client raises: one tree, rooted at :class:`CambistError`.

::

    CambistError
    ├── RequestValidationError      bad input: raised before anything is sent
    │   ├── MarketRuleError         an order breaks a rule of its market (tick, step, ...)
    │   └── UnknownMarketError      a symbol the exchange does not list (close matches)
    ├── MarketsUnavailableError     the exchange's document gives no markets endpoint
    ├── ClientClosedError           the client was closed: make a new one (also a RuntimeError)
    ├── TransportError              no HTTP answer
    │   ├── APIConnectionError      could not connect (nothing was sent)
    │   ├── APITimeoutError         no answer in time (or the call's deadline passed)
    │   └── TLSCertificateError     the server's certificate was refused: do not retry
    ├── APIError                    the exchange answered with an error
    │   ├── AuthenticationError     bad key, bad signature, key expired, IP not allowed
    │   ├── PermissionDeniedError   the key lacks a permission
    │   ├── InvalidRequestError     the request was refused as invalid
    │   │   ├── OrderNotFoundError
    │   │   ├── InsufficientBalanceError
    │   │   └── TimestampError      timestamp outside recvWindow (the client resyncs once)
    │   ├── RateLimitError          wait and retry: after ``retry_after`` seconds (when known)
    │   │   │                       the call may be sent again
    │   │   └── BudgetExhaustedError    the client's own budget is empty: nothing was sent
    │   ├── IPBannedError           stop until ``until``: HTTP 418; every call on the client
    │   │                           fails locally (nothing sent) until the ban ends
    │   └── ServerError             HTTP 5xx or an internal error code (on an order, either
    │                               is ExecutionStatusUnknownError instead)
    ├── ExecutionStatusUnknownError the request may or may not have been carried out
    ├── ResponseParseError          a success answer that does not fit its model (raw body attached)
    ├── PaginationError             an ``iter_*`` walk cannot go on: the server repeated a page
    └── StreamError                 a WebSocket stream failed for good (not a reconnectable drop)
        ├── StreamAuthenticationError   the handshake was refused (401/403, bad key)
        └── SubscriptionError       the exchange refused a subscription (others keep running)

A handler may do what its class says: ``except RateLimitError: sleep(e.retry_after or 1);
retry`` never retries through a ban (``IPBannedError`` is not a ``RateLimitError``), nor
through a refused certificate (``TLSCertificateError`` is not an ``APIConnectionError``).

No message or repr here carries an API key, secret, signature or signed URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BudgetExhaustedError",
    "CambistError",
    "ClientClosedError",
    "ExecutionStatusUnknownError",
    "IPBannedError",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "MarketRuleError",
    "MarketsUnavailableError",
    "OrderNotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseParseError",
    "ServerError",
    "StreamAuthenticationError",
    "StreamError",
    "SubscriptionError",
    "TLSCertificateError",
    "TimestampError",
    "TransportError",
    "UnknownMarketError",
]


class CambistError(Exception):
    """Base class of every error a cambist client raises."""


class RequestValidationError(CambistError, ValueError):
    """The call's arguments are invalid; nothing was sent.

    ``endpoint`` is the method's dotted name (``"spot.create_order"``); ``param`` the Python
    name of the offending argument, when one is to blame.
    """

    def __init__(self, message: str, *, endpoint: str, param: str | None = None) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.param = param


class MarketRuleError(RequestValidationError):
    """An order breaks a rule of its market (``cambist.markets.Market``); nothing was sent.

    ``symbol``; ``rule`` the rule broken (``price_tick``, ``quantity_step``, ``min_quantity``,
    ``max_quantity``, ``min_notional``, ``max_notional``, ``min_price``, ``max_price``, a
    ``market_*`` bound, ``buy_price_up_rate`` / ``sell_price_down_rate``: the limit price
    band around the mark price, ``no_market_orders``: a window refusing market orders,
    ``limit_window_min_price`` / ``limit_window_max_price``: a window bounding limit prices,
    or ``status``: the market is not open for trading); ``param`` (``price``, ``quantity``,
    ``quote_amount``, ``symbol``, ``type``) and ``value`` the value refused (for ``status``,
    the market's status text); ``valid`` the nearest valid values (below and above the tick
    or step, the bound itself, or the quantity that reaches the minimum order value; none for
    ``status`` and ``no_market_orders``).
    """

    def __init__(
        self,
        symbol: str,
        rule: str,
        param: str,
        value: Decimal | str,
        valid: tuple[Decimal, ...],
        text: str,
        *,
        endpoint: str | None = None,
    ) -> None:
        near = f"; nearest valid: {', '.join(format(v, 'f') for v in valid)}" if valid else ""
        shown = format(value, "f") if isinstance(value, Decimal) else value
        super().__init__(
            f"{symbol}: {param} {shown} {text} (rule {rule}){near}",
            endpoint=endpoint or "Market.check",
            param=param,
        )
        self.symbol = symbol
        self.rule = rule
        self.value = value
        self.valid = valid


class UnknownMarketError(RequestValidationError):
    """``client.get_market(symbol)`` for a symbol the exchange does not list (or an order for
    one, with ``check_orders``, or a stream subscription to one: ``StreamOptions.
    check_symbols``). ``symbol``; ``close_matches``: listed symbols like it."""

    def __init__(self, symbol: str, close_matches: list[str], *, endpoint: str) -> None:
        hint = f"; did you mean {' or '.join(map(repr, close_matches))}?" if close_matches else ""
        super().__init__(f"no market {symbol!r}{hint}", endpoint=endpoint, param="symbol")
        self.symbol = symbol
        self.close_matches = close_matches


class MarketsUnavailableError(CambistError, NotImplementedError):
    """``client.markets()`` on an exchange whose document gives no markets endpoint (its
    spec says so in ``exchange.markets.unavailable``, the message's reason)."""


class ClientClosedError(CambistError, RuntimeError):
    """A call on a client that was closed (its ``with`` block ended, or ``close()`` /
    ``aclose()`` was called, or the ``http_client`` you passed was closed). Nothing was sent:
    create a new client, or make the call inside the client's ``with`` block."""


class TransportError(CambistError):
    """The request got no HTTP answer (connection failed, timed out, or was cut)."""

    def __init__(self, message: str, *, endpoint: str) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint


class APIConnectionError(TransportError):
    """The connection could not be made or broke before an answer came."""


class APITimeoutError(TransportError):
    """No answer came within the timeout, or the call's deadline (``timeout``) passed."""


class TLSCertificateError(TransportError):
    """The server's TLS certificate failed verification (expired, self-signed, wrong host, an
    intercepting proxy): nothing was sent, and retrying cannot help. Not retried; the message
    names the cause. Fix the trust store (``http_client=httpx.Client(verify=...)``) or the URL.
    """


class APIError(CambistError):
    """The exchange answered with an error.

    Attributes: ``status_code`` (HTTP), ``code`` (the exchange's error code, as sent, or
    ``None``), ``message`` (the exchange's message), ``endpoint`` (dotted method name),
    ``headers`` (the response headers, for rate-limit counters), ``body`` (the raw body).
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        status_code: int,
        code: str | int | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        shown = f"[{code}] {message}" if code is not None else message
        super().__init__(f"{endpoint}: HTTP {status_code}: {shown}")
        self.message = message
        self.endpoint = endpoint
        self.status_code = status_code
        self.code = code
        self.headers: Mapping[str, str] = headers or {}
        self.body = body

    @property
    def rate_limits(self) -> dict[str, str]:
        """The rate-limit counters the answer carried (used weight, order count, ...)."""
        from cambist._runtime.response import rate_limit_headers

        return rate_limit_headers(self.headers)


class AuthenticationError(APIError):
    """The API key, signature or credentials were refused."""


class PermissionDeniedError(APIError):
    """The API key is valid but lacks the permission the endpoint needs."""


class InvalidRequestError(APIError):
    """The exchange refused the request as invalid."""


class OrderNotFoundError(InvalidRequestError):
    """The order does not exist, or is already completed."""


class InsufficientBalanceError(InvalidRequestError):
    """The account's balance does not cover the request."""


class TimestampError(InvalidRequestError):
    """The request's timestamp was outside the server's receive window."""


class RateLimitError(APIError):
    """Slow down: wait, then the call may be sent again.

    ``retry_after`` is the wait in seconds: the server's ``Retry-After``, else the wait the
    exchange's document prescribes, else (when the client gave up because the wait would pass
    the call's deadline) the wait it would have made; ``None`` when nothing says.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class BudgetExhaustedError(RateLimitError):
    """The client's rate-limit governor refused to send: a budget the exchange's document
    declares (``budget``, e.g. ``"orders"``) has no room left in its window, and the client
    was told not to wait (``RateLimits(on_empty="raise")``) or the wait (``retry_after``
    seconds) would pass the call's deadline. Nothing was sent; no HTTP answer exists
    (``status_code`` is 0, ``local`` is True). After ``retry_after`` the call fits.
    """

    def __init__(self, message: str, *, endpoint: str, budget: str, retry_after: float) -> None:
        super().__init__(message, endpoint=endpoint, status_code=0, retry_after=retry_after)
        self.args = (f"{endpoint}: {message}",)  # no HTTP answer to name
        self.budget = budget
        self.local = True


class IPBannedError(APIError):
    """Stop until ``until``: the IP is banned (HTTP 418, for ignoring 429s).

    Not a :class:`RateLimitError`: waiting a little and retrying does not help, and every
    request sent during a ban may lengthen it. The client remembers the ban: until it ends,
    every call on that client raises this error at once, without sending (``local`` is then
    True). ``until`` (UTC) and ``retry_after`` (seconds from now) say when it ends: from the
    answer's ``Retry-After``, else from the length the exchange's spec assumes.
    """

    def __init__(
        self,
        message: str,
        *,
        until: datetime | None = None,
        retry_after: float | None = None,
        local: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.until = until
        self.retry_after = retry_after
        self.local = local


class ServerError(APIError):
    """The exchange failed internally (HTTP 5xx or an internal-error code).

    ``not_processed`` is True when the document says such an answer means the request was not
    carried out (e.g. Binance's 503 "Service Unavailable."): then it is safe to send again,
    and the client retries it like a 429. ``retry_after`` is the answer's ``Retry-After`` in
    seconds, when it has one (a retry waits that long).
    """

    def __init__(
        self,
        message: str,
        *,
        not_processed: bool = False,
        retry_after: float | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.not_processed = not_processed
        self.retry_after = retry_after


class ExecutionStatusUnknownError(CambistError):
    """The request may or may not have been carried out: check before acting again.

    Raised when an endpoint that is not safe to resend (an order, a transfer) gets an answer
    the document calls uncertain (HTTP 5xx, an internal-error or "execution status unknown"
    code, whatever HTTP status carries it) or no answer after the request was sent.
    ``client_order_id`` is the id the request carried, when it had one: query the order by
    it. ``status_code``, ``code`` and ``message`` are set when the exchange answered; the
    transport error, if any, is the ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        client_order_id: str | None = None,
        status_code: int | None = None,
        code: str | int | None = None,
    ) -> None:
        extra = f" (client order id {client_order_id})" if client_order_id else ""
        super().__init__(f"{endpoint}: execution status unknown: {message}{extra}")
        self.message = message
        self.endpoint = endpoint
        self.client_order_id = client_order_id
        self.status_code = status_code
        self.code = code


class ResponseParseError(CambistError):
    """A success answer did not fit the endpoint's model; ``body`` holds the raw bytes."""

    def __init__(self, message: str, *, endpoint: str, body: bytes) -> None:
        super().__init__(f"{endpoint}: response does not fit its model: {message}")
        self.endpoint = endpoint
        self.body = body


class PaginationError(CambistError):
    """An ``iter_*`` method stopped walking pages: the answer it got cannot move it on (the
    server repeated a page it had already given, or ignored the paging parameter). Raised
    instead of looping; the items already yielded are correct. ``page`` is the 1-based number
    of the page that could not be used.
    """

    def __init__(self, message: str, *, endpoint: str, page: int) -> None:
        super().__init__(f"{endpoint}: page {page}: {message}")
        self.endpoint = endpoint
        self.page = page


class StreamError(CambistError):
    """A WebSocket stream stopped for good: reconnecting cannot help (or was switched off)."""


class StreamAuthenticationError(StreamError):
    """The exchange refused the stream's handshake (HTTP 401/403, or a rejected listen key)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class SubscriptionError(StreamError):
    """The exchange refused one subscription; the stream and its other channels go on."""

    def __init__(self, message: str, *, channel: str, code: object = None) -> None:
        super().__init__(f"{channel}: {message}" + (f" (code {code})" if code is not None else ""))
        self.channel = channel
        self.code = code
        self.exchange_message = message
