"""Streams under faults and misuse (issue 11), every test sync and async against the local
exchanges' loopback WebSocket servers: corrupt frames on book streams, misuse errors, parse
failures logged, connection-age handover, secrets masked in every log line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from cambist.bibox import AsyncBibox, Bibox
from cambist.bibox.models import OrderBookUpdate
from cambist.errors import StreamError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.streams import BadFrame, BookResync, Connected, RawEvent
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
