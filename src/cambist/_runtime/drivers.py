"""The two drivers of :meth:`Core.flow`: they differ only in how they send and sleep (and
run a flow's other I/O, :class:`~cambist._runtime.governor.Io`: ``run()`` or ``await
arun()``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from cambist._runtime.core import Flow, Send, Sleep


def run_sync(
    flow: Flow[Any],
    send: Callable[[httpx.Request], httpx.Response],
    sleep: Callable[[float], None],
) -> Any:
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            action = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        value = error = None
        if type(action) is Send:
            try:
                value = send(action.request)
            except Exception as exc:
                error = exc
        elif type(action) is Sleep:
            sleep(action.seconds)
        else:
            try:
                value = action.run()  # type: ignore[union-attr]
            except Exception as exc:
                error = exc


async def run_async(
    flow: Flow[Any],
    send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    sleep: Callable[[float], Awaitable[None]],
) -> Any:
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            action = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        value = error = None
        if type(action) is Send:
            try:
                value = await send(action.request)
            except Exception as exc:
                error = exc
        elif type(action) is Sleep:
            await sleep(action.seconds)
        else:
            try:
                value = await action.arun()  # type: ignore[union-attr]
            except Exception as exc:
                error = exc
