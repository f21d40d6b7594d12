"""HashKey Global spot, simulated: market data (REST and the V1/V2 streams, seeded), balances,
orders (every order endpoint), fills and the trade list, transfers between the main and the
sub account, the balance flow, listen keys and the private stream's events."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from cambist.testing._exchanges import DEFAULT_API_KEY, LocalExchange, since
from cambist.testing._http import Refusal
from cambist.testing._ledger import Fill, Order
from cambist.testing._market import Candle, Change, Trade, bar_end
from cambist.testing._text import fmt, levels
from cambist.testing._ws import Route

ACCOUNTS = {"1900000000000000001": "spot", "1900000000000000002": "sub"}
ACCOUNT_IDS = {name: number for number, name in ACCOUNTS.items()}
FLOW_TYPES = {"trade": (1, "TRADE"), "fee": (2, "FEE"), "transfer": (51, "USER_ACCOUNT_TRANSFER")}
NEW_ORDER = (
    "accountId",
    "symbol",
    "symbolName",
    "clientOrderId",
    "orderId",
    "price",
    "origQty",
    "executedQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "reqAmount",
)
"""The fields of a NewOrder answer (Create Order v1.1; each order of a batch)."""
CANCELED_ORDER = NEW_ORDER[:2] + NEW_ORDER[3:-1]
"""The fields of a CanceledOrder answer (Cancel Order)."""
KLINE_INTERVALS = (
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "1w",
    "1M",
)
CLOSED = ("FILLED", "CANCELED", "PARTIALLY_CANCELED", "REJECTED")


class HashKeyExchange(LocalExchange):
    """HashKey Global spot, simulated: market data, balances, orders, fills, transfers, the
    balance flow, listen keys and the V1/V2/private streams."""

    id = "hashkey"
    symbols: ClassVar[dict[str, Decimal]] = {
        "BTCUSDT": Decimal("60000.00"),
        "ETHUSDT": Decimal("3000.00"),
    }
    routes: ClassVar[list[Route]] = [
        Route("public", "/quote/ws/v2", "hashkey_v2"),
        Route("public_v1", "/quote/ws/v1", "hashkey_v1"),
        Route("user", "/api/v1/ws/{key}", "push", server_ping="json_server", auth="listen_key"),
    ]
    ws_bases: ClassVar[dict[str, str]] = {"ws": ""}
    codes: ClassVar[dict[str, tuple[int, object]]] = {
        "no_key": (400, "-1002"),
        "bad_key": (400, "0102"),
        "no_signature": (400, "-1002"),
        "bad_signature": (400, "0001"),
        "timestamp": (400, "-1021"),
        "missing": (400, "0001"),
        "invalid": (400, "-1130"),
        "bad_json": (400, "-1004"),
        "not_found": (400, "0211"),
        "insufficient": (400, "0401"),
        "listen_key": (400, "-1004"),
    }
    ACCOUNT_ID = ACCOUNT_IDS["spot"]
    SUB_ACCOUNT_ID = ACCOUNT_IDS["sub"]

    def refusal(self, refusal: Refusal) -> tuple[int, Any]:
        if refusal.kind == "bad_signature":  # the table has two 0001 rows: this one
            return 400, {"code": "0001", "msg": "Incorrect signature"}
        return super().refusal(refusal)

    def split(self, symbol: str) -> tuple[str, str]:
        return symbol[:-4], symbol[-4:]

    # -- market data -------------------------------------------------------------------

    def on_misc__get_server_time(self, p: dict[str, Any]) -> Any:
        return {"serverTime": self.now_ms()}

    def on_market__get_depth(self, p: dict[str, Any]) -> Any:
        bids, asks = self.market.books[self._symbol(p)].top(int(p.get("limit") or 100))
        return {"t": self.now_ms(), "b": levels(bids), "a": levels(asks)}

    on_market__get_merged_depth = on_market__get_depth

    def on_market__list_trades(self, p: dict[str, Any]) -> Any:
        trades = self.market.trades[self._symbol(p)][-int(p.get("limit") or 100) :]
        return [
            {"t": t.time, "p": fmt(t.price), "q": fmt(t.quantity), "ibm": t.buyer_maker}
            for t in trades
        ]

    def on_market__list_klines(self, p: dict[str, Any]) -> Any:
        interval = str(p["interval"])
        bars = since(self.market.bars(self._symbol(p), interval), p, "time", default=1000)
        return [
            [
                b.time,
                fmt(b.open),
                fmt(b.high),
                fmt(b.low),
                fmt(b.close),
                fmt(b.volume),
                bar_end(b.time, interval),
                fmt(b.quote_volume),
                b.count,
                "0",
                "0",
            ]
            for b in bars
        ]

    def on_market__list_24hr_tickers(self, p: dict[str, Any]) -> Any:
        symbols = [self._symbol(p)] if p.get("symbol") else list(self.symbols)
        out = []
        for s in symbols:
            day = self.market.day(s)
            bid, ask = self.market.best(s)
            out.append(
                {
                    "t": self.now_ms(),
                    "s": s,
                    "c": fmt(day.close),
                    "h": fmt(day.high),
                    "l": fmt(day.low),
                    "o": fmt(day.open),
                    "b": fmt(bid[0]),
                    "a": fmt(ask[0]),
                    "v": fmt(day.volume),
                    "qv": fmt(day.quote_volume),
                    "it": "SPOT",
                }
            )
        return out

    def on_market__list_price_tickers(self, p: dict[str, Any]) -> Any:
        symbols = [self._symbol(p)] if p.get("symbol") else list(self.symbols)
        return [{"s": s, "si": s, "p": fmt(self.market.last(s))} for s in symbols]

    def on_market__list_book_tickers(self, p: dict[str, Any]) -> Any:
        return [self._bbo(self._symbol(p))]

    def _bbo(self, symbol: str) -> dict[str, Any]:
        bid, ask = self.market.best(symbol)
        return {
            "s": symbol,
            "b": fmt(bid[0]),
            "bq": fmt(bid[1]),
            "a": fmt(ask[0]),
            "aq": fmt(ask[1]),
            "t": self.now_ms(),
        }

    # -- account -----------------------------------------------------------------------

    def on_account__get_balances(self, p: dict[str, Any]) -> Any:
        account = ACCOUNTS.get(str(p.get("accountId") or self.ACCOUNT_ID))
        if account is None:
            raise Refusal("invalid", "accountId")
        locked = self.ledger.locked(account)
        rows = []
        for asset in self.ledger.assets(account):
            free, held = self.ledger.free(account, asset), locked.get(asset, Decimal(0))
            rows.append(
                {
                    "asset": asset,
                    "assetId": asset,
                    "assetName": asset,
                    "total": fmt(free + held),
                    "free": fmt(free),
                    "locked": fmt(held),
                }
            )
        return {"balances": rows, "userId": "1900000000000000000"}

    def on_account__transfer(self, p: dict[str, Any]) -> Any:
        source, target = ACCOUNTS.get(p["fromAccountId"]), ACCOUNTS.get(p["toAccountId"])
        if source is None or target is None or source == target:
            raise Refusal("invalid", "fromAccountId" if source is None else "toAccountId")
        record = self.ledger.transfer(
            str(p["coin"]),
            Decimal(str(p["quantity"])),
            source,
            target,
            str(p.get("clientOrderId") or ""),
        )
        return {
            "success": True,
            "timestamp": record.time,
            "clientOrderId": record.client_id,
            "orderId": str(record.id),
        }

    def on_account__list_trades(self, p: dict[str, Any]) -> Any:
        account = ACCOUNTS.get(str(p.get("accountId") or self.ACCOUNT_ID))
        return self._trades(account or "", p)

    def on_sub_account__list_trades(self, p: dict[str, Any]) -> Any:
        return self._trades(self._sub(p.get("subAccountId") or self.SUB_ACCOUNT_ID), p)

    def _trades(self, account: str, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        fills = [
            f
            for f in self.ledger.fills
            if f.order.account == account
            and (not p.get("symbol") or f.order.symbol == p["symbol"])
            and (not p.get("clientOrderId") or f.order.client_id == p["clientOrderId"])
            and f.id >= int(p.get("fromId") or 0)
            and (not p.get("toId") or f.id <= int(p["toId"]))
        ]
        return [self._trade_row(f) for f in since(fills, p, "time")]

    def _trade_row(self, f: Fill) -> dict[str, Any]:
        o = f.order
        fee = {
            "feeCoinId": f.fee_asset,
            "feeCoinName": f.fee_asset,
            "fee": fmt(f.fee),
            "originCoinId": f.fee_asset,
            "originCoinName": f.fee_asset,
            "originFee": fmt(f.fee),
        }
        return {
            "id": str(f.id),
            "clientOrderId": o.client_id,
            "ticketId": str(f.id + 1),
            "symbol": o.symbol,
            "symbolName": o.symbol,
            "orderId": o.id,
            "matchOrderId": "0",
            "price": fmt(f.price),
            "qty": fmt(f.quantity),
            "commission": fmt(f.fee),
            "commissionAsset": f.fee_asset,
            "time": str(f.time),
            "isBuyer": o.buy,
            "isMaker": f.maker,
            "fee": fee,
            "feeCoinId": f.fee_asset,
            "feeAmount": fmt(f.fee),
            "makerRebate": "0",
            "hskDeduct": False,
            "hskDeductPrice": "",
        }

    def on_account__list_balance_flow(self, p: dict[str, Any]) -> Any:
        kinds = {
            k
            for k, (number, _) in FLOW_TYPES.items()
            if not p.get("flowType") or number == int(p["flowType"])
        }
        entries = [e for e in self.ledger.entries if e.account == "spot" and e.kind in kinds]
        out = []
        for e in since(entries, p, "time"):
            number, name = FLOW_TYPES[e.kind]
            out.append(
                {
                    "id": str(e.id),
                    "accountId": self.ACCOUNT_ID,
                    "coin": e.asset,
                    "coinId": e.asset,
                    "coinName": e.asset,
                    "flowTypeValue": number,
                    "flowType": name,
                    "flowName": "",
                    "change": fmt(e.amount),
                    "total": fmt(e.balance),
                    "created": str(e.time),
                }
            )
        return out

    def on_account__get_coin_info(self, p: dict[str, Any]) -> Any:
        coin = str(p["coinId"])
        known = {a for s in self.symbols for a in self.split(s)}
        if coin not in known:
            raise Refusal("invalid", "coinId")
        chain = {
            "chainType": coin if coin != "USDT" else "ERC20",
            "withdrawFee": "0",
            "minWithdrawQuantity": "0",
            "maxWithdrawQuantity": "0",
            "minDepositQuantity": "0",
            "allowDeposit": False,
            "allowWithdraw": False,
        }
        entry = {
            "orgId": "9001",
            "coinId": coin,
            "coinName": coin,
            "coinFullName": coin,
            "allowWithdraw": False,
            "allowDeposit": False,
            "chainTypes": [chain],
        }
        return {"timezone": "UTC", "serverTime": self.now_ms(), "coins": [entry]}

    # -- orders ------------------------------------------------------------------------

    def _order(self, o: Order) -> dict[str, Any]:
        return {
            "accountId": ACCOUNT_IDS[o.account],
            "exchangeId": "301",
            "symbol": o.symbol,
            "symbolName": o.symbol,
            "clientOrderId": o.client_id,
            "orderId": o.id,
            "price": fmt(o.price),
            "origQty": fmt(o.quantity),
            "executedQty": fmt(o.executed),
            "cummulativeQuoteQty": fmt(o.executed_value),
            "cumulativeQuoteQty": fmt(o.executed_value),
            "avgPrice": fmt(o.average_price),
            "status": o.status,
            "timeInForce": o.tif,
            "type": "LIMIT_MAKER" if o.post_only else o.kind,
            "side": o.side,
            "stopPrice": "0.0",
            "icebergQty": "0.0",
            "time": str(o.created),
            "updateTime": str(o.updated),
            "isWorking": o.open,
            "reqAmount": fmt(o.amount),
            "ordCxlReason": o.cancel_reason,
            "stpMode": "EXPIRE_TAKER",
        }

    def _answer(self, o: Order, *keys: str) -> dict[str, Any]:
        full = self._order(o)
        answer = {k: full[k] for k in keys} if keys else full
        answer["transactTime"] = full["updateTime"]
        return answer

    def _place(self, p: Mapping[str, Any]) -> Order:
        symbol = self._symbol(p)
        base, quote = self.split(symbol)
        kind = str(p["type"])
        quantity = Decimal(str(p.get("quantity") or 0))
        amount = Decimal(str(p.get("amount") or 0))
        price = Decimal(str(p.get("price") or 0))
        if kind in ("LIMIT", "LIMIT_MAKER") and not (price and quantity):
            raise Refusal("missing", "price" if not price else "quantity")
        if kind == "MARKET" and not (quantity or amount):
            raise Refusal("missing", "quantity")
        client_id = str(p.get("newClientOrderId") or "")
        if client_id and any(o.client_id == client_id for o in self.ledger.orders.values()):
            raise Refusal("invalid", "newClientOrderId (duplicate)")
        return self.ledger.place(
            account="spot",
            symbol=symbol,
            base=base,
            quote=quote,
            side=str(p["side"]),
            kind="MARKET" if kind == "MARKET" else "LIMIT",
            quantity=quantity,
            price=price,
            amount=amount,
            tif=str(p.get("timeInForce") or ("IOC" if kind == "MARKET" else "GTC")),
            post_only=kind == "LIMIT_MAKER",
            client_id=client_id,
        )

    def on_spot__test_order(self, p: dict[str, Any]) -> Any:
        self._symbol(p)
        return {}

    def on_spot__create_order(self, p: dict[str, Any]) -> Any:
        return {**self._answer(self._place(p), *NEW_ORDER), "concentration": ""}

    def on_spot__create_batch_orders(self, p: dict[str, Any]) -> Any:
        results: list[dict[str, Any]] = []
        for item in p["orders"]:
            try:
                order = self._place(item)
            except Refusal as refused:
                _, body = self.refusal(refused)
                results.append({"code": body["code"], "msg": body["msg"]})
            else:
                results.append({"code": "0000", "order": self._answer(order, *NEW_ORDER)})
        return {"code": 0, "result": results, "concentration": ""}

    def on_spot__get_order(self, p: dict[str, Any]) -> Any:
        return self._order(self._find(p))

    def _find(self, p: Mapping[str, Any]) -> Order:
        return self.ledger.find(
            p.get("orderId"), p.get("origClientOrderId") or p.get("clientOrderId")
        )

    def on_spot__cancel_order(self, p: dict[str, Any]) -> Any:
        order = self.ledger.cancel(self._find(p))
        return self._answer(order, *CANCELED_ORDER)

    def _open(self, account: str, p: Mapping[str, Any]) -> list[Order]:
        orders = [
            o
            for o in self.ledger.open_orders(account, p.get("symbol"))
            if (not p.get("side") or o.side == p["side"])
            and (not p.get("fromOrderId") or int(o.id) < int(p["fromOrderId"]))
        ]
        return orders[-int(p.get("limit") or 500) :]

    def on_spot__cancel_open_orders(self, p: dict[str, Any]) -> Any:
        for order in self._open("spot", {"symbol": self._symbol(p), "side": p.get("side")}):
            self.ledger.cancel(order)
        return {"success": True}

    def on_spot__cancel_all_open_orders(self, p: dict[str, Any]) -> Any:
        orders = self._open("spot", p)
        for order in orders:
            self.ledger.cancel(order)
        last = int(orders[-1].id) if orders else 0
        return {
            "code": "0000",
            "message": "success",
            "timestamp": self.now_ms(),
            "lastOrderId": last,
        }

    def on_spot__cancel_orders_by_ids(self, p: dict[str, Any]) -> Any:
        failures = []
        for order_id in str(p["ids"]).split(","):
            try:
                self.ledger.cancel(self.ledger.find(order_id))
            except Refusal as refused:
                failures.append({"orderId": order_id, "code": self.codes[refused.kind][1]})
        return {"code": "0000", "result": failures}

    def on_spot__list_open_orders(self, p: dict[str, Any]) -> Any:
        return [self._order(o) for o in self._open("spot", p)]

    def on_sub_account__list_open_orders(self, p: dict[str, Any]) -> Any:
        return [self._order(o) for o in self._open(self._sub(p["subAccountId"]), p)]

    def _traded(self, account: str, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        orders = [
            o
            for o in self.ledger.orders.values()
            if o.account == account
            and o.status in CLOSED
            and (not p.get("symbol") or o.symbol == p["symbol"])
            and (not p.get("side") or o.side == p["side"])
            and (not p.get("fromOrderId") or int(o.id) < int(p["fromOrderId"]))
        ]
        return [self._order(o) for o in since(orders, p, "updated")]

    def on_spot__list_traded_orders(self, p: dict[str, Any]) -> Any:
        return self._traded("spot", p)

    def on_sub_account__list_traded_orders(self, p: dict[str, Any]) -> Any:
        return self._traded(self._sub(p["subAccountId"]), p)

    def _sub(self, account_id: object) -> str:
        if ACCOUNTS.get(str(account_id)) != "sub":
            raise Refusal("invalid", "subAccountId")
        return "sub"

    # -- listen keys -------------------------------------------------------------------

    def on_user_stream__create_listen_key(self, p: dict[str, Any]) -> Any:
        return {"listenKey": self.new_listen_key(DEFAULT_API_KEY)}

    def on_user_stream__reset_listen_key(self, p: dict[str, Any]) -> Any:
        self.extend_listen_key(str(p["listenKey"]))
        return {}

    def on_user_stream__delete_listen_key(self, p: dict[str, Any]) -> Any:
        self.listen_keys.pop(str(p["listenKey"]), None)
        return {}

    # -- private stream ----------------------------------------------------------------

    def order_changed(self, order: Order, fill: Fill | None) -> None:
        super().order_changed(order, fill)
        if order.account != "spot":
            return
        event = {
            "e": "executionReport",
            "E": str(self.now_ms()),
            "s": order.symbol,
            "c": order.client_id,
            "S": order.side,
            "o": "LIMIT_MAKER" if order.post_only else order.kind,
            "f": order.tif,
            "q": fmt(order.quantity),
            "p": fmt(order.price),
            "X": order.status,
            "i": order.id,
            "l": fmt(fill.quantity) if fill else "0",
            "z": fmt(order.executed),
            "L": fmt(fill.price) if fill else "0",
            "n": fmt(fill.fee) if fill else "0",
            "N": fill.fee_asset if fill else "",
            "u": True,
            "w": order.open,
            "m": order.post_only,
            "O": str(order.created),
            "Z": fmt(order.executed_value),
            "C": False,
            "v": "0",
            "reqAmt": fmt(order.amount),
            "d": str(fill.id) if fill else "",
            "r": fmt(order.remaining),
            "V": fmt(order.average_price),
            "P": "0",
            "lo": False,
            "lt": "",
            "x": order.cancel_reason,
        }
        self.streams.publish("user", None, [event])
        if fill is not None:
            ticket = {
                "e": "ticketInfo",
                "E": str(self.now_ms()),
                "s": order.symbol,
                "q": fmt(fill.quantity),
                "t": str(fill.time),
                "p": fmt(fill.price),
                "T": str(fill.id + 1),
                "o": order.id,
                "c": order.client_id,
                "a": self.ACCOUNT_ID,
                "m": fill.maker,
                "S": order.side,
            }
            self.streams.publish("user", None, [ticket])

    def balances_changed(self, account: str, assets: list[str]) -> None:
        if account != "spot":
            return
        locked = self.ledger.locked(account)
        balances = [
            {
                "a": a,
                "f": fmt(self.ledger.free(account, a)),
                "l": fmt(locked.get(a, Decimal(0))),
                "r": "",
            }
            for a in sorted(set(assets))
        ]
        event = {
            "e": "outboundAccountInfo",
            "E": str(self.now_ms()),
            "T": True,
            "W": True,
            "D": True,
            "B": balances,
        }
        self.streams.publish("user", None, [event])

    # -- public streams ----------------------------------------------------------------

    def _v2(self, topic: str, symbol: str, data: Any, **params: str) -> dict[str, Any]:
        return {"topic": topic, "params": {"symbol": symbol, **params}, "data": data}

    def _depth_v2(self, symbol: str) -> dict[str, Any]:
        book = self.market.books[symbol]
        bids, asks = book.top(self.market.levels)
        data = {
            "s": symbol,
            "t": self.now_ms(),
            "v": f"{book.version}_1",
            "b": levels(bids),
            "a": levels(asks),
        }
        return self._v2("depth", symbol, data)

    def _depth_v1(self, symbol: str, first: bool) -> dict[str, Any]:
        data = {"e": 301, **self._depth_v2(symbol)["data"], "o": 0}
        return self._v1("depth", symbol, [data], first)

    def _v1(
        self, topic: str, symbol: str, data: list[Any], first: bool, **params: str
    ) -> dict[str, Any]:
        return {
            "symbol": symbol,
            "symbolName": symbol,
            "topic": topic,
            "params": {"realtimeInterval": "24h", **params, "binary": "false"},
            "data": data,
            "f": first,
            "sendTime": self.now_ms(),
            "shared": False,
        }

    def _trade(self, t: Trade) -> dict[str, Any]:
        return {
            "v": str(t.id),
            "t": t.time,
            "p": fmt(t.price),
            "q": fmt(t.quantity),
            "m": t.buyer_maker,
        }

    def _kline(self, symbol: str, bar: Candle) -> dict[str, Any]:
        return {
            "t": bar.time,
            "s": symbol,
            "sn": symbol,
            "c": fmt(bar.close),
            "h": fmt(bar.high),
            "l": fmt(bar.low),
            "o": fmt(bar.open),
            "v": fmt(bar.volume),
        }

    def _realtime(self, symbol: str) -> dict[str, Any]:
        day = self.market.day(symbol)
        change = (day.close - day.open) / day.open if day.open else Decimal(0)
        return {
            "t": self.market.clock_ms,
            "s": symbol,
            "sn": symbol,
            "o": fmt(day.open),
            "h": fmt(day.high),
            "l": fmt(day.low),
            "c": fmt(day.close),
            "v": fmt(day.volume),
            "qv": fmt(day.quote_volume),
            "m": fmt(change.quantize(Decimal("0.0001"))),
            "e": 301,
        }

    def stream_initial(self, route: Route, key: str) -> tuple[list[Any], int | None]:
        topic, _, rest = key.partition(":")
        symbol = rest.split(":")[0]
        if symbol not in self.market.books:
            return [], None
        with self.lock:
            version = self.market.books[symbol].version
            if topic == "depth":
                v2 = route.name == "public"
                return [self._depth_v2(symbol) if v2 else self._depth_v1(symbol, True)], version
            if topic == "trade":  # trades are versioned by their ids
                recent = self.market.trades[symbol][-60:]
                last = recent[-1].id if recent else 0
                if route.name == "public":
                    return [], last
                trades = [self._trade(t) for t in recent]
                return [self._v1("trade", symbol, trades, True)], last
        return [], version

    def publish_change(self, change: Change) -> None:
        s, v = change.symbol, change.version
        self.streams.publish("public", f"depth:{s}", self._depth_v2(s), v)
        self.streams.publish("public_v1", f"depth:{s}", self._depth_v1(s, False), v)
        bbo = self._bbo(s)
        bbo_v2 = {
            "s": s,
            "t": bbo["t"],
            "b": bbo["b"],
            "bz": bbo["bq"],
            "a": bbo["a"],
            "az": bbo["aq"],
        }
        self.streams.publish("public", f"bbo:{s}", self._v2("bbo", s, bbo_v2), v)

    def publish_trades(self, s: str, trades: list[Trade]) -> None:
        for t in trades:
            push = self._v2("trade", s, self._trade(t))
            self.streams.publish("public", f"trade:{s}", push, t.id)
            push_v1 = self._v1("trade", s, [self._trade(t)], False)
            self.streams.publish("public_v1", f"trade:{s}", push_v1, t.id)
        if not trades:
            return
        for interval in KLINE_INTERVALS:
            bar = self._kline(s, self.market.candle(s, trades[-1].time, interval))
            v2 = self._v2("kline", s, bar, klineType=interval)
            self.streams.publish("public", f"kline:{s}:{interval}", v2)
            v1 = self._v1(f"kline_{interval}", s, [bar], False, klineType=interval)
            self.streams.publish("public_v1", f"kline:{s}:{interval}", v1)
        realtime = self._realtime(s)
        self.streams.publish("public", f"realtimes:{s}", self._v2("realtimes", s, realtime))
        self.streams.publish(
            "public_v1", f"realtimes:{s}", self._v1("realtimes", s, [realtime], False)
        )
