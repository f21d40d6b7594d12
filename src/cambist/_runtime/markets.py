"""Markets, written once for the sync and the async client.

The generated ``cambist.<exchange>._markets.MARKETS`` (a :class:`MarketSource`, from the
spec's ``exchange.markets``) says which endpoint lists the markets and where each rule sits
in its parsed answer; which order endpoints to check, and which of their params are the
symbol, price, quantity and quote amount. Everything here is pure: :class:`MarketBook`
decides when to load, builds the markets from an answer and finds the orders of a call to
check, and the deadlines (an order's markets load shares the order call's timeout); the
client's two thin drivers (:class:`SyncMarkets`, :class:`AsyncMarkets`) only make the call
that loads them, one at a time per client (threads wait on a lock and take the load made
meanwhile; tasks await one shared future).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cambist._runtime.core import CallOptions, Core
    from cambist._runtime.endpoint import Endpoint
    from cambist.markets import Market

Source = tuple[tuple[str | None, str], ...]
"""Where one Market attribute is read: (filter type or None, attribute) pairs, the first
present wins."""


@dataclass(frozen=True, slots=True)
class OrderParams:
    """An order-placing endpoint: the keys of its values (wire names) that are checked, or,
    with ``items``, the attributes of each order in the list param ``items``."""

    endpoint: str
    symbol: str
    side: str | None = None
    type: str | None = None
    price: str | None = None
    quantity: str | None = None
    quote_amount: str | None = None
    market_types: tuple[str, ...] = ()
    items: str | None = None


@dataclass(frozen=True, slots=True)
class MarketSource:
    """An exchange's ``exchange.markets``, with Python attribute names (generated)."""

    exchange: str
    endpoint: str | None = None
    items: str | None = None
    filters: str | None = None
    filter_type: str | None = None
    active: tuple[str, ...] = ()
    fields: Mapping[str, Source] = field(default_factory=dict)
    orders: Mapping[str, OrderParams] = field(default_factory=dict)
    unavailable: str | None = None


TEXT = ("symbol", "base", "quote", "status")
"""Market attributes read as text (a string or an enum's value)."""
WHOLE = (
    "max_open_orders",
    "no_market_orders_from",
    "no_market_orders_until",
    "limit_window_from",
    "limit_window_until",
)
"""Market attributes read as whole numbers (a count; times in epoch ms)."""


def _text(value: object) -> str:
    return str(getattr(value, "value", value))


def _places(value: object) -> int | None:
    """Decimal places: an int as is; a step such as ``0.01`` -> 2."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        exponent = value.normalize().as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else None
    return int(str(value))


def build(source: MarketSource, answer: Any) -> dict[str, Market]:
    """The markets in a parsed answer of ``source.endpoint``, by symbol."""
    from cambist.markets import Market

    items = getattr(answer, source.items) if source.items else answer
    out: dict[str, Market] = {}
    for item in items or ():
        filters: dict[str, Any] = {}
        if source.filters:
            for f in getattr(item, source.filters) or ():
                filters.setdefault(_text(getattr(f, source.filter_type or "")), f)
        values: dict[str, Any] = {}
        for name, where in source.fields.items():
            for kind, attr in where:
                holder = item if kind is None else filters.get(kind)
                value = getattr(holder, attr, None) if holder is not None else None
                if value is not None:
                    values[name] = value
                    break
        status = _text(values.get("status", ""))
        rules: dict[str, Any] = {
            k: int(v) if k in WHOLE else v if isinstance(v, Decimal) else Decimal(str(v))
            for k, v in values.items()
            if k not in TEXT and not k.endswith("_precision")
        }
        market = Market(
            symbol=_text(values.get("symbol", "")),
            base=_text(values.get("base", "")),
            quote=_text(values.get("quote", "")),
            status=status,
            active=not source.active or status in source.active,
            price_precision=_places(values.get("price_precision")),
            quantity_precision=_places(values.get("quantity_precision")),
            info=item,
            **rules,
        )
        out[market.symbol] = market
    return out


@dataclass(frozen=True, slots=True)
class OrderToCheck:
    """One order of a call: its symbol and the values the rules apply to."""

    symbol: str
    price: object
    quantity: object
    quote_amount: object
    market: bool
    side: str | None = None


def _number(value: object) -> object:
    """A value the check can read (Decimal, int, str); anything else is left to the
    call's own validation (a float is refused there)."""
    ok = isinstance(value, (Decimal, int, str)) and not isinstance(value, bool)
    return value if ok else None


def _getter(item: object) -> Callable[[str], object]:
    """Read an order's value by key: a mapping's item or an input model's attribute."""
    if isinstance(item, Mapping):
        return item.get
    return lambda key: getattr(item, key, None)


def orders_of(shape: OrderParams, values: Mapping[str, object]) -> list[OrderToCheck]:
    """The orders a call's values place (one, or each item of a batch)."""
    if shape.items is not None:
        listed = values.get(shape.items)
        items = listed if isinstance(listed, list | tuple) else ()
        rows = [_getter(item) for item in items]
    else:
        rows = [values.get]
    out = []
    for get in rows:
        symbol = get(shape.symbol)
        if not isinstance(symbol, str):
            continue
        kind = _text(get(shape.type)) if shape.type else ""
        out.append(
            OrderToCheck(
                symbol=symbol,
                price=_number(get(shape.price)) if shape.price else None,
                quantity=_number(get(shape.quantity)) if shape.quantity else None,
                quote_amount=_number(get(shape.quote_amount)) if shape.quote_amount else None,
                market=kind.upper() in {t.upper() for t in shape.market_types},
                side=_text(get(shape.side)) if shape.side and get(shape.side) is not None else None,
            )
        )
    return out


CHECK_RETRY_SECONDS = 30.0
"""After the markets failed to load for a stream's symbol check, how long subscriptions go
unchecked before a check loads them again."""
REFRESH_SECONDS = 60.0
"""At most one reload of the markets a minute for stream symbols they do not list."""


def is_listed(markets: Mapping[str, Market], symbol: str) -> bool:
    """In any case: stream topics are often lower case (Binance's)."""
    return symbol in markets or symbol.upper() in markets


class MarketBook:
    """One client's markets: the cache, its age, and the checks (pure; no I/O). It also
    holds what makes concurrent first loads share one load: ``lock`` (the sync client's
    threads wait for a load in flight and take its markets, told by ``generation``) and
    ``loading`` (the async client's load in flight, which every caller awaits)."""

    def __init__(
        self, source: MarketSource, ttl: float | None, now: Callable[[], float], check: bool
    ) -> None:
        self.source = source
        self.ttl = ttl
        self.now = now
        self.check_orders = check
        self.markets: dict[str, Market] | None = None
        self.loaded_at = 0.0
        self.generation = 0  # loads stored so far
        self.lock = threading.Lock()
        self.loading: Any = None  # asyncio.Future of the async client's load in flight
        self.unchecked_until = -math.inf  # stream symbols go unchecked until then
        self.failures = 0  # loads failed so far (the sync client's threads share one too)
        self.failure: BaseException | None = None  # why the last load failed
        self.refreshed_on_miss = -math.inf  # when a stream's unknown symbol last reloaded them

    def cached(self, refresh: bool) -> dict[str, Market] | None:
        """The markets if they may be used as they are; None: load them. Raises
        MarketsUnavailableError where the exchange has none."""
        if self.source.unavailable is not None:
            from cambist.errors import MarketsUnavailableError

            raise MarketsUnavailableError(f"{self.source.exchange}: {self.source.unavailable}")
        if refresh or self.markets is None:
            return None
        if self.ttl is not None and self.now() - self.loaded_at >= self.ttl:
            return None
        return self.markets

    def loaded_since(self, generation: int) -> dict[str, Market] | None:
        """The markets another caller stored after ``generation`` was read (a load shared
        with it), else None."""
        return self.markets if self.generation != generation else None

    def left(self, deadline: float | None, endpoint: str) -> float | None:
        """Seconds before ``deadline`` (None: no deadline); raises APITimeoutError, naming
        ``endpoint``, when it has passed."""
        if deadline is None:
            return None
        left = deadline - self.now()
        if left <= 0:
            from cambist.errors import APITimeoutError

            raise APITimeoutError(
                "the markets were not loaded within the call's timeout", endpoint=endpoint
            )
        return left

    def done(self, future: Any) -> None:
        """The async load ``future`` finished: the next load is a new one (its error, if
        any, was handed to its callers and is not logged as never retrieved)."""
        if self.loading is future:
            self.loading = None
        if not future.cancelled():
            future.exception()

    def endpoint(self) -> tuple[str, str]:
        """(resource, method) of the call that lists the markets."""
        resource, _, method = (self.source.endpoint or "").partition(".")
        return resource, method

    def failed_since(self, failures: int) -> BaseException | None:
        """Why a load failed after ``failures`` was read (a load in flight then, shared
        with it as one that succeeds is), else None."""
        return self.failure if self.failures != failures else None

    def failed(self, exc: BaseException) -> None:
        self.failure = exc
        self.failures += 1

    def store(self, answer: Any) -> dict[str, Market]:
        self.failure = None
        self.markets = build(self.source, answer)
        self.loaded_at = self.now()
        self.generation += 1
        return self.markets

    def deadline(self, opts: CallOptions | None, default: float) -> float:
        """The order call's deadline (its ``timeout``, else the client's; whole-call)."""
        limit = opts.timeout if opts is not None and opts.timeout is not None else default
        return self.now() + limit

    def rest(self, opts: CallOptions | None, deadline: float, endpoint: str) -> CallOptions:
        """The order call's options after loading the markets: the time left before its
        deadline as its timeout (raises APITimeoutError, nothing sent, when none is)."""
        import dataclasses

        from cambist._runtime.core import CallOptions

        left = self.left(deadline, endpoint)
        return dataclasses.replace(opts or CallOptions(), timeout=left)

    def find(self, markets: Mapping[str, Market], symbol: str, endpoint: str) -> Market:
        found = markets.get(symbol)
        if found is None:
            import difflib

            from cambist.errors import UnknownMarketError

            close = difflib.get_close_matches(symbol, list(markets), n=3, cutoff=0.6)
            if not close:
                close = [s for s in markets if s.upper() == symbol.upper()]
            raise UnknownMarketError(symbol, close, endpoint=endpoint)
        return found

    # -- a stream's symbol (StreamOptions.check_symbols; the I/O is the streams') --------

    def may_check_symbols(self) -> bool:
        """False for a while after the markets failed to load for a check (REST down): the
        subscriptions meanwhile go ahead unchecked at once, not each waiting for a load."""
        return self.now() >= self.unchecked_until

    def symbols_failed(self) -> bool:
        """The markets failed to load for a check: unchecked for a while. True the first
        time (for one warning, not one per subscription waiting on the same load)."""
        first = self.may_check_symbols()
        self.unchecked_until = self.now() + CHECK_RETRY_SECONDS
        return first

    def refresh_for(self, markets: Mapping[str, Market], symbol: str) -> bool:
        """Should an unknown symbol reload the markets first (a symbol listed since they
        were loaded: Binance lists new options every day)? At most once a minute."""
        if is_listed(markets, symbol) or self.now() < self.refreshed_on_miss + REFRESH_SECONDS:
            return False
        self.refreshed_on_miss = self.now()
        return True

    def listed(self, markets: Mapping[str, Market], symbol: str, channel: str) -> None:
        """A stream's symbol is one the exchange lists, else ``UnknownMarketError`` naming
        close matches."""
        if not is_listed(markets, symbol):
            self.find(markets, symbol, f"subscribe_{channel}")

    def to_check(self, ep: Endpoint[Any], values: Mapping[str, object]) -> list[OrderToCheck]:
        """The orders of a call to check before sending (none unless ``check_orders``), once
        the values pass the endpoint's own checks: a NaN price or a negative quantity is
        the RequestValidationError it is without ``check_orders``, not a broken rule."""
        shape = self.source.orders.get(ep.name) if self.check_orders else None
        if shape is None:
            return []
        from cambist._runtime.encode import encode_params

        encode_params(ep, values)  # validates (the call encodes them again when it sends)
        return orders_of(shape, values)

    def check(
        self,
        endpoint: str,
        markets: Mapping[str, Market],
        orders: list[OrderToCheck],
        now: int | None = None,
    ) -> None:
        """Raise the first broken rule of ``orders`` (MarketRuleError / UnknownMarketError);
        ``now``: the exchange's time (epoch ms), for the rules with a time window."""
        for order in orders:
            self.find(markets, order.symbol, endpoint).check(
                price=order.price,  # type: ignore[arg-type]
                quantity=order.quantity,  # type: ignore[arg-type]
                quote_amount=order.quote_amount,  # type: ignore[arg-type]
                market=order.market,
                side=order.side,
                now=now,
                endpoint=endpoint,
            )


class SyncMarkets:
    """``markets()`` / ``get_market()`` of the blocking client (the I/O half)."""

    _market_book: MarketBook
    _core: Core

    def markets(self, *, refresh: bool = False) -> dict[str, Market]:
        """Every market the exchange lists, by symbol (``cambist.markets.Market``: its
        trading rules, exact Decimals). Loaded on first use from the exchange's own
        endpoint, then cached for ``markets_ttl`` seconds (client option); ``refresh=True``
        loads them again now. Threads asking at once share one load. Raises
        ``MarketsUnavailableError`` where the exchange's document gives no markets endpoint
        (BingX)."""
        found = self._market_book.cached(refresh)
        return found if found is not None else self._load_markets(None, "markets")

    def _load_markets(self, deadline: float | None, endpoint: str) -> dict[str, Market]:
        """Load the markets, or take those a load in flight in another thread gives (one
        load at a time), within ``deadline`` (a monotonic time; None: the client's timeout)."""
        book = self._market_book
        seen, failures = book.generation, book.failures
        wait = book.left(deadline, endpoint)
        if not book.lock.acquire(timeout=-1 if wait is None else wait):
            book.left(book.now(), endpoint)  # raises: the deadline passed waiting
        try:
            shared = book.loaded_since(seen)
            if shared is not None:
                return shared
            failed = book.failed_since(failures)
            if failed is not None:  # the load this one waited for failed: so does this one
                raise failed
            resource, method = book.endpoint()
            timeout = book.left(deadline, endpoint)
            try:
                return book.store(getattr(getattr(self, resource), method)(timeout=timeout))
            except Exception as exc:
                book.failed(exc)
                raise
        finally:
            book.lock.release()

    def get_market(self, symbol: str, *, refresh: bool = False) -> Market:
        """One market (see :meth:`markets`); a symbol the exchange does not list raises
        ``UnknownMarketError`` naming close matches. (``client.market`` is the market-data
        endpoints.)"""
        return self._market_book.find(self.markets(refresh=refresh), symbol, "get_market")

    def _check_orders(
        self, ep: Endpoint[Any], values: Mapping[str, object], opts: CallOptions | None
    ) -> CallOptions | None:
        """Check the orders of a call; the call's options to send it with (when the markets
        had to be loaded first, their load and the order share the call's timeout)."""
        book = self._market_book
        orders = book.to_check(ep, values)
        if not orders:
            return opts
        endpoint = ep.name
        markets = book.cached(False)
        if markets is None:
            deadline = book.deadline(opts, self._core.timeout)
            markets = self._load_markets(deadline, endpoint)
            opts = book.rest(opts, deadline, endpoint)
        book.check(endpoint, markets, orders, self._core.clock.timestamp())
        return opts


class AsyncMarkets:
    """``markets()`` / ``get_market()`` of the asyncio client (the I/O half)."""

    _market_book: MarketBook
    _core: Core

    async def markets(self, *, refresh: bool = False) -> dict[str, Market]:
        """Every market the exchange lists, by symbol; see ``SyncMarkets.markets`` (tasks
        asking at once share one load)."""
        found = self._market_book.cached(refresh)
        return found if found is not None else await self._load_markets(None, "markets")

    async def _load_markets(self, deadline: float | None, endpoint: str) -> dict[str, Market]:
        """The load in flight, or a new one; awaited until ``deadline`` at most (the load
        goes on for the others waiting for it)."""
        import asyncio

        book = self._market_book
        future = book.loading
        if future is None:
            future = book.loading = asyncio.ensure_future(
                self._fetch_markets(book.left(deadline, endpoint))
            )
            future.add_done_callback(book.done)
        wait = book.left(deadline, endpoint)
        if wait is None:
            return await asyncio.shield(future)
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait)
        except TimeoutError:
            book.left(book.now(), endpoint)  # raises: the deadline passed waiting
            raise

    async def _fetch_markets(self, timeout: float | None) -> dict[str, Market]:
        book = self._market_book
        resource, method = book.endpoint()
        return book.store(await getattr(getattr(self, resource), method)(timeout=timeout))

    async def get_market(self, symbol: str, *, refresh: bool = False) -> Market:
        """One market; see ``SyncMarkets.get_market``."""
        markets = await self.markets(refresh=refresh)
        return self._market_book.find(markets, symbol, "get_market")

    async def _check_orders(
        self, ep: Endpoint[Any], values: Mapping[str, object], opts: CallOptions | None
    ) -> CallOptions | None:
        """See ``SyncMarkets._check_orders``."""
        book = self._market_book
        orders = book.to_check(ep, values)
        if not orders:
            return opts
        endpoint = ep.name
        markets = book.cached(False)
        if markets is None:
            deadline = book.deadline(opts, self._core.timeout)
            markets = await self._load_markets(deadline, endpoint)
            opts = book.rest(opts, deadline, endpoint)
        book.check(endpoint, markets, orders, self._core.clock.timestamp())
        return opts
