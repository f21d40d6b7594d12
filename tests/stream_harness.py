"""One scenario, both stream flavours: an async test drives either an asyncio stream or a
blocking one (its calls run in a worker thread), so every fault test runs sync AND async."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

MODES = ["async", "sync"]


class Driven:
    """A stream under test: ``await call("subscribe_trades", symbol=...)``, ``await next()``."""

    def __init__(self, stream: Any, blocking: bool) -> None:
        self.stream = stream
        self.blocking = blocking

    async def call(self, name: str, **kwargs: Any) -> Any:
        method = getattr(self.stream, name)
        if self.blocking:
            return await asyncio.to_thread(method, **kwargs)
        result = method(**kwargs)
        return await result if asyncio.iscoroutine(result) else result

    async def next(self, timeout: float = 5.0) -> Any:
        if self.blocking:
            return await asyncio.to_thread(self.stream.next, timeout)
        async with asyncio.timeout(timeout):
            return await self.stream.__anext__()

    async def until(self, want: Callable[[Any], bool], timeout: float = 5.0) -> list[Any]:
        """Events read until one satisfies ``want`` (returned last)."""
        seen: list[Any] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next(timeout)
                seen.append(event)
                if want(event):
                    return seen


@contextlib.asynccontextmanager
async def client(mode: str, sync_cls: Any, async_cls: Any, **options: Any) -> AsyncIterator[Any]:
    """A client of the mode's flavour (the blocking one is made and closed in a thread)."""
    if mode == "async":
        async with async_cls(**options) as c:
            yield c
    else:
        c = await asyncio.to_thread(sync_cls, **options)
        try:
            yield c
        finally:
            await asyncio.to_thread(c.close)


@contextlib.asynccontextmanager
async def opened(mode: str, stream: Any) -> AsyncIterator[Driven]:
    """Open ``stream`` (made by a client of ``mode``) and close it afterwards."""
    blocking = mode == "sync"
    if blocking:
        await asyncio.to_thread(stream.open)
    else:
        await stream.open()
    try:
        yield Driven(stream, blocking)
    finally:
        if blocking:
            await asyncio.to_thread(stream.close)
        else:
            await stream.close()
