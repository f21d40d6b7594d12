"""What a cambist WebSocket stream yields besides the exchange's typed events.

Iterating a stream gives the channel's typed pushes (``Depth``, ``Trade``, ...) mixed with
these lifecycle events, so a consumer always knows when data may have been missed:

- :class:`Connected` — the first connection is up.
- :class:`Reconnected` — a lost connection was replaced (a :class:`Gap` came before it).
- :class:`Resubscribed` — every channel subscribed before was subscribed again.
- :class:`Gap` — data may be missing: the connection dropped, a listen key was renewed, a
  connection handover could not align a channel that had data in flight, or a slow consumer
  let the buffer overflow (``dropped`` events were discarded).
- :class:`BookResync` — a local order book could not apply an update, or a frame on its
  stream could not be read, and it is re-fetching.
- :class:`SubscriptionRejected` — a re-subscription after a reconnect was refused.
- :class:`RawEvent` — a push without a typed model (unknown event type, or a stream the
  document gives no schema for), delivered as decoded JSON rather than dropped.
- :class:`BadFrame` — a frame that could not be decoded (bad compression, not JSON).

Buffering: events wait in a bounded buffer (``max_buffer``, default 10,000). When the
consumer falls that far behind, the oldest events are dropped and the next event delivered
is a ``Gap(reason="buffer overflow", dropped=n)``. Local order books are kept up to date as
frames arrive, not as they are consumed, so they stay correct under overflow.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from cambist._runtime.book import OrderBook, PriceLevel
from cambist._runtime.streamdef import StreamOptions

__all__ = [
    "BadFrame",
    "BookResync",
    "Connected",
    "Gap",
    "LifecycleEvent",
    "OrderBook",
    "PriceLevel",
    "RawEvent",
    "Reconnected",
    "Resubscribed",
    "StreamOptions",
    "SubscriptionRejected",
]


@frozen
class Connected:
    """The stream's first connection is open."""

    stream: str


@frozen
class Reconnected:
    """A lost connection was replaced after ``attempts`` tries."""

    stream: str
    attempts: int


@frozen
class Resubscribed:
    """Channels subscribed again on a new connection (their labels)."""

    stream: str
    channels: tuple[str, ...]


@frozen
class Gap:
    """Data may have been missed: ``reason`` says why; ``dropped`` counts events discarded
    by buffer overflow (0 for other reasons)."""

    stream: str
    reason: str
    dropped: int = 0


@frozen
class BookResync:
    """The order book of ``channel`` could not apply an update and is re-fetched; it reads as
    unsynced (empty) until the fresh full book arrives."""

    stream: str
    channel: str
    reason: str


@frozen
class SubscriptionRejected:
    """A re-subscription after reconnecting was refused by the exchange."""

    stream: str
    channel: str
    code: Any
    message: str


@frozen
class RawEvent:
    """A push delivered as decoded JSON: ``type`` is its event type field when it has one."""

    stream: str
    type: str | None
    data: Any


@frozen
class BadFrame:
    """A frame that could not be read; ``frame`` holds its first 200 bytes."""

    stream: str
    reason: str
    frame: bytes


LifecycleEvent = Connected | Reconnected | Resubscribed | Gap | BookResync | SubscriptionRejected
