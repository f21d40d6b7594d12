"""Markets: each symbol's trading rules, as the exchange reports them, with exact helpers.

``client.markets()`` loads them from the exchange's own endpoint (the mapping from its fields
and filters is declared in its spec, ``exchange.markets``); ``client.market("BTCUSDT")``
gives one. A :class:`Market` rounds prices and quantities to its tick and step and checks an
order against every rule it knows, raising :class:`~cambist.errors.MarketRuleError` (a
:class:`~cambist.errors.RequestValidationError`) that names the rule, the value and the
nearest valid values::

    m = client.market("BTCUSDT")
    price = m.round_price(Decimal("50000.004"), rounding=ROUND_DOWN)   # 50000.00
    quantity = m.round_quantity(Decimal("0.123456"))                  # toward zero: 0.1234
    m.check(price=price, quantity=quantity)                          # or MarketRuleError

Every number is a ``Decimal`` exactly as the exchange wrote it; a rule the exchange does not
give is ``None`` and is not checked.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal, localcontext
from typing import Any

import attrs

from cambist.errors import MarketRuleError

__all__ = ["ROUND_CEILING", "ROUND_DOWN", "ROUND_FLOOR", "Market", "MarketRuleError"]


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """``value`` rounded to a multiple of ``step`` (exactly, whatever the context)."""
    with localcontext() as ctx:
        ctx.prec = 60
        units = (value / step).quantize(Decimal(1), rounding=rounding)
        out = units * step
    exponent = step.as_tuple().exponent
    return out.quantize(Decimal(1).scaleb(exponent)) if isinstance(exponent, int) else out


def _neighbours(value: Decimal, step: Decimal) -> tuple[Decimal, ...]:
    """The multiples of ``step`` either side of ``value`` that could be a price or quantity:
    zero and below are left out (no order has them)."""
    below, above = _to_step(value, step, ROUND_FLOOR), _to_step(value, step, ROUND_CEILING)
    return tuple(v for v in (below, above) if v > 0)


def _on_step(value: Decimal, step: Decimal) -> bool:
    with localcontext() as ctx:
        ctx.prec = 60
        return (value / step) % 1 == 0


def _plain(value: Decimal) -> str:
    return format(value, "f")


@attrs.frozen(kw_only=True)
class Market:
    """One symbol and its trading rules (a rule the exchange does not give is ``None``).

    Attributes:
        symbol: The exchange's symbol (``BTCUSDT``, ``BTC_USDT``, ``BTC-220815-50000-C``).
        base: The asset bought and sold (for an option: the contract itself).
        quote: The asset prices and order values are in.
        status: The exchange's status text (``TRADING``, ``tradable``...).
        active: Whether ``status`` is one the spec lists as open for trading.
        price_tick: Prices are multiples of it.
        min_price, max_price: Price bounds (a ``max_price`` of 0 means none).
        quantity_step: Quantities are multiples of it.
        min_quantity, max_quantity: Quantity bounds (a ``max_quantity`` of 0 means none).
        min_notional, max_notional: Bounds on an order's value, price x quantity (quote asset).
        market_min_quantity, market_max_quantity: A market order's quantity bounds.
        market_min_notional, market_max_notional: A market order's quote amount bounds.
        price_precision, quantity_precision: Decimal places the exchange gives.
        buy_price_up_rate, sell_price_down_rate: A limit order's price band around the mark
            price: a buy at most ``mark x (1 + buy_price_up_rate)``, a sell at least
            ``mark x (1 - sell_price_down_rate)``. Checked when ``check`` is given the mark
            price (the exchange reports the rates, not the mark price).
        market_buy_price_up_rate, market_sell_price_down_rate: The same band for a market
            order: it fills no further from the mark price (the exchange enforces it on
            execution; a market order has no price to check).
        max_open_orders: Open orders allowed on the symbol at once (not checked here: the
            count is the account's).
        no_market_orders_from, no_market_orders_until: A window (epoch ms) in which market
            orders are refused (0 or None: no bound on that side; both: no window).
        limit_window_from, limit_window_until, limit_window_min_price,
        limit_window_max_price: A window (epoch ms) in which a limit order's price must be
            within those bounds (an opening auction's price limits).
        info: The exchange's own object for the symbol (its generated model), for anything
            else it reports.
    """

    symbol: str
    base: str
    quote: str
    status: str
    active: bool = True
    price_tick: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    quantity_step: Decimal | None = None
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    min_notional: Decimal | None = None
    max_notional: Decimal | None = None
    market_min_quantity: Decimal | None = None
    market_max_quantity: Decimal | None = None
    market_min_notional: Decimal | None = None
    market_max_notional: Decimal | None = None
    price_precision: int | None = None
    quantity_precision: int | None = None
    buy_price_up_rate: Decimal | None = None
    sell_price_down_rate: Decimal | None = None
    market_buy_price_up_rate: Decimal | None = None
    market_sell_price_down_rate: Decimal | None = None
    max_open_orders: int | None = None
    no_market_orders_from: int | None = None
    no_market_orders_until: int | None = None
    limit_window_from: int | None = None
    limit_window_until: int | None = None
    limit_window_min_price: Decimal | None = None
    limit_window_max_price: Decimal | None = None
    info: Any = attrs.field(default=None, eq=False, repr=False)

    # -- rounding ----------------------------------------------------------------------

    def round_price(self, price: Decimal | int | str, *, rounding: str) -> Decimal:
        """``price`` on the tick, rounded in the direction given (a ``decimal`` rounding
        mode: ``ROUND_DOWN``/``ROUND_FLOOR`` down, ``ROUND_UP``/``ROUND_CEILING`` up,
        ``ROUND_HALF_EVEN`` to the nearest). Unchanged when the market has no tick."""
        value = _decimal(price, "price")
        return value if not self.price_tick else _to_step(value, self.price_tick, rounding)

    def round_quantity(
        self, quantity: Decimal | int | str, *, rounding: str = ROUND_DOWN
    ) -> Decimal:
        """``quantity`` on the step; toward zero unless ``rounding`` says otherwise (never
        more than asked). Unchanged when the market has no step."""
        value = _decimal(quantity, "quantity")
        step = self.quantity_step
        return value if not step else _to_step(value, step, rounding)

    # -- checks ------------------------------------------------------------------------

    def violations(
        self,
        *,
        price: Decimal | int | str | None = None,
        quantity: Decimal | int | str | None = None,
        quote_amount: Decimal | int | str | None = None,
        market: bool = False,
        side: str | None = None,
        mark_price: Decimal | int | str | None = None,
        now: int | None = None,
        endpoint: str | None = None,
    ) -> list[MarketRuleError]:
        """Every rule the order breaks (empty: none). ``market=True``: a market order (its
        own quantity and amount bounds apply; its ``price``, if any, is not checked). A
        market whose status is not one the spec lists as trading breaks ``status``.
        ``side`` (``BUY``/``SELL``, any case) with ``mark_price``: the limit price band;
        ``now`` (epoch ms, the exchange's clock): the market-order and limit-price windows.
        Rules needing what is not given are not checked. ``endpoint``: the call the errors
        name (default ``Market.check``)."""
        out: list[MarketRuleError] = []
        p = None if price is None else _decimal(price, "price")
        q = None if quantity is None else _decimal(quantity, "quantity")
        a = None if quote_amount is None else _decimal(quote_amount, "quote_amount")

        def broke(rule: str, param: str, value: Decimal | str, text: str, *valid: Decimal) -> None:
            out.append(
                MarketRuleError(self.symbol, rule, param, value, valid, text, endpoint=endpoint)
            )

        if not self.active:
            broke("status", "symbol", self.symbol, f"is not open for trading ({self.status})")
        if (
            market
            and now is not None
            and _within(now, self.no_market_orders_from, self.no_market_orders_until)
        ):
            broke(
                "no_market_orders",
                "type",
                "MARKET",
                f"orders are not accepted until {self.no_market_orders_until or 'further notice'}"
                f" (epoch ms; now {now})",
            )
        window = _within(now, self.limit_window_from, self.limit_window_until) if now else False
        if p is not None and not market and window:
            low_w, high_w = self.limit_window_min_price, self.limit_window_max_price
            if low_w and p < low_w:
                broke(
                    "limit_window_min_price",
                    "price",
                    p,
                    f"is below {_plain(low_w)}, the lowest until {self.limit_window_until}",
                    low_w,
                )
            if high_w and p > high_w:
                broke(
                    "limit_window_max_price",
                    "price",
                    p,
                    f"is above {_plain(high_w)}, the highest until {self.limit_window_until}",
                    high_w,
                )
        if p is not None and not market and side is not None and mark_price is not None:
            mark = _decimal(mark_price, "mark_price")
            low_b, high_b = self.price_band(side, mark)
            if high_b is not None and p > high_b:
                broke(
                    "buy_price_up_rate",
                    "price",
                    p,
                    f"is above {_plain(high_b)}: a limit buy may be at most"
                    f" {_percent(self.buy_price_up_rate)} above the mark price {_plain(mark)}",
                    high_b,
                )
            if low_b is not None and p < low_b:
                broke(
                    "sell_price_down_rate",
                    "price",
                    p,
                    f"is below {_plain(low_b)}: a limit sell may be at most"
                    f" {_percent(self.sell_price_down_rate)} below the mark price {_plain(mark)}",
                    low_b,
                )
        if p is not None and not market:
            tick = self.price_tick
            if tick and not _on_step(p, tick):
                broke(
                    "price_tick",
                    "price",
                    p,
                    f"is not a multiple of the tick {_plain(tick)}",
                    *_neighbours(p, tick),
                )
            if self.min_price and p < self.min_price:
                broke(
                    "min_price",
                    "price",
                    p,
                    f"is below the minimum {_plain(self.min_price)}",
                    self.min_price,
                )
            if self.max_price and p > self.max_price:
                broke(
                    "max_price",
                    "price",
                    p,
                    f"is above the maximum {_plain(self.max_price)}",
                    self.max_price,
                )
        if q is not None:
            step = self.quantity_step
            if step and not _on_step(q, step):
                broke(
                    "quantity_step",
                    "quantity",
                    q,
                    f"is not a multiple of the step {_plain(step)}",
                    *_neighbours(q, step),
                )
            low = (self.market_min_quantity if market else None) or self.min_quantity
            high = (self.market_max_quantity if market else None) or self.max_quantity
            if low and q < low:
                rule = (
                    "market_min_quantity" if market and self.market_min_quantity else "min_quantity"
                )
                broke(rule, "quantity", q, f"is below the minimum {_plain(low)}", low)
            if high and q > high:
                rule = (
                    "market_max_quantity" if market and self.market_max_quantity else "max_quantity"
                )
                broke(rule, "quantity", q, f"is above the maximum {_plain(high)}", high)
        if a is not None:
            low = self.market_min_notional or self.min_notional
            high = self.market_max_notional or self.max_notional
            if low and a < low:
                rule = "market_min_notional" if self.market_min_notional else "min_notional"
                broke(
                    rule, "quote_amount", a, f"is below the minimum order value {_plain(low)}", low
                )
            if high and a > high:
                rule = "market_max_notional" if self.market_max_notional else "max_notional"
                broke(
                    rule,
                    "quote_amount",
                    a,
                    f"is above the maximum order value {_plain(high)}",
                    high,
                )
        if p is not None and q is not None and not market:
            value = p * q
            if self.min_notional and value < self.min_notional:
                need = self._quantity_for(self.min_notional, p, ROUND_CEILING)
                broke(
                    "min_notional", "quantity", q,
                    f"at price {_plain(p)} is worth {_plain(value)}, below the minimum order value"
                    f" {_plain(self.min_notional)}",
                    need,
                )  # fmt: skip
            if self.max_notional and value > self.max_notional:
                most = self._quantity_for(self.max_notional, p, ROUND_FLOOR)
                broke(
                    "max_notional", "quantity", q,
                    f"at price {_plain(p)} is worth {_plain(value)}, above the maximum order value"
                    f" {_plain(self.max_notional)}",
                    most,
                )  # fmt: skip
        return out

    def price_band(
        self, side: str, mark_price: Decimal | int | str, *, market: bool = False
    ) -> tuple[Decimal | None, Decimal | None]:
        """(lowest, highest) price an order on ``side`` may have (``market=True``: may fill
        at) given the mark price, on the tick (inward); None where no rate bounds it."""
        mark = _decimal(mark_price, "mark_price")
        buy = side.upper() == "BUY"
        up = self.market_buy_price_up_rate if market else self.buy_price_up_rate
        down = self.market_sell_price_down_rate if market else self.sell_price_down_rate
        tick = self.price_tick
        high = mark * (1 + up) if buy and up else None
        low = mark * (1 - down) if not buy and down else None
        if tick:
            high = None if high is None else _to_step(high, tick, ROUND_FLOOR)
            low = None if low is None else _to_step(low, tick, ROUND_CEILING)
        return low, high

    def _quantity_for(self, value: Decimal, price: Decimal, rounding: str) -> Decimal:
        """The quantity on the step worth ``value`` at ``price`` (rounded as given)."""
        with localcontext() as ctx:
            ctx.prec = 60
            raw = value / price
        return _to_step(raw, self.quantity_step, rounding) if self.quantity_step else raw

    def check(
        self,
        *,
        price: Decimal | int | str | None = None,
        quantity: Decimal | int | str | None = None,
        quote_amount: Decimal | int | str | None = None,
        market: bool = False,
        side: str | None = None,
        mark_price: Decimal | int | str | None = None,
        now: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Raise :class:`~cambist.errors.MarketRuleError` for the first rule the order
        breaks (its ``rule``, ``param``, ``value`` and ``valid``: the nearest valid values;
        the message lists every rule broken); nothing when it keeps them all."""
        found = self.violations(
            price=price,
            quantity=quantity,
            quote_amount=quote_amount,
            market=market,
            side=side,
            mark_price=mark_price,
            now=now,
            endpoint=endpoint,
        )
        if found:
            first = found[0]
            if len(found) > 1:
                first.add_note("; ".join(str(e) for e in found[1:]))
            raise first


def _percent(rate: Decimal | None) -> str:
    return f"{_plain((rate or Decimal(0)) * 100)}%"


def _within(now: int, start: int | None, end: int | None) -> bool:
    """Is ``now`` in the window [start, end)? 0 or None: no bound; both: no window."""
    if not start and not end:
        return False
    return (not start or now >= start) and (not end or now < end)


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise TypeError(f"{name} must be a Decimal, an int or a str, not {type(value).__name__}")
    try:
        out = value if isinstance(value, Decimal) else Decimal(value)
    except ArithmeticError:
        raise ValueError(f"{name}: {value!r} is not a decimal number") from None
    if not out.is_finite():
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return out
