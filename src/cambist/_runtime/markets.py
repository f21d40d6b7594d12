"""Markets, written once for the sync and the async client.

The generated ``cambist.<exchange>._markets.MARKETS`` (a :class:`MarketSource`, from the
spec's ``exchange.markets``) says which endpoint lists the markets and where each rule sits
in its parsed answer; which order endpoints to check, and which of their params are the
symbol, price, quantity and quote amount. Everything here is pure: :class:`MarketBook`
decides when to load, builds the markets from an answer and finds the orders of a call to
check; the client's two thin drivers (:class:`SyncMarkets`, :class:`AsyncMarkets`) only make
the call that loads them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
            k: v if isinstance(v, Decimal) else Decimal(str(v))
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
            )
        )
    return out


class MarketBook:
    """One client's markets: the cache, its age, and the checks (pure; no I/O)."""

    def __init__(
        self, source: MarketSource, ttl: float | None, now: Callable[[], float], check: bool
    ) -> None:
        self.source = source
        self.ttl = ttl
        self.now = now
        self.check_orders = check
        self.markets: dict[str, Market] | None = None
        self.loaded_at = 0.0

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

    def endpoint(self) -> tuple[str, str]:
        """(resource, method) of the call that lists the markets."""
        resource, _, method = (self.source.endpoint or "").partition(".")
        return resource, method

    def store(self, answer: Any) -> dict[str, Market]:
        self.markets = build(self.source, answer)
        self.loaded_at = self.now()
        return self.markets

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

    def to_check(self, endpoint: str, values: Mapping[str, object]) -> list[OrderToCheck]:
        """The orders of a call to check before sending (none unless ``check_orders``)."""
        shape = self.source.orders.get(endpoint) if self.check_orders else None
        return orders_of(shape, values) if shape is not None else []

    def check(
        self, endpoint: str, markets: Mapping[str, Market], orders: list[OrderToCheck]
    ) -> None:
        """Raise the first broken rule of ``orders`` (MarketRuleError / UnknownMarketError)."""
        for order in orders:
            self.find(markets, order.symbol, endpoint).check(
                price=order.price,  # type: ignore[arg-type]
                quantity=order.quantity,  # type: ignore[arg-type]
                quote_amount=order.quote_amount,  # type: ignore[arg-type]
                market=order.market,
                endpoint=endpoint,
            )


class SyncMarkets:
    """``markets()`` / ``market()`` of the blocking client (the I/O half)."""

    _market_book: MarketBook

    def markets(self, *, refresh: bool = False) -> dict[str, Market]:
        """Every market the exchange lists, by symbol (``cambist.markets.Market``: its
        trading rules, exact Decimals). Loaded on first use from the exchange's own
        endpoint, then cached for ``markets_ttl`` seconds (client option); ``refresh=True``
        loads them again now. Raises ``MarketsUnavailableError`` where the exchange's
        document gives no markets endpoint (BingX)."""
        book = self._market_book
        found = book.cached(refresh)
        if found is None:
            resource, method = book.endpoint()
            found = book.store(getattr(getattr(self, resource), method)())
        return found

    def get_market(self, symbol: str, *, refresh: bool = False) -> Market:
        """One market (see :meth:`markets`); a symbol the exchange does not list raises
        ``UnknownMarketError`` naming close matches. (``client.market`` is the market-data
        endpoints.)"""
        return self._market_book.find(self.markets(refresh=refresh), symbol, "get_market")

    def _check_orders(self, endpoint: str, values: Mapping[str, object]) -> None:
        orders = self._market_book.to_check(endpoint, values)
        if orders:
            self._market_book.check(endpoint, self.markets(), orders)


class AsyncMarkets:
    """``markets()`` / ``market()`` of the asyncio client (the I/O half)."""

    _market_book: MarketBook

    async def markets(self, *, refresh: bool = False) -> dict[str, Market]:
        """Every market the exchange lists, by symbol; see ``SyncMarkets.markets``."""
        book = self._market_book
        found = book.cached(refresh)
        if found is None:
            resource, method = book.endpoint()
            found = book.store(await getattr(getattr(self, resource), method)())
        return found

    async def get_market(self, symbol: str, *, refresh: bool = False) -> Market:
        """One market; see ``SyncMarkets.get_market``."""
        markets = await self.markets(refresh=refresh)
        return self._market_book.find(markets, symbol, "get_market")

    async def _check_orders(self, endpoint: str, values: Mapping[str, object]) -> None:
        orders = self._market_book.to_check(endpoint, values)
        if orders:
            self._market_book.check(endpoint, await self.markets(), orders)
