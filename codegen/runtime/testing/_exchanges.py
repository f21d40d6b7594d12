"""The local exchanges: HTTP and WebSocket servers on loopback, driven by the specs.

Every endpoint of an exchange's registry is routed and checked (``_http``). The behaviour a
trading test needs is simulated — HashKey: balances, orders (limit orders rest, market orders
fill against the synthetic book), transfers, listen keys and the private stream; market data
from a seeded synthetic market for HashKey and Bibox; listen keys for BingX — and every other
endpoint answers the document's own example.
"""

from __future__ import annotations

import importlib
import ipaddress
import itertools
import json
import threading
import time
from collections.abc import Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, ClassVar

from cambist._runtime.endpoint import Endpoint
from cambist._runtime.signing import Credentials
from cambist._runtime.stream import Portal
from cambist.testing._http import Call, Fault, HttpSide, Refusal
from cambist.testing._market import Change, Market
from cambist.testing._ws import Route, StreamFaults, StreamHub

DEFAULT_API_KEY = "cambist-local-api-key"
DEFAULT_API_SECRET = "cambist-local-api-secret"

LISTEN_KEY_LIFETIME_MS = 3_600_000


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LocalExchange:
    """A local stand-in for one exchange: start it, point a client at ``url``/``ws_urls``.

    Args:
        host: Where to listen; only loopback unless ``allow_remote`` is True.
        port: HTTP port (0: any free one). ``ws_port`` likewise for WebSocket.
        seed: Seed of the synthetic market: the same seed gives the same data.
        credentials: API key -> secret accepted (default: DEFAULT_API_KEY/SECRET).
        balances: Starting balances per asset (default: the exchange's).
    """

    id: ClassVar[str]
    symbols: ClassVar[dict[str, Decimal]] = {}
    routes: ClassVar[list[Route]] = []
    ws_bases: ClassVar[dict[str, str]] = {}
    starting_balances: ClassVar[dict[str, Decimal]] = {}
    codes: ClassVar[dict[str, tuple[int, object]]] = {}
    """Refusal kind -> (HTTP status, the document's error code)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ws_port: int = 0,
        seed: int = 1,
        credentials: Mapping[str, str] | None = None,
        balances: Mapping[str, Decimal | str | int] | None = None,
        allow_remote: bool = False,
    ) -> None:
        if not _loopback(host) and not allow_remote:
            raise ValueError(
                f"refusing to listen on {host!r}: not loopback (pass allow_remote=True)"
            )
        self.host = host
        self._ports = (port, ws_port)
        config = importlib.import_module(f"cambist.{self.id}._config").EXCHANGE
        endpoints = importlib.import_module(f"cambist.{self.id}._registry").ENDPOINTS
        examples = importlib.import_module(f"cambist.{self.id}._examples").EXAMPLES
        self.config = config
        self.examples: dict[tuple[str, str], str] = examples
        self.credentials = dict(credentials or {DEFAULT_API_KEY: DEFAULT_API_SECRET})
        self.market = Market(self.symbols, seed=seed)
        self.clock_skew_ms = 0
        """Added to the simulator's clock: skew it to test timestamp handling."""
        self.lock = threading.RLock()
        start = balances if balances is not None else self.starting_balances
        self.balances: dict[str, dict[str, Decimal]] = {
            "spot": {a: Decimal(v) for a, v in start.items()},
            "sub": {},
        }
        self.listen_keys: dict[str, tuple[str, int]] = {}
        """listen key -> (API key, expiry ms)."""
        self._ids = itertools.count(1_900_000_000_000_000_000)
        self.portal = Portal()
        self.http = HttpSide(self, config, endpoints)
        self.streams = StreamHub(self.portal, self, self.routes)
        self.url = ""
        self.ws_urls: dict[str, str] = {}

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> LocalExchange:
        port = self.http.start(self.host, self._ports[0])
        self.streams.start(self.host, self._ports[1])
        self.url = f"http://{self.host}:{port}"
        self.ws_urls = {
            k: f"ws://{self.host}:{self.streams.port}{p}" for k, p in self.ws_bases.items()
        }
        return self

    def stop(self) -> None:
        self.http.stop()
        self.streams.stop()
        self.portal.close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Any:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url or 'stopped'}>"

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments pointing a client here with the default credentials."""
        return {
            "base_url": self.url,
            "ws_urls": self.ws_urls,
            "api_key": DEFAULT_API_KEY,
            "api_secret": DEFAULT_API_SECRET,
        }

    # -- switches for tests ------------------------------------------------------------

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_skew_ms

    def fail(self, endpoint: str = "*", **fault: Any) -> None:
        """Switch on a fault for an endpoint (``"spot.create_order"``; ``"*"``: every one),
        e.g. ``fail("spot.create_order", status=503, execute=True, times=1)``; see ``Fault``."""
        self.http.faults[endpoint] = Fault(**fault)

    def clear_faults(self) -> None:
        self.http.faults.clear()
        self.streams.faults = StreamFaults()

    @property
    def calls(self) -> list[Call]:
        """Every HTTP request received, in order."""
        return self.http.calls

    # -- answers -----------------------------------------------------------------------

    def simulates(self, ep: Endpoint[Any]) -> bool:
        """Does this exchange simulate ``ep`` (else it answers the document's example)?"""
        return hasattr(self, "on_" + ep.name.replace(".", "__"))

    def handle(self, ep: Endpoint[Any], call: Call) -> Any:
        handler = getattr(self, "on_" + ep.name.replace(".", "__"), None)
        if handler is not None:
            with self.lock:
                return handler(call.params)
        return self.example(ep)

    def example(self, ep: Endpoint[Any]) -> Any:
        text = self.examples.get((ep.method, ep.path))
        return text.encode() if text is not None else {}

    def error_body(self, code: object, message: str) -> Any:
        return {"code": code, "msg": message}

    def refusal(self, refusal: Refusal) -> tuple[int, Any]:
        status, code = self.codes.get(refusal.kind, self.codes["invalid"])
        message = next((e.message for e in self.config.errors if e.code == str(code)), refusal.kind)
        if "%s" in message:
            message = message.replace("%s", refusal.detail or "?", 1).replace("%s", "")
        elif refusal.detail and refusal.kind in ("missing", "invalid"):
            message = f"{message}: {refusal.detail}"
        return status, self.error_body(code, message)

    def fault_body(self, status: int) -> Any:
        return {"code": -1000 if status >= 500 else -1003, "msg": f"HTTP {status}"}

    def not_found(self, call: Call) -> tuple[int, Any]:
        return 404, {"code": 404, "msg": f"no such endpoint {call.method} {call.path}"}

    # -- streams -----------------------------------------------------------------------

    def stream_auth(self, route: Route, key: str | None, headers: Mapping[str, str]) -> int:
        """The handshake's HTTP status: 101 to accept."""
        if route.auth == "listen_key":
            with self.lock:
                found = self.listen_keys.get(key or "")
                return 101 if found is not None and found[1] > self.now_ms() else 401
        return 101

    def stream_initial(self, route: Route, key: str) -> tuple[list[Any], int | None]:
        """Pushes a new subscription gets first (e.g. the full book), and the market version
        they show (older queued changes are then not sent)."""
        return [], None

    def tick(self, symbol: str | None = None, steps: int = 1) -> list[Change]:
        """Move the synthetic market and push the changes to subscribers."""
        changes = []
        for _ in range(steps):
            for s in [symbol] if symbol else list(self.symbols):
                with self.lock:
                    change = self.market.step(s)
                changes.append(change)
                self.publish_change(change)
        return changes

    def publish_change(self, change: Change) -> None:
        pass

    # -- listen keys -------------------------------------------------------------------

    def new_listen_key(self, api_key: str) -> str:
        key = f"{next(self._ids):x}".rjust(64, "k")
        self.listen_keys[key] = (api_key, self.now_ms() + LISTEN_KEY_LIFETIME_MS)
        return key

    def extend_listen_key(self, key: str) -> None:
        found = self.listen_keys.get(key)
        if found is None or found[1] <= self.now_ms():
            raise Refusal("listen_key", key)
        self.listen_keys[key] = (found[0], self.now_ms() + LISTEN_KEY_LIFETIME_MS)

    def expire_listen_keys(self) -> None:
        """Expire every listen key now (as if nobody had extended them)."""
        with self.lock:
            for key, (owner, _) in list(self.listen_keys.items()):
                self.listen_keys[key] = (owner, 0)

    def new_id(self) -> str:
        return str(next(self._ids))


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0E0") else text


def _levels(levels: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[_fmt(p), _fmt(q)] for p, q in levels]


class HashKeyExchange(LocalExchange):
    """HashKey Global spot, simulated: balances, orders, transfers, listen keys, market
    data and the V1/V2/private streams."""

    id = "hashkey"
    symbols: ClassVar[dict[str, Decimal]] = {
        "BTCUSDT": Decimal("60000.00"),
        "ETHUSDT": Decimal("3000.00"),
    }
    starting_balances: ClassVar[dict[str, Decimal]] = {
        "USDT": Decimal("100000"),
        "BTC": Decimal("2"),
        "ETH": Decimal("10"),
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
    ACCOUNT_ID = "1900000000000000001"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.orders: dict[str, dict[str, Any]] = {}

    def refusal(self, refusal: Refusal) -> tuple[int, Any]:
        if refusal.kind == "bad_signature":  # the table has two 0001 rows: this one
            return 400, {"code": "0001", "msg": "Incorrect signature"}
        return super().refusal(refusal)

    # market data

    def on_misc__get_server_time(self, p: dict[str, Any]) -> Any:
        return {"serverTime": self.now_ms()}

    def on_market__get_depth(self, p: dict[str, Any]) -> Any:
        bids, asks = self.market.books[self._symbol(p)].top(int(p.get("limit") or 100))
        return {"t": self.now_ms(), "b": _levels(bids), "a": _levels(asks)}

    def on_market__list_trades(self, p: dict[str, Any]) -> Any:
        trades = self.market.trades[self._symbol(p)][-int(p.get("limit") or 100) :]
        return [
            {"t": t.time, "p": _fmt(t.price), "q": _fmt(t.quantity), "ibm": t.buyer_maker}
            for t in trades
        ]

    def on_market__list_price_tickers(self, p: dict[str, Any]) -> Any:
        symbols = [self._symbol(p)] if p.get("symbol") else list(self.symbols)
        return [{"s": s, "si": s, "p": _fmt(self._mid(s))} for s in symbols]

    def _symbol(self, p: Mapping[str, Any]) -> str:
        symbol = str(p.get("symbol"))
        if symbol not in self.market.books:
            raise Refusal("invalid", "symbol")
        return symbol

    def _mid(self, symbol: str) -> Decimal:
        book = self.market.books[symbol]
        return (max(book.bids) + min(book.asks)) / 2

    # account

    def on_account__get_balances(self, p: dict[str, Any]) -> Any:
        locked = self._locked()
        rows = []
        for asset, free in sorted(self.balances["spot"].items()):
            held = locked.get(asset, Decimal(0))
            rows.append(
                {
                    "asset": asset,
                    "assetId": asset,
                    "assetName": asset,
                    "total": _fmt(free + held),
                    "free": _fmt(free),
                    "locked": _fmt(held),
                }
            )
        return {"balances": rows, "userId": "1900000000000000000"}

    def on_account__transfer(self, p: dict[str, Any]) -> Any:
        coin, quantity = str(p["coin"]), Decimal(str(p["quantity"]))
        source = "spot" if p["fromAccountId"] == self.ACCOUNT_ID else "sub"
        target = "sub" if source == "spot" else "spot"
        if self.balances[source].get(coin, Decimal(0)) < quantity:
            raise Refusal("insufficient")
        self.balances[source][coin] -= quantity
        self.balances[target][coin] = self.balances[target].get(coin, Decimal(0)) + quantity
        self._push_account([coin])
        return {
            "success": True,
            "timestamp": self.now_ms(),
            "clientOrderId": p.get("clientOrderId", ""),
            "orderId": self.new_id(),
        }

    # orders

    def _locked(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for o in self.orders.values():
            if o["status"] in ("NEW", "PARTIALLY_FILLED"):
                out[o["_asset"]] = out.get(o["_asset"], Decimal(0)) + o["_held"]
        return out

    def on_spot__test_order(self, p: dict[str, Any]) -> Any:
        self._symbol(p)
        return {}

    def on_spot__create_order(self, p: dict[str, Any]) -> Any:
        symbol = self._symbol(p)
        base, quote = symbol[:-4], symbol[-4:]
        side, kind = str(p["side"]), str(p["type"])
        quantity = Decimal(str(p.get("quantity") or 0))
        price = Decimal(str(p.get("price") or 0))
        if kind == "LIMIT" and (not price or not quantity):
            raise Refusal("missing", "price" if not price else "quantity")
        now = self.now_ms()
        order: dict[str, Any] = {
            "accountId": self.ACCOUNT_ID,
            "exchangeId": "301",
            "symbol": symbol,
            "symbolName": symbol,
            "clientOrderId": str(p.get("newClientOrderId") or self.new_id()),
            "orderId": self.new_id(),
            "price": _fmt(price),
            "origQty": _fmt(quantity),
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
            "cumulativeQuoteQty": "0",
            "avgPrice": "0",
            "status": "NEW",
            "timeInForce": str(p.get("timeInForce") or ("IOC" if kind != "LIMIT" else "GTC")),
            "type": kind,
            "side": side,
            "stopPrice": "0.0",
            "icebergQty": "0.0",
            "time": str(now),
            "updateTime": str(now),
            "isWorking": True,
            "reqAmount": "0",
            "_asset": quote if side == "BUY" else base,
            "_held": Decimal(0),
        }
        spot = self.balances["spot"]
        if kind == "LIMIT":
            need = quantity * price if side == "BUY" else quantity
            if spot.get(order["_asset"], Decimal(0)) < need:
                raise Refusal("insufficient")
            spot[order["_asset"]] -= need
            order["_held"] = need
            self.orders[order["orderId"]] = order
            self._push_order(order)
        else:
            fills = list(self.market.take(symbol, side, quantity))
            cost = sum((px * q for px, q in fills), Decimal(0))
            pay, pay_amount = (quote, cost) if side == "BUY" else (base, quantity)
            get, get_amount = (base, quantity) if side == "BUY" else (quote, cost)
            if spot.get(pay, Decimal(0)) < pay_amount:
                raise Refusal("insufficient")
            spot[pay] -= pay_amount
            spot[get] = spot.get(get, Decimal(0)) + get_amount
            order.update(
                status="FILLED",
                executedQty=_fmt(quantity),
                cummulativeQuoteQty=_fmt(cost),
                cumulativeQuoteQty=_fmt(cost),
                avgPrice=_fmt(cost / quantity) if quantity else "0",
                isWorking=False,
            )
            self.orders[order["orderId"]] = order
            self._push_order(order, last=(fills[-1] if fills else None))
            self._push_account([pay, get])
        answer = {k: v for k, v in order.items() if not k.startswith("_")}
        answer["transactTime"] = answer["time"]
        return answer

    def _find(self, p: Mapping[str, Any]) -> dict[str, Any]:
        order_id = p.get("orderId")
        client_id = p.get("origClientOrderId") or p.get("clientOrderId")
        for o in self.orders.values():
            if (order_id and o["orderId"] == str(order_id)) or (
                client_id and o["clientOrderId"] == str(client_id)
            ):
                return o
        raise Refusal("not_found")

    def on_spot__get_order(self, p: dict[str, Any]) -> Any:
        return {k: v for k, v in self._find(p).items() if not k.startswith("_")}

    def on_spot__list_open_orders(self, p: dict[str, Any]) -> Any:
        return [
            {k: v for k, v in o.items() if not k.startswith("_")}
            for o in self.orders.values()
            if o["status"] in ("NEW", "PARTIALLY_FILLED")
            and (not p.get("symbol") or o["symbol"] == p["symbol"])
        ]

    def on_spot__cancel_order(self, p: dict[str, Any]) -> Any:
        order = self._find(p)
        if order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            raise Refusal("not_found")
        order.update(status="CANCELED", updateTime=str(self.now_ms()), isWorking=False)
        self.balances["spot"][order["_asset"]] += order["_held"]
        order["_held"] = Decimal(0)
        self._push_order(order)
        self._push_account([order["_asset"]])
        keep = (
            "accountId",
            "symbol",
            "clientOrderId",
            "orderId",
            "price",
            "origQty",
            "executedQty",
            "status",
            "timeInForce",
            "type",
            "side",
        )
        answer = {k: order[k] for k in keep}
        answer["transactTime"] = order["updateTime"]
        return answer

    # listen keys

    def on_user_stream__create_listen_key(self, p: dict[str, Any]) -> Any:
        return {"listenKey": self.new_listen_key(DEFAULT_API_KEY)}

    def on_user_stream__reset_listen_key(self, p: dict[str, Any]) -> Any:
        self.extend_listen_key(str(p["listenKey"]))
        return {}

    def on_user_stream__delete_listen_key(self, p: dict[str, Any]) -> Any:
        self.listen_keys.pop(str(p["listenKey"]), None)
        return {}

    # streams

    def _push_order(
        self, order: dict[str, Any], last: tuple[Decimal, Decimal] | None = None
    ) -> None:
        event = {
            "e": "executionReport",
            "E": str(self.now_ms()),
            "s": order["symbol"],
            "c": order["clientOrderId"],
            "S": order["side"],
            "o": order["type"],
            "f": order["timeInForce"],
            "q": order["origQty"],
            "p": order["price"],
            "X": order["status"],
            "i": order["orderId"],
            "l": _fmt(last[1]) if last else "0",
            "z": order["executedQty"],
            "L": _fmt(last[0]) if last else "0",
            "n": "0",
            "N": "",
            "u": True,
            "w": order["isWorking"],
            "m": False,
            "O": order["time"],
            "Z": order["cumulativeQuoteQty"],
            "C": False,
            "v": "0",
            "reqAmt": "0",
            "d": self.new_id(),
            "r": "0",
            "V": order["avgPrice"],
            "P": "0",
            "lo": False,
            "lt": "",
            "x": "",
        }
        self.streams.publish("user", None, [event])

    def _push_account(self, assets: list[str]) -> None:
        locked = self._locked()
        balances = [
            {
                "a": a,
                "f": _fmt(self.balances["spot"].get(a, Decimal(0))),
                "l": _fmt(locked.get(a, Decimal(0))),
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

    def _depth_v2(self, symbol: str) -> dict[str, Any]:
        book = self.market.books[symbol]
        bids, asks = book.top(self.market.levels)
        data = {
            "s": symbol,
            "t": self.now_ms(),
            "v": f"{book.version}_1",
            "b": _levels(bids),
            "a": _levels(asks),
        }
        return {"topic": "depth", "params": {"symbol": symbol}, "data": data}

    def _depth_v1(self, symbol: str, first: bool) -> dict[str, Any]:
        v2 = self._depth_v2(symbol)["data"]
        data = {"e": 301, **v2, "o": 0}
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

    def _trade(self, t: Any) -> dict[str, Any]:
        return {
            "v": str(t.id),
            "t": t.time,
            "p": _fmt(t.price),
            "q": _fmt(t.quantity),
            "m": t.buyer_maker,
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
            if topic == "trade" and route.name == "public_v1":
                trades = [self._trade(t) for t in self.market.trades[symbol][-60:]]
                return [self._v1("trade", symbol, trades, True)], version
        return [], version

    def publish_change(self, change: Change) -> None:
        s = change.symbol
        with self.lock:
            v = change.version
            self.streams.publish("public", f"depth:{s}", self._depth_v2(s), v)
            self.streams.publish("public_v1", f"depth:{s}", self._depth_v1(s, False), v)
            for t in change.trades:
                push = {"topic": "trade", "params": {"symbol": s}, "data": self._trade(t)}
                self.streams.publish("public", f"trade:{s}", push, v)
                push_v1 = self._v1("trade", s, [self._trade(t)], False)
                self.streams.publish("public_v1", f"trade:{s}", push_v1, v)
            mid = _fmt(self._mid(s))
            bar = {
                "t": change.time - change.time % 60000,
                "s": s,
                "sn": s,
                "c": mid,
                "h": mid,
                "l": mid,
                "o": mid,
                "v": "0",
            }
            self.streams.publish(
                "public",
                f"kline:{s}:1m",
                {"topic": "kline", "params": {"symbol": s, "klineType": "1m"}, "data": bar},
            )


class BiboxExchange(LocalExchange):
    """Bibox v4, simulated: market data streams from the synthetic market (order book: full
    book, then changes), the user stream's handshake; REST answers the document's examples."""

    id = "bibox"
    symbols: ClassVar[dict[str, Decimal]] = {
        "BTC_USDT": Decimal("60000.00"),
        "ETH_USDT": Decimal("3000.00"),
    }
    routes: ClassVar[list[Route]] = [
        Route("market", "/market", "bibox"),
        Route("user", "/user", "push", auth="headers"),
    ]
    ws_bases: ClassVar[dict[str, str]] = {"ws_market": "/market", "ws_user": "/user"}
    codes: ClassVar[dict[str, tuple[int, object]]] = {
        "no_key": (400, -2001),
        "bad_key": (400, -2002),
        "no_signature": (400, -2001),
        "bad_signature": (400, -2006),
        "timestamp": (400, -2104),
        "missing": (400, -2003),
        "invalid": (400, -2004),
        "bad_json": (400, -2005),
        "not_found": (400, -3003),
    }

    def error_body(self, code: object, message: str) -> Any:
        return {"error": code, "message": message}

    def fault_body(self, status: int) -> Any:
        return {"error": -1000, "message": f"HTTP {status}"}

    def stream_auth(self, route: Route, key: str | None, headers: Mapping[str, str]) -> int:
        if route.auth != "headers":
            return 101
        api_key = headers.get("Bibox-Api-Key")
        secret = self.credentials.get(api_key or "")
        if secret is None:
            return 401
        expected = Credentials(api_key or "", secret).sign(b"")
        return 101 if headers.get("Bibox-Api-Sign") == expected else 401

    def _book_push(self, symbol: str, depth: int) -> dict[str, Any]:
        book = self.market.books[symbol]
        bids, asks = book.top(depth)
        data = {
            "i": str(book.version),
            "t": str(self.now_ms()),
            "b": _levels(bids),
            "a": _levels(asks),
        }
        return {"stream": f"{symbol}.order_book.{depth}", "data": data}

    def stream_initial(self, route: Route, key: str) -> tuple[list[Any], int | None]:
        parts = key.split(".")
        if parts[0] not in self.market.books:
            return [], None
        with self.lock:
            version = self.market.books[parts[0]].version
            if len(parts) == 3 and parts[1] == "order_book":
                return [self._book_push(parts[0], int(parts[2]))], version
        return [], version

    def publish_change(self, change: Change) -> None:
        s = change.symbol
        # Changes go to every order_book depth subscribed; the simulated book has
        # ``levels`` levels, so a depth of at least that many mirrors it exactly.
        data = {
            "i": str(change.version),
            "t": str(change.time),
            "b": _levels(change.bids),
            "a": _levels(change.asks),
        }
        for depth in (5, 10, 20, 50, 100, 200):
            key = f"{s}.order_book.{depth}"
            self.streams.publish(
                "market", key, json.dumps({"stream": key, "data": data}), change.version
            )
        if change.trades:
            trades = [
                {
                    "i": str(t.id),
                    "p": _fmt(t.price),
                    "q": _fmt(t.quantity),
                    "s": "sell" if t.buyer_maker else "buy",
                    "t": str(t.time),
                }
                for t in change.trades
            ]
            self.streams.publish(
                "market", f"{s}.trades", {"stream": f"{s}.trades", "data": trades}, change.version
            )

    def push_user(self, stream: str, data: Any) -> None:
        """Push a user event (``"account"`` or ``"order"``) to every user connection."""
        self.streams.publish("user", None, {"stream": stream, "data": data})


class BingXExchange(LocalExchange):
    """BingX, simulated: listen keys (created, extended, deleted, expiring) and the user
    data stream's handshake and gzip heartbeats; REST answers the document's examples."""

    id = "bingx"
    routes: ClassVar[list[Route]] = [
        Route(
            "user",
            "/market?listenKey={key}",
            "push",
            server_ping="text_server",
            ping_interval=5.0,
            auth="listen_key",
        ),
    ]
    ws_bases: ClassVar[dict[str, str]] = {"ws": "/market"}
    codes: ClassVar[dict[str, tuple[int, object]]] = {
        "no_key": (200, 100001),
        "bad_key": (200, 100001),
        "no_signature": (200, 100001),
        "bad_signature": (200, 100001),
        "timestamp": (200, 100400),
        "missing": (200, 100400),
        "invalid": (200, 100400),
        "bad_json": (200, 100400),
        "listen_key": (404, 404),
        "not_found": (200, 100400),
    }

    def refusal(self, refusal: Refusal) -> tuple[int, Any]:
        if refusal.kind == "listen_key":
            return 404, b""  # "http status 404 not find key"
        return super().refusal(refusal)

    def fault_body(self, status: int) -> Any:
        return {"code": 100500 if status >= 500 else 100410, "msg": f"HTTP {status}"}

    def on_user_stream__create_listen_key(self, p: dict[str, Any]) -> Any:
        return {"listenKey": self.new_listen_key(DEFAULT_API_KEY)}

    def on_user_stream__extend_listen_key(self, p: dict[str, Any]) -> Any:
        self.extend_listen_key(str(p["listenKey"]))
        return b""

    def on_user_stream__delete_listen_key(self, p: dict[str, Any]) -> Any:
        if self.listen_keys.pop(str(p["listenKey"]), None) is None:
            raise Refusal("listen_key")
        return b""

    def push_user(self, event: Any) -> None:
        """Push a user data event (gzip-compressed, as BingX sends every frame)."""
        import gzip

        self.streams.send_raw(gzip.compress(json.dumps(event).encode()), route="user")


class BinanceOptionsExchange(LocalExchange):
    """Binance Options (eapi): every request checked (key, signature, recvWindow, params);
    server time simulated; other endpoints answer the document's examples."""

    id = "binance_options"
    codes: ClassVar[dict[str, tuple[int, object]]] = {
        "no_key": (401, -2014),
        "bad_key": (401, -2015),
        "no_signature": (400, -1102),
        "bad_signature": (400, -1022),
        "timestamp": (400, -1021),
        "missing": (400, -1102),
        "invalid": (400, -1130),
        "bad_json": (400, -1130),
        "not_found": (400, -2013),
    }

    def on_market__get_server_time(self, p: dict[str, Any]) -> Any:
        return {"serverTime": self.now_ms()}


EXCHANGES: dict[str, type[LocalExchange]] = {
    "hashkey": HashKeyExchange,
    "bibox": BiboxExchange,
    "bingx": BingXExchange,
    "binance_options": BinanceOptionsExchange,
}
