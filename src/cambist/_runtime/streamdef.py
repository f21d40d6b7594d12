"""Descriptions of WebSocket streams: plain data the generated stream classes declare.

Nothing here does I/O. A :class:`StreamDef` says where a stream lives, which wire protocol
it speaks (see :mod:`cambist._runtime.wire`), how its heartbeat works, how it is
authenticated, and which channels and pushed events it carries.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from cambist._runtime.endpoint import Endpoint, Param

HeartbeatKind = Literal["json_client", "json_server", "ws_ping", "text_server", "none"]
HEARTBEATS: tuple[str, ...] = get_args(HeartbeatKind)
"""Every heartbeat kind a spec may name (``streams[].heartbeat.kind``)."""


@dataclass(frozen=True, slots=True)
class BookDef:
    """How a channel's pushes feed a local order book.

    ``mode`` is ``snapshot`` (every push is the whole visible book), ``incremental`` (the
    first push after subscribing is the whole book, later ones change levels; quantity 0
    removes a level) or ``sequenced`` (every push is a diff with ``first``/``version``/
    ``previous`` update ids, merged onto a REST ``snapshot``: see
    :mod:`cambist._runtime.book`). ``bids``/``asks``/``version``/``first``/``previous`` are
    paths into the decoded push (``("data", "b")``, ``("data", "0", "v")``).
    ``snapshot_params`` are the snapshot call's values by wire name, ``"{name}"`` standing
    for the channel param ``name``; ``snapshot_fields`` the answer's bids, asks and update-id
    attributes.
    """

    mode: Literal["snapshot", "incremental", "sequenced"]
    bids: tuple[str, ...]
    asks: tuple[str, ...]
    version: tuple[str, ...]
    first: tuple[str, ...] = ()
    previous: tuple[str, ...] = ()
    snapshot: Endpoint[Any] | None = None
    snapshot_params: tuple[tuple[str, object], ...] = ()
    snapshot_fields: tuple[str, str, str] = ("bids", "asks", "last_update_id")
    event_paths: tuple[tuple[str | int, ...], ...] = ()
    """``bids``, ``asks``, ``version``, ``first``, ``previous`` as attribute paths into the
    parsed push (``("data", "bids")``), whose levels are ``PriceLevel`` rows of Decimals: the
    book takes the event's values, never reading the raw push again. Empty: the book reads
    the raw push (the paths above), as it does when a push could not be parsed."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One subscribable channel: ``topic`` is a template over the params' wire names."""

    name: str
    topic: str
    params: tuple[Param, ...]
    parse: Callable[[Any], Any]
    book: BookDef | None = None
    source: str | None = None
    fast: Callable[[str | bytes], Any] | None = None
    """The msgspec fast path: a push's frame text -> its model; raises on anything unusual
    (the stream then decodes the frame in full and uses ``parse``, the general converter)."""
    market: str | None = None
    """The param (wire name) whose value is one of the exchange's market symbols: checked
    against ``client.markets()`` before subscribing (``StreamOptions.check_symbols``)."""


@dataclass(frozen=True, slots=True)
class ListenKeyDef:
    """A stream authorised by a listen key from REST: created on entry, extended at half its
    ``lifetime`` (seconds), deleted on exit. ``field`` is the create answer's attribute,
    ``param`` the extend/delete param (and the URL placeholder)."""

    create: Endpoint[Any]
    extend: Endpoint[Any]
    delete: Endpoint[Any]
    field: str
    param: str
    lifetime: float
    expired_event: str | None = None
    """The event type the server pushes when the key has expired (it pushes nothing more on
    it): the stream makes a new key and reconnects."""


@dataclass(frozen=True, slots=True)
class StreamDef:
    """One WebSocket stream of an exchange."""

    name: str
    base: str
    path: str
    protocol: str  # a key of cambist._runtime.wire.PROTOCOLS
    heartbeat: HeartbeatKind = "none"
    interval: float = 30.0
    timeout: float = 30.0
    channels: Mapping[str, Channel] = field(default_factory=dict)
    events: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    event_field: str | None = None
    fast_events: Mapping[str, Callable[[str | bytes], Any]] = field(default_factory=dict)
    """The msgspec fast path of ``events``, by event type: a push's frame text -> its model
    (a frame holding one event object); anything unusual takes the general path."""
    listen_key: ListenKeyDef | None = None
    key_header: str | None = None
    sign_header: str | None = None
    numbers: Literal["strings", "numbers"] = "strings"
    max_connection_age: float | None = None
    """Seconds after which the exchange closes a connection, where its document says so:
    the stream hands over to a new connection before that (None: no documented limit)."""


@dataclass
class StreamOptions:
    """How a stream behaves: pass one to ``client.streams.<name>(options)``.

    Every value is checked when the options are made (``TypeError`` / ``ValueError`` naming
    the field): counts are ints of at least 1, seconds are numbers above 0 (the
    backoffs: at least 0), ``keepalive_jitter`` is from 0 to 1.

    Attributes:
        max_buffer: Events kept for a slow consumer (at least 1); beyond it the oldest are
            dropped and a ``Gap(reason="buffer overflow", dropped=n)`` says how many.
        ping_interval: Heartbeat interval in seconds (default: the document's).
        ping_timeout: Extra seconds of silence after which the connection counts as dead
            (default: the document's).
        max_reconnects: Consecutive failed reconnection attempts before the stream stops
            with :class:`~cambist.errors.StreamError` (None: never stop).
        connect_attempts: Attempts for the first connection before ``open`` fails.
        backoff_base: First reconnection delay in seconds (doubling, with jitter; 0: none).
        backoff_max: Longest reconnection delay in seconds.
        reply_timeout: Seconds to wait for a subscription's answer, where the exchange
            answers subscriptions.
        open_timeout: Seconds allowed for one WebSocket handshake.
        keepalive_jitter: A listen key is extended at half its lifetime, up to this fraction
            earlier.
        max_connection_age: Seconds after which a connection is handed over to a new one:
            the new one is opened and subscribed, then the old one closed, with no message
            lost or delivered twice (None: the spec's default, where the exchange's
            document gives one; ``math.inf``: never).
        handover_timeout: Seconds a handover waits for each channel to carry the same
            data on both connections; a channel still not aligned then switches anyway (a
            ``Gap`` if it had data in flight, a ``BookResync`` for its book).
        sleep: How the stream waits for its long timers: the listen-key keep-alive, the
            connection age, reconnection backoff. Inject a fake one to run hours of them in
            fake time (heartbeats use the event loop's clock: seconds, not hours).
        clock: Wall-clock seconds since the epoch (the client's JSON ping timestamps).
            ``sleep`` and ``clock`` are the streams' seam for injectable time; the REST
            side's clock (``cambist._runtime.clock``) is meant to unify with them.
        rng: Randomness for jitter.
        proxy: How the WebSocket connects (the ``websockets`` library's own proxy support):
            ``True`` (default) through the proxy the environment names (``HTTPS_PROXY``,
            ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), ``False`` directly, or a proxy URL:
            ``"http://host:port"`` / ``"https://..."`` (HTTP CONNECT, credentials in the URL
            if needed) or ``"socks5://..."`` (needs ``python-socks``). REST goes through your
            ``http_client``'s proxy instead.
        check_symbols: Refuse a subscription to a symbol the exchange does not list, with
            ``UnknownMarketError`` naming close matches, before anything is sent, where the
            exchange's server would stay silent (HashKey, Binance Options). The first such
            subscription loads ``client.markets()`` (cached by the client); if they cannot
            be loaded, a warning is logged and the subscription goes ahead unchecked.
    """

    max_buffer: int = 10_000
    ping_interval: float | None = None
    ping_timeout: float | None = None
    max_reconnects: int | None = None
    connect_attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    reply_timeout: float = 10.0
    open_timeout: float = 10.0
    keepalive_jitter: float = 0.1
    max_connection_age: float | None = None
    handover_timeout: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    proxy: str | bool = field(default=True, repr=False)  # a URL may hold credentials
    check_symbols: bool = True

    def __post_init__(self) -> None:
        """Refuse a value the stream cannot use (``TypeError`` / ``ValueError`` naming the
        field) now, not deep inside a running stream."""
        from cambist._runtime.options import flag, number, random_source, whole

        name = "StreamOptions."
        whole(name + "max_buffer", self.max_buffer, minimum=1)
        for seconds in ("ping_interval", "ping_timeout"):  # None: the document's
            if getattr(self, seconds) is not None:
                number(name + seconds, getattr(self, seconds))
        if self.max_reconnects is not None:  # None: never stop
            whole(name + "max_reconnects", self.max_reconnects, minimum=1)
        whole(name + "connect_attempts", self.connect_attempts, minimum=1)
        number(name + "backoff_base", self.backoff_base, zero=True)
        number(name + "backoff_max", self.backoff_max, zero=True, infinite=True)
        for seconds in ("reply_timeout", "open_timeout", "handover_timeout"):
            number(name + seconds, getattr(self, seconds))
        jitter = self.keepalive_jitter
        if isinstance(jitter, bool) or not isinstance(jitter, int | float):
            raise TypeError(f"{name}keepalive_jitter must be a number from 0 to 1, got {jitter!r}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"{name}keepalive_jitter must be from 0 to 1, got {jitter!r}")
        if self.max_connection_age is not None:  # None: the spec's; math.inf: never
            number(name + "max_connection_age", self.max_connection_age, infinite=True)
        for timer in ("sleep", "clock"):
            if not callable(getattr(self, timer)):
                raise TypeError(f"{name}{timer} must be a function, got {getattr(self, timer)!r}")
        random_source(name + "rng", self.rng)
        flag(name + "check_symbols", self.check_symbols)
        proxy = self.proxy
        if not isinstance(proxy, str | bool):
            raise TypeError(f"{name}proxy must be a URL, True or False, got {type(proxy).__name__}")
        schemes = ("http://", "https://", "socks4://", "socks4a://", "socks5://", "socks5h://")
        if isinstance(proxy, str) and not proxy.lower().startswith(schemes):
            raise ValueError(
                f"{name}proxy must be an http://, https:// or socks5:// URL, "
                f"got {proxy.split('@')[-1]!r}"
            )
