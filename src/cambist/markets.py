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
        endpoint: str | None = None,
    ) -> list[MarketRuleError]:
        """Every rule the order breaks (empty: none). ``market=True``: a market order (its
        own quantity and amount bounds apply; its ``price``, if any, is not checked). A
        market whose status is not one the spec lists as trading breaks ``status``.
        ``endpoint``: the call the errors name (default ``Market.check``)."""
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
        if p is not None and not market:
            tick = self.price_tick
            if tick and not _on_step(p, tick):
                lo, hi = _to_step(p, tick, ROUND_FLOOR), _to_step(p, tick, ROUND_CEILING)
                broke(
                    "price_tick",
                    "price",
                    p,
                    f"is not a multiple of the tick {_plain(tick)}",
                    lo,
                    hi,
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
                lo, hi = _to_step(q, step, ROUND_FLOOR), _to_step(q, step, ROUND_CEILING)
                broke(
                    "quantity_step",
                    "quantity",
                    q,
                    f"is not a multiple of the step {_plain(step)}",
                    lo,
                    hi,
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
            endpoint=endpoint,
        )
        if found:
            first = found[0]
            if len(found) > 1:
                first.add_note("; ".join(str(e) for e in found[1:]))
            raise first


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"{name} must be a Decimal, an int or a str, not {type(value).__name__}")
