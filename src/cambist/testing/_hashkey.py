"""HashKey Global spot, simulated: market data, balances, orders (every order endpoint), fills
and the trade list, transfers between the main and the sub account, the balance flow and
listen keys. What the streams push is in ``_hashkey_streams``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from cambist.testing._exchanges import DEFAULT_API_KEY, since
from cambist.testing._hashkey_streams import ACCOUNT_IDS, ACCOUNTS, HashKeyStreams
from cambist.testing._http import Refusal
from cambist.testing._ledger import Fill, Order
from cambist.testing._market import LOT, SymbolRules, bar_end
from cambist.testing._text import fmt, levels

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


class HashKeyExchange(HashKeyStreams):
    """HashKey Global spot, simulated: market data, balances, orders, fills, transfers, the
    balance flow, listen keys and the V1/V2/private streams."""

    id = "hashkey"
    symbols: ClassVar[dict[str, Decimal]] = {
        "BTCUSDT": Decimal("60000.00"),
        "ETHUSDT": Decimal("3000.00"),
    }
    _codes: ClassVar[dict[str, tuple[int, object]]] = {
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
        # The trading rules (Get Exchange Information's filters), with the error table's codes.
        "price_tick": (400, "0209"),  # Invalid price precision
        "min_price": (400, "-1133"),
        "max_price": (400, "-1132"),
        "quantity_step": (400, "-1137"),  # Order quantity precision too large
        "min_quantity": (400, "-1136"),
        "max_quantity": (400, "-1135"),
        "min_notional": (400, "-1140"),  # Order amount lower than the minimum
        "max_notional": (400, "-1206"),
        "buy_price_up_rate": (400, "0210"),  # Price outside of allowed range (LIMIT_TRADING)
        "sell_price_down_rate": (400, "0210"),
        "no_market_orders": (400, "-1194"),  # Market order creation forbidden (OPEN_QUOTE)
        "limit_window_min_price": (400, "-1133"),  # Order price lower than the minimum
        "limit_window_max_price": (400, "-1132"),  # Order price greater than the maximum
        "max_open_orders": (400, "-2017"),  # Open orders exceeds the limit of the trading pair
    }
    _rules: ClassVar[SymbolRules] = SymbolRules(
        min_quantity=LOT,
        max_quantity=Decimal("1000"),
        min_notional=Decimal("1"),
        max_notional=Decimal("100000000"),
        market_min_quantity=LOT,
        market_max_quantity=Decimal("500"),
        market_min_notional=Decimal("1"),
        market_max_notional=Decimal("50000000"),
    )
    """PRICE_FILTER's minPrice / maxPrice are "Depreciated, no longer in-use": not enforced."""

    def _refusal(self, refusal: Refusal) -> tuple[int, Any]:
        if refusal.kind == "bad_signature":  # the table has two 0001 rows: this one
            return 400, {"code": "0001", "msg": "Incorrect signature"}
        return super()._refusal(refusal)

    def _fault_body(self, status: int) -> Any:
        """The error table's codes (strings, like every HashKey code): a 429 or 418 is
        ``0003`` "Rate limit exceeded", a 5xx ``-1000``; not Binance's integer -1003."""
        if status >= 500:
            return {
                "code": "-1000",
                "msg": "An unknown error occurred while processing the request",
            }
        return {"code": "0003", "msg": "Rate limit exceeded"}

    def _split(self, symbol: str) -> tuple[str, str]:
        return symbol[:-4], symbol[-4:]

    # -- market data -------------------------------------------------------------------

    def _on_misc__get_server_time(self, p: dict[str, Any]) -> Any:
        return {"serverTime": self.now_ms()}

    def _on_market__get_exchange_info(self, p: dict[str, Any]) -> Any:
        """The table's wrapper, from the simulated state: every symbol (or the one asked
        for) with its rules as filters, every coin."""
        symbols = self._symbols(p)
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "brokerFilters": [],
            "symbols": [self._symbol_info(s) for s in symbols],
            "options": [],
            "contracts": [],
            "coins": [self._coin(c) for c in self._coins()],
        }

    def _symbol_info(self, symbol: str) -> dict[str, Any]:
        base, quote = self._split(symbol)
        r = self.rules[symbol]

        def num(value: Decimal | None) -> str:
            return fmt(value) if value is not None else "0"

        return {
            "symbol": symbol,
            "symbolName": symbol,
            "status": "TRADING",
            "baseAsset": base,
            "baseAssetName": base,
            "baseAssetPrecision": fmt(r.step),
            "quoteAsset": quote,
            "quoteAssetName": quote,
            "quotePrecision": fmt(r.tick),
            "retailAllowed": True,
            "piAllowed": True,
            "corporateAllowed": True,
            "omnibusAllowed": True,
            "icebergAllowed": False,
            "isAggregate": False,
            "allowMargin": False,
            "tradeStatus": "TRADABLE",
            "filters": [
                {
                    "minPrice": num(r.min_price or r.tick),
                    "maxPrice": num(r.max_price),
                    "tickSize": fmt(r.tick),
                    "filterType": "PRICE_FILTER",
                },
                {
                    "minQty": num(r.min_quantity),
                    "maxQty": num(r.max_quantity),
                    "stepSize": fmt(r.step),
                    "marketOrderMinQty": num(r.market_min_quantity or r.min_quantity),
                    "marketOrderMaxQty": num(r.market_max_quantity or r.max_quantity),
                    "filterType": "LOT_SIZE",
                },
                {"minNotional": num(r.min_notional), "filterType": "MIN_NOTIONAL"},
                {
                    "minAmount": num(r.min_notional),
                    "maxAmount": num(r.max_notional),
                    "minBuyPrice": "0",
                    "marketOrderMinAmount": num(r.market_min_notional or r.min_notional),
                    "marketOrderMaxAmount": num(r.market_max_notional or r.max_notional),
                    "filterType": "TRADE_AMOUNT",
                },
                {
                    "maxSellPrice": "0",
                    "buyPriceUpRate": num(r.buy_price_up_rate),
                    "sellPriceDownRate": num(r.sell_price_down_rate),
                    "maxEntrustNum": r.max_open_orders or 0,
                    "filterType": "LIMIT_TRADING",
                },
                {
                    "buyPriceUpRate": num(r.market_buy_price_up_rate),
                    "sellPriceDownRate": num(r.market_sell_price_down_rate),
                    "filterType": "MARKET_TRADING",
                },
                {
                    "noAllowMarketStartTime": str(r.no_market_orders_from or 0),
                    "noAllowMarketEndTime": str(r.no_market_orders_until or 0),
                    "limitOrderStartTime": str(r.limit_window_from or 0),
                    "limitOrderEndTime": str(r.limit_window_until or 0),
                    "limitMinPrice": num(r.limit_window_min_price),
                    "limitMaxPrice": num(r.limit_window_max_price),
                    "filterType": "OPEN_QUOTE",
                },
            ],
        }

    def _coins(self) -> list[str]:
        """Every asset: the simulated symbols' and any balance's."""
        assets = {a for s in self.symbols for a in self._split(s)}
        for account in ACCOUNTS.values():
            assets |= set(self.ledger.assets(account))
        return sorted(assets)

    def _coin(self, coin: str) -> dict[str, Any]:
        chain = {
            "chainType": coin if coin != "USDT" else "ERC20",
            "withdrawFee": "0",
            "minWithdrawQuantity": "0",
            "maxWithdrawQuantity": "0",
            "minDepositQuantity": "0",
            "allowDeposit": False,
            "allowWithdraw": False,
        }
        return {
            "orgId": "9001",
            "coinId": coin,
            "coinName": coin,
            "coinFullName": coin,
            "allowWithdraw": False,
            "allowDeposit": False,
            "tokenType": "CHAIN_TOKEN",
            "status": 1,
            "chainTypes": [chain],
        }

    def _on_market__get_depth(self, p: dict[str, Any]) -> Any:
        bids, asks = self.market.books[self._symbol(p)].top(int(p.get("limit") or 100))
        return {"t": self.now_ms(), "b": levels(bids), "a": levels(asks)}

    _on_market__get_merged_depth = _on_market__get_depth

    def _on_market__list_trades(self, p: dict[str, Any]) -> Any:
        trades = self.market.trades[self._symbol(p)][-int(p.get("limit") or 100) :]
        return [
            {"t": t.time, "p": fmt(t.price), "q": fmt(t.quantity), "ibm": t.buyer_maker}
            for t in trades
        ]

    def _on_market__list_klines(self, p: dict[str, Any]) -> Any:
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

    def _on_market__list_24hr_tickers(self, p: dict[str, Any]) -> Any:
        out = []
        for s in self._symbols(p):
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

    def _on_market__list_price_tickers(self, p: dict[str, Any]) -> Any:
        return [{"s": s, "si": s, "p": fmt(self.market.last(s))} for s in self._symbols(p)]

    def _on_market__list_book_tickers(self, p: dict[str, Any]) -> Any:
        symbol = self._symbol(p)
        (bid, bid_qty), (ask, ask_qty) = self.market.best(symbol)
        return [
            {
                "s": symbol,
                "b": fmt(bid),
                "bq": fmt(bid_qty),
                "a": fmt(ask),
                "aq": fmt(ask_qty),
                "t": self.now_ms(),
            }
        ]

    # -- account -----------------------------------------------------------------------

    def _on_account__get_balances(self, p: dict[str, Any]) -> Any:
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

    def _on_account__list_account_types(self, p: dict[str, Any]) -> Any:
        labels = {"spot": ("Main Trading Account", 0), "sub": ("Sub Trading Account", 1)}
        return [
            {
                "accountId": number,
                "accountLabel": labels[name][0],
                "accountType": 1,
                "accountIndex": labels[name][1],
                "userId": "1900000000000000000",
            }
            for number, name in ACCOUNTS.items()
        ]

    def _on_account__check_api_key(self, p: dict[str, Any]) -> Any:
        return {"accountType": "Master Account"}

    def _on_account__get_vip_info(self, p: dict[str, Any]) -> Any:
        rate = fmt(self.ledger.fee_rate)
        rows = []
        for symbol in self.symbols:
            base, quote = self._split(symbol)
            rows.append(
                {
                    "symbol": symbol,
                    "productType": "Token-Token",
                    "buyMakerFeeCurrency": base,
                    "buyTakerFeeCurrency": base,
                    "sellMakerFeeCurrency": quote,
                    "sellTakerFeeCurrency": quote,
                    "actualMakerRate": rate,
                    "actualTakerRate": rate,
                }
            )
        volume = sum((f.price * f.quantity for f in self.ledger.fills), Decimal(0))
        return {
            "code": 0,
            "vipLevel": "0",
            "tradeVol30Day": fmt(volume),
            "totalAssetBal": "0",
            "data": rows,
            "updateTimestamp": str(self.now_ms()),
        }

    def _on_account__transfer(self, p: dict[str, Any]) -> Any:
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

    def _on_account__list_trades(self, p: dict[str, Any]) -> Any:
        account = ACCOUNTS.get(str(p.get("accountId") or self.ACCOUNT_ID))
        return self._trades(account or "", p)

    def _on_sub_account__list_trades(self, p: dict[str, Any]) -> Any:
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

    def _on_account__list_balance_flow(self, p: dict[str, Any]) -> Any:
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

    def _on_account__get_coin_info(self, p: dict[str, Any]) -> Any:
        coin = str(p["coinId"])
        if coin not in self._coins():
            raise Refusal("invalid", "coinId")
        return {"timezone": "UTC", "serverTime": self.now_ms(), "coins": [self._coin(coin)]}

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

    def _answer(self, o: Order, keys: tuple[str, ...]) -> dict[str, Any]:
        """The fields ``keys`` of the order, and its last update as transactTime."""
        full = self._order(o)
        return {**{k: full[k] for k in keys}, "transactTime": full["updateTime"]}

    def _place(self, p: Mapping[str, Any]) -> Order:
        symbol = self._symbol(p)
        base, quote = self._split(symbol)
        kind = str(p["type"])
        quantity = Decimal(str(p.get("quantity") or 0))
        amount = Decimal(str(p.get("amount") or 0))
        price = Decimal(str(p.get("price") or 0))
        if kind in ("LIMIT", "LIMIT_MAKER") and not (price and quantity):
            raise Refusal("missing", "price" if not price else "quantity")
        if kind == "MARKET" and not (quantity or amount):
            raise Refusal("missing", "quantity")
        side = str(p["side"])
        self._enforce(
            symbol,
            price=price or None,
            quantity=quantity or None,
            amount=amount or None,
            market=kind == "MARKET",
            side=side,
            account="spot",
        )
        band = self.rules[symbol].band(side, self.mark_price(symbol), market=True)
        protect = (band[1] if side.upper() == "BUY" else band[0]) if band else None
        client_id = str(p.get("newClientOrderId") or "")
        if client_id and any(o.client_id == client_id for o in self.ledger.orders.values()):
            raise Refusal("invalid", "newClientOrderId (duplicate)")
        return self.ledger.place(
            account="spot",
            symbol=symbol,
            base=base,
            quote=quote,
            side=side,
            kind="MARKET" if kind == "MARKET" else "LIMIT",
            quantity=quantity,
            price=price,
            amount=amount,
            tif=str(p.get("timeInForce") or ("IOC" if kind == "MARKET" else "GTC")),
            post_only=kind == "LIMIT_MAKER",
            client_id=client_id,
            protect=protect if kind == "MARKET" else None,
        )

    def _on_spot__test_order(self, p: dict[str, Any]) -> Any:
        symbol = self._symbol(p)
        price, quantity = (Decimal(str(p.get(k) or 0)) or None for k in ("price", "quantity"))
        self._enforce(
            symbol,
            price=price,
            quantity=quantity,
            market=p.get("type") == "MARKET",
            side=str(p.get("side") or "BUY"),
        )
        return {}

    def _on_spot__create_order(self, p: dict[str, Any]) -> Any:
        return {**self._answer(self._place(p), NEW_ORDER), "concentration": ""}

    def _on_spot__create_batch_orders(self, p: dict[str, Any]) -> Any:
        results: list[dict[str, Any]] = []
        for item in p["orders"]:
            try:
                order = self._place(item)
            except Refusal as refused:
                _, body = self._refusal(refused)
                results.append({"code": body["code"], "msg": body["msg"]})
            else:
                results.append({"code": "0000", "order": self._answer(order, NEW_ORDER)})
        return {"code": 0, "result": results, "concentration": ""}

    def _on_spot__get_order(self, p: dict[str, Any]) -> Any:
        return self._order(self._find(p))

    def _find(self, p: Mapping[str, Any]) -> Order:
        return self.ledger.find(
            p.get("orderId"), p.get("origClientOrderId") or p.get("clientOrderId")
        )

    def _on_spot__cancel_order(self, p: dict[str, Any]) -> Any:
        order = self.ledger.cancel(self._find(p))
        return self._answer(order, CANCELED_ORDER)

    def _orders(self, account: str, p: Mapping[str, Any], *, open_: bool) -> list[Order]:
        """The account's open (or closed) orders the request's symbol, side, fromOrderId,
        start/end times and limit select."""
        orders = [
            o
            for o in self.ledger.orders.values()
            if o.account == account
            and o.open == open_
            and (not p.get("symbol") or o.symbol == p["symbol"])
            and (not p.get("side") or o.side == p["side"])
            and (not p.get("fromOrderId") or int(o.id) < int(p["fromOrderId"]))
        ]
        return since(orders, p, "created" if open_ else "updated")

    def _open(self, account: str, p: Mapping[str, Any]) -> list[Order]:
        return self._orders(account, p, open_=True)

    def _on_spot__cancel_open_orders(self, p: dict[str, Any]) -> Any:
        for order in self._open("spot", {"symbol": self._symbol(p), "side": p.get("side")}):
            self.ledger.cancel(order)
        return {"success": True}

    def _on_spot__cancel_all_open_orders(self, p: dict[str, Any]) -> Any:
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

    def _on_spot__cancel_orders_by_ids(self, p: dict[str, Any]) -> Any:
        failures = []
        for order_id in str(p["ids"]).split(","):
            try:
                self.ledger.cancel(self.ledger.find(order_id))
            except Refusal as refused:
                failures.append({"orderId": order_id, "code": self._codes[refused.kind][1]})
        return {"code": "0000", "result": failures}

    def _on_spot__list_open_orders(self, p: dict[str, Any]) -> Any:
        return [self._order(o) for o in self._open("spot", p)]

    def _on_sub_account__list_open_orders(self, p: dict[str, Any]) -> Any:
        return [self._order(o) for o in self._open(self._sub(p["subAccountId"]), p)]

    def _traded(self, account: str, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [self._order(o) for o in self._orders(account, p, open_=False)]

    def _on_spot__list_traded_orders(self, p: dict[str, Any]) -> Any:
        return self._traded("spot", p)

    def _on_sub_account__list_traded_orders(self, p: dict[str, Any]) -> Any:
        return self._traded(self._sub(p["subAccountId"]), p)

    def _sub(self, account_id: object) -> str:
        if ACCOUNTS.get(str(account_id)) != "sub":
            raise Refusal("invalid", "subAccountId")
        return "sub"

    # -- listen keys -------------------------------------------------------------------

    def _on_user_stream__create_listen_key(self, p: dict[str, Any]) -> Any:
        return {"listenKey": self._new_listen_key(DEFAULT_API_KEY)}

    def _on_user_stream__reset_listen_key(self, p: dict[str, Any]) -> Any:
        self._extend_listen_key(str(p["listenKey"]))
        return {}

    def _on_user_stream__delete_listen_key(self, p: dict[str, Any]) -> Any:
        self.listen_keys.pop(str(p["listenKey"]), None)
        return {}
