"""The WebSocket stream engine: one self-healing connection, on asyncio and ``websockets``.

The blocking streams run this same engine on a private event loop (see
:mod:`cambist._runtime.portal`), so there is one copy of the stream logic. Framing, routing
and heartbeat decisions are pure (:mod:`cambist._runtime.wire`); books are pure
(:mod:`cambist._runtime.book`); this module does the I/O:

- connects (API-key headers or a listen key in the URL), and replaces a connection that
  drops, closes, or stops answering heartbeats, with exponential backoff and jitter;
- re-subscribes every channel on a new connection and reports what happened through
  lifecycle events (``Connected``, ``Reconnected``, ``Resubscribed``, ``Gap``);
- stops for good, raising to the consumer, on a refused handshake (401/403, a listen key
  refused twice) or when ``max_reconnects`` consecutive attempts failed;
- keeps a listen key alive: extended at half its lifetime (minus jitter), replaced (new
  key, new connection, ``Gap``) when an extension fails, deleted on close;
- hands a connection over at ``max_connection_age`` (new connection subscribed, channels
  switched where both carry the same push, old one closed): nothing lost or repeated;
- treats an unreadable frame on a stream with books as a gap (every book resynchronised).

Every long wait goes through ``StreamOptions.sleep`` (injectable: fake time in tests).

Listen keys and handshake signatures are credentials: they appear in no log line (see
:mod:`cambist._runtime.redact`), repr or exception message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping
from operator import attrgetter
from typing import Any

import msgspec

from cambist import errors
from cambist._runtime import convert, redact
from cambist._runtime.book import BookError, OrderBook, event_getter, path_get
from cambist._runtime.endpoint import Endpoint
from cambist._runtime.retry import backoff
from cambist._runtime.signing import Credentials
from cambist._runtime.streamdef import BookDef, Channel, StreamDef, StreamOptions
from cambist._runtime.wire import (
    PROTOCOLS,
    TEXT_PINGS,
    BadFrameError,
    Heartbeat,
    Subscription,
    decode,
    event_skim,
    frame_text,
    json_heartbeat,
    make_subscription,
)
from cambist.streams import (
    BadFrame,
    BookResync,
    Connected,
    Gap,
    RawEvent,
    Reconnected,
    Resubscribed,
    SubscriptionRejected,
)

log = logging.getLogger("cambist.streams")

RestCall = Callable[[Endpoint[Any], Mapping[str, object]], Awaitable[Any]]


def _reader(
    getters: tuple[Callable[[Any], Any], ...], paths: tuple[tuple[str | int, ...], ...] = ()
) -> Callable[[Any], tuple[Any, ...]]:
    """One call reading a book's values: ``operator.attrgetter`` of them all (C, one tuple)
    when every path names attributes only; when they share a prefix holding a list index
    (HashKey V1: ``data[0]``) and name attributes only after it, that prefix is followed once
    and an ``attrgetter`` reads them all from there; else the getters in turn."""
    if paths and all(part and all(type(p) is str for p in part) for part in paths):
        return attrgetter(*(".".join(map(str, part)) for part in paths))
    if len(paths) > 1 and all(paths):
        size = 0  # the common prefix, leaving every path at least one part after it
        while size < min(map(len, paths)) - 1 and len({part[size] for part in paths}) == 1:
            size += 1
        rests = [part[size:] for part in paths]
        if size and all(type(p) is str for rest in rests for p in rest):
            head = event_getter(paths[0][:size])
            tail = attrgetter(*(".".join(map(str, rest)) for rest in rests))

            def read_after(source: Any) -> tuple[Any, ...]:
                values: tuple[Any, ...] = tail(head(source))
                return values

            return read_after

    def read(source: Any) -> tuple[Any, ...]:
        return tuple([get(source) for get in getters])

    return read


class _Retry(Exception):
    """Connecting failed in a way another attempt may fix."""


def _closed(exc: Any) -> str:
    code = exc.rcvd.code if exc.rcvd is not None else 1006
    return f"connection closed ({code})"


class _Handover:
    """A connection handover in progress: per channel, the pushes the old connection
    delivered and those the new one holds back, until the two meet; then the channel reads
    the new connection only (``switched``), skipping what the old one already delivered."""

    __slots__ = ("delivered", "done", "keys", "new", "old_done", "queues", "skip", "switched")

    def __init__(self, new: Any, keys: list[Hashable]) -> None:
        self.new = new
        self.keys = keys
        self.queues: dict[Hashable, list[str | bytes]] = {}
        self.delivered: dict[Hashable, list[str | bytes]] = {}
        self.switched: set[Hashable] = set()
        self.skip: dict[Hashable, set[str | bytes]] = {}
        self.old_done = False  # the old connection's reader has stopped
        self.done = asyncio.Event()
        if not keys:
            self.done.set()

    def switch(self, key: Hashable, skip: list[str | bytes]) -> None:
        self.switched.add(key)
        self.queues.pop(key, None)
        self.delivered.pop(key, None)
        if skip:
            self.skip[key] = set(skip)
        if self.switched.issuperset(self.keys):
            self.done.set()


def snapshot_value(sub: Subscription, value: object) -> object:
    """A book snapshot call's value: ``"{name}"`` is the channel param's, ``"{name|upper}"``
    the same in capitals (Binance: a stream takes lower-case symbols, REST capitals)."""
    if not isinstance(value, str) or value[:1] != "{":
        return value
    name, _, flt = value[1:-1].partition("|")
    found = sub.wire.get(name, value)
    return found.upper() if flt == "upper" else found


class StreamEngine:
    """One stream: its connection, subscriptions, books and event buffer."""

    def __init__(
        self,
        definition: StreamDef,
        *,
        base_url: str,
        credentials: Credentials | None,
        rest: RestCall | None,
        options: StreamOptions,
    ) -> None:
        self.definition = definition
        self.name = definition.name
        self.options = options
        self.books: dict[Hashable, OrderBook] = {}
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._rest = rest
        self._proto = PROTOCOLS[definition.protocol]
        self._subs: dict[Hashable, Subscription] = {}
        self._events: deque[Any] = deque()
        self._dropped = 0
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._ws: Any = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[Subscription, bool, asyncio.Future[None] | None]] = {}
        self._awaiting: dict[Hashable, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._renewal: asyncio.Task[None] | None = None
        """The listen key renewal under way, one at a time, whichever asked for it (the
        keep-alive, the key's expiry event): :meth:`_renew`."""
        self._snapshots: set[asyncio.Task[None]] = set()
        self._snapshot_failures: dict[Hashable, int] = {}  # in a row, per book
        self._error: BaseException | None = None
        self._closed = False
        self._gap_reason: str | None = None
        self._listen_key: str | None = None
        self._key_fresh = False
        self._keys_made = 0
        """Listen keys made so far (a keep-alive refused after a renewal made a new key
        does not renew again)."""
        self._parse_warned: set[str | None] = set()
        self._readers: dict[int, Callable[[Any], tuple[Any, ...]]] = {}
        """Book readers of parsed events, by ``id`` of their (module-level) ``BookDef``."""
        self._fast = bool(definition.fast_events) or any(
            c.fast is not None for c in definition.channels.values()
        )
        """Some channel or event has a msgspec fast path (see :meth:`_on_fast`)."""
        self._event_skim = (
            event_skim(definition.event_field)
            if definition.event_field and definition.fast_events
            else None
        )
        self._handover_state: _Handover | None = None
        self._handed_over: _Handover | None = None  # its pushes to skip, after a handover
        self._background: set[asyncio.Future[None]] = set()
        interval = options.ping_interval or definition.interval
        self._heartbeat = (
            definition.heartbeat,
            interval,
            options.ping_timeout or definition.timeout,
        )
        redact.install()  # websockets' handshake log: key headers, listen keys masked

    def __repr__(self) -> str:
        return f"<StreamEngine {self.name} subscriptions={len(self._subs)}>"

    # -- life cycle --------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (creating a listen key first if the stream needs one); raises when the
        first connection cannot be made."""
        if self._task is not None or self._closed:
            raise errors.StreamError(
                f"{self.name}: a stream opens once; make a new one with "
                f"client.streams.{self.name}()"
            )
        if self.definition.listen_key is not None:
            await self._new_listen_key()
            self._keepalive = asyncio.create_task(self._keep_alive())
        self._task = asyncio.create_task(self._run())
        self._task.add_done_callback(lambda _: self._wake.set())
        ready = asyncio.create_task(self._connected.wait())
        await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            error = self._error or errors.StreamError(f"{self.name}: closed before connecting")
            await self.close()
            raise error

    async def close(self) -> None:
        """Close the connection, stop the keep-alive and delete the listen key."""
        if self._closed:
            return
        self._closed = True
        for task in (self._keepalive, self._renewal):
            if task is not None:
                task.cancel()
        for task in self._snapshots:
            task.cancel()
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._handover_state is not None:
            await self._handover_state.new.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        lk = self.definition.listen_key
        if lk is not None and self._listen_key is not None and self._rest is not None:
            try:
                await self._rest(lk.delete, {lk.param: self._listen_key})
            except errors.CambistError as exc:
                log.warning("%s: deleting the listen key failed: %s", self.name, type(exc).__name__)
        self._wake.set()

    def _check_open(self, doing: str) -> None:
        """Misuse is loud: nothing works on a stream that was never opened, or is closed."""
        if self._task is None and not self._closed:
            raise errors.StreamError(
                f"{self.name}: cannot {doing} a stream that was never opened; use "
                f"`async with client.streams.{self.name}() as s:` (blocking: `with ...`) "
                "or call open() first"
            )
        if self._closed and doing != "iterate":
            raise errors.StreamError(
                f"{self.name}: cannot {doing} a closed stream; open a new one with "
                f"client.streams.{self.name}()"
            )

    async def next(self) -> Any:
        """The next event; raises StopAsyncIteration once closed, or the fatal error;
        :class:`~cambist.errors.StreamError` when the stream was never opened."""
        self._check_open("iterate")
        while True:
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                return Gap(self.name, "buffer overflow", dropped)
            if self._events:
                return self._events.popleft()
            if self._error is not None:
                raise self._error
            if self._closed or self._task is None or self._task.done():
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()

    # -- subscriptions -----------------------------------------------------------------

    async def subscribe(self, channel: Channel, values: Mapping[str, object]) -> None:
        """Subscribe (once per channel and params); on exchanges that answer, wait for the
        answer and raise :class:`~cambist.errors.SubscriptionError` if it is a refusal."""
        sub = self.prepare(channel, values)
        if not self._register(sub):
            return
        ws = self._ws
        if ws is None:
            return  # sent when the connection is (re)made
        h = self._handover_state
        if h is not None:  # the new connection of a handover needs it too
            h.keys.append(sub.key)
            h.done.clear()
            with contextlib.suppress(Exception):
                await h.new.send(self._request(sub, True, None, await_book=False))
        future = asyncio.get_running_loop().create_future() if self._proto.replies else None
        try:
            await ws.send(self._request(sub, True, future))
        except Exception:  # the connection just dropped: re-subscribed on reconnect
            return
        if future is not None:
            try:
                async with asyncio.timeout(self.options.reply_timeout):
                    await future
            except TimeoutError:
                self._drop(sub)
                raise errors.SubscriptionError(
                    f"no answer within {self.options.reply_timeout} s", channel=sub.label
                ) from None

    def prepare(self, channel: Channel, values: Mapping[str, object]) -> Subscription:
        """The subscription ``values`` make, once the stream is open and they are valid
        (raises otherwise: nothing is sent)."""
        self._check_open("subscribe on")
        return make_subscription(self.definition, channel, values)

    def _register(self, sub: Subscription) -> bool:
        """Keep ``sub`` (re-subscribed on every new connection); False if already kept."""
        if sub.key in self._subs:
            return False
        self._subs[sub.key] = sub
        if sub.channel.book is not None:
            self.books[sub.key] = OrderBook(sub.label)
        return True

    async def unsubscribe(self, channel: Channel, values: Mapping[str, object]) -> None:
        self._check_open("unsubscribe on")
        sub = self._drop(make_subscription(self.definition, channel, values))
        ws = self._ws
        if sub is not None and ws is not None:
            with contextlib.suppress(Exception):  # dropped: nothing to re-subscribe on reconnect
                await ws.send(self._request(sub, False, None))

    def book(self, channel: Channel, values: Mapping[str, object]) -> OrderBook:
        key = make_subscription(self.definition, channel, values).key
        try:
            return self.books[key]
        except KeyError:
            raise ValueError(f"{channel.name} {dict(values)} is not subscribed") from None

    def _drop(self, sub: Subscription) -> Subscription | None:
        self.books.pop(sub.key, None)
        self._awaiting.pop(sub.key, None)
        return self._subs.pop(sub.key, None)

    def _request(
        self,
        sub: Subscription,
        subscribe: bool,
        future: asyncio.Future[None] | None,
        *,
        await_book: bool = True,
    ) -> str:
        request_id = next(self._ids)
        if self._proto.replies:
            self._pending[request_id] = (sub, subscribe, future)
            if subscribe and await_book and sub.key in self.books:
                self._awaiting[sub.key] = request_id  # its book waits for the answer
        return self._proto.request(sub, subscribe, request_id)

    # -- connection --------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        connected_before = False
        while not self._closed:
            try:
                ws = await self._connect()
            except errors.StreamError as exc:
                self._error = exc
                return
            except _Retry as exc:
                failures += 1
                limit = (
                    self.options.max_reconnects
                    if connected_before
                    else self.options.connect_attempts
                )
                if limit is not None and failures >= limit:
                    self._error = errors.StreamError(
                        f"{self.name}: cannot connect after {failures} attempts ({exc})"
                    )
                    return
                delay = backoff(
                    failures, self.options.backoff_base, self.options.backoff_max, self.options.rng
                )
                log.info("%s: connecting failed (%s); retry in %.2fs", self.name, exc, delay)
                await self.options.sleep(delay)
                continue
            self._ws = ws
            self._handed_over = None
            for book in self.books.values():
                book.reset()
            if connected_before:
                self._emit(Reconnected(self.name, failures + 1))
            else:
                self._emit(Connected(self.name))
            failures = 0
            self._connected.set()
            reason = await self._session(ws, resubscribe=connected_before)
            connected_before = True
            self._ws = None
            for _, _, future in self._pending.values():
                if future is not None and not future.done():
                    future.set_result(None)  # kept: re-subscribed on the next connection
            self._pending.clear()
            self._awaiting.clear()
            if self._closed:
                return
            reason = self._gap_reason or reason
            self._gap_reason = None
            log.info("%s: connection lost (%s); reconnecting", self.name, reason)
            self._emit(Gap(self.name, reason))

    def _url(self) -> str:
        d = self.definition
        path = d.path
        if d.listen_key is not None:
            path = path.replace("{" + d.listen_key.param + "}", self._listen_key or "")
        return self._base_url + path

    async def _connect(self) -> Any:
        """A new connection, or the error saying why not (a ``_Retry`` or a ``StreamError``).

        The error is raised past the ``except`` clauses, from this frame, which holds no
        secret: raised inside one it would chain (``__context__``) the library's error, whose
        traceback frames hold the handshake's URL (a listen key) and key headers, and so
        would this frame's own locals; a traceback with locals (``pytest -l``, rich) shows
        them all."""
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        d = self.definition
        made = self._keys_made
        status: int | None = None
        fatal: errors.StreamError | None = None
        try:
            return await self._handshake()
        except InvalidStatus as exc:
            status = exc.response.status_code
        except (OSError, TimeoutError, InvalidHandshake, EOFError) as exc:
            failure = type(exc).__name__
        except errors.StreamError as exc:  # no credentials for a keyed handshake
            fatal = exc
        except Exception as exc:  # its message may hold the URL: its name only
            failure = type(exc).__name__
            if isinstance(exc, ImportError):  # (a SOCKS proxy without python-socks)
                failure += f": {exc}"
            fatal = errors.StreamError(f"{self.name}: cannot connect: {failure}")
        if fatal is not None:
            raise fatal
        if status is None:
            raise _Retry(failure)
        if status in (401, 403) and d.listen_key is None:
            raise errors.StreamAuthenticationError(
                f"{self.name}: handshake refused with HTTP {status}", status_code=status
            )
        if d.listen_key is not None and 400 <= status < 500 and status != 429:
            if self._keys_made != made:  # renewed meanwhile: try the new one
                raise _Retry(f"listen key refused with HTTP {status}")
            if self._key_fresh:
                raise errors.StreamAuthenticationError(
                    f"{self.name}: a new listen key was refused too (HTTP {status})",
                    status_code=status,
                )
            await self._new_listen_key()  # expired or unknown: one fresh key
            raise _Retry(f"listen key refused with HTTP {status}")
        if 400 <= status < 500 and status != 429:
            raise errors.StreamError(f"{self.name}: handshake refused with HTTP {status}")
        raise _Retry(f"HTTP {status}")

    async def _handshake(self) -> Any:
        """Open the connection (the key headers are built in the call: no local holds them)."""
        from websockets.asyncio.client import connect

        kind, interval, timeout = self._heartbeat
        protocol_ping = kind == "ws_ping"
        return await connect(
            self._url(),
            additional_headers=self._key_headers() or None,
            proxy=None if self.options.proxy is False else self.options.proxy,
            open_timeout=self.options.open_timeout,
            ping_interval=interval if protocol_ping else None,
            ping_timeout=timeout if protocol_ping else None,
            close_timeout=2,
            max_size=2**24,
            logger=logging.getLogger("websockets.client"),
        )

    def _key_headers(self) -> dict[str, str]:
        d = self.definition
        headers: dict[str, str] = {}
        if d.key_header is not None:
            if self._credentials is None:
                raise errors.StreamAuthenticationError(f"{self.name} needs an API key and secret")
            headers[d.key_header] = self._credentials.api_key
            if d.sign_header is not None:  # the HMAC of the empty string (Bibox)
                signature = self._credentials.sign(b"")
                redact.secret(signature)  # it never changes: a replayable credential
                headers[d.sign_header] = signature
        return headers

    async def _session(self, ws: Any, *, resubscribe: bool) -> str:
        """Read frames until the connection ends; returns why it ended. A connection older
        than ``max_connection_age`` is handed over to a fresh one (see :meth:`_handover`)."""
        from websockets.exceptions import ConnectionClosed

        self._key_fresh = False
        if resubscribe and self._subs:
            labels = []
            try:
                for sub in list(self._subs.values()):
                    await ws.send(self._request(sub, True, None))
                    labels.append(sub.label)
            except ConnectionClosed as exc:
                return _closed(exc)
            self._emit(Resubscribed(self.name, tuple(labels)))
        reader = asyncio.create_task(self._read(ws))
        age = self._max_age()
        wait = age
        try:
            while True:
                timer = asyncio.ensure_future(self.options.sleep(wait)) if wait else None
                await asyncio.wait(
                    {reader} if timer is None else {reader, timer},
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if timer is not None and not timer.done():
                    timer.cancel()
                if reader.done():
                    return reader.result()
                handed = await self._handover(ws, reader)
                if handed is None:  # no new connection: keep the old one, try again soon
                    wait = backoff(
                        1, self.options.backoff_base, self.options.backoff_max, self.options.rng
                    )
                    continue
                ws, reader = handed
                wait = age
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    def _max_age(self) -> float | None:
        age = self.options.max_connection_age
        if age is None:
            age = self.definition.max_connection_age
        return age if age and age != math.inf else None

    async def _read(self, ws: Any) -> str:
        """Read one connection's frames, keeping its heartbeat, until it ends; returns why."""
        from websockets.exceptions import ConnectionClosed

        kind, interval, timeout = self._heartbeat
        heartbeat = Heartbeat(kind, interval, timeout)
        loop = asyncio.get_running_loop()
        heartbeat.start(loop.time())
        try:
            while True:
                deadline = heartbeat.deadline()
                frame: str | bytes | None = None
                try:
                    if deadline == math.inf:
                        frame = await ws.recv()
                    else:
                        async with asyncio.timeout_at(deadline):
                            frame = await ws.recv()
                except TimeoutError:
                    pass
                now = loop.time()
                if frame is not None:
                    heartbeat.last_rx = now
                    for answer in self._on_frame(frame, ws):
                        await ws.send(answer)
                state = heartbeat.poll(now)
                if state == "ping":
                    await ws.send(json.dumps({"ping": int(self.options.clock() * 1000)}))
                elif state == "dead":
                    ws.transport.abort()
                    return "heartbeat timeout"
        except ConnectionClosed as exc:
            return _closed(exc)

    async def _handover(
        self, old: Any, old_reader: asyncio.Task[str]
    ) -> tuple[Any, asyncio.Task[str]] | None:
        """Replace an old connection without losing or repeating a message: open a new one
        and subscribe everything on it while the old one keeps delivering; per channel, the
        first push seen on both connections is where the channel switches to the new one
        (see :meth:`_on_handover_frame`). When every channel has switched the old connection
        is closed. A channel not switched within ``handover_timeout`` (a quiet one) switches
        anyway: a ``Gap`` if it had data in flight, and its book is resynchronised. Returns
        the new connection and its reader, or None to keep the old one (no new connection)."""
        try:
            new = await self._connect()
        except (_Retry, errors.StreamError) as exc:
            log.info("%s: connection age reached; a new connection failed (%s)", self.name, exc)
            return None
        keys: list[Hashable] = list(self._subs) if self.definition.channels else [None]
        h = _Handover(new, keys)
        self._handover_state = h
        new_reader = asyncio.create_task(self._read(new))
        ready = asyncio.create_task(h.done.wait())
        try:
            for sub in list(self._subs.values()):
                await new.send(self._request(sub, True, None, await_book=False))
            await asyncio.wait(
                {ready, old_reader, new_reader},
                timeout=self.options.handover_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        except Exception as exc:  # the new connection failed while subscribing
            log.info("%s: handover aborted (%s)", self.name, type(exc).__name__)
        finally:
            ready.cancel()
        if new_reader.done():  # the new connection died: keep the old one
            self._handover_state = None
            await new.close()
            log.info("%s: handover aborted: the new connection closed", self.name)
            return None
        self._handover_state = None
        self._finish_handover(h, lost=old_reader.done())
        self._ws = new
        await old.close()
        if not old_reader.done():
            old_reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await old_reader
        h.old_done = True
        log.info("%s: connection handed over after its maximum age", self.name)
        return new, new_reader

    def _finish_handover(self, h: _Handover, *, lost: bool) -> None:
        """Switch every channel not yet switched to the new connection."""
        gap = False
        for key in h.keys:
            if key in h.switched:
                continue
            in_flight = bool(h.queues.get(key) or h.delivered.get(key)) or lost
            h.switch(key, [])
            sub = self._subs.get(key) if key is not None else None
            if sub is not None and sub.key in self.books:
                for frame in self._resync(sub, "connection handover"):
                    task = asyncio.ensure_future(h.new.send(frame))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            elif in_flight:
                gap = True
        if gap:
            self._emit(Gap(self.name, "connection handover"))
        self._handed_over = h  # until the old connection is gone and nothing is left to skip

    # -- frames ------------------------------------------------------------------------

    def _emit(self, event: Any) -> None:
        if len(self._events) >= self.options.max_buffer:
            self._events.popleft()
            self._dropped += 1
        self._events.append(event)
        self._wake.set()

    def _on_frame(self, frame: str | bytes, ws: Any = None) -> list[str]:
        """Handle one frame; returns the frames to answer with."""
        d = self.definition
        try:
            text = frame if type(frame) is str else frame_text(frame)
            if d.heartbeat == "text_server" and text in TEXT_PINGS:
                return ["Pong"]
            if self._fast and self._handover_state is None and self._handed_over is None:
                fast = self._on_fast(text)
                if fast is not None:
                    return fast
            msg = decode(text, d.numbers)
        except BadFrameError as exc:
            raw = frame if isinstance(frame, bytes) else frame.encode()
            self._emit(BadFrame(self.name, str(exc), raw[:200]))
            # An unreadable frame may have been any book's update: a gap for every book.
            answers: list[str] = []
            for key in list(self.books):
                answers += self._resync(self._subs[key], "unreadable frame")
            return answers
        is_heartbeat, answer = json_heartbeat(msg)
        if is_heartbeat:
            return [answer] if answer else []
        h = self._handover_state or self._handed_over
        if h is not None and ws is not None:
            key = self._proto.push_key(msg) if d.channels else None
            if key in h.keys and (key is None or key in self._subs):
                if h is self._handed_over and ws is not h.new:
                    return []  # the old connection, closing
                if h is self._handed_over and not h.skip and h.old_done:
                    self._handed_over = None
                else:
                    return self._on_handover_frame(h, key, msg, text, ws)
        return self._dispatch_text(msg, text)

    def _on_handover_frame(
        self, h: _Handover, key: Hashable, msg: Any, text: str | bytes, ws: Any
    ) -> list[str]:
        """A channel push during a handover. Both connections carry the same pushes in the
        same order once the new one is subscribed; the first push seen on both is where the
        channel switches to the new connection. Before it, the old connection's pushes are
        delivered and the new one's held back (those before the meeting point are its
        subscription snapshots: a full book, recent trades); after it, the new connection's
        pushes are delivered, minus those the old connection had already delivered."""
        if ws is h.new:
            if key in h.switched:
                skip = h.skip.get(key)
                if skip is not None and text in skip:
                    skip.discard(text)
                    return []
                h.skip.pop(key, None)  # past the old connection's last push: none to skip
                return self._dispatch_text(msg, text)
            delivered = h.delivered.get(key, [])
            if text in delivered:  # the old connection is ahead: switch here
                h.switch(key, delivered[delivered.index(text) + 1 :])
                return []
            h.queues.setdefault(key, []).append(text)
            return []
        if key in h.switched:
            return []  # the new connection delivers this channel now
        answers = self._dispatch_text(msg, text)
        queue = h.queues.get(key)
        if queue and text in queue:  # the new connection is ahead: switch here
            rest = queue[queue.index(text) + 1 :]
            h.switch(key, [])
            for later in rest:
                answers += self._dispatch_text(decode(later, self.definition.numbers), later)
        else:
            h.delivered.setdefault(key, []).append(text)
        return answers

    def _dispatch_text(self, msg: Any, text: str | bytes) -> list[str]:
        try:
            return self._dispatch(msg)
        except convert.NeedsExactNumbers:
            return self._dispatch(decode(text, "numbers"))

    def _dispatch(self, msg: Any) -> list[str]:
        key = self._proto.push_key(msg)
        if key is not None:
            sub = self._subs.get(key)
            if sub is not None:
                return self._on_push(sub, msg)
        reply = self._proto.reply(msg)
        if reply is not None:
            self._on_reply(*reply)
            return []
        msg = self._proto.unwrap(msg)
        d = self.definition
        if d.event_field is None:
            self._emit(self._raw(None, msg))
            return []
        items = msg if type(msg) is list else [msg]
        events = []
        for item in items:
            kind = item.get(d.event_field) if type(item) is dict else None
            parse = d.events.get(kind) if type(kind) is str else None
            events.append(
                self._raw(kind, item) if parse is None else self._parse(parse, item, kind)
            )
        for event in events:
            self._emit(event)
        for item in items:
            if type(item) is dict:
                self._after_event(item.get(d.event_field))
        return []

    def _parse(self, parse: Callable[[Any], Any], item: Any, kind: str | None) -> Any:
        try:
            return parse(item)
        except convert.NeedsExactNumbers:
            raise
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            IndexError,
            convert.WireTypeError,
        ) as exc:
            if kind not in self._parse_warned:  # once per channel / event type: not a flood
                self._parse_warned.add(kind)
                log.warning(
                    "%s: a %s push does not fit its model (%s: %.100s); delivered as "
                    "RawEvent (logged once per channel)",
                    self.name,
                    kind,
                    type(exc).__name__,
                    exc,
                )
            return self._raw(kind, item)  # a shape the model does not know: not lost

    def _raw(self, kind: str | None, data: Any) -> RawEvent:
        """A push no model reads, delivered as decoded: with exact numbers, as a model would
        have them (a fraction the fast decoding read as a float has the frame decoded again,
        exactly, by :meth:`_dispatch_text`)."""
        if self.definition.numbers != "numbers" and convert.has_float(data):
            raise convert.NeedsExactNumbers
        return RawEvent(self.name, kind, data)

    def _on_fast(self, text: str | bytes) -> list[str] | None:
        """A channel push on the fast path: routed from a skim of the frame (its payload is
        not decoded for that), then decoded straight into its model by the channel's msgspec
        decoder, once. None when anything is unusual (not a push, an unknown route, a value
        the decoder refuses): the frame then takes the general path (decoded in full, read
        by the general converters), which decides what it is."""
        try:
            sub = self._subs.get(self._proto.fast_route(text))
        except TypeError:  # an unhashable routing value: the general path reports it
            return None
        if sub is None and self._event_skim is not None:
            return self._on_fast_event(text, self._event_skim)
        if sub is None:
            return None
        fast = sub.channel.fast
        if fast is None:
            return None
        try:
            event = fast(text)
        except Exception:  # anything unusual: the general converters decide
            return None
        if self.books and sub.key in self.books:
            return self._deliver(sub, event, None)
        events = self._events  # _emit, inline: most pushes feed no book
        if len(events) >= self.options.max_buffer:
            events.popleft()
            self._dropped += 1
        events.append(event)
        self._wake.set()
        return []

    def _on_fast_event(
        self, text: str | bytes, skim: Callable[[str | bytes], Any]
    ) -> list[str] | None:
        """A single-event push (a user stream's) on the fast path, by its event type; None
        for anything else (a list of events, a request's answer, a heartbeat, an unknown
        type, a value the decoder refuses): the general path then reads it."""
        try:
            env = skim(text)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        if type(env.kind) is not str or env.id or env.ping or env.pong:
            return None
        fast = self.definition.fast_events.get(env.kind)
        if fast is None:
            return None
        try:
            event = fast(text)
        except Exception:  # anything unusual: the general converters decide
            return None
        self._emit(event)
        self._after_event(env.kind)
        return []

    def _on_push(self, sub: Subscription, msg: Any) -> list[str]:
        event = self._parse(sub.channel.parse, msg, sub.channel.name)
        return self._deliver(sub, event, msg)

    def _deliver(self, sub: Subscription, event: Any, msg: Any) -> list[str]:
        """Emit a channel's event and feed its book: from the event's values when it is a
        model (never reading a value twice), else from the raw push ``msg``."""
        key = sub.key
        book = self.books.get(key)
        if book is None or (self._awaiting and key in self._awaiting):
            self._emit(event)
            return []
        spec = sub.channel.book
        assert spec is not None
        source: Any
        if spec.event_paths and type(event) is not RawEvent:
            read = self._readers.get(id(spec)) or self._event_reader(spec)
            source, decoded = event, True
        else:
            paths = (spec.bids, spec.asks, spec.version, spec.first, spec.previous)
            getters = tuple(functools.partial(path_get, path=p) for p in paths)
            read = _reader(getters if spec.mode == "sequenced" else getters[:3])
            source, decoded = msg, False
        if spec.mode == "sequenced":
            self._emit(event)
            self._sequenced(sub, book, source, read, decoded)
            return []
        try:
            bids, asks, version = read(source)
            if spec.mode == "snapshot" or not book.synced:
                book.replace(bids, asks, version, decoded)
            else:
                book.update(bids, asks, version, decoded)
        except (BookError, KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
            reason = (
                str(exc)
                if isinstance(exc, BookError)
                else f"unreadable update ({type(exc).__name__})"
            )
            self._emit(event)
            return self._resync(sub, reason)
        self._emit(event)
        return []

    def _event_reader(self, spec: BookDef) -> Callable[[Any], tuple[Any, ...]]:
        """The reader of a book's values in its channel's parsed event (made once a book):
        bids, asks, version (and first, previous for a sequenced book), in one call."""
        paths = spec.event_paths if spec.mode == "sequenced" else spec.event_paths[:3]
        read = _reader(tuple(map(event_getter, paths)), paths)
        self._readers[id(spec)] = read
        return read

    def _resync(self, sub: Subscription, reason: str) -> list[str]:
        """Empty ``sub``'s book and ask for a fresh full book (unsubscribe, subscribe again);
        returns the frames to send."""
        log.info("%s: %s book resync: %s", self.name, sub.label, reason)
        book = self.books.get(sub.key)
        if book is not None:
            book.reset()
        self._emit(BookResync(self.name, sub.label, reason))
        return [self._request(sub, False, None), self._request(sub, True, None)]

    def _sequenced(
        self,
        sub: Subscription,
        book: OrderBook,
        source: Any,
        read: Callable[[Any], tuple[Any, ...]],
        decoded: bool,
    ) -> None:
        """A diff for a ``sequenced`` book (see :mod:`cambist._runtime.book`): applied or
        buffered; a REST snapshot is fetched when the book has none or the chain broke.
        ``read`` gives bids, asks, version, first and previous from ``source``."""
        try:
            bids, asks, last, first, previous = read(source)
            fetch = book.feed(first, last, previous, bids, asks, decoded)
        except (BookError, KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
            reason = str(exc) if isinstance(exc, BookError) else type(exc).__name__
            log.info("%s: %s book resync: %s", self.name, sub.label, reason)
            book.reset()
            book.fetching = fetch = True
            self._emit(BookResync(self.name, sub.label, reason))
        if fetch:
            task = asyncio.create_task(self._load_snapshot(sub, book, book.generation))
            self._snapshots.add(task)
            task.add_done_callback(self._snapshots.discard)

    async def _load_snapshot(self, sub: Subscription, book: OrderBook, generation: int) -> None:
        spec = sub.channel.book
        assert spec is not None and spec.snapshot is not None
        values = {k: snapshot_value(sub, v) for k, v in spec.snapshot_params}
        try:
            if self._rest is None:
                raise errors.StreamError(f"{self.name} needs a REST client for book snapshots")
            answer = await self._rest(spec.snapshot, values)
            if book.generation == generation and self.books.get(sub.key) is book:
                bids, asks, version = (getattr(answer, f) for f in spec.snapshot_fields)
                book.load(bids, asks, version)
            self._snapshot_failures.pop(sub.key, None)
        except (errors.CambistError, BookError, ArithmeticError, TypeError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, BookError) else type(exc).__name__
            failures = self._snapshot_failures[sub.key] = (
                self._snapshot_failures.get(sub.key, 0) + 1
            )
            # Not at once again: a snapshot that keeps failing (REST down, a refused symbol)
            # would be asked for on every diff and spend the REST budget the caller's own
            # calls need. The diffs meanwhile wait in the book (at most the backoff's worth).
            options = self.options
            delay = backoff(failures, options.backoff_base, options.backoff_max, options.rng)
            (log.warning if failures >= 3 else log.info)(
                "%s: %s book snapshot failed (%d in a row): %s; next in %.1f s",
                self.name,
                sub.label,
                failures,
                reason,
                delay,
            )
            await options.sleep(delay)
            if book.generation == generation:
                book.reset()  # the next diff asks for a new snapshot
                self._emit(BookResync(self.name, sub.label, f"snapshot: {reason}"))

    def _on_reply(self, request_id: int, code: object, message: str) -> None:
        entry = self._pending.pop(request_id, None)
        if entry is None:
            return
        sub, subscribe, future = entry
        if self._awaiting.get(sub.key) == request_id:
            del self._awaiting[sub.key]
        if code is None:
            if future is not None and not future.done():
                future.set_result(None)
            return
        if not subscribe:
            log.info("%s: unsubscribing %s refused: %s", self.name, sub.label, message)
            return
        if self._subs.get(sub.key) is sub:
            self._drop(sub)
        if future is not None and not future.done():
            future.set_exception(errors.SubscriptionError(message, channel=sub.label, code=code))
        else:
            self._emit(SubscriptionRejected(self.name, sub.label, code, message))

    # -- listen keys -------------------------------------------------------------------

    async def _new_listen_key(self) -> None:
        lk = self.definition.listen_key
        if lk is None or self._rest is None:
            raise errors.StreamError(f"{self.name} needs a listen key but has no REST client")
        result = await self._rest(lk.create, {})
        self._listen_key = str(getattr(result, lk.field))
        redact.secret(self._listen_key)  # it is in the URL: masked in every log line
        self._key_fresh = True
        self._keys_made += 1

    async def _keep_alive(self) -> None:
        lk = self.definition.listen_key
        assert lk is not None and self._rest is not None
        options = self.options
        while not self._closed:
            await options.sleep(
                lk.lifetime / 2 * (1 - options.keepalive_jitter * options.rng.random())
            )
            made = self._keys_made
            try:
                await self._rest(lk.extend, {lk.param: self._listen_key})
                continue
            except errors.CambistError as exc:
                log.warning(
                    "%s: extending the listen key failed (%s); renewing it",
                    self.name,
                    type(exc).__name__,
                )
            if self._keys_made != made:  # renewed meanwhile (the key's expiry event)
                continue
            await self._renew("listen key renewed")

    def _renew(self, reason: str) -> asyncio.Task[None]:
        """The listen key renewal under way, else a new one (:meth:`_renew_listen_key`): the
        keep-alive and the key's expiry event, asking at once, make one key and reconnect
        once (two made two keys, and the second closed the connection made with the first)."""
        task = self._renewal
        if task is None or task.done():
            log.info("%s: renewing the listen key (%s)", self.name, reason)
            task = asyncio.get_running_loop().create_task(self._renew_listen_key(reason))
            self._renewal = task
        return task

    async def _renew_listen_key(self, reason: str) -> None:
        """A new listen key (retried with backoff until made or the stream closes), then a
        reconnection with it (the old connection is closed; the gap is reported as
        ``reason``)."""
        options = self.options
        failures = 0
        while not self._closed:
            try:
                await self._new_listen_key()
                break
            except errors.CambistError as exc:
                failures += 1
                log.warning("%s: creating a listen key failed (%s)", self.name, type(exc).__name__)
                await options.sleep(
                    backoff(failures, options.backoff_base, options.backoff_max, options.rng)
                )
        self._gap_reason = reason
        ws = self._ws
        if ws is not None:
            await ws.close()

    def _after_event(self, kind: object) -> None:
        """What an event's type asks of the stream: the listen key's expiry event (the
        server pushes nothing more on that key) has a new key made and the stream reconnect
        at once, not at the next keep-alive (up to half the key's lifetime later)."""
        lk = self.definition.listen_key
        if lk is None or lk.expired_event is None or kind != lk.expired_event or self._closed:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # frames fed by hand, with no connection: nothing to renew
            return
        self._renew("listen key expired")
