"""A fake :class:`cambist.options.Clock` for tests: time stands still until a wait (or the
test) moves it, so a test of ``Retry-After``, of a ban or of an hour-long keep-alive runs in
no real time."""

from __future__ import annotations

import threading
import time


class FakeClock:
    """Time that only moves when the code under test waits, or when ``advance()`` is called.

    ``sleep(s)`` and ``asleep(s)`` return at once, having moved both clocks ``s`` seconds
    forward and recorded ``s`` in ``sleeps``; ``asleep`` still yields to the event loop once.
    ``time()`` starts at ``start`` (epoch seconds; default: the real time when it is made, so
    signed requests still fall inside a local exchange's recvWindow), ``monotonic()`` at 0.

    ``HashKey(**ex.client_options(), clock=FakeClock())``.
    """

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._wall = time.time() if start is None else start
        self._mono = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (no wait is recorded)."""
        with self._lock:
            self._wall += seconds
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        import asyncio

        self.sleep(seconds)
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"FakeClock(time={self._wall}, monotonic={self._mono})"
