"""A local order book kept from depth pushes. Pure: no I/O.

Merge rules (the documents leave them out; these are the rules implemented):

- ``snapshot`` channels (HashKey ``depth``, v1 and v2): every push lists the visible book,
  so each push replaces it. The document shows whole two-sided books in every push and
  describes no deltas.
- ``incremental`` channels (Bibox ``order_book``): the document says the first push after
  subscribing is the full book and later pushes are changes, and elides how to merge them.
  A later push's level sets that price's quantity (absolute, not a difference); quantity 0
  removes the level.
- Every push carries a version (HashKey ``v`` such as ``"538222447_18"``, compared as the
  numbers ``(538222447, 18)``; Bibox ``i``). A push whose version does not advance past the
  last applied one, or a book left crossed (best bid >= best ask), cannot be trusted: the
  book is emptied, marked unsynced and the stream re-subscribes for a fresh full book.
- ``sequenced`` channels (Binance Options ``<symbol>@depth@<speed>``), as the document's "How
  to manage a local order book correctly" says: pushes are diffs with a first and a final
  update id (``U``, ``u``) and the previous push's final id (``pu``); they are buffered while
  a REST snapshot (``lastUpdateId``) is fetched; buffered diffs with ``u`` below the
  snapshot's id are dropped; the first diff applied must have ``U <= lastUpdateId <= u``;
  every later one must have ``pu`` equal to the last applied ``u``; quantities are absolute
  and 0 removes a level (removing an absent level is normal). A broken chain empties the book
  and fetches a new snapshot (:meth:`OrderBook.feed`, :meth:`OrderBook.load`).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from operator import attrgetter, gt, itemgetter, lt
from typing import Any, NamedTuple

from cambist._runtime.convert import dec


class PriceLevel(NamedTuple):
    """One level of a local order book: the shape of every exchange's REST ``PriceLevel``
    (``.price``, ``.quantity``; a tuple, so ``price, quantity = level`` works too)."""

    price: Decimal
    quantity: Decimal


Level = PriceLevel


class BookError(Exception):
    """An update cannot be applied; the book must be re-snapshotted."""


def version_of(value: object) -> tuple[int, ...]:
    """``"538222447_18"`` -> ``(538222447, 18)``; ``1027024`` -> ``(1027024,)``."""
    try:
        if type(value) is str:  # every push's: one or two numbers read without a list
            head, sep, tail = value.partition("_")
            if not sep:
                return (int(value),)
            if "_" not in tail:
                return (int(head), int(tail))
        return tuple(map(int, str(value).split("_")))
    except ValueError:
        raise BookError(f"unreadable version {value!r}") from None


class OrderBook:
    """Bids and asks by price, kept sorted. Read it with :meth:`best_bid`, :meth:`best_ask`,
    :meth:`top`; ``synced`` is False until the first full book arrives (and after a
    resynchronisation empties it), so a stale book is never presented as current."""

    __slots__ = (
        "_ask_prices",
        "_asks",
        "_bid_prices",
        "_bids",
        "_fresh",
        "_pending",
        "_view",
        "fetching",
        "generation",
        "label",
        "synced",
        "version",
    )

    def __init__(self, label: str = "") -> None:
        self.label = label
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        self._bid_prices: list[Decimal] = []  # ascending: the best bid is last
        self._ask_prices: list[Decimal] = []  # ascending: the best ask is first
        self._view: tuple[list[Any], list[Any]] | None = None
        """A full book as pushed, sorted (bids highest first, asks lowest first): what a
        ``replace`` leaves, read as it is. The price dicts above are built from it only when
        an increment must be applied (``_materialize``), so a snapshot push costs a sort and
        no hashing of its prices (a Decimal's hash costs four times its parsing)."""
        self.version: tuple[int, ...] | None = None
        self.synced = False
        self._pending: list[tuple[int, int, int, Any, Any, bool]] = []
        self._fresh = False  # sequenced: the next diff is the first after a snapshot
        self.fetching = False
        """Sequenced books: a snapshot has been asked for and not loaded yet."""
        self.generation = 0
        """Counts resets: a snapshot fetched before a reset is not loaded after it."""

    def __repr__(self) -> str:
        bids, asks = self._view if self._view is not None else (self._bids, self._asks)
        return (
            f"OrderBook({self.label!r}, synced={self.synced}, bids={len(bids)}, "
            f"asks={len(asks)}, best_bid={self.best_bid()}, best_ask={self.best_ask()})"
        )

    # -- reading -----------------------------------------------------------------------

    def best_bid(self) -> Level | None:
        if self._view is not None:
            bids = self._view[0]
            return PriceLevel(*bids[0][:2]) if bids else None
        if not self._bid_prices:
            return None
        price = self._bid_prices[-1]
        return PriceLevel(price, self._bids[price])

    def best_ask(self) -> Level | None:
        if self._view is not None:
            asks = self._view[1]
            return PriceLevel(*asks[0][:2]) if asks else None
        if not self._ask_prices:
            return None
        price = self._ask_prices[0]
        return PriceLevel(price, self._asks[price])

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """The best ``n`` bids (highest first) and asks (lowest first)."""
        if n <= 0:
            return [], []
        if self._view is not None:
            view_bids, view_asks = self._view
            return (
                [PriceLevel(p, q) for p, q, *_ in view_bids[:n]],
                [PriceLevel(p, q) for p, q, *_ in view_asks[:n]],
            )
        bids = [PriceLevel(p, self._bids[p]) for p in reversed(self._bid_prices[-n:])]
        asks = [PriceLevel(p, self._asks[p]) for p in self._ask_prices[:n]]
        return bids, asks

    @property
    def bids(self) -> list[Level]:
        view = self._view
        return self.top(len(view[0]) if view is not None else len(self._bid_prices))[0]

    @property
    def asks(self) -> list[Level]:
        view = self._view
        return self.top(len(view[1]) if view is not None else len(self._ask_prices))[1]

    # -- writing -----------------------------------------------------------------------

    def reset(self) -> None:
        """Empty the book and wait for a full one."""
        self._bids.clear()
        self._asks.clear()
        self._bid_prices.clear()
        self._ask_prices.clear()
        self._view = None
        self.version = None
        self.synced = False
        self._pending.clear()
        self._fresh = False
        self.fetching = False
        self.generation += 1

    def _materialize(self) -> None:
        """Index a full book left by :meth:`replace` by price, to apply increments to it."""
        view = self._view
        if view is None:
            return
        self._view = None
        bids, asks = view
        self._bids = {level[0]: level[1] for level in bids}
        self._asks = {level[0]: level[1] for level in asks}
        self._bid_prices = sorted(self._bids)
        self._ask_prices = sorted(self._asks)

    def _advance(self, version: tuple[int, ...]) -> None:
        if self.version is not None and version <= self.version:
            raise BookError(f"version {version} does not advance past {self.version}")
        self.version = version

    def replace(
        self,
        bids: Iterable[Sequence[Any]],
        asks: Iterable[Sequence[Any]],
        version: object,
        decoded: bool = False,
    ) -> None:
        """Make the book exactly these levels (a full book). ``decoded``: the levels are
        ``(price, quantity)`` pairs of Decimals already (a parsed push's ``PriceLevel`` rows),
        taken as they are; otherwise each value is read from its wire text."""
        v = version_of(version)
        if self.synced:
            self._advance(v)
        self.version = v
        if decoded:
            bid_levels, ask_levels = list(bids), list(asks)
        else:
            bid_levels = [PriceLevel(dec(lv[0]), dec(lv[1])) for lv in bids]
            ask_levels = [PriceLevel(dec(lv[0]), dec(lv[1])) for lv in asks]
        self._view = (_side(bid_levels, gt), _side(ask_levels, lt))
        self.synced = True
        self._check_crossed()

    def update(
        self,
        bids: Iterable[Sequence[Any]],
        asks: Iterable[Sequence[Any]],
        version: object,
        decoded: bool = False,
    ) -> None:
        """Apply changes: each level sets its price's quantity; quantity 0 removes it
        (``decoded``: as for :meth:`replace`)."""
        self._advance(version_of(version))
        if self._view is not None:
            self._materialize()
        apply = _apply_decoded if decoded else _apply
        apply(self._bids, self._bid_prices, bids)
        apply(self._asks, self._ask_prices, asks)
        self._check_crossed()

    # -- sequenced (diff) books -------------------------------------------------------

    def feed(
        self,
        first: object,
        last: object,
        previous: object,
        bids: Iterable[Sequence[Any]],
        asks: Iterable[Sequence[Any]],
        decoded: bool = False,
    ) -> bool:
        """One diff (``U``, ``u``, ``pu``, levels): applied, dropped as older than the book,
        or buffered until a snapshot is loaded. True when a snapshot must be fetched now
        (the caller fetches it and calls :meth:`load`); :class:`BookError` when the chain of
        update ids is broken."""
        diff = (int(str(first)), int(str(last)), int(str(previous)), bids, asks, decoded)
        if not self.synced:
            self._pending.append(diff)
            if self.fetching:
                return False
            self.fetching = True
            return True
        self._apply_diff(diff)
        return False

    def load(
        self, bids: Iterable[Sequence[Any]], asks: Iterable[Sequence[Any]], last_update_id: object
    ) -> None:
        """A REST snapshot: the book becomes it, then the buffered diffs are applied."""
        pending = list(self._pending)
        generation = self.generation
        self.reset()
        self.generation = generation
        self.replace(bids, asks, last_update_id)
        self._fresh = True
        for diff in pending:
            self._apply_diff(diff)

    def _apply_diff(self, diff: tuple[int, int, int, Any, Any, bool]) -> None:
        first, last, previous, bids, asks, decoded = diff
        assert self.version is not None
        current = self.version[0]
        if self._fresh:
            if last < current:
                return  # older than the snapshot: dropped
            if not first <= current <= last:
                raise BookError(f"diff {first}..{last} does not cover snapshot {current}")
            self._fresh = False
        elif previous != current:
            raise BookError(f"diff {first}..{last} follows {previous}, not {current}")
        self._materialize()
        _apply(self._bids, self._bid_prices, bids, decoded)
        _apply(self._asks, self._ask_prices, asks, decoded)
        self.version = (last,)
        self._check_crossed()

    def _check_crossed(self) -> None:
        view = self._view
        if view is not None:
            bids, asks = view
            if bids and asks and bids[0][0] >= asks[0][0]:
                raise BookError(f"crossed book: best bid {bids[0][0]} >= best ask {asks[0][0]}")
            return
        if self._bid_prices and self._ask_prices and self._bid_prices[-1] >= self._ask_prices[0]:
            raise BookError(
                f"crossed book: best bid {self._bid_prices[-1]} >= best ask {self._ask_prices[0]}"
            )


_price = itemgetter(0)
_quantity = itemgetter(1)


def _side(levels: list[Any], better: Callable[[Any, Any], bool]) -> list[Any]:
    """One side of a full book, best first, without empty levels; a price listed twice keeps
    its last quantity (as a dict would). The usual case (sorted, distinct, none empty, as
    exchanges send them) is checked in C and taken as it is."""
    prices = list(map(_price, levels))
    if all(map(_quantity, levels)) and all(map(better, prices, prices[1:])):
        return levels
    last = {level[0]: level for level in levels}  # the last level of each price
    kept = [level for level in last.values() if level[1]]
    kept.sort(key=_price, reverse=better is gt)
    return kept


def _apply_decoded(
    side: dict[Decimal, Decimal], prices: list[Decimal], levels: Iterable[Sequence[Any]]
) -> None:
    """:func:`_apply` for levels of Decimals already (a parsed push's ``PriceLevel`` rows)."""
    for price, quantity in levels:
        if not quantity:
            if side.pop(price, None) is not None:
                del prices[bisect_left(prices, price)]
        else:
            if price not in side:
                insort(prices, price)
            side[price] = quantity


def _apply(
    side: dict[Decimal, Decimal],
    prices: list[Decimal],
    levels: Iterable[Sequence[Any]],
    decoded: bool = False,
) -> None:
    if decoded:
        _apply_decoded(side, prices, levels)
        return
    for level in levels:
        price = dec(level[0])
        quantity = dec(level[1])
        if not quantity:
            if side.pop(price, None) is not None:
                del prices[bisect_left(prices, price)]
        else:
            if price not in side:
                insort(prices, price)
            side[price] = quantity


def event_getter(path: tuple[str | int, ...]) -> Callable[[Any], Any]:
    """A getter of ``path`` (attribute names and list indexes) in a parsed push (a model):
    ``operator.attrgetter`` (C) when it names attributes only."""
    if all(isinstance(part, str) for part in path):
        return attrgetter(".".join(map(str, path)))

    def get(event: Any) -> Any:
        for part in path:
            event = event[part] if isinstance(part, int) else getattr(event, part)
        return event

    return get


def path_get(msg: Any, path: tuple[str, ...]) -> Any:
    """Follow a dotted path (``data.0.b``) into a decoded push."""
    for part in path:
        msg = msg[int(part)] if type(msg) is list else msg[part]
    return msg
