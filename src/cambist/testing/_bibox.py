"""Bibox v4, simulated: market data (REST and the market stream: order book full then
changes, trades, candles, ticker), balances, the ledger, limit orders (gtc/ioc, post
only), fills, and the user stream's account and order events.

The document lists no order statuses: it shows "filled" and speaks of rejected, cancelled and
filled orders. Open orders are reported as "unfilled" / "partially_filled" here (not from the
document); a cancelled order is "cancelled", a rejected post-only order "rejected". Sell
quantities and values are negative, as in the document's samples. User data carries JSON
numbers as the samples do (exact: Decimals are written as numbers by ``_text.dumps``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar

from cambist._runtime.signing import Credentials
from cambist.bibox.models import CandleTimeFrame
from cambist.testing._exchanges import LocalExchange, since
from cambist.testing._http import Refusal
from cambist.testing._ledger import Fill, Order
from cambist.testing._market import LOT, TICK, Candle, Change, SymbolRules, Trade
from cambist.testing._text import dumps, fmt, levels
from cambist.testing._ws import Route

STATUS = {
    "NEW": "unfilled",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "cancelled",
    "PARTIALLY_CANCELED": "cancelled",
    "REJECTED": "rejected",
}
TIME_FRAMES = tuple(f.value for f in CandleTimeFrame)
"""Every time frame the document lists: a candle push goes to each one subscribed."""
DEPTHS = (5, 10, 20, 50, 100, 200)


def _assets(p: Mapping[str, Any]) -> set[str] | None:
    """The assets the request's comma-separated ``asset`` names (None: every asset)."""
    return set(str(p["asset"]).split(",")) if p.get("asset") else None


def _page(rows: list[Any], p: Mapping[str, Any]) -> list[Any]:
    """Bibox's record paging: start_time/end_time on ``time``, before/after on ``id`` (the
    largest and smallest id returned), the newest ``limit`` (default 100)."""
    rows = [
        r
        for r in rows
        if (not p.get("before") or r.id <= int(p["before"]))
        and (not p.get("after") or r.id >= int(p["after"]))
    ]
    return since(rows, p, "time", start="start_time", end="end_time", default=100)


def _int64(text: str) -> bool:
    """Is ``text`` an int64 written in ASCII digits ("a string with a valid value of an int64
    integer", Create an order: client_order_id)?"""
    return re.fullmatch(r"-?[0-9]+", text) is not None and -(2**63) <= int(text) < 2**63


def _scale(step: Decimal) -> int:
    """Decimal places of a step (``0.01`` -> 2)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class BiboxExchange(LocalExchange):
    """Bibox v4, simulated: market data, balances, ledger, orders, fills and both streams."""

    id = "bibox"
    symbols: ClassVar[dict[str, Decimal]] = {
        "BTC_USDT": Decimal("60000.00"),
        "ETH_USDT": Decimal("3000.00"),
    }
    _routes: ClassVar[list[Route]] = [
        Route("market", "/market", "bibox"),
        Route("user", "/user", "push", auth="headers"),
    ]
    _ws_bases: ClassVar[dict[str, str]] = {"ws_market": "/market", "ws_user": "/user"}
    _codes: ClassVar[dict[str, tuple[int, object]]] = {
        "no_key": (400, -2001),
        "bad_key": (400, -2002),
        "no_signature": (400, -2001),
        "bad_signature": (400, -2006),
        "timestamp": (400, -2104),
        "missing": (400, -2003),
        "invalid": (400, -2004),
        "bad_json": (400, -2005),
        "not_found": (400, -3004),
        # The document's error table has no insufficient-balance code: an overdraft is refused
        # as an invalid parameter value (not -3002, "trading pair does not exist").
        "insufficient": (400, -2004),
        # Nor has it a code for a broken trading rule (price_increment, quantity_increment,
        # min/max_quantity, min/max_price, min_order_value): -2004 "Invalid value for
        # parameter", naming the param (every rule kind falls back to "invalid").
    }
    _rules: ClassVar[SymbolRules] = SymbolRules(
        min_price=TICK,
        max_price=Decimal("100000000"),
        min_quantity=LOT,
        max_quantity=Decimal("1000000"),
        min_notional=Decimal("1"),
    )

    def _error_body(self, code: object, message: str) -> Any:
        return {"error": code, "message": message}

    def _fault_body(self, status: int) -> Any:
        return {"error": -1000, "message": f"HTTP {status}"}

    # -- market data -------------------------------------------------------------------

    def _on_market__list_pairs(self, p: dict[str, Any]) -> Any:
        symbols = str(p["symbol"]).split(",") if p.get("symbol") else list(self.symbols)
        for symbol in symbols:
            self._pair(symbol)
        return [self._pair_info(s) for s in symbols]

    def _pair_info(self, symbol: str) -> dict[str, Any]:
        r = self.rules[symbol]
        base, quote = self._split(symbol)
        return {
            "symbol": symbol,
            "base": base,
            "quote": quote,
            "status": "tradable",
            "min_price": fmt(r.min_price or r.tick),
            "max_price": fmt(r.max_price or Decimal(0)),
            "price_increment": fmt(r.tick),
            "price_scale": _scale(r.tick),
            "min_quantity": fmt(r.min_quantity or r.step),
            "max_quantity": fmt(r.max_quantity or Decimal(0)),
            "quantity_increment": fmt(r.step),
            "quantity_scale": _scale(r.step),
            "min_order_value": fmt(r.min_notional or Decimal(0)),
        }

    def _on_market__get_order_book(self, p: dict[str, Any]) -> Any:
        return self._book(self._symbol(p), int(p.get("level") or 100))

    def _on_market__list_trades(self, p: dict[str, Any]) -> Any:
        return [self._trade(t) for t in _page(self.market.trades[self._symbol(p)], p)]

    def _on_market__list_candles(self, p: dict[str, Any]) -> Any:
        bars = self.market.bars(self._symbol(p), str(p["time_frame"]))
        window = since(bars, p, "time", start="after", end="before", default=100)
        return [self._candle(b) for b in window]

    def _on_market__list_tickers(self, p: dict[str, Any]) -> Any:
        symbols = str(p["symbol"]).split(",")
        for symbol in symbols:
            self._pair(symbol)
        return [self._ticker(s) for s in symbols]

    def _book(self, symbol: str, depth: int) -> dict[str, Any]:
        book = self.market.books[symbol]
        bids, asks = book.top(depth)
        return {
            "i": str(book.version),
            "t": str(self.now_ms()),
            "b": levels(bids),
            "a": levels(asks),
        }

    def _trade(self, t: Trade) -> dict[str, Any]:
        side = "sell" if t.buyer_maker else "buy"
        return {
            "i": str(t.id),
            "p": fmt(t.price),
            "q": fmt(t.quantity),
            "s": side,
            "t": str(t.time),
        }

    def _candle(self, b: Candle) -> list[Any]:
        return [
            str(b.time),
            fmt(b.open),
            fmt(b.high),
            fmt(b.low),
            fmt(b.close),
            fmt(b.volume),
            fmt(b.quote_volume),
            str(b.first_trade),
            b.count,
        ]

    def _ticker(self, symbol: str) -> dict[str, Any]:
        day = self.market.day(symbol)
        trades = self.market.trades[symbol]
        (bid, bid_qty), (ask, ask_qty) = self.market.best(symbol)
        return {
            "s": symbol,
            "o": fmt(day.open),
            "h": fmt(day.high),
            "l": fmt(day.low),
            "p": fmt(day.close),
            "q": fmt(trades[-1].quantity) if trades else "0",
            "v": fmt(day.volume),
            "a": fmt(day.quote_volume),
            "c": fmt(day.close - day.open),
            "t": day.count,
            "f": day.first_trade,
            "bp": bid,
            "bq": bid_qty,
            "ap": ask,
            "aq": ask_qty,
        }

    # -- user data ---------------------------------------------------------------------

    def _on_user__list_accounts(self, p: dict[str, Any]) -> Any:
        wanted = _assets(p)
        return [
            self._balance(a) for a in self.ledger.assets("spot") if wanted is None or a in wanted
        ]

    def _balance(self, asset: str) -> dict[str, Any]:
        held = self.ledger.locked("spot").get(asset, Decimal(0))
        return {"s": asset, "a": self.ledger.free("spot", asset), "h": held}

    def _on_user__list_ledger(self, p: dict[str, Any]) -> Any:
        wanted = _assets(p)
        entries = [
            e
            for e in self.ledger.entries
            if e.account == "spot" and (wanted is None or e.asset in wanted)
        ]
        return [
            {"i": e.id, "s": e.asset, "T": e.kind, "a": e.amount, "b": e.balance, "t": e.time}
            for e in _page(entries, p)
        ]

    def _on_user__create_order(self, p: dict[str, Any]) -> Any:
        symbol = self._symbol(p)
        base, quote = self._split(symbol)
        quantity, price = Decimal(str(p.get("quantity") or 0)), Decimal(str(p.get("price") or 0))
        if not quantity or not price:
            raise Refusal("missing", "price" if not price else "quantity")
        self._enforce(symbol, price=price, quantity=abs(quantity))
        client_id = str(p.get("client_order_id") or "")
        if client_id and not _int64(client_id):
            raise Refusal("invalid", "client_order_id (an int64 in a string)")
        order = self.ledger.place(
            account="spot",
            symbol=symbol,
            base=base,
            quote=quote,
            side=str(p["side"]).upper(),
            kind="LIMIT",
            quantity=abs(quantity),
            price=price,
            tif=str(p.get("time_in_force") or "gtc").upper(),
            post_only=str(p.get("post_only")).lower() == "true",
            client_id=client_id,
        )
        return self._order(order)

    def _find(self, p: Mapping[str, Any]) -> Order:
        key = str(p.get("id") or "")
        if key.startswith("c:"):
            found = [
                o
                for o in self.ledger.orders.values()
                if o.client_id == key[2:] and o.client_id != o.id
            ]
            if not found:
                raise Refusal("not_found")
            return found[-1]
        return self.ledger.find(key)

    def _on_user__get_order(self, p: dict[str, Any]) -> Any:
        return self._order(self._find(p))

    def _on_user__cancel_order(self, p: dict[str, Any]) -> Any:
        return self._order(self.ledger.cancel(self._find(p)))

    def _on_user__cancel_all_orders(self, p: dict[str, Any]) -> Any:
        for order in self.ledger.open_orders("spot", self._symbol(p)):
            self.ledger.cancel(order)
        return []

    def _on_user__list_orders(self, p: dict[str, Any]) -> Any:
        settled = p.get("status") == "settled"
        orders = [
            o
            for o in self.ledger.orders.values()
            if o.account == "spot"
            and o.open != settled
            and (not p.get("symbol") or o.symbol == p["symbol"])
        ]
        if settled:
            orders.sort(key=lambda o: o.updated)
        window = since(orders, p, "created", start="start_time", end="end_time", default=None)
        return [self._order(o) for o in window]

    def _on_user__list_fills(self, p: dict[str, Any]) -> Any:
        fills = [
            f
            for f in self.ledger.fills
            if f.order.account == "spot"
            and (not p.get("order_id") or f.order.id == str(p["order_id"]))
            and (not p.get("symbol") or f.order.symbol == p["symbol"])
        ]
        return [self._fill(f) for f in _page(fills, p)]

    def _fill(self, f: Fill) -> dict[str, Any]:
        sign = 1 if f.order.buy else -1
        return {
            "i": f.id,
            "t": f.time,
            "p": f.price,
            "q": sign * f.quantity,
            "l": "maker" if f.maker else "taker",
            "f": {"a": f.fee_asset, "m": f.fee},
        }

    def _order(self, o: Order, *, fills: bool = True) -> dict[str, Any]:
        sign = 1 if o.buy else -1
        out: dict[str, Any] = {
            "i": int(o.id),
            "I": "" if o.client_id == o.id else o.client_id,
            "m": o.symbol,
            "T": "limit",
            "s": o.side.lower(),
            "Q": sign * o.quantity,
            "P": o.price,
            "t": o.tif.lower(),
            "o": o.post_only,
            "S": STATUS[o.status],
            "E": sign * o.executed,
            "e": sign * o.executed_value,
            "C": o.created,
            "U": o.updated,
            "n": len(o.fills),
        }
        if fills:
            fees: dict[str, Decimal] = {}
            for f in o.fills:
                fees[f.fee_asset] = fees.get(f.fee_asset, Decimal(0)) + f.fee
            out["F"] = [self._fill(f) for f in reversed(o.fills[-20:])]
            out["f"] = [{"a": a, "m": m} for a, m in fees.items()]
        return out

    # -- streams -----------------------------------------------------------------------

    def _stream_auth(self, route: Route, key: str | None, headers: Mapping[str, str]) -> int:
        if route.auth != "headers":
            return 101
        api_key = headers.get("Bibox-Api-Key")
        secret = self.credentials.get(api_key or "")
        if secret is None:
            return 401
        expected = Credentials(api_key or "", secret).sign(b"")
        return 101 if headers.get("Bibox-Api-Sign") == expected else 401

    def _stream_refusal(self, key: str) -> tuple[object, str] | None:
        # The document's WebSocket error answer ({"id", "error", "message"}) with its code
        # for a pair it does not list: -3002 "Specified trading pair does not exist".
        if key.split(".")[0] not in self.market.books:
            return -3002, f"Specified trading pair does not exist: {key.split('.')[0]}"
        return None

    def _stream_initial(self, route: Route, key: str) -> tuple[list[Any], int | None]:
        parts = key.split(".")
        if parts[0] not in self.market.books:
            return [], None
        with self.lock:
            version = self.market.books[parts[0]].version
            if len(parts) == 3 and parts[1] == "order_book":
                return [{"stream": key, "data": self._book(parts[0], int(parts[2]))}], version
            if parts[1:] == ["trades"]:  # trades are versioned by their ids
                trades = self.market.trades[parts[0]]
                return [], trades[-1].id if trades else 0
        return [], version

    def _publish_change(self, change: Change) -> None:
        # Changes go to every order_book depth subscribed; the simulated book has
        # ``levels`` levels, so a depth of at least that many mirrors it exactly.
        data = {
            "i": str(change.version),
            "t": str(change.time),
            "b": levels(change.bids),
            "a": levels(change.asks),
        }
        for depth in DEPTHS:
            key = f"{change.symbol}.order_book.{depth}"
            self.streams.publish(
                "market", key, dumps({"stream": key, "data": data}), change.version
            )
        self._publish("ticker", change.symbol, lambda: self._ticker(change.symbol))

    def _publish_trades(self, symbol: str, trades: list[Trade]) -> None:
        if not trades:
            return
        stream = f"{symbol}.trades"
        push = {"stream": stream, "data": [self._trade(t) for t in trades]}
        self.streams.publish("market", stream, push, trades[-1].id)
        for frame in TIME_FRAMES:
            candles = partial(self._candles, symbol, trades[-1].time, frame)
            self._publish(f"candles.{frame}", symbol, candles)

    def _candles(self, symbol: str, time: int, frame: str) -> list[Any]:
        return [self._candle(self.market.candle(symbol, time, frame))]

    def _publish(self, channel: str, symbol: str, data: Callable[[], Any]) -> None:
        """Push ``data()`` on the stream ``<symbol>.<channel>``, built only when subscribed
        (tickers and candles are aggregated on demand)."""
        stream = f"{symbol}.{channel}"
        if self.streams.subscribers("market", stream):
            self.streams.publish("market", stream, {"stream": stream, "data": data()})

    def _order_changed(self, order: Order, fill: Fill | None) -> None:
        super()._order_changed(order, fill)
        if order.account == "spot":
            self.push_user("order", self._order(order, fills=False))

    def _balances_changed(self, account: str, assets: list[str]) -> None:
        if account == "spot":
            for asset in sorted(set(assets)):
                self.push_user("account", self._balance(asset))

    def push_user(self, stream: str, data: Any) -> None:
        """Push a user event (``"account"`` or ``"order"``) to every user connection."""
        self.streams.publish("user", None, {"stream": stream, "data": data})
