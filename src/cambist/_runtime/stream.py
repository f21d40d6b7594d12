"""Bases of the generated stream classes: asyncio streams, and blocking streams that run the
same engine on a private event loop thread (one copy of the stream logic)."""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from cambist import errors
from cambist._runtime.book import OrderBook
from cambist._runtime.markets import CHECK_RETRY_SECONDS, MarketBook
from cambist._runtime.streamdef import Channel, StreamDef, StreamOptions
from cambist._runtime.ws import StreamEngine
from cambist.errors import StreamError

if TYPE_CHECKING:
    from types import TracebackType

    from cambist._runtime.client import AsyncClient, SyncClient

E = TypeVar("E")
T = TypeVar("T")

log = logging.getLogger("cambist.streams")
UNCHECKED = (
    errors.TransportError,
    errors.APIError,
    errors.ResponseParseError,
    errors.ClientClosedError,
)
"""Why the markets may not load for a symbol check: the subscription then goes unchecked."""


class Portal:
    """An event loop on a daemon thread, where blocking streams run their engines."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="cambist-streams", daemon=True
        )
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (exceptions are re-raised)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        """Stop the loop and its thread; closing a closed portal does nothing."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _engine(
    definition: StreamDef,
    client: AsyncClient | SyncClient,
    rest: Any,
    options: StreamOptions | None,
) -> StreamEngine:
    """A stream's engine on the client's WebSocket URL, credentials and REST calls."""
    if options is None:
        options = StreamOptions()
    elif not isinstance(options, StreamOptions):  # a dict would fail deep inside, later
        hint = "; pass StreamOptions(**it)" if isinstance(options, Mapping) else ""
        raise TypeError(
            f"streams.{definition.name}: options must be a cambist.streams.StreamOptions or None, "
            f"got {type(options).__name__}{hint}"
        )
    return StreamEngine(
        definition,
        base_url=client._ws_url(definition.base),
        credentials=client._core.credentials,
        rest=rest,
        options=options,
    )


def symbol_to_check(
    engine: StreamEngine, book: MarketBook, channel: Channel, values: Mapping[str, object]
) -> str | None:
    """The market symbol a subscription names, to check against the client's markets (the
    spec's ``market`` param), once the stream is open and the values valid; None: nothing
    to check (or the markets failed to load a moment ago)."""
    engine.prepare(channel, values)  # misuse and bad values first: nothing loaded for them
    if channel.market is None or not engine.options.check_symbols:
        return None
    value = values.get(channel.market)
    if not isinstance(value, str) or not book.may_check_symbols():
        return None
    return value


def unchecked(engine: StreamEngine, book: MarketBook, channel: Channel, exc: Exception) -> None:
    if not book.symbols_failed():
        return
    log.warning(
        "%s: the markets could not be loaded to check %s symbols (%s); subscribing unchecked"
        " for %.0f s",
        engine.name,
        channel.name,
        type(exc).__name__,
        CHECK_RETRY_SECONDS,
    )


class AsyncStream(Generic[E]):
    """An asyncio stream: ``async with`` it, subscribe, then ``async for event in stream``."""

    _definition: ClassVar[StreamDef]

    def __init__(self, client: AsyncClient, options: StreamOptions | None = None) -> None:
        from cambist._runtime.core import CallOptions

        async def rest(ep: Any, values: Mapping[str, object]) -> Any:
            return await client._call(ep, values, CallOptions())

        self._client = client
        self._engine = _engine(self._definition, client, rest, options)
        client._streams.add(self)  # closed with the client

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    async def open(self) -> None:
        """Connect (``async with`` does this)."""
        await self._engine.open()

    async def close(self) -> None:
        """Disconnect and release the listen key, if any (``async with`` does this)."""
        await self._engine.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._engine.close()

    def __aiter__(self) -> AsyncStream[E]:
        return self

    async def __anext__(self) -> E:
        return await self._engine.next()  # type: ignore[no-any-return]

    async def _subscribe(self, channel: Channel, values: Mapping[str, object]) -> None:
        book = self._client._market_book
        symbol = symbol_to_check(self._engine, book, channel, values)
        if symbol is not None:
            try:
                markets = await self._client.markets()
                if book.refresh_for(markets, symbol):
                    markets = await self._client.markets(refresh=True)
            except UNCHECKED as exc:
                unchecked(self._engine, book, channel, exc)
            else:
                book.listed(markets, symbol, channel.name)
        await self._engine.subscribe(channel, values)

    async def _unsubscribe(self, channel: Channel, values: Mapping[str, object]) -> None:
        await self._engine.unsubscribe(channel, values)

    def _book(self, channel: Channel, values: Mapping[str, object]) -> OrderBook:
        return self._engine.book(channel, values)


class SyncStream(Generic[E]):
    """A blocking stream: ``with`` it, subscribe, then ``for event in stream``.

    The connection, heartbeats and reconnection run on a background event loop thread, so
    they go on while your code is busy; events wait in the bounded buffer meanwhile.
    """

    _definition: ClassVar[StreamDef]

    def __init__(self, client: SyncClient, options: StreamOptions | None = None) -> None:
        from cambist._runtime.core import CallOptions

        async def rest(ep: Any, values: Mapping[str, object]) -> Any:  # on the loop thread
            return await asyncio.to_thread(client._call, ep, values, CallOptions())

        self._client = client
        self._engine = _engine(self._definition, client, rest, options)  # options checked
        self._portal = client._portal(self)  # closed with the client

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def open(self) -> None:
        """Connect (``with`` does this)."""
        self._call(self._engine.open())

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the streams' loop thread and wait for it. A stream closed with
        its client (the loop closed too) raises StreamError, as a closed asyncio stream
        does, instead of 'RuntimeError: Event loop is closed'."""
        if self._portal.loop.is_closed():
            coro.close()
            raise StreamError(
                f"{self._engine.name}: the stream is closed (with its client); make a new"
                " client and stream"
            )
        return self._portal.call(coro)

    def close(self) -> None:
        """Disconnect and release the listen key, if any (``with`` does this). Closing the
        client closes its streams too; closing a closed stream does nothing."""
        if not self._portal.loop.is_closed():
            self._portal.call(self._engine.close())

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> SyncStream[E]:
        return self

    def __next__(self) -> E:
        try:
            return self._next(None)
        except StopAsyncIteration:
            raise StopIteration from None

    def next(self, timeout: float | None = None) -> E:
        """The next event, waiting at most ``timeout`` seconds (None: as long as it takes).

        Raises:
            TimeoutError: No event came in time.
            StreamError: The stream was never opened, is closed, or failed for good.
            TypeError, ValueError: ``timeout`` is not a non-negative number of seconds.
        """
        if timeout is not None:
            from cambist._runtime.options import number

            number("timeout", timeout, zero=True)  # 0: what is there, without waiting
        try:
            return self._next(timeout)
        except StopAsyncIteration:
            raise StreamError(f"{self._engine.name}: the stream is closed") from None

    def _next(self, timeout: float | None) -> E:
        if self._portal.loop.is_closed():  # its client was closed, and the stream with it
            raise StopAsyncIteration
        try:
            return self._portal.call(  # type: ignore[no-any-return]
                asyncio.wait_for(self._engine.next(), timeout)
            )
        except TimeoutError:
            raise TimeoutError(
                f"{self._engine.name}: no event within {timeout} s (the stream is still open;"
                " call next() again to keep waiting)"
            ) from None

    def _subscribe(self, channel: Channel, values: Mapping[str, object]) -> None:
        book = self._client._market_book
        symbol = symbol_to_check(self._engine, book, channel, values)
        if symbol is not None:
            try:
                markets = self._client.markets()
                if book.refresh_for(markets, symbol):
                    markets = self._client.markets(refresh=True)
            except UNCHECKED as exc:
                unchecked(self._engine, book, channel, exc)
            else:
                book.listed(markets, symbol, channel.name)
        self._call(self._engine.subscribe(channel, values))

    def _unsubscribe(self, channel: Channel, values: Mapping[str, object]) -> None:
        self._call(self._engine.unsubscribe(channel, values))

    def _book(self, channel: Channel, values: Mapping[str, object]) -> OrderBook:
        """A copy of the book as it is now (the live one changes on another thread)."""

        async def snapshot() -> OrderBook:
            return copy.deepcopy(self._engine.book(channel, values))

        return self._call(snapshot())
