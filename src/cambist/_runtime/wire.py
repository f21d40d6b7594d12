"""WebSocket framing per protocol family, heartbeats and frame decoding. Pure: no I/O.

A protocol builds subscribe/unsubscribe frames and tells which subscription a push belongs
to. The families (a stream's spec names one):

- ``hashkey_v1``: ``{"symbol", "topic", "event": "sub"|"cancel", "params": {"binary"}}``;
  pushes carry ``symbol`` and ``topic`` (kline pushes name the interval in
  ``params.klineType``).
- ``hashkey_v2``: ``{"topic", "event": "sub"|"cancel", "params": {...}}``; pushes echo
  ``topic`` and ``params``.
- ``bibox``: ``{"id", "method": "SUBSCRIBE"|"UNSUBSCRIBE", "params": [stream names]}``,
  answered by ``{"id", "result"}`` or ``{"id", "error", "message"}``; pushes are
  ``{"stream", "data"}``.
- ``binance``: ``{"method": "SUBSCRIBE"|"UNSUBSCRIBE", "params": [stream names], "id"}``,
  answered by ``{"result": null, "id"}`` or an error (``{"error": {"code", "msg"}, "id"}``,
  or ``{"code", "msg", "id"}``); on a combined stream (``/stream``) pushes are
  ``{"stream", "data"}`` and the models describe ``data``; a raw stream (``/ws/<name>``)
  pushes ``data`` alone, routed by its event type only (user data).
- ``push``: nothing to subscribe; the server pushes events (user data streams).
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Callable, Hashable, Mapping
from typing import Any, AnyStr

import msgspec

from cambist._runtime import convert
from cambist._runtime.encode import _Invalid, param_text
from cambist._runtime.streamdef import Channel, HeartbeatKind, StreamDef
from cambist.errors import RequestValidationError


class Subscription:
    """One subscribed channel with its params' wire values."""

    __slots__ = ("channel", "key", "label", "topic", "wire")

    def __init__(self, channel: Channel, wire: dict[str, str], topic: str, key: Hashable) -> None:
        self.channel = channel
        self.wire = wire
        self.topic = topic
        self.key = key
        self.label = " ".join([channel.name, *wire.values()])


def make_subscription(
    definition: StreamDef, channel: Channel, values: Mapping[str, object]
) -> Subscription:
    """Check ``values`` (wire name -> value) against the channel's params; raises
    :class:`RequestValidationError` before anything is sent."""
    name = f"{definition.name}.{channel.name}"
    wire: dict[str, str] = {}
    for p in channel.params:
        value = values.get(p.wire_name)
        if value is None:
            if p.required is True:
                raise RequestValidationError(f"{p.name} is required", endpoint=name, param=p.name)
            continue
        try:
            wire[p.wire_name] = param_text(p, value)  # type, range and pattern, as REST
        except _Invalid as exc:
            raise RequestValidationError(f"{p.name}: {exc}", endpoint=name, param=p.name) from None
    try:
        topic = channel.topic.format(**wire)
    except KeyError as exc:
        raise RequestValidationError(f"{exc.args[0]} is required", endpoint=name) from None
    proto = PROTOCOLS[definition.protocol]
    return Subscription(channel, wire, topic, proto.sub_key(topic, wire))


class Protocol:
    """Subscription framing and push routing; subclasses per family."""

    replies = False
    """Does the server answer each request with its id?"""

    def __init__(self) -> None:
        self._routes: dict[str | bytes, Hashable] = {}
        """Routing keys by frame head (:meth:`fast_route`)."""

    def sub_key(self, topic: str, wire: dict[str, str]) -> Hashable:
        return topic

    def request(self, sub: Subscription, subscribe: bool, request_id: int) -> str:
        raise NotImplementedError

    def push_key(self, msg: Any) -> Hashable | None:
        """The subscription key a decoded push belongs to (None: not a channel push)."""
        return None

    def route(self, text: str | bytes) -> Hashable | None:
        """:meth:`push_key` read straight from a frame's text, without decoding the payload
        (msgspec skims it: see :class:`_Envelope`); None when the frame is not a channel push
        or anything about it is unusual (the caller then decodes it in full)."""
        return None

    def fast_route(self, text: str | bytes) -> Hashable | None:
        """:meth:`route`, remembered by the frame's head (its text before ``"data"``): a
        channel's pushes share their head (``{"topic":"depth","params":{...},``), so most
        frames are routed by one dictionary lookup instead of a skim over their payload.

        A head is remembered only when it alone routes the frame (the head closed by a
        stand-in ``"data"`` routes to the same key): the routing fields all come before the
        payload, and ``"data"`` there is the payload's key, not text inside a value. Any
        frame with that head is then read the same way up to its payload, so it has that key
        (short of a routing field repeated after the payload: a duplicate JSON key, which
        exchanges do not send). Everything else is routed by :meth:`route` each time."""
        if isinstance(text, str):
            return self._route_by_head(text, '"data"', '"data":1}')
        return self._route_by_head(text, b'"data"', b'"data":1}')

    def _route_by_head(self, text: AnyStr, marker: AnyStr, stand_in: AnyStr) -> Hashable | None:
        at = text.find(marker)
        if at <= 0:
            return self.route(text)
        head = text[:at]
        routes = self._routes
        key = routes.get(head)
        if key is not None:
            return key
        key = self.route(text)
        if key is not None and self.route(head + stand_in) == key:
            if len(routes) >= 1024:  # bounded: heads are few (one per subscription)
                routes.clear()
            routes[head] = key
        return key

    def reply(self, msg: Any) -> tuple[int, object, str] | None:
        """``(id, error code or None, message)`` when ``msg`` answers a request."""
        return None

    def unwrap(self, msg: Any) -> Any:
        """The payload models describe (an envelope the protocol adds taken off)."""
        return msg


class _Envelope(msgspec.Struct):
    """What routing a push needs: ``data`` is skipped over, not decoded (an empty Raw: absent).
    ``params`` values are whatever JSON they are."""

    topic: str | None = None
    symbol: Any = None
    params: dict[str, Any] | None = None
    stream: Any = None
    data: msgspec.Raw = msgspec.Raw()


_envelope = msgspec.json.Decoder(_Envelope)


class _V2Envelope(msgspec.Struct):
    """HashKey V2 routing: ``params`` decoded only when the envelope is whole."""

    topic: str | None = None
    params: msgspec.Raw = msgspec.Raw()
    data: msgspec.Raw = msgspec.Raw()


_v2_envelope = msgspec.json.Decoder(_V2Envelope)


def _skim(text: str | bytes) -> _Envelope | None:
    """The routing fields of a JSON object frame (None: not an object, or not JSON)."""
    try:
        return _envelope.decode(text)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def event_skim(event_field: str) -> Callable[[str | bytes], Any]:
    """A decoder of what routing a single-event push needs: its type (the ``event_field``),
    and whether it has an ``id`` (a request's answer) or ``ping`` / ``pong`` (a heartbeat),
    which the general path handles. The rest of the frame is skipped over, not decoded."""
    envelope = msgspec.defstruct(
        "EventEnvelope",
        [
            ("kind", Any, msgspec.field(name=event_field, default=None)),
            ("id", msgspec.Raw, msgspec.Raw()),
            ("ping", msgspec.Raw, msgspec.Raw()),
            ("pong", msgspec.Raw, msgspec.Raw()),
        ],
    )
    return msgspec.json.Decoder(envelope).decode


class HashKeyV1(Protocol):
    def sub_key(self, topic: str, wire: dict[str, str]) -> Hashable:
        return (topic, wire.get("symbol"))

    def request(self, sub: Subscription, subscribe: bool, request_id: int) -> str:
        frame = {
            "symbol": sub.wire.get("symbol"),
            "topic": sub.topic,
            "event": "sub" if subscribe else "cancel",
            "params": {"binary": False},
            "id": request_id,
        }
        return json.dumps(frame, separators=(",", ":"))

    def push_key(self, msg: Any) -> Hashable | None:
        if type(msg) is not dict or "topic" not in msg or "data" not in msg:
            return None
        topic = msg["topic"]
        params = msg.get("params")
        interval = params.get("klineType") if type(params) is dict else None
        if interval and not topic.endswith(f"_{interval}"):
            topic = f"{topic}_{interval}"
        return (topic, msg.get("symbol"))

    def route(self, text: str | bytes) -> Hashable | None:
        env = _skim(text)
        if env is None or env.topic is None or not env.data:
            return None
        topic, params = env.topic, env.params
        interval = params.get("klineType") if params is not None else None
        if interval and not topic.endswith(f"_{interval}"):
            topic = f"{topic}_{interval}"
        return (topic, env.symbol)


class HashKeyV2(Protocol):
    def sub_key(self, topic: str, wire: dict[str, str]) -> Hashable:
        return (topic, frozenset(wire.items()))

    def request(self, sub: Subscription, subscribe: bool, request_id: int) -> str:
        frame = {"topic": sub.topic, "event": "sub" if subscribe else "cancel", "params": sub.wire}
        return json.dumps(frame, separators=(",", ":"))

    def push_key(self, msg: Any) -> Hashable | None:
        if type(msg) is not dict or "topic" not in msg or "data" not in msg:
            return None
        params = msg.get("params")
        items = (
            frozenset((k, str(v)) for k, v in params.items())
            if type(params) is dict
            else frozenset()
        )
        return (msg["topic"], items)

    def route(self, text: str | bytes) -> Hashable | None:
        try:
            env = _v2_envelope.decode(text)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        if env.topic is None or not env.data:
            return None
        try:
            params = msgspec.json.decode(env.params) if env.params else None
        except msgspec.DecodeError:
            return None
        if params is not None and type(params) is not dict:
            return None  # as push_key reads it, but the general path decides
        items = frozenset((k, str(v)) for k, v in params.items()) if params else frozenset()
        return (env.topic, items)


class Bibox(Protocol):
    replies = True

    def request(self, sub: Subscription, subscribe: bool, request_id: int) -> str:
        method = "SUBSCRIBE" if subscribe else "UNSUBSCRIBE"
        return json.dumps(
            {"id": request_id, "method": method, "params": [sub.topic]}, separators=(",", ":")
        )

    def push_key(self, msg: Any) -> Hashable | None:
        if type(msg) is dict and "stream" in msg and "data" in msg:
            stream: Hashable = msg["stream"]
            return stream
        return None

    def route(self, text: str | bytes) -> Hashable | None:
        env = _skim(text)
        if env is None or type(env.stream) is not str or not env.data:
            return None
        return env.stream

    def reply(self, msg: Any) -> tuple[int, object, str] | None:
        if type(msg) is not dict or "id" not in msg or "stream" in msg:
            return None
        if "error" in msg:
            return int(msg["id"]), msg["error"], str(msg.get("message", ""))
        return int(msg["id"]), None, ""


class Binance(Protocol):
    replies = True

    def sub_key(self, topic: str, wire: dict[str, str]) -> Hashable:
        return topic.lower()  # symbols are upper case in older pages, lower case in newer ones

    def request(self, sub: Subscription, subscribe: bool, request_id: int) -> str:
        method = "SUBSCRIBE" if subscribe else "UNSUBSCRIBE"
        return json.dumps(
            {"method": method, "params": [sub.topic], "id": request_id}, separators=(",", ":")
        )

    def push_key(self, msg: Any) -> Hashable | None:
        if type(msg) is dict and "stream" in msg and "data" in msg:
            return str(msg["stream"]).lower()
        return None

    def route(self, text: str | bytes) -> Hashable | None:
        env = _skim(text)
        if env is None or type(env.stream) is not str or not env.data:
            return None
        return env.stream.lower()

    def reply(self, msg: Any) -> tuple[int, object, str] | None:
        if type(msg) is not dict or "id" not in msg or "stream" in msg:
            return None
        if "result" in msg and "error" not in msg:
            return int(msg["id"]), None, ""
        error = msg.get("error", msg)
        if type(error) is dict and "code" in error:
            return int(msg["id"]), error["code"], str(error.get("msg", ""))
        return None

    def unwrap(self, msg: Any) -> Any:
        if type(msg) is dict and "stream" in msg and "data" in msg:
            return msg["data"]
        return msg


class Push(Protocol):
    def request(self, sub: Subscription, subscribe: bool, request_id: int) -> str:
        raise RequestValidationError("this stream has no channels to subscribe", endpoint="stream")


PROTOCOLS: dict[str, Protocol] = {  # every protocol family a spec may name
    "hashkey_v1": HashKeyV1(),
    "hashkey_v2": HashKeyV2(),
    "bibox": Bibox(),
    "binance": Binance(),
    "push": Push(),
}


# -- frames ------------------------------------------------------------------------------


class BadFrameError(Exception):
    """A frame that cannot be read (bad compression, not JSON)."""


def frame_text(frame: str | bytes) -> str | bytes:
    """A frame's JSON text: binary frames are inflated when gzip- or zlib-compressed."""
    if isinstance(frame, str):
        return frame
    try:
        if frame[:2] == b"\x1f\x8b":
            return gzip.decompress(frame)
        if frame[:1] == b"\x78":
            return zlib.decompress(frame)
    except (OSError, EOFError, zlib.error) as exc:
        raise BadFrameError(f"cannot inflate a binary frame: {exc}") from None
    return frame


def decode(text: str | bytes, numbers: str) -> Any:
    """Decode JSON text; exact numbers (Decimal) when the exchange sends JSON numbers."""
    try:
        if numbers == "numbers":
            return convert.decode_exact(text)
        return convert.decode_fast(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadFrameError(f"not JSON: {exc}") from None


# -- heartbeats --------------------------------------------------------------------------


class Heartbeat:
    """When to ping and when a silent connection counts as dead.

    - ``json_client``: the client sends ``{"ping": <ms>}`` every ``interval`` seconds; no
      frame at all for ``interval + timeout`` seconds means the connection is dead.
    - ``json_server`` / ``text_server``: the server pings (``{"ping": ts}`` answered with
      ``{"pong": ts}``; ``Ping`` answered with ``Pong``); silence for ``interval + timeout``
      means dead.
    - ``ws_ping``: protocol-level ping frames, sent and timed by the WebSocket library.
    """

    __slots__ = ("interval", "kind", "last_rx", "next_ping", "timeout")

    def __init__(self, kind: HeartbeatKind, interval: float, timeout: float) -> None:
        self.kind = kind
        self.interval = interval
        self.timeout = timeout
        self.last_rx = 0.0
        self.next_ping = math.inf

    def start(self, now: float) -> None:
        self.last_rx = now
        self.next_ping = now + self.interval if self.kind == "json_client" else math.inf

    def deadline(self) -> float:
        """The next moment :meth:`poll` has something to say."""
        if self.kind in ("ws_ping", "none"):
            return math.inf
        return min(self.next_ping, self.last_rx + self.interval + self.timeout)

    def poll(self, now: float) -> str | None:
        """``"dead"``, ``"ping"`` (send one now) or None."""
        if self.kind in ("ws_ping", "none"):
            return None
        if now >= self.last_rx + self.interval + self.timeout:
            return "dead"
        if now >= self.next_ping:
            self.next_ping = now + self.interval
            return "ping"
        return None


TEXT_PINGS = ("Ping", b"Ping", "ping", b"ping")
"""Server pings of the ``text_server`` kind, answered with ``Pong``."""


def json_heartbeat(msg: Any) -> tuple[bool, str | None]:
    """Is this decoded frame a JSON heartbeat (never surfaced as data), and what to answer:
    ``{"ping": ts}`` gets ``{"pong": ts}``; a ``{"pong": ts}`` needs nothing."""
    if type(msg) is dict and len(msg) <= 2:
        if "pong" in msg:
            return True, None
        if "ping" in msg:
            return True, json.dumps({"pong": msg["ping"]})
    return False, None
