"""Streams under faults and misuse (issue 11), every test sync and async against the local
exchanges' loopback WebSocket servers: corrupt frames on book streams, misuse errors, parse
failures logged, connection-age handover, secrets masked in every log line."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cambist.bibox import AsyncBibox, Bibox
from cambist.bibox.models import OrderBookUpdate, TradesUpdate
from cambist.errors import StreamError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import ExecutionReport
from cambist.streams import (
    BadFrame,
    BookResync,
    Connected,
    Gap,
    RawEvent,
    Reconnected,
    StreamOptions,
)
from cambist.testing import BiboxExchange, HashKeyExchange
from tests.stream_harness import MODES, client, opened

pytestmark = pytest.mark.anyio

FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "reply_timeout": 2.0}
BOOK = "BTC_USDT.order_book.20"


@pytest.fixture
def bibox_ex() -> Iterator[BiboxExchange]:
    with BiboxExchange(seed=7) as ex:
        yield ex


@pytest.fixture
def hk_ex() -> Iterator[HashKeyExchange]:
    with HashKeyExchange(seed=7) as ex:
        yield ex


def bibox(mode: str, ex: BiboxExchange) -> Any:
    return client(mode, Bibox, AsyncBibox, **ex.client_options())


def hashkey(mode: str, ex: HashKeyExchange) -> Any:
    return client(mode, HashKey, AsyncHashKey, **ex.client_options())


def same_book(book: Any, ex: Any, symbol: str) -> bool:
    return bool(book.synced) and (book.bids, book.asks) == ex.market.books[symbol].top(1000)


# -- item 9: a corrupt frame on a book stream is a gap ------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_corrupt_frame_on_a_book_stream_resyncs_the_book(
    mode: str, bibox_ex: BiboxExchange
) -> None:
    async with bibox(mode, bibox_ex) as bx, opened(mode, bx.streams.market()) as s:
        await s.call("subscribe_order_book", symbol="BTC_USDT", depth=20)
        await s.until(lambda e: isinstance(e, OrderBookUpdate) and e.data.update_id == "1")
        bibox_ex.streams.faults.corrupt = 1
        bibox_ex.tick("BTC_USDT", steps=2)  # i=2 arrives unreadable, then i=3
        events = await s.until(lambda e: not isinstance(e, Connected))
        events += await s.until(lambda e: not isinstance(e, BadFrame))
        assert [type(e) for e in events] == [BadFrame, BookResync]  # before i=3 is applied
        assert events[-1].reason == "unreadable frame"
        assert events[-1].channel == "order_book BTC_USDT 20"
        while not (await s.call("book", symbol="BTC_USDT", depth=20)).synced:
            await s.until(lambda e: isinstance(e, OrderBookUpdate))
        bibox_ex.tick("BTC_USDT", steps=3)
        await s.until(lambda e: isinstance(e, OrderBookUpdate) and e.data.update_id == "6")
        book = await s.call("book", symbol="BTC_USDT", depth=20)
        assert same_book(book, bibox_ex, "BTC_USDT")
    sent = [t for r, t in bibox_ex.streams.received if r == "market"]
    assert sum('"UNSUBSCRIBE"' in t for t in sent) == 1, sent


# -- item 12: misuse is loud ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_using_a_stream_that_was_never_opened_raises(
    mode: str, hk_ex: HashKeyExchange
) -> None:
    async with hashkey(mode, hk_ex) as hk:
        stream = hk.streams.public()
        if mode == "async":
            with pytest.raises(StreamError, match=r"never opened.*async with"):
                await stream.subscribe_trade(symbol="BTCUSDT")
            with pytest.raises(StreamError, match="never opened"):
                await stream.__anext__()
            with pytest.raises(StreamError, match="never opened"):
                async for _ in stream:
                    pass
        else:
            with pytest.raises(StreamError, match=r"never opened.*with"):
                await asyncio.to_thread(stream.subscribe_trade, symbol="BTCUSDT")
            with pytest.raises(StreamError, match="never opened"):
                await asyncio.to_thread(stream.next, 1.0)
            with pytest.raises(StreamError, match="never opened"):
                await asyncio.to_thread(lambda: [e for e in stream])
    assert hk_ex.streams.handshakes == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_closed_stream_says_so(mode: str, hk_ex: HashKeyExchange) -> None:
    async with hashkey(mode, hk_ex) as hk:
        stream = hk.streams.public()
        async with opened(mode, stream) as s:
            assert isinstance(await s.next(), Connected)
        with pytest.raises(StreamError, match="closed stream"):
            await s.call("subscribe_trade", symbol="BTCUSDT")
        with pytest.raises(StreamError, match="opens once"):
            await s.call("open")
        if mode == "sync":
            with pytest.raises(StreamError, match="is closed"):
                await asyncio.to_thread(stream.next, 1.0)
            assert await asyncio.to_thread(lambda: list(stream)) == []  # for-loops just end
        else:
            assert [e async for e in stream] == []


@pytest.mark.parametrize("mode", MODES)
async def test_first_parse_failure_per_channel_is_logged(
    mode: str, hk_ex: HashKeyExchange, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cambist")
    bad = '{"topic": "trade", "params": {"symbol": "BTCUSDT"}, "data": {"v": "no fields"}}'
    async with hashkey(mode, hk_ex) as hk, opened(mode, hk.streams.public()) as s:
        await s.call("subscribe_trade", symbol="BTCUSDT")
        hk_ex.streams.wait_subscribed("public", "trade:BTCUSDT")
        for _ in range(3):
            hk_ex.streams.send_raw(bad)
        events = await s.until(lambda e: isinstance(e, RawEvent) and len(caplog.records) > 0)
        for _ in range(2):
            await s.until(lambda e: isinstance(e, RawEvent))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].name == "cambist.streams"
    assert "public: a trade push does not fit its model" in warnings[0].getMessage()
    assert events[-1].type == "trade"


# -- items 10 and 11: connection-age handover, in fake time --------------------------------

DAY = 24 * 3600.0


class FakeTime:
    """Fake time for a stream's long timers (``StreamOptions(sleep=, clock=)``): ``sleep``
    records what it was asked and returns once the test has advanced time past it. Safe
    across threads: a blocking stream sleeps on its own event loop thread."""

    def __init__(self) -> None:
        self.now = 0.0
        self.asked: list[float] = []

    def clock(self) -> float:
        return 1_767_225_600.0 + self.now

    async def sleep(self, seconds: float) -> None:
        due = self.now + seconds
        self.asked.append(seconds)
        while self.now < due:
            await asyncio.sleep(0.002)

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


class Busy:
    """Calls ``action`` every few milliseconds on a thread: traffic during a handover."""

    def __init__(self, action: Callable[[], object]) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(action,), daemon=True)

    def _run(self, action: Callable[[], object]) -> None:
        while not self._stop.is_set():
            action()
            time.sleep(0.003)

    def __enter__(self) -> Busy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize("mode", MODES)
async def test_connection_age_hands_over_without_losing_or_repeating_a_push(
    mode: str, bibox_ex: BiboxExchange
) -> None:
    clock = FakeTime()
    options = StreamOptions(max_connection_age=DAY, sleep=clock.sleep, clock=clock.clock, **FAST)
    hub = bibox_ex.streams
    async with bibox(mode, bibox_ex) as bx, opened(mode, bx.streams.market(options)) as s:
        await s.call("subscribe_order_book", symbol="BTC_USDT", depth=20)
        await s.call("subscribe_trades", symbol="BTC_USDT")
        with Busy(lambda: bibox_ex.tick("BTC_USDT")):  # the market moves throughout
            await eventually(lambda: DAY in clock.asked)
            await asyncio.sleep(0.05)
            clock.advance(DAY)  # a day later: the connection's age is reached
            await eventually(lambda: len(hub.handshakes) == 2 and len(hub.connections) == 1)
            await asyncio.sleep(0.05)
        final = bibox_ex.market.books["BTC_USDT"].version
        events = await s.until(
            lambda e: isinstance(e, OrderBookUpdate) and e.data.update_id == str(final)
        )
        book = await s.call("book", symbol="BTC_USDT", depth=20)
        assert same_book(book, bibox_ex, "BTC_USDT")
        trades = [int(t.trade_id) for e in events if isinstance(e, TradesUpdate) for t in e.data]
    assert hub.handshakes == [("market", 101), ("market", 101)]
    assert not [e for e in events if isinstance(e, Gap | BookResync | Reconnected)]
    ids = [int(e.data.update_id) for e in events if isinstance(e, OrderBookUpdate)]
    assert ids == list(range(ids[0], final + 1))  # each update once, none missing
    assert final - ids[0] > 20  # updates flowed before, during and after the handover
    assert trades == list(range(trades[0], trades[0] + len(trades)))
    assert clock.asked.count(DAY) >= 2  # the new connection's age is counted in turn


@pytest.mark.parametrize("mode", MODES)
async def test_user_stream_handover_keeps_every_order_event_once(
    mode: str, hk_ex: HashKeyExchange
) -> None:
    clock = FakeTime()
    options = StreamOptions(max_connection_age=DAY, sleep=clock.sleep, clock=clock.clock, **FAST)
    hub = hk_ex.streams
    async with hashkey(mode, hk_ex) as hk, opened(mode, hk.streams.user(options)) as s:
        await eventually(lambda: DAY in clock.asked)

        def order() -> object:
            with HashKey(**hk_ex.client_options()) as rest:
                side = "BUY" if len(hk_ex.ledger.orders) % 2 else "SELL"
                return rest.spot.create_order(
                    symbol="BTCUSDT", side=side, type="MARKET", quantity="0.001"
                )

        with Busy(order):
            await asyncio.sleep(0.1)
            clock.advance(DAY)
            await eventually(lambda: len(hub.handshakes) == 2 and len(hub.connections) == 1)
            await asyncio.sleep(0.1)
        count = len(hk_ex.ledger.orders)
        last = list(hk_ex.ledger.orders)[-1]
        events = await s.until(
            lambda e: (
                isinstance(e, ExecutionReport) and e.status.value == "FILLED" and e.order_id == last
            )
        )
    reports = [(e.order_id, e.status.value) for e in events if isinstance(e, ExecutionReport)]
    assert len(reports) == len(set(reports)) == 2 * count  # NEW and FILLED, once each
    assert not [e for e in events if isinstance(e, Gap | Reconnected)]
    assert [status for _, status in hub.handshakes] == [101, 101]


@pytest.mark.parametrize("mode", MODES)
async def test_listen_key_kept_alive_for_ten_hours_in_fake_time(
    mode: str, hk_ex: HashKeyExchange
) -> None:
    clock = FakeTime()
    options = StreamOptions(sleep=clock.sleep, clock=clock.clock, **FAST)
    async with hashkey(mode, hk_ex) as hk, opened(mode, hk.streams.user(options)) as s:
        assert isinstance(await s.next(), Connected)
        (key,) = hk_ex.listen_keys
        while clock.now < 10 * 3600:
            await eventually(lambda: len(clock.asked) > 0)
            asked = len(clock.asked)
            step = clock.asked[-1]  # the keep-alive's pending wait: jump to its end
            clock.advance(step)
            hk_ex.clock_skew_ms += int(step * 1000)  # the exchange's clock moves too
            await eventually(lambda n=asked: len(clock.asked) > n)  # extended, waiting again
        assert hk_ex.listen_keys[key][1] > hk_ex.now_ms()  # never expired
        assert not s.stream._engine._events  # no Gap, no reconnection: nothing happened
    extends = [c for c in hk_ex.calls if c.method == "PUT" and "Stream" in c.path]
    assert len(extends) >= 20 and {c.params["listenKey"] for c in extends} == {key}
    assert all(1620 <= d <= 1800 for d in clock.asked)
    assert hk_ex.streams.handshakes == [("user", 101)]


# -- streams.stall(): cleared by clear_faults(), and no slow stop ------------------------


def test_clear_faults_resumes_a_stalled_stream() -> None:
    """``clear_faults()`` switched the stall flag off but left the stalled connections
    paused: a subscription sent afterwards was never read."""
    with (
        HashKeyExchange(seed=7) as ex,
        HashKey(**ex.client_options()) as hk,
        hk.streams.public() as stream,
    ):
        assert isinstance(next(stream), Connected)
        ex.streams.stall()
        ex.clear_faults()
        stream.subscribe_depth(symbol="BTCUSDT")
        ex.streams.wait_subscribed("public", "depth:BTCUSDT", timeout=2)
        assert not ex.streams.faults.stall


def test_stop_with_a_stalled_stream_is_quick() -> None:
    """A stalled connection could not read the client's answer to the close frame, so
    ``stop()`` waited out the close timeout: every test ending stalled took 10 s more."""
    ex = HashKeyExchange(seed=7).start()
    with HashKey(**ex.client_options()) as hk, hk.streams.public() as stream:
        assert isinstance(next(stream), Connected)
        ex.streams.stall()
        time.sleep(0.05)
        began = time.monotonic()
        ex.stop()
        assert time.monotonic() - began < 2
