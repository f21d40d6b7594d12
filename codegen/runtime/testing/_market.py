"""A deterministic synthetic market: one order book per symbol, moved by a seeded RNG.

The same seed gives the same books, trades and candles, so tests can assert exact values.
Prices and quantities are Decimals; all state changes go through :meth:`Market.step` and
the order matcher (market orders take liquidity from this book).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

TICK = Decimal("0.01")
LOT = Decimal("0.0001")


@dataclass
class Trade:
    id: int
    price: Decimal
    quantity: Decimal
    buyer_maker: bool
    time: int


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
    """Seeded books for a set of symbols. ``now_ms`` is the simulator's clock."""

    def __init__(self, symbols: dict[str, Decimal], *, seed: int = 1, levels: int = 20) -> None:
        self.rng = random.Random(seed)
        self.books: dict[str, Book] = {}
        self.trades: dict[str, list[Trade]] = {s: [] for s in symbols}
        self.levels = levels
        self._trade_ids = 1_000_000
        self.clock_ms = 1_700_000_000_000
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
        self.clock_ms += 7
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
            trades.append(self._print(symbol, price, self._quantity() / 10, buyer_maker))
        book.version += 1
        return Change(symbol, bids, asks, trades, book.version, self.now_ms())

    def _print(self, symbol: str, price: Decimal, quantity: Decimal, buyer_maker: bool) -> Trade:
        self._trade_ids += 1
        trade = Trade(self._trade_ids, price, quantity.normalize(), buyer_maker, self.now_ms())
        self.trades[symbol].append(trade)
        del self.trades[symbol][:-500]
        return trade

    def take(self, symbol: str, side: str, quantity: Decimal) -> Iterator[tuple[Decimal, Decimal]]:
        """Fill a market order against the book: yields (price, quantity) fills, best first.
        The book is not depleted (liquidity refills), so fills are deterministic."""
        book = self.books[symbol]
        levels = (
            sorted(book.asks.items()) if side == "BUY" else sorted(book.bids.items(), reverse=True)
        )
        left = quantity
        for price, available in levels:
            if left <= 0:
                break
            fill = min(left, available)
            left -= fill
            self._print(symbol, price, fill, side == "SELL")
            yield price, fill
        if left > 0 and levels:
            yield levels[-1][0], left
