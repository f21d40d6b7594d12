"""A deterministic synthetic market: one order book per symbol, moved by a seeded RNG.

The same seed gives the same books, trades and candles, so tests can assert exact values.
Prices and quantities are Decimals; the book changes only in :meth:`Market.step`; trades
(the market's own and the simulated orders' taker fills, see ``_ledger``) go through
:meth:`Market.record`, which also keeps 1m candles. Times follow the exchange's clock (its
``now_ms``, so trades and candles are as recent as its depth and orders; never before the
previous event's time); with a ``FakeClock`` they are deterministic too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

START_MS = 1_700_000_000_000
"""A market without a clock stands at this instant (2023-11-14T22:13:20Z)."""
TICK = Decimal("0.01")
LOT = Decimal("0.0001")


@dataclass(frozen=True)
class SymbolRules:
    """A simulated symbol's trading rules: what its market endpoint reports and every order
    must keep (a local exchange refuses an order breaking one with its document's code).
    None: no such rule. Prices are multiples of ``tick``, quantities of ``step``; notional
    is price x quantity (a market order's quote amount), in the quote asset."""

    tick: Decimal = TICK
    step: Decimal = LOT
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    min_quantity: Decimal | None = LOT
    max_quantity: Decimal | None = None
    min_notional: Decimal | None = None
    max_notional: Decimal | None = None
    market_min_quantity: Decimal | None = None
    market_max_quantity: Decimal | None = None
    market_min_notional: Decimal | None = None
    market_max_notional: Decimal | None = None
    buy_price_up_rate: Decimal | None = None
    """A limit buy's price is at most mark x (1 + rate); a limit sell's at least mark x
    (1 - ``sell_price_down_rate``)."""
    sell_price_down_rate: Decimal | None = None
    market_buy_price_up_rate: Decimal | None = None
    """A market order fills no further from the mark price (the rest is cancelled)."""
    market_sell_price_down_rate: Decimal | None = None
    max_open_orders: int | None = None
    """Open orders of an account on the symbol at once."""
    no_market_orders_from: int | None = None
    """A window (epoch ms, [from, until); None: unbounded on that side, both: none) in which
    market orders are refused."""
    no_market_orders_until: int | None = None
    limit_window_from: int | None = None
    """A window (epoch ms) in which a limit price must be within the window's bounds."""
    limit_window_until: int | None = None
    limit_window_min_price: Decimal | None = None
    limit_window_max_price: Decimal | None = None

    def band(self, side: str, mark: Decimal, *, market: bool) -> tuple[Decimal, Decimal] | None:
        """(lowest, highest) price an order on ``side`` may have (a market order: fill at)
        around the mark price; None when no rate bounds it."""
        up = self.market_buy_price_up_rate if market else self.buy_price_up_rate
        down = self.market_sell_price_down_rate if market else self.sell_price_down_rate
        if side.upper() == "BUY":
            return (Decimal(0), mark * (1 + up)) if up else None
        return (mark * (1 - down), Decimal("Infinity")) if down else None

    def broken(
        self,
        price: Decimal | None,
        quantity: Decimal | None,
        amount: Decimal | None,
        *,
        market: bool,
        side: str | None = None,
        mark: Decimal | None = None,
        now: int | None = None,
        open_orders: int = 0,
    ) -> str | None:
        """The first rule the order breaks (``price_tick``, ``min_price``, ``max_price``,
        ``quantity_step``, ``min_quantity``, ``max_quantity``, ``min_notional``,
        ``max_notional``; with ``now`` (epoch ms): ``no_market_orders``,
        ``limit_window_min_price``, ``limit_window_max_price``; with ``side`` and ``mark``:
        ``buy_price_up_rate``, ``sell_price_down_rate``; ``max_open_orders``: a limit
        order, counting ``open_orders`` already open), or None."""
        if now is not None:
            if market and _within(now, self.no_market_orders_from, self.no_market_orders_until):
                return "no_market_orders"
            if (
                price
                and not market
                and _within(now, self.limit_window_from, self.limit_window_until)
            ):
                if self.limit_window_min_price and price < self.limit_window_min_price:
                    return "limit_window_min_price"
                if self.limit_window_max_price and price > self.limit_window_max_price:
                    return "limit_window_max_price"
        if price and not market and side is not None and mark is not None:
            bounds = self.band(side, mark, market=False)
            if bounds is not None and price > bounds[1]:
                return "buy_price_up_rate"
            if bounds is not None and price < bounds[0]:
                return "sell_price_down_rate"
        if not market and self.max_open_orders and open_orders >= self.max_open_orders:
            return "max_open_orders"
        if price and not market:
            if price % self.tick:
                return "price_tick"
            if self.min_price is not None and price < self.min_price:
                return "min_price"
            if self.max_price is not None and price > self.max_price:
                return "max_price"
        if quantity:
            if quantity % self.step:
                return "quantity_step"
            low = (self.market_min_quantity if market else None) or self.min_quantity
            high = (self.market_max_quantity if market else None) or self.max_quantity
            if low is not None and quantity < low:
                return "min_quantity"
            if high is not None and quantity > high:
                return "max_quantity"
        value = amount if market else (price * quantity if price and quantity else None)
        if value:
            low = (self.market_min_notional if market else None) or self.min_notional
            high = (self.market_max_notional if market else None) or self.max_notional
            if low is not None and value < low:
                return "min_notional"
            if high is not None and value > high:
                return "max_notional"
        return None


def _within(now: int, start: int | None, end: int | None) -> bool:
    """Is ``now`` in [start, end)? None or 0: unbounded on that side; both: no window."""
    if not start and not end:
        return False
    return (not start or now >= start) and (not end or now < end)


@dataclass
class Trade:
    id: int
    price: Decimal
    quantity: Decimal
    buyer_maker: bool
    time: int


UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "W": 604_800_000}


def bar_start(time: int, interval: str) -> int:
    """Open time (ms, UTC) of the ``interval`` bar holding ``time``: ``<n>m``, ``<n>h``,
    ``<n>d``, ``<n>w``/``<n>W`` (weeks start on Monday) or ``<n>M`` (calendar months).
    Raises ValueError for anything else."""
    count, unit = int(interval[:-1] or "x"), interval[-1:]
    if unit == "M":
        day = datetime.fromtimestamp(time / 1000, UTC)
        months = day.year * 12 + day.month - 1
        months -= months % count
        return int(datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC).timestamp() * 1000)
    if unit not in UNITS or count < 1:
        raise ValueError(f"unknown interval {interval!r}")
    size = count * UNITS[unit]
    monday = 4 * UNITS["d"] if unit in "wW" else 0  # 1970-01-01 was a Thursday
    return time - (time - monday) % size


def bar_end(start: int, interval: str) -> int:
    """The last millisecond of the ``interval`` bar opening at ``start``."""
    count, unit = int(interval[:-1]), interval[-1:]
    span = count * (31 * UNITS["d"] if unit == "M" else UNITS[unit])
    return bar_start(start + span, interval) - 1


@dataclass
class Candle:
    """A 1m candle (open time, prices, base and quote volume, trade count)."""

    time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    count: int = 0
    first_trade: int = 0


@dataclass
class Book:
    """Price -> quantity per side, with a version that advances on every change."""

    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    version: int = 0

    def top(self, n: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids = sorted(self.bids.items(), reverse=True)[:n]
        asks = sorted(self.asks.items())[:n]
        return bids, asks


@dataclass
class Change:
    """What one step changed: levels set (quantity 0 = removed) and trades printed."""

    symbol: str
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    trades: list[Trade]
    version: int
    time: int


class Market:
    """Seeded books for a set of symbols. ``clock``: the exchange's time in ms (default: a
    clock standing still at a fixed instant); :meth:`now_ms` gives each event its time."""

    def __init__(
        self,
        symbols: dict[str, Decimal],
        *,
        seed: int = 1,
        levels: int = 20,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.books: dict[str, Book] = {}
        self.trades: dict[str, list[Trade]] = {s: [] for s in symbols}
        self.candles: dict[str, dict[int, Candle]] = {s: {} for s in symbols}
        self.levels = levels
        self._trade_ids = 1_000_000
        self.clock = clock or (lambda: START_MS)
        self.clock_ms = self.clock()
        """The last event's time (ms); a test may move it on to jump the market ahead."""
        for symbol, mid in symbols.items():
            book = Book()
            for i in range(1, levels + 1):
                book.bids[mid - TICK * i] = self._quantity()
                book.asks[mid + TICK * (i - 1) + TICK] = self._quantity()
            book.version = 1
            self.books[symbol] = book

    def _quantity(self) -> Decimal:
        return (Decimal(self.rng.randint(1, 50_000)) * LOT).normalize() or LOT

    def now_ms(self) -> int:
        """The time of a new event: the clock's now (events in one ms share it), never
        before the previous event's (a test may have moved ``clock_ms`` ahead)."""
        self.clock_ms = max(self.clock_ms, self.clock())
        return self.clock_ms

    def step(self, symbol: str) -> Change:
        """One deterministic change: a few levels move, sometimes a trade prints."""
        book = self.books[symbol]
        bids: list[tuple[Decimal, Decimal]] = []
        asks: list[tuple[Decimal, Decimal]] = []
        for _ in range(self.rng.randint(1, 3)):
            side_bids = self.rng.random() < 0.5
            side = book.bids if side_bids else book.asks
            changes = bids if side_bids else asks
            prices = sorted(side, reverse=side_bids)
            if not prices:
                continue
            price = prices[self.rng.randrange(len(prices))]
            if self.rng.random() < 0.2 and len(prices) > 2:
                del side[price]
                changes.append((price, Decimal(0)))
                far = prices[-1] - TICK if side_bids else prices[-1] + TICK
                side[far] = self._quantity()
                changes.append((far, side[far]))
            else:
                side[price] = self._quantity()
                changes.append((price, side[price]))
        trades = []
        if self.rng.random() < 0.5:
            best_bid = max(book.bids)
            best_ask = min(book.asks)
            buyer_maker = self.rng.random() < 0.5
            price = best_bid if buyer_maker else best_ask
            trades.append(
                self.record(symbol, price, self._quantity() / 10, buyer_maker=buyer_maker)
            )
        book.version += 1
        return Change(symbol, bids, asks, trades, book.version, self.now_ms())

    def record(self, symbol: str, price: Decimal, quantity: Decimal, *, buyer_maker: bool) -> Trade:
        """Print a trade: it joins the trade history and the 1m candles."""
        self._trade_ids += 1
        trade = Trade(self._trade_ids, price, quantity.normalize(), buyer_maker, self.now_ms())
        self.trades[symbol].append(trade)
        del self.trades[symbol][:-500]
        minute = trade.time - trade.time % 60_000
        candles = self.candles[symbol]
        bar = candles.get(minute)
        if bar is None:
            candles[minute] = Candle(minute, price, price, price, price, first_trade=trade.id)
            bar = candles[minute]
            if len(candles) > 1_000:
                del candles[min(candles)]
        bar.high, bar.low, bar.close = max(bar.high, price), min(bar.low, price), price
        bar.volume += trade.quantity
        bar.quote_volume += price * trade.quantity
        bar.count += 1
        return trade

    def candle(self, symbol: str, time: int, interval: str = "1m") -> Candle:
        """The candle of ``interval`` holding ``time``: flat at the mid price if nothing traded."""
        start = bar_start(time, interval)
        bars = self.bars(symbol, interval, since=start)
        if bars and bars[0].time == start:
            return bars[0]
        mid = self.mid(symbol)
        return Candle(start, mid, mid, mid, mid)

    def bars(self, symbol: str, interval: str = "1m", since: int = 0) -> list[Candle]:
        """Candles of ``interval`` (see :func:`bar_start`) opening at or after ``since``,
        oldest first, made from the 1m candles kept (the last 1,000 minutes that traded)."""
        runs: dict[int, list[Candle]] = {}
        minutes = self.candles[symbol]
        for minute in sorted(m for m in minutes if m >= since):
            start = bar_start(minute, interval)
            if start >= since:
                runs.setdefault(start, []).append(minutes[minute])
        return [_merge(start, run) for start, run in runs.items()]

    def mid(self, symbol: str) -> Decimal:
        book = self.books[symbol]
        return (max(book.bids) + min(book.asks)) / 2

    def best(self, symbol: str) -> tuple[tuple[Decimal, Decimal], tuple[Decimal, Decimal]]:
        """The best bid and ask: (price, quantity) each."""
        bids, asks = self.books[symbol].top(1)
        return bids[0], asks[0]

    def last(self, symbol: str) -> Decimal:
        """The last trade's price (the mid price before any trade)."""
        trades = self.trades[symbol]
        return trades[-1].price if trades else self.mid(symbol)

    def day(self, symbol: str) -> Candle:
        """The 24 hours up to the last trade, as one candle (flat at the mid: no trade yet)."""
        trades = self.trades[symbol]
        if not trades:
            return self.candle(symbol, self.clock_ms)
        since = trades[-1].time - 86_400_000
        run = [c for minute, c in sorted(self.candles[symbol].items()) if minute > since]
        return _merge(run[0].time, run)


def _merge(time: int, run: list[Candle]) -> Candle:
    """One candle opening at ``time`` from a run of consecutive candles, oldest first."""
    first = run[0]
    out = Candle(time, first.open, first.high, first.low, run[-1].close)
    out.first_trade = first.first_trade
    for c in run:
        out.high, out.low = max(out.high, c.high), min(out.low, c.low)
        out.volume += c.volume
        out.quote_volume += c.quote_volume
        out.count += c.count
    return out
