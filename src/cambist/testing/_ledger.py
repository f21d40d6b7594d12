"""Balances, orders and fills of a local exchange: one matching engine for every exchange.

Each exchange keeps its own wire formats; what an order *does* is decided here, once:

- An order first takes liquidity from the synthetic market's book (``Market``), level by
  level, up to its limit price (a market order has none): those fills are *taker* fills.
  The market book is not depleted (liquidity refills), so the same order fills the same way.
- What is left of a limit order rests (GTC) or is cancelled (IOC); an FOK order fills wholly
  or not at all; a post-only order that would cross is rejected.
- A resting order fills as *maker*, at its own price, when a market trade prints at or
  through it (:meth:`Ledger.match`; the local exchange calls it after each market step and
  for :meth:`LocalExchange.trade`). It is first in the queue at its price, so a test can
  make it fill by printing one trade.
- A resting order holds what it could spend (quote for a buy, base for a sell); a fill moves
  balances and charges ``fee_rate`` of what the order receives, in that asset. Every balance
  change is also an :class:`Entry` (the account's ledger). All amounts are exact Decimals.

Checks that fail raise :class:`Refusal` before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from cambist.testing._http import Refusal
from cambist.testing._market import Market, Trade

ZERO = Decimal(0)

OPEN = ("NEW", "PARTIALLY_FILLED")


@dataclass(eq=False)
class Fill:
    id: int
    order: Order
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    time: int
    trade: Trade | None = None
    """The public trade a taker fill printed."""


@dataclass(eq=False)
class Order:
    """An order. ``status`` is one of NEW, PARTIALLY_FILLED, FILLED, CANCELED,
    PARTIALLY_CANCELED (cancelled after some fills), REJECTED."""

    id: str
    client_id: str
    account: str
    symbol: str
    base: str
    quote: str
    side: str
    """BUY or SELL."""
    kind: str
    """LIMIT or MARKET."""
    tif: str
    """GTC, IOC or FOK."""
    price: Decimal
    quantity: Decimal
    """Base quantity; 0 for a market buy given as a quote ``amount``."""
    amount: Decimal
    post_only: bool
    created: int
    updated: int
    status: str = "NEW"
    executed: Decimal = ZERO
    executed_value: Decimal = ZERO
    held: Decimal = ZERO
    cancel_reason: str = ""
    fills: list[Fill] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status in OPEN

    @property
    def buy(self) -> bool:
        return self.side == "BUY"

    @property
    def held_asset(self) -> str:
        return self.quote if self.buy else self.base

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.executed

    @property
    def average_price(self) -> Decimal:
        return self.executed_value / self.executed if self.executed else ZERO

    @property
    def fees(self) -> Decimal:
        return sum((f.fee for f in self.fills), ZERO)


@dataclass
class Entry:
    """One change of a balance: kind is ``trade``, ``fee`` or ``transfer``."""

    id: int
    account: str
    asset: str
    kind: str
    amount: Decimal
    balance: Decimal
    time: int


@dataclass
class Transfer:
    id: int
    asset: str
    amount: Decimal
    source: str
    target: str
    time: int
    client_id: str = ""


Listener = Callable[[Order, Fill | None], None]


class Ledger:
    """Accounts (name -> asset -> free balance), orders, fills, entries and transfers.

    Args:
        market: The synthetic market orders match against.
        balances: Starting free balances per account.
        clock: The exchange's clock (ms).
        ids: A source of unique ids.
        fee_rate: Fee charged on what each fill brings in.
        on_order: Called after an order changes (with the fill that changed it, if any).
        on_balances: Called with (account, assets) after balances change.
    """

    def __init__(
        self,
        market: Market,
        balances: dict[str, dict[str, Decimal]],
        *,
        clock: Callable[[], int],
        ids: Callable[[], int],
        fee_rate: Decimal = ZERO,
        on_order: Listener | None = None,
        on_balances: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self.market = market
        self.balances = balances
        self.clock = clock
        self.ids = ids
        self.fee_rate = fee_rate
        self.orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.entries: list[Entry] = []
        self.transfers: list[Transfer] = []
        self.on_order = on_order or (lambda order, fill: None)
        self.on_balances = on_balances or (lambda account, assets: None)

    # -- balances ----------------------------------------------------------------------

    def free(self, account: str, asset: str) -> Decimal:
        return self.balances.setdefault(account, {}).get(asset, ZERO)

    def locked(self, account: str) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for o in self.orders.values():
            if o.open and o.account == account and o.held:
                out[o.held_asset] = out.get(o.held_asset, ZERO) + o.held
        return out

    def assets(self, account: str) -> list[str]:
        """Assets the account has or holds, sorted."""
        return sorted(set(self.balances.setdefault(account, {})) | set(self.locked(account)))

    def _move(self, account: str, asset: str, amount: Decimal, kind: str) -> None:
        """Add ``amount`` to a free balance; a ``kind`` (trade, fee, transfer) also records
        the change as an entry (moving funds into or out of an order's hold records none)."""
        wallet = self.balances.setdefault(account, {})
        wallet[asset] = wallet.get(asset, ZERO) + amount
        if kind:
            self.entries.append(
                Entry(
                    self.ids(),
                    account,
                    asset,
                    kind,
                    amount,
                    self.total(account, asset),
                    self.clock(),
                )
            )

    def total(self, account: str, asset: str) -> Decimal:
        return self.free(account, asset) + self.locked(account).get(asset, ZERO)

    def transfer(
        self, asset: str, amount: Decimal, source: str, target: str, client_id: str = ""
    ) -> Transfer:
        if amount <= 0:
            raise Refusal("invalid", "amount")
        if self.free(source, asset) < amount:
            raise Refusal("insufficient")
        self._move(source, asset, -amount, "transfer")
        self._move(target, asset, amount, "transfer")
        record = Transfer(self.ids(), asset, amount, source, target, self.clock(), client_id)
        self.transfers.append(record)
        self.on_balances(source, [asset])
        if target != source:
            self.on_balances(target, [asset])
        return record

    # -- orders ------------------------------------------------------------------------

    def place(
        self,
        *,
        account: str,
        symbol: str,
        base: str,
        quote: str,
        side: str,
        kind: str,
        quantity: Decimal = ZERO,
        price: Decimal = ZERO,
        amount: Decimal = ZERO,
        tif: str = "GTC",
        post_only: bool = False,
        client_id: str = "",
        protect: Decimal | None = None,
    ) -> Order:
        """Place an order: checks, taker fills, then rest or cancel what is left.
        ``protect``: the worst price a market order may fill at (the rest is cancelled)."""
        now = self.clock()
        order_id = str(self.ids())
        order = Order(
            id=order_id,
            client_id=client_id or order_id,
            account=account,
            symbol=symbol,
            base=base,
            quote=quote,
            side=side,
            kind=kind,
            tif=tif,
            price=price,
            quantity=quantity,
            amount=amount,
            post_only=post_only,
            created=now,
            updated=now,
        )
        limit = price if kind == "LIMIT" else protect
        levels = self._crossing(order, limit)
        if post_only and levels:
            order.status, order.cancel_reason = "REJECTED", "post only order would cross"
            self.orders[order_id] = order
            self.on_order(order, None)
            return order
        fills = self._plan(order, levels, endless=protect is None)
        taken = sum((q for _, q in fills), ZERO)
        if tif == "FOK" and taken < quantity:
            order.status, order.cancel_reason = "CANCELED", "FOK order not fully filled"
            self.orders[order_id] = order
            self.on_order(order, None)
            return order
        if kind == "MARKET" and amount and not quantity:
            order.quantity = taken
        rests = kind == "LIMIT" and tif == "GTC" and taken < order.quantity
        spend = sum((p * q for p, q in fills), ZERO) if order.buy else taken
        hold = (order.quantity - taken) * price if order.buy else order.quantity - taken
        if self.free(account, order.held_asset) < spend + (hold if rests else ZERO):
            raise Refusal("insufficient")
        self.orders[order_id] = order
        if rests:
            self._move(account, order.held_asset, -hold, "")
            order.held = hold
        self.on_order(order, None)
        if rests:
            self.on_balances(account, [order.held_asset])
        for fill_price, fill_quantity in fills:
            self._fill(order, fill_price, fill_quantity, maker=False)
        if not rests and order.open:
            self._close(order, "CANCELED" if not order.executed else "PARTIALLY_CANCELED", "IOC")
        return order

    def _crossing(self, order: Order, limit: Decimal | None) -> list[tuple[Decimal, Decimal]]:
        """The market's levels the order would take, best first."""
        book = self.market.books[order.symbol]
        if order.buy:
            levels = sorted(book.asks.items())
            return [lv for lv in levels if limit is None or lv[0] <= limit]
        levels = sorted(book.bids.items(), reverse=True)
        return [lv for lv in levels if limit is None or lv[0] >= limit]

    def _plan(
        self, order: Order, levels: list[tuple[Decimal, Decimal]], *, endless: bool = True
    ) -> list[tuple[Decimal, Decimal]]:
        """The taker fills: (price, quantity), best first. A market order by quote amount
        buys what the amount pays for; a market order beyond the book fills its rest at the
        last level (the synthetic market has endless depth there) unless a price protection
        cut the levels (``endless=False``)."""
        fills = []
        if order.kind == "MARKET" and order.amount and not order.quantity:
            budget = order.amount
            for price, available in levels:
                quantity = min(available, (budget / price).quantize(Decimal("1e-8"), "ROUND_DOWN"))
                if quantity <= 0:
                    break
                fills.append((price, quantity))
                budget -= price * quantity
            return fills
        left = order.quantity
        for price, available in levels:
            if left <= 0:
                break
            take = min(left, available)
            fills.append((price, take))
            left -= take
        if left > 0 and order.kind == "MARKET" and levels and endless:
            fills.append((levels[-1][0], left))
        return fills

    def _fill(self, order: Order, price: Decimal, quantity: Decimal, *, maker: bool) -> Fill:
        """One fill. A maker fill is at the order's own price, so it spends exactly what
        the order held for that quantity; a taker fill pays from the free balance."""
        value = price * quantity
        paid = value if order.buy else quantity
        got_asset, got = (order.base, quantity) if order.buy else (order.quote, value)
        fee = got * self.fee_rate
        trade = None
        if maker:
            order.held -= paid
            self._move(order.account, order.held_asset, paid, "")
        else:
            trade = self.market.record(order.symbol, price, quantity, buyer_maker=not order.buy)
        self._move(order.account, order.held_asset, -paid, "trade")
        self._move(order.account, got_asset, got, "trade")
        if fee:
            self._move(order.account, got_asset, -fee, "fee")
        now = self.clock()
        fill = Fill(self.ids(), order, price, quantity, fee, got_asset, maker, now, trade)
        order.executed += quantity
        order.executed_value += value
        order.updated = now
        order.status = "FILLED" if order.executed >= order.quantity else "PARTIALLY_FILLED"
        order.fills.append(fill)
        self.fills.append(fill)
        self.on_order(order, fill)
        self.on_balances(order.account, [order.base, order.quote])
        return fill

    def _close(self, order: Order, status: str, reason: str) -> None:
        if order.held:
            self._move(order.account, order.held_asset, order.held, "")
            order.held = ZERO
        order.status, order.cancel_reason = status, reason
        order.updated = self.clock()
        self.on_order(order, None)
        self.on_balances(order.account, [order.held_asset])

    def cancel(self, order: Order, reason: str = "USER_CANCEL") -> Order:
        if not order.open:
            raise Refusal("not_found")
        self._close(order, "PARTIALLY_CANCELED" if order.executed else "CANCELED", reason)
        return order

    def find(self, order_id: object = None, client_id: object = None) -> Order:
        if order_id:
            found = self.orders.get(str(order_id))
            if found is not None:
                return found
        elif client_id:
            for order in self.orders.values():
                if order.client_id == str(client_id):
                    return order
        raise Refusal("not_found")

    def open_orders(self, account: str, symbol: object = None) -> list[Order]:
        return [
            o
            for o in self.orders.values()
            if o.open and o.account == account and (not symbol or o.symbol == symbol)
        ]

    def match(self, symbol: str, trades: Iterable[Trade]) -> None:
        """Fill resting orders a market trade prints at or through (buyer-maker trades
        are sells hitting bids: they fill resting buys priced at or above them)."""
        for trade in trades:
            left = trade.quantity
            side = "BUY" if trade.buyer_maker else "SELL"
            resting = sorted(
                (
                    o
                    for o in self.orders.values()
                    if o.open
                    and o.symbol == symbol
                    and o.side == side
                    and o.kind == "LIMIT"
                    and (o.price >= trade.price if side == "BUY" else o.price <= trade.price)
                ),
                key=lambda o: (-o.price if side == "BUY" else o.price, o.created),
            )
            for order in resting:
                if left <= 0:
                    break
                take = min(left, order.remaining)
                self._fill(order, order.price, take, maker=True)
                left -= take
