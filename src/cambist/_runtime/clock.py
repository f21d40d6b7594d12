"""Time: the injectable :class:`Clock` (what a client reads and how it waits) and the
server clock (local time plus an offset measured against the exchange)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Where a client reads the time and how it waits: the client option ``clock=``.

    ``time()`` is the wall clock (seconds since the epoch: timestamps, ``IPBannedError.until``);
    ``monotonic()`` measures durations (a call's deadline, how long a ban lasts); ``sleep()``
    and ``asleep()`` are the blocking and the asyncio wait (retry delays). The default is
    :class:`SystemClock`; a test passes a fake one (``cambist.testing.FakeClock``) whose
    waits only advance its own time, so an hour of ``Retry-After`` passes at once.
    """

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    async def asleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: :func:`time.time`, :func:`time.monotonic`, :func:`time.sleep`,
    :func:`asyncio.sleep`."""

    __slots__ = ()

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()


class ServerClock:
    """Estimates the exchange's clock from one round trip to its time endpoint.

    The server read its clock somewhere between sending and receiving; the midpoint of the
    round trip is the best estimate of when, so ``offset = server_ms - (sent + received) / 2``.
    ``now`` (wall-clock seconds) is injectable for tests.
    """

    __slots__ = ("_now", "offset_ms", "synced_at", "syncing", "uncertainty")

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.offset_ms = 0
        self.uncertainty = 0.0
        """Seconds the offset may be off by: half the sync's round trip."""
        self.synced_at: float | None = None
        self.syncing = False

    def local_ms(self) -> float:
        return self._now() * 1000.0

    def timestamp(self) -> int:
        """Milliseconds since the epoch on the server's clock."""
        return int(self._now() * 1000.0 + self.offset_ms)

    def seconds(self) -> float:
        """Seconds since the epoch on the server's clock (float: rate-limit windows)."""
        return self._now() + self.offset_ms / 1000.0

    def update(self, server_ms: int, sent_ms: float, received_ms: float) -> None:
        self.offset_ms = round(server_ms - (sent_ms + received_ms) / 2)
        self.uncertainty = max(0.0, (received_ms - sent_ms) / 2000.0)
        self.synced_at = received_ms / 1000.0
        self.syncing = False

    def due(self, max_age: float) -> bool:
        """True when the clock was never synced, or not for ``max_age`` seconds."""
        if self.syncing:
            return False
        return self.synced_at is None or self._now() - self.synced_at > max_age
