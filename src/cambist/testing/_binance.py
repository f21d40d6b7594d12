"""Binance Options (eapi), simulated on the shared engine: every request checked (key,
signature, recvWindow, params), the server time, market data (REST and the /market and
/public streams) from the synthetic market, orders (new, batch, cancel one, several, all of
a symbol or of an underlying, queries, open orders, history), fills, positions, the margin
account, listen keys and the user stream's events from the same order life cycle.

What is simplified (the document and the connector describe none of it):

- Contracts are ledger assets named by their symbol (``BTC-220815-50000-C``); premiums are
  paid and received in USDT; fees are the engine's ``fee_rate`` (default 0).
- Writing options: a sell beyond the contracts held *writes* the difference (a short
  position); each written contract holds ``MARGIN_PER_CONTRACT`` USDT (default 1000) of
  margin, moved to the ``margin`` account, refused with -2027 when USDT does not cover it.
  Buying back (or a sell order cancelled unfilled) repays the written contracts and releases
  their margin. No mark-to-market margin, liquidation, exercise or expiry is simulated.
- Positions are the contracts held minus those written; mark price = the book's mid price;
  greeks are not modelled (0); the index price is fixed per underlying (``INDEX``).
- Order statuses are the REST ones (ACCEPTED, PARTIALLY_FILLED, FILLED, CANCELLED,
  REJECTED), in ORDER_TRADE_UPDATE too (the pages give no status list for the event).
- User events: ORDER_TRADE_UPDATE on every order change, BALANCE_POSITION_UPDATE and
  ACCOUNT_UPDATE after fills, listenKeyExpired from ``expire_listen_keys()``; GREEK_UPDATE
  and RISK_LEVEL_CHANGE are never pushed (no greeks, no risk levels).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from cambist.testing._exchanges import DEFAULT_API_KEY, LocalExchange, since
from cambist.testing._http import Refusal
from cambist.testing._ledger import ZERO, Fill, Order
from cambist.testing._market import Candle, Change, SymbolRules, Trade, bar_end
from cambist.testing._text import fmt, levels
from cambist.testing._ws import Route

STATUS = {
    "NEW": "ACCEPTED",
    "PARTIALLY_FILLED": "PARTIALLY_FILLED",
    "FILLED": "FILLED",
    "CANCELED": "CANCELLED",
    "PARTIALLY_CANCELED": "CANCELLED",
    "REJECTED": "REJECTED",
}
INDEX = {"BTCUSDT": Decimal("23500.00"), "ETHUSDT": Decimal("1700.00")}
MARGIN_PER_CONTRACT = Decimal("1000")
OK = {"code": 0, "msg": "success"}
PERCENT = Decimal("0.0001")


def _json_param(p: Mapping[str, Any], name: str) -> Any:
    """A param sent as JSON text (``orders=[{...}]``, ``orderIds=[1,2]``); None if absent."""
    text = p.get(name)
    if text is None or text == "":
        return None
    try:
        return json.loads(str(text), parse_float=Decimal)
    except ValueError:
        raise Refusal("bad_json", name) from None


def _scale(step: Decimal) -> int:
    """Decimal places of a step (``0.01`` -> 2)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def underlying(symbol: str) -> str:
    """``BTC-220815-50000-C`` -> ``BTCUSDT``."""
    return symbol.split("-")[0] + "USDT"


class BinanceOptionsExchange(LocalExchange):
    """Binance Options (eapi), simulated: market data, orders, positions, margin, streams."""

    id = "binance_options"
    symbols: ClassVar[dict[str, Decimal]] = {
        "BTC-220815-50000-C": Decimal("1000.00"),
        "BTC-220815-40000-P": Decimal("500.00"),
    }
    _starting_balances: ClassVar[dict[str, Decimal]] = {"USDT": Decimal("100000")}
    _account = "options"
    _routes: ClassVar[list[Route]] = [
        Route("market", "/market/stream", "binance"),
        Route("public", "/public/stream", "binance"),
        Route("user", "/private/ws/{key}", "push", auth="listen_key"),
    ]
    _ws_bases: ClassVar[dict[str, str]] = {
        "ws_market": "/market",
        "ws_public": "/public",
        "ws_user": "/private",
    }
    _codes: ClassVar[dict[str, tuple[int, object]]] = {
        "no_key": (401, -2014),
        "bad_key": (401, -2015),
        "no_signature": (400, -1102),
        "bad_signature": (400, -1022),
        "timestamp": (400, -1021),
        "missing": (400, -1102),
        "invalid": (400, -1130),
        "bad_json": (400, -1130),
        "not_found": (400, -2013),
        "insufficient": (400, -2018),
        "margin": (400, -2027),
        "listen_key": (400, -1125),
        # The trading rules (exchangeInfo's PRICE_FILTER / LOT_SIZE), with the codes of
        # Binance's options error list; it documents no minimum order value.
        "price_tick": (400, -4029),  # INVALID_TICK_SIZE_PRECISION
        "min_price": (400, -4013),  # PRICE_LESS_THAN_MIN_PRICE
        "max_price": (400, -4002),  # PRICE_GREATER_THAN_MAX_PRICE
        "quantity_step": (400, -4030),  # INVALID_QTY_PRECISION
        "min_quantity": (400, -4004),  # QTY_LESS_THAN_MIN_QTY
        "max_quantity": (400, -4005),  # QTY_GREATER_THAN_MAX_QTY
    }
    _rules: ClassVar[SymbolRules] = SymbolRules(
        tick=Decimal("0.01"),
        step=Decimal("0.01"),
        min_price=Decimal("0.01"),
        max_price=Decimal("100000"),
        min_quantity=Decimal("0.01"),
        max_quantity=Decimal("10000"),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.written: dict[str, Decimal] = {}
        """Contracts written (sold short) and not yet bought back, per symbol."""
        self.order_flags: dict[str, tuple[bool, bool]] = {}
        """Order id -> (reduceOnly, isMmp) as sent."""

    def _split(self, symbol: str) -> tuple[str, str]:
        return symbol, "USDT"

    # -- market data -------------------------------------------------------------------

    def _on_market__get_server_time(self, p: dict[str, Any]) -> Any:
        return {"serverTime": self.now_ms()}

    def _on_market__get_exchange_info(self, p: dict[str, Any]) -> Any:
        """Exchange information from the simulated state: every symbol with its rules."""
        underlyings = sorted({underlying(s) for s in self.symbols})
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "optionContracts": [
                {"baseAsset": u[:-4], "quoteAsset": "USDT", "underlying": u, "settleAsset": "USDT"}
                for u in underlyings
            ],
            "optionAssets": [{"name": "USDT"}],
            "optionSymbols": [self._option_symbol(s) for s in self.symbols],
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 1200},
            ],
        }  # fmt: skip

    def _option_symbol(self, symbol: str) -> dict[str, Any]:
        r = self.rules[symbol]
        name, expiry, strike, kind = symbol.split("-")
        day = datetime.strptime(expiry, "%y%m%d").replace(hour=8, tzinfo=UTC)

        def num(value: Decimal | None) -> str:
            return fmt(value) if value is not None else "0"

        return {
            "expiryDate": int(day.timestamp() * 1000),
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": num(r.min_price or r.tick),
                 "maxPrice": num(r.max_price), "tickSize": fmt(r.tick)},
                {"filterType": "LOT_SIZE", "minQty": num(r.min_quantity),
                 "maxQty": num(r.max_quantity), "stepSize": fmt(r.step)},
            ],
            "symbol": symbol,
            "side": "CALL" if kind == "C" else "PUT",
            "strikePrice": strike,
            "underlying": name + "USDT",
            "unit": 1,
            "minQty": num(r.min_quantity),
            "maxQty": num(r.max_quantity),
            "initialMargin": "0.15",
            "maintenanceMargin": "0.075",
            "minInitialMargin": "0.1",
            "minMaintenanceMargin": "0.05",
            "priceScale": _scale(r.tick),
            "quantityScale": _scale(r.step),
            "quoteAsset": "USDT",
            "contractType": "CRYPTO_OPTIONS",
            "underlyingType": "CRYPTO",
            "nakedSell": True,
            "status": "TRADING",
        }  # fmt: skip

    def _on_market__get_order_book(self, p: dict[str, Any]) -> Any:
        symbol = self._symbol(p)
        book = self.market.books[symbol]
        bids, asks = book.top(int(p.get("limit") or 100))
        return {
            "bids": levels(bids),
            "asks": levels(asks),
            "T": self.now_ms(),
            "lastUpdateId": book.version,
        }

    def _on_market__get_recent_trades(self, p: dict[str, Any]) -> Any:
        symbol = self._symbol(p)
        rows = since(self.market.trades[symbol], p, "time", default=100)
        return [
            {
                "id": t.id,
                "tradeId": t.id,
                "symbol": symbol,
                "price": fmt(t.price),
                "qty": fmt(t.quantity),
                "quoteQty": fmt(t.price * t.quantity),
                "side": -1 if t.buyer_maker else 1,
                "time": t.time,
            }
            for t in rows
        ]

    def _on_market__get_klines(self, p: dict[str, Any]) -> Any:
        interval = str(p["interval"])
        bars = self.market.bars(self._symbol(p), interval)
        return [self._kline_row(b, interval) for b in since(bars, p, "time", default=500)]

    def _kline_row(self, b: Candle, interval: str) -> list[Any]:
        return [
            b.time, fmt(b.open), fmt(b.high), fmt(b.low), fmt(b.close), fmt(b.volume),
            bar_end(b.time, interval), fmt(b.quote_volume), b.count, "0", "0",
        ]  # fmt: skip

    def _on_market__get_mark_price(self, p: dict[str, Any]) -> Any:
        return [self._mark(s) for s in self._symbols(p)]

    def _mark(self, symbol: str) -> dict[str, Any]:
        mid = self.market.mid(symbol)
        zero = "0"
        return {
            "symbol": symbol, "markPrice": fmt(mid), "bidIV": zero, "askIV": zero,
            "markIV": zero, "delta": zero, "theta": zero, "gamma": zero, "vega": zero,
            "highPriceLimit": fmt(mid * 2), "lowPriceLimit": fmt(mid / 2),
            "riskFreeInterest": "0.1",
        }  # fmt: skip

    def _on_market__get_index_price(self, p: dict[str, Any]) -> Any:
        name = str(p["underlying"])
        if name not in INDEX:
            raise Refusal("invalid", "underlying")
        return {"time": self.now_ms(), "indexPrice": fmt(INDEX[name])}

    def _on_market__get_ticker(self, p: dict[str, Any]) -> Any:
        return [self._ticker_rest(s) for s in self._symbols(p)]

    def _ticker_rest(self, symbol: str) -> dict[str, Any]:
        day = self.market.day(symbol)
        (bid, _), (ask, _) = self.market.best(symbol)
        trades = self.market.trades[symbol]
        strike = symbol.split("-")[2]
        return {
            "symbol": symbol,
            "priceChange": fmt(day.close - day.open),
            "priceChangePercent": fmt(((day.close - day.open) / day.open).quantize(PERCENT)),
            "lastPrice": fmt(self.market.last(symbol)),
            "lastQty": fmt(trades[-1].quantity if trades else ZERO),
            "open": fmt(day.open), "high": fmt(day.high), "low": fmt(day.low),
            "volume": fmt(day.volume), "amount": fmt(day.quote_volume),
            "bidPrice": fmt(bid), "askPrice": fmt(ask),
            "openTime": day.time, "closeTime": self.market.clock_ms,
            "firstTradeId": day.first_trade, "tradeCount": day.count,
            "strikePrice": strike, "exercisePrice": fmt(INDEX[underlying(symbol)]),
        }  # fmt: skip

    # -- orders ------------------------------------------------------------------------

    def _on_trade__create_order(self, p: dict[str, Any]) -> Any:
        return self._answer(self._place(p), p)

    def _on_trade__create_batch_orders(self, p: dict[str, Any]) -> Any:
        items = _json_param(p, "orders")
        if not isinstance(items, list) or not items or len(items) > 10:
            raise Refusal("invalid", "orders")
        out: list[Any] = []
        for item in items:  # each order on its own: one refused does not stop the others
            try:
                out.append(self._answer(self._place(item), item))
            except Refusal as refusal:
                out.append(self._refusal(refusal)[1])
        return out

    def _place(self, p: Mapping[str, Any]) -> Order:
        symbol = self._symbol(p)
        if p.get("type") not in ("LIMIT", None) or p.get("side") not in ("BUY", "SELL"):
            raise Refusal("invalid", "type" if p.get("side") in ("BUY", "SELL") else "side")
        if p.get("price") is None:
            raise Refusal("missing", "price")
        client_id = str(p.get("clientOrderId") or "")
        if client_id and any(
            o.client_id == client_id and o.open for o in self.ledger.orders.values()
        ):
            raise Refusal("invalid", "clientOrderId (repeated in pending orders)")
        quantity = Decimal(str(p["quantity"]))
        self._enforce(symbol, price=Decimal(str(p["price"])), quantity=quantity)
        if p["side"] == "SELL":
            self._write(symbol, quantity)
        try:
            order = self.ledger.place(
                account=self._account,
                symbol=symbol,
                base=symbol,
                quote="USDT",
                side=str(p["side"]),
                kind="LIMIT",
                quantity=quantity,
                price=Decimal(str(p["price"])),
                tif=str(p.get("timeInForce") or "GTC"),
                post_only=str(p.get("postOnly")).lower() == "true",
                client_id=client_id,
            )
        finally:
            self._settle(symbol)
        self.order_flags[order.id] = (
            str(p.get("reduceOnly")).lower() == "true",
            str(p.get("isMmp")).lower() == "true",
        )
        return order

    def _write(self, symbol: str, quantity: Decimal) -> None:
        """Sell ``quantity``: contracts beyond those held are written, holding margin."""
        need = quantity - max(self.ledger.free(self._account, symbol), ZERO)
        if need <= 0:
            return
        margin = need * MARGIN_PER_CONTRACT
        if self.ledger.free(self._account, "USDT") < margin:
            raise Refusal("margin")
        self.ledger._move(self._account, "USDT", -margin, "")
        self.ledger._move("margin", "USDT", margin, "")
        self.ledger._move(self._account, symbol, need, "")
        self.written[symbol] = self.written.get(symbol, ZERO) + need

    def _settle(self, symbol: str) -> None:
        """Repay written contracts with contracts held (bought back, or a written sell
        cancelled): each one repaid releases its margin."""
        repay = min(
            self.written.get(symbol, ZERO), max(self.ledger.free(self._account, symbol), ZERO)
        )
        if repay <= 0:
            return
        self.written[symbol] -= repay
        self.ledger._move(self._account, symbol, -repay, "")
        self.ledger._move("margin", "USDT", -repay * MARGIN_PER_CONTRACT, "")
        self.ledger._move(self._account, "USDT", repay * MARGIN_PER_CONTRACT, "")

    def _find(self, p: Mapping[str, Any]) -> Order:
        order = self.ledger.find(p.get("orderId"), p.get("clientOrderId"))
        if order.symbol != p.get("symbol") or order.account != self._account:
            raise Refusal("not_found")
        return order

    def _cancel(self, order: Order) -> Order:
        self.ledger.cancel(order)
        self._settle(order.symbol)
        return order

    def _on_trade__cancel_order(self, p: dict[str, Any]) -> Any:
        return self._order(self._cancel(self._find(p)))

    def _on_trade__cancel_batch_orders(self, p: dict[str, Any]) -> Any:
        symbol = self._symbol(p)
        keys = [("orderId", i) for i in _json_param(p, "orderIds") or []] or [
            ("clientOrderId", c) for c in _json_param(p, "clientOrderIds") or []
        ]
        if not keys or len(keys) > 10:
            raise Refusal("invalid", "orderIds")
        out: list[Any] = []
        for name, value in keys:
            try:
                out.append(self._order(self._cancel(self._find({"symbol": symbol, name: value}))))
            except Refusal as refusal:
                out.append(self._refusal(refusal)[1])
        return out

    def _on_trade__cancel_all_orders(self, p: dict[str, Any]) -> Any:
        for order in self.ledger.open_orders(self._account, self._symbol(p)):
            self._cancel(order)
        return {"code": "0", "msg": "success"}

    def _on_trade__cancel_all_orders_by_underlying(self, p: dict[str, Any]) -> Any:
        name = str(p["underlying"])
        if name not in INDEX:
            raise Refusal("invalid", "underlying")
        for order in self.ledger.open_orders(self._account):
            if underlying(order.symbol) == name:
                self._cancel(order)
        return OK

    def _on_trade__get_order(self, p: dict[str, Any]) -> Any:
        return self._order(self._find(p))

    def _on_trade__get_open_orders(self, p: dict[str, Any]) -> Any:
        orders = self.ledger.open_orders(self._account, p.get("symbol") and self._symbol(p))
        after = int(p.get("orderId") or 0)
        rows = since([o for o in orders if int(o.id) >= after], p, "created", default=None)
        return [self._order(o) for o in rows]

    def _on_trade__get_order_history(self, p: dict[str, Any]) -> Any:
        symbol, after = self._symbol(p), int(p.get("orderId") or 0)
        orders = [
            o
            for o in self.ledger.orders.values()
            if o.symbol == symbol and o.account == self._account and int(o.id) >= after
        ]
        return [self._order(o) for o in since(orders, p, "created", default=100)]

    def _on_trade__get_positions(self, p: dict[str, Any]) -> Any:
        return [self._position(s) for s in self._symbols(p) if self._net_position(s)]

    def _net_position(self, symbol: str) -> Decimal:
        """Net contracts of ``symbol``: held (free and in orders) minus written."""
        return self.ledger.total(self._account, symbol) - self.written.get(symbol, ZERO)

    def _entry_price(self, symbol: str) -> Decimal:
        fills = [f for f in self.ledger.fills if f.order.symbol == symbol]
        if not fills:
            return ZERO
        quantity = sum((f.quantity for f in fills), ZERO)
        return sum((f.price * f.quantity for f in fills), ZERO) / quantity

    def _position(self, symbol: str) -> dict[str, Any]:
        quantity = self._net_position(symbol)
        mark = self.market.mid(symbol)
        entry = self._entry_price(symbol)
        _, _, strike, kind = symbol.split("-")
        return {
            "entryPrice": fmt(entry),
            "symbol": symbol,
            "side": "LONG" if quantity > 0 else "SHORT",
            "quantity": fmt(quantity),
            "markValue": fmt(mark * quantity),
            "unrealizedPNL": fmt((mark - entry) * quantity),
            "markPrice": fmt(mark),
            "strikePrice": strike,
            "expiryDate": 1660550400000,
            "priceScale": 2,
            "quantityScale": 2,
            "optionSide": "CALL" if kind == "C" else "PUT",
            "quoteAsset": "USDT",
            "time": self.now_ms(),
            "bidQuantity": fmt(self._resting(symbol, "BUY")),
            "askQuantity": fmt(self._resting(symbol, "SELL")),
        }

    def _resting(self, symbol: str, side: str) -> Decimal:
        return sum(
            (o.remaining for o in self.ledger.open_orders(self._account, symbol) if o.side == side),
            ZERO,
        )

    def _on_trade__get_user_trades(self, p: dict[str, Any]) -> Any:
        symbol, start = self._symbol(p), int(p.get("fromId") or 0)
        fills = [
            f
            for f in self.ledger.fills
            if f.order.symbol == symbol and f.order.account == self._account and f.id >= start
        ]
        return [self._user_trade(f) for f in since(fills, p, "time", default=100)]

    def _user_trade(self, f: Fill) -> dict[str, Any]:
        return {
            "id": f.id, "tradeId": f.id, "orderId": int(f.order.id), "symbol": f.order.symbol,
            "price": fmt(f.price), "quantity": fmt(f.quantity), "fee": fmt(f.fee),
            "realizedProfit": "0", "side": f.order.side, "type": f.order.kind,
            "liquidity": "MAKER" if f.maker else "TAKER", "time": f.time,
            "priceScale": 2, "quantityScale": 2,
            "optionSide": "CALL" if f.order.symbol.endswith("-C") else "PUT", "quoteAsset": "USDT",
        }  # fmt: skip

    def _on_account__get_margin_account(self, p: dict[str, Any]) -> Any:
        return {
            "asset": [self._margin_asset()],
            "greek": [
                {"underlying": u, "delta": "0", "gamma": "0", "theta": "0", "vega": "0"}
                for u in sorted({underlying(s) for s in self.symbols})
            ],
            "time": self.now_ms(),
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "reduceOnly": False,
            "tradeGroupId": -1,
            "riskLevel": "NORMAL",
        }

    def _on_account__get_account(self, p: dict[str, Any]) -> Any:
        """Option Account Information, from the simulated account."""
        wallet, _, pnl, margin = self._equity()
        held = self.ledger.locked(self._account).get("USDT", ZERO)
        return {
            "asset": [
                {
                    "asset": "USDT",
                    "marginBalance": fmt(wallet),
                    "equity": fmt(wallet + pnl),
                    "available": fmt(self.ledger.free(self._account, "USDT")),
                    "locked": fmt(held + margin),
                    "unrealizedPNL": fmt(pnl),
                }
            ],
            "greek": [
                {"underlying": u, "delta": "0", "gamma": "0", "theta": "0", "vega": "0"}
                for u in sorted({underlying(s) for s in self.symbols})
            ],
            "time": self.now_ms(),
            "riskLevel": "NORMAL",
        }

    def _equity(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(wallet balance, position value, unrealized PnL, margin held) in USDT."""
        wallet = self.ledger.total(self._account, "USDT") + self.ledger.free("margin", "USDT")
        value = sum((self._net_position(s) * self.market.mid(s) for s in self.symbols), ZERO)
        pnl = sum(
            (
                (self.market.mid(s) - self._entry_price(s)) * self._net_position(s)
                for s in self.symbols
            ),
            ZERO,
        )
        return wallet, value, pnl, self.ledger.free("margin", "USDT")

    def _margin_asset(self) -> dict[str, Any]:
        wallet, value, pnl, margin = self._equity()
        return {
            "asset": "USDT",
            "marginBalance": fmt(wallet),
            "equity": fmt(wallet + value),
            "available": fmt(self.ledger.free(self._account, "USDT")),
            "initialMargin": fmt(margin),
            "maintMargin": fmt(margin),
            "unrealizedPNL": fmt(pnl),
            "adjustedEquity": fmt(wallet + value),
        }

    def _answer(self, o: Order, p: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "orderId": int(o.id),
            "symbol": o.symbol,
            "price": fmt(o.price),
            "quantity": fmt(o.quantity),
            "side": o.side,
            "type": o.kind,
            "reduceOnly": str(p.get("reduceOnly")).lower() == "true",
            "postOnly": o.post_only,
            "mmp": str(p.get("isMmp")).lower() == "true",
        }
        if p.get("newOrderRespType") != "RESULT":
            return {**out, "createDate": o.created}
        return {**self._order(o), **out}

    def _order(self, o: Order) -> dict[str, Any]:
        reduce_only, mmp = self.order_flags.get(o.id, (False, False))
        return {
            "orderId": int(o.id),
            "symbol": o.symbol,
            "price": fmt(o.price),
            "quantity": fmt(o.quantity),
            "executedQty": fmt(o.executed),
            "fee": fmt(o.fees),
            "side": o.side,
            "type": o.kind,
            "timeInForce": o.tif,
            "reduceOnly": reduce_only,
            "postOnly": o.post_only,
            "createTime": o.created,
            "updateTime": o.updated,
            "status": STATUS.get(o.status, o.status),
            "avgPrice": fmt(o.average_price),
            "source": "API",
            "clientOrderId": o.client_id,
            "priceScale": 2,
            "quantityScale": 2,
            "optionSide": "CALL" if o.symbol.endswith("-C") else "PUT",
            "quoteAsset": "USDT",
            "mmp": mmp,
        }

    # -- listen keys -------------------------------------------------------------------

    def _on_user_stream__create_listen_key(self, p: dict[str, Any]) -> Any:
        now = self.now_ms()
        for key, (owner, expiry) in self.listen_keys.items():
            if owner == DEFAULT_API_KEY and expiry > now:  # the active key, extended
                self._extend_listen_key(key)
                return {"listenKey": key, "expiration": self.listen_keys[key][1]}
        key = self._new_listen_key(DEFAULT_API_KEY)
        return {"listenKey": key, "expiration": self.listen_keys[key][1]}

    def _active_key(self) -> str:
        now = self.now_ms()
        for key, (_, expiry) in self.listen_keys.items():
            if expiry > now:
                return key
        raise Refusal("listen_key")

    def _on_user_stream__extend_listen_key(self, p: dict[str, Any]) -> Any:
        self._extend_listen_key(self._active_key())
        return {}

    def _on_user_stream__delete_listen_key(self, p: dict[str, Any]) -> Any:
        self.listen_keys.pop(self._active_key())
        return {}

    def expire_listen_keys(self) -> None:
        super().expire_listen_keys()
        with self.lock:
            for key in self.listen_keys:
                event = {"e": "listenKeyExpired", "E": self.now_ms(), "listenKey": key}
                self.streams.publish("user", None, event)

    # -- streams -----------------------------------------------------------------------

    def _publish(self, route: str, name: str, data: Any) -> None:
        """Push ``data()`` (built only when someone listens) on the stream ``name``."""
        key = name.lower()
        if self.streams.subscribers(route, key):
            payload = data() if callable(data) else data
            self.streams.publish(route, key, {"stream": key, "data": payload})

    def _publish_change(self, change: Change) -> None:
        symbol, now = change.symbol, self.now_ms()
        diff = {
            "e": "depthUpdate", "E": now, "T": change.time, "s": symbol,
            "U": change.version, "u": change.version, "pu": change.version - 1,
            "b": levels(change.bids), "a": levels(change.asks),
        }  # fmt: skip
        for speed in ("100ms", "500ms"):
            self._publish("public", f"{symbol}@depth@{speed}", diff)
            for level in (5, 10, 20):
                self._publish(
                    "public", f"{symbol}@depth{level}@{speed}", lambda n=level: self._top(symbol, n)
                )
        self._publish("public", f"{symbol}@bookTicker", lambda: self._book_ticker(symbol))
        name = underlying(symbol).lower()
        self._publish("market", f"{name}@optionMarkPrice", lambda: self._marks(name))
        self._publish("market", "!index@arr", self._indexes)

    def _top(self, symbol: str, n: int) -> dict[str, Any]:
        book = self.market.books[symbol]
        bids, asks = book.top(n)
        v = book.version
        return {
            "e": "depthUpdate", "E": self.now_ms(), "T": self.market.clock_ms, "s": symbol,
            "U": v, "u": v, "pu": v - 1, "b": levels(bids), "a": levels(asks),
        }  # fmt: skip

    def _book_ticker(self, symbol: str) -> dict[str, Any]:
        (bid, bid_q), (ask, ask_q) = self.market.best(symbol)
        return {
            "e": "bookTicker", "u": self.market.books[symbol].version, "s": symbol,
            "b": fmt(bid), "B": fmt(bid_q), "a": fmt(ask), "A": fmt(ask_q),
            "T": self.market.clock_ms, "E": self.now_ms(),
        }  # fmt: skip

    def _marks(self, name: str) -> list[Any]:
        out = []
        for symbol in self.symbols:
            if underlying(symbol).lower() != name:
                continue
            mark = self._mark(symbol)
            (bid, bid_q), (ask, ask_q) = self.market.best(symbol)
            out.append({
                "s": symbol, "mp": mark["markPrice"], "E": self.now_ms(), "e": "markPrice",
                "i": fmt(INDEX[underlying(symbol)]), "P": "0", "bo": fmt(bid), "ao": fmt(ask),
                "bq": fmt(bid_q), "aq": fmt(ask_q), "b": "0", "a": "0",
                "hl": mark["highPriceLimit"], "ll": mark["lowPriceLimit"], "vo": "0",
                "rf": "0.1", "d": "0", "t": "0", "g": "0", "v": "0",
            })  # fmt: skip
        return out

    def _indexes(self) -> list[Any]:
        now = self.now_ms()
        return [{"e": "index", "E": now, "s": u, "p": fmt(p)} for u, p in INDEX.items()]

    def _publish_trades(self, symbol: str, trades: list[Trade]) -> None:
        if not trades:
            return
        for t in trades:
            event = {
                "e": "trade", "E": self.now_ms(), "T": t.time, "s": symbol, "t": t.id,
                "p": fmt(t.price), "q": fmt(t.quantity), "X": "MARKET",
                "S": "SELL" if t.buyer_maker else "BUY", "m": t.buyer_maker,
            }  # fmt: skip
            self._publish("public", f"{symbol}@optionTrade", event)
            self._publish("public", f"{underlying(symbol)}@optionTrade", event)
        self._publish("public", f"{symbol}@optionTicker", lambda: self._ticker(symbol))
        expiry = symbol.split("-")[1]
        self._publish(
            "public", f"{underlying(symbol)}@optionTicker@{expiry}", lambda: self._ticker(symbol)
        )
        self._publish(
            "market", f"{underlying(symbol)}@openInterest@{expiry}", lambda: self._interest(expiry)
        )
        for interval in ("1m", "5m", "1h", "1d"):
            self._publish(
                "market",
                f"{symbol}@kline_{interval}",
                lambda i=interval: self._kline(symbol, trades[-1].time, i),
            )

    def _ticker(self, symbol: str) -> dict[str, Any]:
        t = self._ticker_rest(symbol)
        day = self.market.day(symbol)
        return {
            "e": "24hrTicker", "E": self.now_ms(), "s": symbol, "p": t["priceChange"],
            "P": t["priceChangePercent"],
            "w": fmt(day.quote_volume / day.volume if day.volume else day.close),
            "c": t["lastPrice"], "Q": t["lastQty"], "o": t["open"], "h": t["high"],
            "l": t["low"], "v": t["volume"], "q": t["amount"], "O": day.time,
            "C": self.market.clock_ms, "F": day.first_trade,
            "L": self.market.trades[symbol][-1].id if self.market.trades[symbol] else 0,
            "n": day.count,
        }  # fmt: skip

    def _interest(self, expiry: str) -> list[Any]:
        out = []
        for symbol in self.symbols:
            if symbol.split("-")[1] == expiry:
                held = abs(self._net_position(symbol))
                value = held * self.market.mid(symbol)
                out.append({"e": "openInterest", "E": self.now_ms(), "s": symbol,
                            "o": fmt(held), "h": fmt(value)})  # fmt: skip
        return out

    def _kline(self, symbol: str, time: int, interval: str) -> dict[str, Any]:
        b = self.market.candle(symbol, time, interval)
        trades = self.market.trades[symbol]
        return {
            "e": "kline", "E": self.now_ms(), "s": symbol,
            "k": {
                "t": b.time, "T": bar_end(b.time, interval), "s": symbol, "i": interval,
                "f": b.first_trade, "L": trades[-1].id if trades else 0, "o": fmt(b.open),
                "c": fmt(b.close), "h": fmt(b.high), "l": fmt(b.low), "v": fmt(b.volume),
                "n": b.count, "x": False, "q": fmt(b.quote_volume), "V": "0", "Q": "0",
            },
        }  # fmt: skip

    # -- user events -------------------------------------------------------------------

    def _order_changed(self, order: Order, fill: Fill | None) -> None:
        super()._order_changed(order, fill)
        if order.account != self._account:
            return
        if fill is None:
            execution = {"NEW": "NEW", "REJECTED": "EXPIRED"}.get(order.status, "CANCELED")
        else:
            execution = "TRADE"
        now = self.now_ms()
        event = {
            "e": "ORDER_TRADE_UPDATE",
            "E": now,
            "T": order.updated,
            "o": {
                "s": order.symbol, "c": order.client_id, "S": order.side, "o": order.kind,
                "f": order.tif, "q": fmt(order.quantity), "p": fmt(order.price),
                "ap": fmt(order.average_price), "x": execution,
                "X": STATUS.get(order.status, order.status), "i": int(order.id),
                "l": fmt(fill.quantity if fill else ZERO), "z": fmt(order.executed),
                "L": fmt(fill.price if fill else ZERO), "N": "USDT",
                "n": fmt(-fill.fee if fill else ZERO), "T": order.updated,
                "t": fill.id if fill else 0, "b": fmt(order.remaining if order.buy else ZERO),
                "a": fmt(ZERO if order.buy else order.remaining),
                "m": bool(fill and fill.maker), "R": self.order_flags.get(order.id, (False,))[0],
                "ot": order.kind, "rp": "0", "V": "EXPIRE_MAKER",
            },
        }  # fmt: skip
        self.streams.publish("user", None, event)
        if fill is not None:
            self._settle(order.symbol)
            self._push_balances(order.symbol)

    def _push_balances(self, symbol: str) -> None:
        now = self.now_ms()
        wallet, value, pnl, margin = self._equity()
        quantity = self._net_position(symbol)
        self.streams.publish("user", None, {
            "e": "BALANCE_POSITION_UPDATE", "E": now, "T": now, "m": "ORDER",
            "B": [{"a": "USDT", "b": fmt(wallet), "bc": "0"}],
            "P": [{"s": symbol, "c": fmt(quantity), "p": fmt(quantity * self.market.mid(symbol)),
                   "a": fmt(self._entry_price(symbol))}],
        })  # fmt: skip
        self.streams.publish("user", None, {
            "e": "ACCOUNT_UPDATE", "E": now, "T": now, "eq": fmt(wallet + value),
            "aeq": fmt(wallet + value), "b": fmt(wallet), "m": fmt(value), "u": fmt(pnl),
            "i": fmt(margin), "M": fmt(margin),
        })  # fmt: skip
