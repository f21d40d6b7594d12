"""The local exchanges' WebSocket side: a loopback server speaking each stream protocol,
with switches that make it misbehave on command.

Requests are read the way the documents describe them (HashKey V1/V2 ``sub``/``cancel``,
Bibox and Binance ``SUBSCRIBE``/``UNSUBSCRIBE`` with answers by id; Binance stream names
are matched in lower case); pushes are built by the exchange
(see ``_exchanges``) and sent to the connections subscribed to their key.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

from cambist._runtime import redact
from cambist._runtime.stream import Portal
from cambist.testing._text import dumps


@dataclass
class Route:
    """A stream endpoint: ``path`` (``{key}`` stands for a listen key), its protocol
    family, and the heartbeat the server drives (``json_server``/``text_server``)."""

    name: str
    path: str
    protocol: str
    server_ping: str | None = None
    ping_interval: float = 30.0
    auth: str | None = None  # "listen_key" or "headers"


@dataclass
class StreamFaults:
    """Misbehaviour switches, read on every frame.

    Attributes:
        ignore_pings: JSON pings get no pong (protocol-level pings still do).
        stall: Stop reading from clients, so even protocol-level pings go unanswered (set
            it with ``StreamHub.stall``).
        compress: ``"gzip"`` or ``"zlib"``: send pushes as compressed binary frames.
        reject: Subscription keys (e.g. ``"BTC_USDT.trades"``, ``"depth:BTCUSDT"``) refused.
        silent: The server sends no heartbeat pings of its own.
        ping_interval: Overrides every route's server ping interval (seconds).
        corrupt: The next this many published pushes go out as unreadable frames (a
            truncated gzip member): data lost on the wire.
    """

    ignore_pings: bool = False
    stall: bool = False
    compress: str | None = None
    reject: set[str] = field(default_factory=set)
    silent: bool = False
    ping_interval: float | None = None
    corrupt: int = 0


class Connection:
    def __init__(self, ws: Any, route: Route, credential: str | None) -> None:
        self.ws = ws
        self.route = route
        self.credential = credential
        self.keys: set[str] = set()
        self.since: dict[str, int] = {}
        """Per key, the market version of the full book sent on subscribing: older changes,
        still queued, are not sent after it."""
        self.lock = asyncio.Lock()
        """Held while a subscription is answered (reply, then the full book) and while a push
        is sent: a push published meanwhile waits, and goes out after the full book."""


class StreamHub:
    """The WebSocket server of one local exchange."""

    def __init__(self, portal: Portal, exchange: Any, routes: list[Route]) -> None:
        self.portal = portal
        self.exchange = exchange
        self.routes = routes
        self.faults = StreamFaults()
        self.connections: list[Connection] = []
        self.received: list[tuple[str, str]] = []
        """Every text frame a client sent: (route name, text)."""
        self.handshakes: list[tuple[str, int]] = []
        """Every handshake: (route name or path, HTTP status answered)."""
        self.pongs: list[str] = []
        self._server: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # -- server ------------------------------------------------------------------------

    def start(self, host: str, port: int) -> None:
        from websockets.asyncio.server import serve

        async def start() -> Any:
            redact.install()  # keys, signatures and listen keys masked in its handshake log
            logger = logging.getLogger("websockets.server")
            return await serve(
                self._handle,
                host,
                port,
                process_request=self._check,
                ping_interval=None,
                logger=logger,
            )

        self._server = self.portal.call(start())
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close the server (once: a second stop finds none)."""
        server, self._server = self._server, None

        async def stop() -> None:
            for conn in list(self.connections):  # a stalled one could not read the close
                conn.ws.transport.resume_reading()  # reply: the close waited 10 s for it
            server.close()
            await server.wait_closed()

        if server is not None:
            self.portal.call(stop())

    def _route(self, path: str) -> tuple[Route, str | None] | None:
        for route in self.routes:
            head, sep, tail = route.path.partition("{key}")
            if not sep and path == route.path:
                return route, None
            if sep and path.startswith(head) and path.endswith(tail) and len(path) > len(head):
                return route, path[len(head) : len(path) - len(tail) or None]
        return None

    def _check(self, connection: Any, request: Any) -> Any:
        found = self._route(request.path)
        if found is None:
            self.handshakes.append((request.path, 404))
            return connection.respond(404, "no such stream\n")
        route, key = found
        status = self.exchange._stream_auth(route, key, request.headers)
        self.handshakes.append((route.name, status))
        if status != 101:
            return connection.respond(status, "refused\n")
        return None

    async def _handle(self, ws: Any) -> None:
        found = self._route(ws.request.path)
        assert found is not None
        route, key = found
        conn = Connection(ws, route, key)
        self.connections.append(conn)
        if self.faults.stall:
            ws.transport.pause_reading()
        pinger = asyncio.create_task(self._ping(conn)) if route.server_ping else None
        try:
            async for frame in ws:
                text = frame if isinstance(frame, str) else frame.decode()
                self.received.append((route.name, text))
                await self._on_text(conn, text)
        except Exception:  # a dropped client: nothing to clean but the registry
            pass
        finally:
            if pinger is not None:
                pinger.cancel()
            if conn in self.connections:
                self.connections.remove(conn)

    async def _ping(self, conn: Connection) -> None:
        while True:
            await asyncio.sleep(self.faults.ping_interval or conn.route.ping_interval)
            if self.faults.silent:
                continue
            if conn.route.server_ping == "text_server":
                await self._send(conn, "Ping", force_compress="gzip")
            else:
                ping = {"ping": self.exchange.now_ms(), "channelId": "local-0001"}
                await self._send(conn, json.dumps(ping))

    async def _on_text(self, conn: Connection, text: str) -> None:
        if text in ("Pong", "pong"):
            self.pongs.append(text)
            return
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if isinstance(msg, dict) and "pong" in msg:
            self.pongs.append(text)
            return
        if isinstance(msg, dict) and "ping" in msg:
            if not self.faults.ignore_pings:
                await self._send(conn, json.dumps({"pong": self.exchange.now_ms()}))
            return
        request = parse_request(conn.route.protocol, msg)
        if request is None:
            return
        subscribe, keys, request_id = request
        refused = [k for k in keys if k in self.faults.reject]
        if refused and subscribe:
            if conn.route.protocol == "binance":
                error = {"code": 2, "msg": f"Invalid request: unknown stream {refused[0]}"}
                await self._send(conn, json.dumps({"error": error, "id": request_id}))
            if conn.route.protocol == "bibox":
                answer = {
                    "id": request_id,
                    "error": -2004,
                    "message": f"invalid stream {refused[0]}",
                }
                await self._send(conn, json.dumps(answer))
            return
        unknown = [r for r in map(self.exchange._stream_refusal, keys) if r] if subscribe else []
        if unknown:  # what the document says the exchange answers (e.g. an unknown pair)
            code, message = unknown[0]
            answer = {"id": request_id, "error": code, "message": message}
            await self._send(conn, json.dumps(answer))
            return
        async with conn.lock:
            # subscribed before anything is sent: a push published from now on reaches this
            # connection (after the reply and the full book, which the lock keeps first)
            initial: list[Any] = []
            for key in keys:
                if subscribe:
                    conn.keys.add(key)
                    payloads, version = self.exchange._stream_initial(conn.route, key)
                    if version is not None:
                        conn.since[key] = version
                    initial += payloads
                else:
                    conn.keys.discard(key)
            if conn.route.protocol in ("bibox", "binance"):
                await self._send(conn, json.dumps({"id": request_id, "result": None}))
            for payload in initial:
                await self._send(conn, payload)

    # -- sending -----------------------------------------------------------------------

    async def _send(
        self, conn: Connection, payload: Any, force_compress: str | None = None
    ) -> None:
        text = payload if isinstance(payload, str) else dumps(payload)
        how = force_compress or self.faults.compress
        frame: str | bytes = text
        if how == "gzip":
            frame = gzip.compress(text.encode())
        elif how == "zlib":
            frame = zlib.compress(text.encode())
        with contextlib.suppress(Exception):  # the client is gone
            await conn.ws.send(frame)

    def publish(
        self, route: str, key: str | None, payload: Any, version: int | None = None
    ) -> None:
        """Send ``payload`` to the ``route`` connections subscribed to ``key`` (None: to all
        of them, e.g. user data). Queued on the server's loop without waiting, in order, so
        it is safe to call while holding the exchange's lock. A ``version`` not newer than
        the full book a connection got on subscribing is not sent to it."""

        async def send() -> None:
            frame = payload
            for conn in list(self.connections):
                if conn.route.name != route:
                    continue
                async with conn.lock:
                    if key is not None and key not in conn.keys:
                        continue
                    if (
                        version is not None
                        and key is not None
                        and version <= conn.since.get(key, 0)
                    ):
                        continue
                    if self.faults.corrupt > 0 and frame is payload:
                        self.faults.corrupt -= 1
                        text = payload if isinstance(payload, str) else dumps(payload)
                        frame = gzip.compress(text.encode())[:24]  # cut short: not inflatable
                    if isinstance(frame, bytes):
                        with contextlib.suppress(Exception):
                            await conn.ws.send(frame)
                    else:
                        await self._send(conn, frame)

        pending = send()
        try:
            asyncio.run_coroutine_threadsafe(pending, self.portal.loop)
        except RuntimeError:  # the server's loop has ended (the exchange is shutting down)
            pending.close()

    def reset_faults(self) -> None:
        """Switch every stream fault off, and let stalled connections be read again."""
        if self._server is None:  # not serving: no connection to resume
            self.faults = StreamFaults()
            return

        async def reset() -> None:  # on the loop: after any stall() still queued there
            self.faults = StreamFaults()
            for conn in self.connections:
                conn.ws.transport.resume_reading()

        self.portal.call(reset())

    def stall(self, on: bool = True) -> None:
        """Stop (or resume) reading from every client: nothing they send is seen, not even
        a protocol-level ping, so they get no pong."""

        def apply() -> None:
            self.faults.stall = on
            for conn in self.connections:
                if on:
                    conn.ws.transport.pause_reading()
                else:
                    conn.ws.transport.resume_reading()

        self.portal.loop.call_soon_threadsafe(apply)

    def send_raw(self, frame: str | bytes, route: str | None = None) -> None:
        """Send a frame exactly as given (e.g. a corrupt one) to every connection."""

        async def send() -> None:
            for conn in list(self.connections):
                if route is None or conn.route.name == route:
                    await conn.ws.send(frame)

        self.portal.call(send())

    def drop(self, route: str | None = None, code: int | None = None) -> None:
        """End connections mid-stream: abruptly (no close frame: the client sees 1006) when
        ``code`` is None, else with a close frame carrying ``code``."""

        async def drop() -> None:
            for conn in list(self.connections):
                if route is None or conn.route.name == route:
                    if code is None:
                        conn.ws.transport.abort()
                    else:  # the close handshake completes in the background
                        task = asyncio.create_task(conn.ws.close(code))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)

        self.portal.call(drop())

    def subscribers(self, route: str, key: str) -> int:
        return sum(c.route.name == route and key in c.keys for c in self.connections)

    def wait_subscribed(self, route: str, key: str, timeout: float = 5.0) -> None:
        """Block until a client on ``route`` is subscribed to ``key`` (a test helper: the
        exchanges answer HashKey subscriptions with nothing to wait for)."""
        import time

        deadline = time.monotonic() + timeout
        while not self.subscribers(route, key):
            if time.monotonic() > deadline:
                raise TimeoutError(f"nobody subscribed to {key} on {route}")
            time.sleep(0.002)


def parse_request(protocol: str, msg: Any) -> tuple[bool, list[str], Any] | None:
    """(subscribe?, subscription keys, request id) of a client request, or None."""
    if not isinstance(msg, dict):
        return None
    if protocol in ("bibox", "binance"):
        method = msg.get("method")
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(msg.get("params"), list):
            return None
        keys = [str(p).lower() if protocol == "binance" else str(p) for p in msg["params"]]
        return method == "SUBSCRIBE", keys, msg.get("id")
    event = msg.get("event")
    if event not in ("sub", "cancel", "cancel_all") or "topic" not in msg:
        return None
    params = msg.get("params") or {}
    if protocol == "hashkey_v1":
        topic, symbol = str(msg["topic"]), msg.get("symbol")
        if topic.startswith("kline_"):
            return event == "sub", [f"kline:{symbol}:{topic[6:]}"], msg.get("id")
        return event == "sub", [f"{topic}:{symbol}"], msg.get("id")
    key = f"{msg['topic']}:{params.get('symbol')}"
    if "klineType" in params:
        key += f":{params['klineType']}"
    return event == "sub", [key], msg.get("id")
