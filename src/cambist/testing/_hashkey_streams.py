"""What the local HashKey pushes: the public V2 and V1 streams (depth, trades, klines of every
interval, realtimes, bbo) from the synthetic market, and the private stream's events
(executionReport, ticketInfo, outboundAccountInfo) when orders and balances change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from cambist.hashkey.models import KlineInterval
from cambist.testing._exchanges import LocalExchange
from cambist.testing._ledger import Fill, Order
from cambist.testing._market import Candle, Change, Trade
from cambist.testing._text import fmt, levels
from cambist.testing._ws import Route

ACCOUNTS = {"1900000000000000001": "spot", "1900000000000000002": "sub"}
"""Account id -> ledger account: the main trading account and one sub account."""
ACCOUNT_IDS = {name: number for number, name in ACCOUNTS.items()}
KLINE_INTERVALS = tuple(i.value for i in KlineInterval)
"""Every interval the document lists: a kline push goes to each one subscribed."""


class HashKeyStreams(LocalExchange):
    """The streams of the local HashKey (its REST side is :class:`HashKeyExchange`)."""

    _routes: ClassVar[list[Route]] = [
        Route("public", "/quote/ws/v2", "hashkey_v2"),
        Route("public_v1", "/quote/ws/v1", "hashkey_v1"),
        Route("user", "/api/v1/ws/{key}", "push", server_ping="json_server", auth="listen_key"),
    ]
    _ws_bases: ClassVar[dict[str, str]] = {"ws": ""}
    ACCOUNT_ID = ACCOUNT_IDS["spot"]
    SUB_ACCOUNT_ID = ACCOUNT_IDS["sub"]

    # -- private stream ----------------------------------------------------------------

    def _order_changed(self, order: Order, fill: Fill | None) -> None:
        super()._order_changed(order, fill)
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

    def _balances_changed(self, account: str, assets: list[str]) -> None:
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

    def _stream_initial(self, route: Route, key: str) -> tuple[list[Any], int | None]:
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

    def _publish_change(self, change: Change) -> None:
        s, v = change.symbol, change.version
        self.streams.publish("public", f"depth:{s}", self._depth_v2(s), v)
        self.streams.publish("public_v1", f"depth:{s}", self._depth_v1(s, False), v)
        (bid, bid_qty), (ask, ask_qty) = self.market.best(s)
        bbo = {
            "s": s,
            "t": self.now_ms(),
            "b": fmt(bid),
            "bz": fmt(bid_qty),
            "a": fmt(ask),
            "az": fmt(ask_qty),
        }
        self.streams.publish("public", f"bbo:{s}", self._v2("bbo", s, bbo), v)

    def _publish_trades(self, s: str, trades: list[Trade]) -> None:
        for t in trades:
            push = self._v2("trade", s, self._trade(t))
            self.streams.publish("public", f"trade:{s}", push, t.id)
            push_v1 = self._v1("trade", s, [self._trade(t)], False)
            self.streams.publish("public_v1", f"trade:{s}", push_v1, t.id)
        if not trades:
            return
        # Candles and 24 h figures are aggregated on demand: only for what is subscribed.
        for interval in KLINE_INTERVALS:
            key = f"kline:{s}:{interval}"
            if self._watched(key):
                bar = self._kline(s, self.market.candle(s, trades[-1].time, interval))
                v2 = self._v2("kline", s, bar, klineType=interval)
                self.streams.publish("public", key, v2)
                v1 = self._v1(f"kline_{interval}", s, [bar], False, klineType=interval)
                self.streams.publish("public_v1", key, v1)
        if self._watched(f"realtimes:{s}"):
            realtime = self._realtime(s)
            v2 = self._v2("realtimes", s, realtime)
            self.streams.publish("public", f"realtimes:{s}", v2)
            v1 = self._v1("realtimes", s, [realtime], False)
            self.streams.publish("public_v1", f"realtimes:{s}", v1)

    def _watched(self, key: str) -> bool:
        """Is ``key`` subscribed on the V2 or the V1 stream?"""
        return bool(
            self.streams.subscribers("public", key) or self.streams.subscribers("public_v1", key)
        )
