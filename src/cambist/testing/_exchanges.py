"""The base of the local exchanges: HTTP and WebSocket servers on loopback, driven by the specs.

Every endpoint of an exchange's registry is routed and checked (``_http``). What trading
code needs is simulated on one engine shared by the exchanges: a seeded synthetic market
(``_market``) and a ledger of balances, orders and fills (``_ledger``); each exchange
(``_hashkey``, ``_bibox``, ``_bingx``, ``_binance``) only speaks its own wire formats. An
endpoint an exchange does not simulate answers the document's own example.
"""

from __future__ import annotations

import difflib
import importlib
import ipaddress
import itertools
import threading
from collections.abc import Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, ClassVar, Self

from cambist._runtime import redact
from cambist._runtime.clock import SYSTEM_CLOCK, Clock
from cambist._runtime.endpoint import Endpoint
from cambist._runtime.stream import Portal
from cambist.testing._http import Call, Fault, HttpSide, Refusal
from cambist.testing._ledger import Fill, Ledger, Order
from cambist.testing._limits import LimitKeeper
from cambist.testing._market import Change, Market, SymbolRules, Trade
from cambist.testing._ws import Route, StreamHub

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
        balances: Starting balances per asset of the main account (default: the exchange's).
        fee_rate: Fee charged on what each fill brings in (default 0: balances move by
            exactly price x quantity).
        clock: The simulator's wall clock (``cambist.options.Clock``; default: the system's).
            Give it the ``FakeClock`` the client under test uses, and signed requests stay
            inside recvWindow however far the fake waits move time.
        rate_limits: Enforce the rate limits the exchange's document gives (its spec's
            budgets): a request beyond one is answered 429 with ``Retry-After``, a caller
            who keeps going is banned (418). Off by default; ``client_options()`` then
            turns the client's governor off too, so tests are not paced by production
            limits (switched on, the client keeps its governor, with the same limits).
        rules: Trading rules by symbol (``cambist.testing.SymbolRules``), for symbols that
            do not keep the exchange's default ones; the market endpoints report them and
            orders breaking one are refused with the document's code.

    State a test can read (under ``lock`` while the exchange runs): ``market`` (books, trades,
    candles), ``ledger`` (balances per account, orders, fills, ledger entries, transfers),
    ``calls`` (every HTTP request) and ``streams`` (connections, frames received).
    """

    id: ClassVar[str]
    symbols: ClassVar[dict[str, Decimal]] = {}
    _routes: ClassVar[list[Route]] = []
    _ws_bases: ClassVar[dict[str, str]] = {}
    _starting_balances: ClassVar[dict[str, Decimal]] = {
        "USDT": Decimal("100000"),
        "BTC": Decimal("2"),
        "ETH": Decimal("10"),
    }
    _rules: ClassVar[SymbolRules] = SymbolRules()
    """Every simulated symbol's trading rules unless ``rules=`` says otherwise."""
    _account: ClassVar[str] = "spot"
    """The main account (what the API key trades with)."""
    _codes: ClassVar[dict[str, tuple[int, object]]] = {}
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
        fee_rate: Decimal | str = "0",
        allow_remote: bool = False,
        clock: Clock | None = None,
        rate_limits: bool = False,
        rules: Mapping[str, SymbolRules] | None = None,
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
        self.rules: dict[str, SymbolRules] = {s: self._rules for s in self.symbols}
        """Each symbol's trading rules (what the market endpoints report, orders keep)."""
        self.rules.update(rules or {})
        self.clock_skew_ms = 0
        """Added to the simulator's clock: skew it to test timestamp handling."""
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.market = Market(self.symbols, seed=seed, clock=self.now_ms)
        """The synthetic market; its trades and candles are timed by this exchange's clock."""
        self.lock = threading.RLock()
        start = balances if balances is not None else self._starting_balances
        self._ids = itertools.count(1_900_000_000_000_000_000)
        self.ledger = Ledger(
            self.market,
            {self._account: {a: Decimal(v) for a, v in start.items()}},
            clock=self.now_ms,
            ids=lambda: next(self._ids),
            fee_rate=Decimal(fee_rate),
            on_order=self._order_changed,
            on_balances=self._balances_changed,
        )
        self.listen_keys: dict[str, tuple[str, int]] = {}
        """listen key -> (API key, expiry ms)."""
        self.portal = Portal()
        self.http = HttpSide(self, config, endpoints)
        if rate_limits:
            self.http.limits = LimitKeeper(
                config, lambda: self.now_ms() / 1000.0, self._reported_limits()
            )
        self.streams = StreamHub(self.portal, self, self._routes)
        self.url = ""
        self.ws_urls: dict[str, str] = {}

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> Self:
        port = self.http.start(self.host, self._ports[0])
        self.streams.start(self.host, self._ports[1])
        self.url = f"http://{self.host}:{port}"
        self.ws_urls = {
            k: f"ws://{self.host}:{self.streams.port}{p}" for k, p in self._ws_bases.items()
        }
        return self

    def stop(self) -> None:
        """Stop serving HTTP and WebSocket and end the streams' loop; safe to call again."""
        self.http.stop()
        self.streams.stop()
        self.portal.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
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

    def _reported_limits(self) -> Any:
        """What the spec's ``rate_limits.learn`` endpoint answers here (the limits this
        exchange reports, enforced with the spec's own), or None."""
        learn = self.config.learn_limits
        if learn is None:
            return None
        resource, _, method = learn.endpoint.partition(".")
        handler = getattr(self, f"_on_{resource}__{method}", None)
        return handler({}) if handler is not None else None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments pointing a client here with the default credentials (and,
        unless this exchange enforces rate limits, ``rate_limits=RateLimits(enabled=False)``).

        Raises ``RuntimeError`` before ``start()``: there is no address yet, and a client
        given ``base_url=""`` would fall back to the real exchange's address."""
        if not self.url:
            raise RuntimeError(
                f"{type(self).__name__} is not started: call start() (or use it in a"
                " `with` block) before client_options()"
            )
        options: dict[str, Any] = {
            "base_url": self.url,
            "ws_urls": self.ws_urls,
            "api_key": DEFAULT_API_KEY,
            "api_secret": DEFAULT_API_SECRET,
        }
        if self.http.limits is None:  # this exchange enforces no limits: nor does the client
            from cambist.ratelimit import RateLimits

            options["rate_limits"] = RateLimits(enabled=False)
        return options

    # -- switches for tests ------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000) + self.clock_skew_ms

    def fail(self, endpoint: str = "*", **fault: Any) -> None:
        """Switch on a fault for an endpoint (``"spot.create_order"``; ``"*"``: every one),
        e.g. ``fail("spot.create_order", status=503, execute=True, times=1)``; see ``Fault``.
        An endpoint name this exchange does not have raises ``ValueError`` (with close matches),
        so a misspelt fault cannot leave a test passing for the wrong reason."""
        names = [ep.name for ep in self.http.routes.values()]
        if endpoint != "*" and endpoint not in names:
            close = difflib.get_close_matches(endpoint, names, n=3)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"{self.id} has no endpoint {endpoint!r}{hint}")
        self.http.faults[endpoint] = Fault(**fault)

    def clear_faults(self) -> None:
        """Switch every fault off: HTTP faults, stream faults, and a ``streams.stall()``
        (stalled connections are read again)."""
        self.http.faults.clear()
        self.streams.reset_faults()

    @property
    def calls(self) -> list[Call]:
        """Every HTTP request received, in order."""
        return self.http.calls

    # -- answers -----------------------------------------------------------------------

    def _simulates(self, ep: Endpoint[Any]) -> bool:
        """Does this exchange simulate ``ep`` (else it answers the document's example)?"""
        return hasattr(self, "_on_" + ep.name.replace(".", "__"))

    def _handle(self, ep: Endpoint[Any], call: Call) -> Any:
        handler = getattr(self, "_on_" + ep.name.replace(".", "__"), None)
        if handler is not None:
            with self.lock:
                return handler(call.params)
        return self._example(ep)

    def _example(self, ep: Endpoint[Any]) -> Any:
        text = self.examples.get((ep.method, ep.path))
        return text.encode() if text is not None else {}

    def _error_body(self, code: object, message: str) -> Any:
        return {"code": code, "msg": message}

    def _refusal(self, refusal: Refusal) -> tuple[int, Any]:
        status, code = self._codes.get(refusal.kind, self._codes["invalid"])
        message = next((e.message for e in self.config.errors if e.code == str(code)), refusal.kind)
        if "%s" in message:
            message = message.replace("%s", refusal.detail or "?", 1).replace("%s", "")
        elif refusal.detail and (
            refusal.kind in ("missing", "invalid") or (status, code) == self._codes["invalid"]
        ):
            message = f"{message}: {refusal.detail}"
        return status, self._error_body(code, message)

    def _fault_body(self, status: int) -> Any:
        return {"code": -1000 if status >= 500 else -1003, "msg": f"HTTP {status}"}

    def _not_found(self, call: Call) -> tuple[int, Any]:
        return 404, {"code": 404, "msg": f"no such endpoint {call.method} {call.path}"}

    # -- streams -----------------------------------------------------------------------

    def _stream_auth(self, route: Route, key: str | None, headers: Mapping[str, str]) -> int:
        """The handshake's HTTP status: 101 to accept."""
        if route.auth == "listen_key":
            with self.lock:
                found = self.listen_keys.get(key or "")
                return 101 if found is not None and found[1] > self.now_ms() else 401
        return 101

    def _stream_refusal(self, key: str) -> tuple[object, str] | None:
        """(code, message) the exchange answers a subscription to ``key`` with, when its
        document says it refuses it (e.g. a pair it does not list); None: accepted."""
        return None

    def _stream_initial(self, route: Route, key: str) -> tuple[list[Any], int | None]:
        """Pushes a new subscription gets first (e.g. the full book), and the market version
        they show (older queued changes are then not sent)."""
        return [], None

    def tick(self, symbol: str | None = None, steps: int = 1) -> list[Change]:
        """Move the synthetic market: push the changes and trades to subscribers, and fill
        the resting orders the trades reach."""
        changes = []
        for _ in range(steps):
            for s in [symbol] if symbol else list(self.symbols):
                with self.lock:
                    change = self.market.step(s)
                    self._publish_change(change)
                    self._publish_trades(s, change.trades)
                    self.ledger.match(s, change.trades)
                changes.append(change)
        return changes

    def trade(
        self, symbol: str, price: Decimal | str, quantity: Decimal | str, *, taker: str
    ) -> Trade:
        """Print a market trade (``taker`` ``"BUY"`` or ``"SELL"``): it is published and fills
        the resting orders it reaches, e.g. ``trade("BTCUSDT", order_price, "1", taker="SELL")``
        fills a resting buy at ``order_price`` or above."""
        if taker not in ("BUY", "SELL"):
            raise ValueError(f"taker must be 'BUY' or 'SELL', not {taker!r}")
        with self.lock:
            printed = self.market.record(
                symbol, Decimal(price), Decimal(quantity), buyer_maker=taker == "SELL"
            )
            self._publish_trades(symbol, [printed])
            self.ledger.match(symbol, [printed])
        return printed

    def _publish_change(self, change: Change) -> None:
        """Push a market step's book changes (an exchange with market streams overrides)."""

    def _publish_trades(self, symbol: str, trades: list[Trade]) -> None:
        """Push public trades (and what they move: candles, tickers)."""

    def _order_changed(self, order: Order, fill: Fill | None) -> None:
        """An order was placed, filled or closed: push the user events. A taker fill also
        printed a public trade."""
        if fill is not None and fill.trade is not None:
            self._publish_trades(order.symbol, [fill.trade])

    def _balances_changed(self, account: str, assets: list[str]) -> None:
        """Balances of ``assets`` changed: push the user events."""

    def _pair(self, symbol: str) -> tuple[str, str]:
        """(base, quote) of a symbol the market has; refused as invalid otherwise."""
        if symbol not in self.market.books:
            raise Refusal("invalid", "symbol")
        return self._split(symbol)

    def _symbol(self, p: Mapping[str, Any]) -> str:
        """The request's ``symbol``, refused as invalid unless the market has it."""
        symbol = str(p.get("symbol"))
        self._pair(symbol)
        return symbol

    def _symbols(self, p: Mapping[str, Any]) -> list[str]:
        """The request's ``symbol`` (checked), or every symbol when it names none."""
        return [self._symbol(p)] if p.get("symbol") else list(self.symbols)

    def _enforce(
        self,
        symbol: str,
        *,
        price: Decimal | None = None,
        quantity: Decimal | None = None,
        amount: Decimal | None = None,
        market: bool = False,
        side: str | None = None,
        account: str | None = None,
    ) -> None:
        """Refuse an order that breaks a rule of its symbol (the refusal kind is the rule;
        ``_codes`` gives each its document's code). With ``side``: the price band around
        the mark price (the book's mid); with ``account``: its open orders on the symbol."""
        rules = self.rules.get(symbol)
        if rules is None:
            return
        broken = rules.broken(
            price,
            quantity,
            amount,
            market=market,
            side=side,
            mark=self.mark_price(symbol) if side is not None else None,
            now=self.now_ms(),
            open_orders=len(self.ledger.open_orders(account, symbol)) if account else 0,
        )
        if broken is not None:
            param = (
                "price"
                if broken.endswith(("price", "rate")) or broken == "price_tick"
                else "quantity"
            )
            if market and broken.endswith("notional"):
                param = "amount"
            if broken in ("no_market_orders", "max_open_orders"):
                param = "type" if broken == "no_market_orders" else "symbol"
            raise Refusal(broken, param)

    def mark_price(self, symbol: str) -> Decimal:
        """The symbol's mark price: its book's mid price (what the price bands are around)."""
        return self.market.mid(symbol)

    def _split(self, symbol: str) -> tuple[str, str]:
        base, _, quote = symbol.partition("_")
        return base, quote

    @property
    def balances(self) -> dict[str, dict[str, Decimal]]:
        """Free balances: account -> asset -> amount (what orders hold is not included)."""
        return self.ledger.balances

    # -- listen keys -------------------------------------------------------------------

    def _new_listen_key(self, api_key: str) -> str:
        key = f"{next(self._ids):x}".rjust(64, "k")
        redact.secret(key)  # never in the server's logs either
        self.listen_keys[key] = (api_key, self.now_ms() + LISTEN_KEY_LIFETIME_MS)
        return key

    def _extend_listen_key(self, key: str) -> None:
        found = self.listen_keys.get(key)
        if found is None or found[1] <= self.now_ms():
            raise Refusal("listen_key", key)
        self.listen_keys[key] = (found[0], self.now_ms() + LISTEN_KEY_LIFETIME_MS)

    def expire_listen_keys(self) -> None:
        """Expire every listen key now (as if nobody had extended them)."""
        with self.lock:
            for key, (owner, _) in list(self.listen_keys.items()):
                self.listen_keys[key] = (owner, 0)


def since(
    rows: list[Any],
    p: Mapping[str, Any],
    time: str,
    *,
    start: str = "startTime",
    end: str = "endTime",
    default: int | None = 500,
) -> list[Any]:
    """Rows (with a ``time`` attribute) within the request's start/end times, the newest
    ``limit`` of them (``default`` when not given; None: all), oldest first."""
    low, high = int(p.get(start) or 0), int(p.get(end) or 0) or None
    kept = [
        r for r in rows if getattr(r, time) >= low and (high is None or getattr(r, time) <= high)
    ]
    count = int(p["limit"]) if p.get("limit") else default
    return kept if count is None else kept[max(0, len(kept) - count) :]
