"""WebSocket streams against the local exchanges' real loopback WebSocket servers: typed
events, frames sent, heartbeats, reconnection and resubscription, compressed and corrupt
frames, refused subscriptions and handshakes, listen keys, buffering and order books."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import math
import random
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from cambist.bibox import AsyncBibox, Bibox
from cambist.bibox.models import OrderBookUpdate, TradesUpdate
from cambist.bingx import AsyncBingX
from cambist.errors import RequestValidationError, StreamAuthenticationError, SubscriptionError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import (
    AccountUpdate,
    DepthUpdate,
    DepthUpdateV1,
    ExecutionReport,
    TicketInfo,
    TradeUpdate,
    TradeUpdateV1,
)
from cambist.streams import (
    BadFrame,
    BookResync,
    Connected,
    Gap,
    OrderBook,
    RawEvent,
    Reconnected,
    Resubscribed,
    StreamOptions,
)
from cambist.testing import BiboxExchange, BingXExchange, HashKeyExchange

pytestmark = pytest.mark.anyio

FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "reply_timeout": 2.0}
FAST_OPTIONS = StreamOptions(**FAST)


@pytest.fixture
def hk_ex() -> Iterator[HashKeyExchange]:
    with HashKeyExchange(seed=7) as ex:
        yield ex


@pytest.fixture
def bibox_ex() -> Iterator[BiboxExchange]:
    with BiboxExchange(seed=7) as ex:
        yield ex


@pytest.fixture
async def ahk(hk_ex: HashKeyExchange) -> AsyncIterator[AsyncHashKey]:
    async with AsyncHashKey(**hk_ex.client_options()) as client:
        yield client


async def until(stream: Any, want: Callable[[Any], bool], timeout: float = 5.0) -> list[Any]:
    """Events read until one satisfies ``want`` (returned last)."""
    seen: list[Any] = []
    async with asyncio.timeout(timeout):
        async for event in stream:
            seen.append(event)
            if want(event):
                return seen
    raise AssertionError(f"stream ended; saw {seen}")


def frames(ex: Any, route: str) -> list[Any]:
    return [json.loads(t) for r, t in ex.streams.received if r == route and t[:1] in "{["]


def server_book(ex: Any, symbol: str) -> tuple[list[Any], list[Any]]:
    bids, asks = ex.market.books[symbol].top(1000)
    return bids, asks


def same_book(book: OrderBook, ex: Any, symbol: str) -> bool:
    return book.synced and (book.bids, book.asks) == server_book(ex, symbol)


async def test_hashkey_v2_subscribe_typed_events_and_book(
    hk_ex: HashKeyExchange, ahk: AsyncHashKey
) -> None:
    async with ahk.streams.public() as s:
        assert isinstance(await s.__anext__(), Connected)
        await s.subscribe_depth(symbol="BTCUSDT")
        await s.subscribe_trade(symbol="BTCUSDT")
        hk_ex.streams.wait_subscribed("public", "trade:BTCUSDT")
        first = await until(s, lambda e: isinstance(e, DepthUpdate))
        assert first[-1].data.symbol == "BTCUSDT"
        for _ in range(30):
            hk_ex.tick("BTCUSDT")
        last_trade = str(hk_ex.market.trades["BTCUSDT"][-1].id)
        events = await until(
            s, lambda e: isinstance(e, TradeUpdate) and e.data.trade_id == last_trade
        )
        trades = [e for e in events if isinstance(e, TradeUpdate)]
        assert all(isinstance(t.data.price, Decimal) for t in trades)
        assert [e.data.version for e in events if isinstance(e, DepthUpdate)][-1] == "31_1"
        assert same_book(s.book(symbol="BTCUSDT"), hk_ex, "BTCUSDT")
        best = s.book(symbol="BTCUSDT").best_bid()
        assert best is not None and best[0] == max(hk_ex.market.books["BTCUSDT"].bids)
    sent = frames(hk_ex, "public")
    assert {"topic": "depth", "event": "sub", "params": {"symbol": "BTCUSDT"}} in sent
    assert {"topic": "trade", "event": "sub", "params": {"symbol": "BTCUSDT"}} in sent


async def test_unsubscribe_sends_cancel_and_bad_params_send_nothing(
    hk_ex: HashKeyExchange, ahk: AsyncHashKey
) -> None:
    async with ahk.streams.public() as s:
        with pytest.raises(RequestValidationError, match="kline_type"):
            await s.subscribe_kline(symbol="BTCUSDT", kline_type="7m")  # type: ignore[arg-type]
        await s.subscribe_kline(symbol="BTCUSDT", kline_type="1m")
        await s.unsubscribe_kline(symbol="BTCUSDT", kline_type="1m")
        await asyncio.sleep(0.05)
    assert frames(hk_ex, "public") == [
        {"topic": "kline", "event": "sub", "params": {"symbol": "BTCUSDT", "klineType": "1m"}},
        {"topic": "kline", "event": "cancel", "params": {"symbol": "BTCUSDT", "klineType": "1m"}},
    ]


def test_blocking_iterator_v1(hk_ex: HashKeyExchange) -> None:
    with HashKey(**hk_ex.client_options()) as hk, hk.streams.public_v1() as s:
        s.subscribe_trade(symbol="ETHUSDT")
        s.subscribe_depth(symbol="ETHUSDT")
        hk_ex.streams.wait_subscribed("public_v1", "depth:ETHUSDT")
        hk_ex.tick("ETHUSDT", steps=20)
        got: list[Any] = []
        for event in s:
            got.append(event)
            if isinstance(event, DepthUpdateV1) and event.data[0].version == "21_1":
                break
        assert isinstance(got[0], Connected)
        depth = [e for e in got if isinstance(e, DepthUpdateV1)]
        assert depth[0].first is True and depth[-1].first is False
        assert any(isinstance(e, TradeUpdateV1) for e in got)
        assert same_book(s.book(symbol="ETHUSDT"), hk_ex, "ETHUSDT")
    assert {
        "symbol": "ETHUSDT",
        "topic": "depth",
        "event": "sub",
        "params": {"binary": False},
        "id": 2,
    } in frames(hk_ex, "public_v1")


async def test_client_pings_and_pongs_are_not_data(
    hk_ex: HashKeyExchange, ahk: AsyncHashKey
) -> None:
    async with ahk.streams.public(StreamOptions(ping_interval=0.05, ping_timeout=1)) as s:
        await asyncio.sleep(0.3)
        await s.subscribe_depth(symbol="BTCUSDT")
        events = await until(s, lambda e: isinstance(e, DepthUpdate))
    pings = [f for f in frames(hk_ex, "public") if "ping" in f]
    assert len(pings) >= 3 and all(isinstance(p["ping"], int) for p in pings)
    assert [type(e) for e in events] == [Connected, DepthUpdate]


async def test_dead_connection_is_replaced_and_resubscribed(
    hk_ex: HashKeyExchange, ahk: AsyncHashKey
) -> None:
    options = StreamOptions(ping_interval=0.05, ping_timeout=0.1, **FAST)
    async with ahk.streams.public(options) as s:
        await s.subscribe_depth(symbol="BTCUSDT")
        await until(s, lambda e: isinstance(e, DepthUpdate))
        hk_ex.streams.faults.ignore_pings = True
        events = await until(s, lambda e: isinstance(e, Gap))
        assert events[-1].reason == "heartbeat timeout"
        hk_ex.streams.faults.ignore_pings = False
        events = await until(s, lambda e: isinstance(e, DepthUpdate))
        kinds = [type(e) for e in events]
        assert kinds[:2] == [Reconnected, Resubscribed]
        assert events[1].channels == ("depth BTCUSDT",)
    subs = [f for f in frames(hk_ex, "public") if f.get("event") == "sub"]
    assert len(subs) == 2


@pytest.mark.parametrize("code", [None, 1001, 1011])
async def test_dropped_connection_reconnects_and_book_recovers(
    hk_ex: HashKeyExchange, ahk: AsyncHashKey, code: int | None
) -> None:
    async with ahk.streams.public(StreamOptions(**FAST)) as s:
        await s.subscribe_depth(symbol="BTCUSDT")
        await until(s, lambda e: isinstance(e, DepthUpdate))
        hk_ex.tick("BTCUSDT", steps=5)
        hk_ex.streams.drop("public", code)
        gap = await until(s, lambda e: isinstance(e, Gap))
        assert gap[-1].reason == f"connection closed ({code or 1006})"
        await until(s, lambda e: isinstance(e, DepthUpdate))
        hk_ex.streams.wait_subscribed("public", "depth:BTCUSDT")
        hk_ex.tick("BTCUSDT", steps=5)
        await until(s, lambda e: isinstance(e, DepthUpdate) and e.data.version == "11_1")
        assert same_book(s.book(symbol="BTCUSDT"), hk_ex, "BTCUSDT")


@pytest.mark.parametrize("how", ["gzip", "zlib"])
async def test_compressed_frames(hk_ex: HashKeyExchange, ahk: AsyncHashKey, how: str) -> None:
    hk_ex.streams.faults.compress = how
    async with ahk.streams.public() as s:
        await s.subscribe_trade(symbol="BTCUSDT")
        hk_ex.streams.wait_subscribed("public", "trade:BTCUSDT")
        hk_ex.tick("BTCUSDT", steps=10)
        events = await until(s, lambda e: isinstance(e, TradeUpdate))
    assert isinstance(events[-1].data.quantity, Decimal)
    assert not any(isinstance(e, BadFrame) for e in events)


async def test_corrupt_frames_are_reported_and_the_stream_goes_on(
    hk_ex: HashKeyExchange, ahk: AsyncHashKey
) -> None:
    async with ahk.streams.public() as s:
        await s.subscribe_depth(symbol="BTCUSDT")
        await until(s, lambda e: isinstance(e, DepthUpdate))
        hk_ex.streams.send_raw("{not json")
        hk_ex.streams.send_raw(b"\x1f\x8b broken gzip")
        hk_ex.tick("BTCUSDT")
        events = await until(s, lambda e: isinstance(e, DepthUpdate))
    bad = [e for e in events if isinstance(e, BadFrame)]
    assert [b.frame for b in bad] == [b"{not json", b"\x1f\x8b broken gzip"]
    assert "not JSON" in bad[0].reason and "inflate" in bad[1].reason


async def test_unknown_push_is_a_raw_event(hk_ex: HashKeyExchange, ahk: AsyncHashKey) -> None:
    async with ahk.streams.public() as s:
        hk_ex.streams.send_raw('{"topic": "newThing", "params": {}, "data": {"x": "1.5"}}')
        events = await until(s, lambda e: isinstance(e, RawEvent))
    assert events[-1].data == {"topic": "newThing", "params": {}, "data": {"x": "1.5"}}


async def test_raw_events_keep_numbers_exact(hk_ex: HashKeyExchange, ahk: AsyncHashKey) -> None:
    """HashKey writes decimals as strings, so pushes are decoded fast (JSON numbers as
    floats); a push no model reads (an unknown topic, an unknown user event) is decoded again
    exactly rather than delivered with a float: a fraction as a Decimal, as written."""
    async with ahk.streams.public() as s:
        hk_ex.streams.send_raw(
            '{"topic": "newThing", "params": {}, "data": {"x": 0.1000000000000000055511,'
            ' "n": [7, 1.5], "id": 123456789012345678901}}'
        )
        events = await until(s, lambda e: isinstance(e, RawEvent))
    data = events[-1].data["data"]
    assert data["x"] == Decimal("0.1000000000000000055511") and type(data["x"]) is Decimal
    assert data["n"] == [7, Decimal("1.5")] and type(data["n"][0]) is int
    assert data["id"] == 123456789012345678901

    from cambist.hashkey.streams.user import USER

    user = _engine(USER)  # an event type the spec does not know, in a user push
    user._on_frame('[{"e": "somethingNewer", "amount": 2.50}]')
    assert user._events[-1] == RawEvent(
        "user", "somethingNewer", {"e": "somethingNewer", "amount": Decimal("2.50")}
    )
    assert str(user._events[-1].data["amount"]) == "2.50"


# -- Bibox ------------------------------------------------------------------------------


async def test_bibox_refused_subscription_leaves_others_running(bibox_ex: BiboxExchange) -> None:
    bibox_ex.streams.faults.reject = {"ETH_USDT.trades"}
    async with AsyncBibox(**bibox_ex.client_options()) as bx, bx.streams.market() as s:
        await s.subscribe_trades(symbol="BTC_USDT")
        with pytest.raises(SubscriptionError) as caught:
            await s.subscribe_trades(symbol="ETH_USDT")
        assert caught.value.code == -2004 and caught.value.channel == "trades ETH_USDT"
        bibox_ex.tick("BTC_USDT", steps=10)
        events = await until(s, lambda e: isinstance(e, TradesUpdate))
    assert events[-1].stream == "BTC_USDT.trades"
    subs = [f for f in frames(bibox_ex, "market") if f["method"] == "SUBSCRIBE"]
    assert subs == [
        {"id": 1, "method": "SUBSCRIBE", "params": ["BTC_USDT.trades"]},
        {"id": 2, "method": "SUBSCRIBE", "params": ["ETH_USDT.trades"]},
    ]


async def test_bibox_incremental_book_follows_the_server(bibox_ex: BiboxExchange) -> None:
    async with AsyncBibox(**bibox_ex.client_options()) as bx, bx.streams.market() as s:
        await s.subscribe_order_book(symbol="BTC_USDT", depth=20)
        for _ in range(50):
            bibox_ex.tick("BTC_USDT")
        events = await until(
            s, lambda e: isinstance(e, OrderBookUpdate) and e.data.update_id == "51"
        )
        assert isinstance(events[1], OrderBookUpdate)
        assert isinstance(events[1].data.bids[0].price, Decimal)
        assert same_book(s.book(symbol="BTC_USDT", depth=20), bibox_ex, "BTC_USDT")


async def test_bibox_stale_update_resyncs_the_book(bibox_ex: BiboxExchange) -> None:
    async with AsyncBibox(**bibox_ex.client_options()) as bx, bx.streams.market() as s:
        await s.subscribe_order_book(symbol="BTC_USDT", depth=20)
        bibox_ex.tick("BTC_USDT", steps=3)
        await until(s, lambda e: isinstance(e, OrderBookUpdate) and e.data.update_id == "4")
        stale = {"stream": "BTC_USDT.order_book.20", "data": {"i": "2", "t": "1", "b": [], "a": []}}
        bibox_ex.streams.publish("market", "BTC_USDT.order_book.20", stale)
        events = await until(s, lambda e: isinstance(e, BookResync))
        assert "does not advance" in events[-1].reason
        assert not s.book(symbol="BTC_USDT", depth=20).synced
        await until(s, lambda e: isinstance(e, OrderBookUpdate) and e.data.update_id == "4")
        bibox_ex.tick("BTC_USDT", steps=3)
        await until(s, lambda e: isinstance(e, OrderBookUpdate) and e.data.update_id == "7")
        assert same_book(s.book(symbol="BTC_USDT", depth=20), bibox_ex, "BTC_USDT")
    methods = [(f["method"], f["params"]) for f in frames(bibox_ex, "market")]
    assert methods[-2:] == [
        ("UNSUBSCRIBE", ["BTC_USDT.order_book.20"]),
        ("SUBSCRIBE", ["BTC_USDT.order_book.20"]),
    ]


async def test_bibox_crossed_book_resyncs(bibox_ex: BiboxExchange) -> None:
    async with AsyncBibox(**bibox_ex.client_options()) as bx, bx.streams.market() as s:
        await s.subscribe_order_book(symbol="BTC_USDT", depth=20)
        await until(s, lambda e: isinstance(e, OrderBookUpdate))
        crossed = {"i": "99", "t": "1", "b": [["70000", "1"]], "a": []}
        key = "BTC_USDT.order_book.20"
        bibox_ex.streams.publish("market", key, {"stream": key, "data": crossed})
        events = await until(s, lambda e: isinstance(e, BookResync))
        assert events[-1].reason.startswith("crossed book")
        await until(s, lambda e: isinstance(e, OrderBookUpdate))
        assert same_book(s.book(symbol="BTC_USDT", depth=20), bibox_ex, "BTC_USDT")


async def test_bibox_protocol_pings_unanswered_replace_the_connection(
    bibox_ex: BiboxExchange,
) -> None:
    options = StreamOptions(ping_interval=0.05, ping_timeout=0.1, **FAST)
    async with AsyncBibox(**bibox_ex.client_options()) as bx, bx.streams.market(options) as s:
        await s.subscribe_trades(symbol="BTC_USDT")
        bibox_ex.streams.stall()
        events = await until(s, lambda e: isinstance(e, Gap))
        bibox_ex.streams.stall(False)
        events = await until(s, lambda e: isinstance(e, Resubscribed))
        assert isinstance(events[0], Reconnected)


async def test_bibox_user_stream_headers_and_typed_events(bibox_ex: BiboxExchange) -> None:
    async with AsyncBibox(**bibox_ex.client_options()) as bx, bx.streams.user() as s:
        await until(s, lambda e: isinstance(e, Connected))
        bibox_ex.push_user("account", {"s": "USDT", "a": 10000.5, "h": 0})
        order = json.loads(bibox_ex.examples[("GET", "/api/v4/userdata/order")])
        bibox_ex.push_user("order", order)
        events = await until(s, lambda e: type(e).__name__ == "OrderEvent")
    account = events[-2].data
    assert (account.asset, account.available) == ("USDT", Decimal("10000.5"))
    assert events[-1].data.order_id == 4611688217450643477


def test_bibox_bad_credentials_fail_once_without_looping(bibox_ex: BiboxExchange) -> None:
    options = {**bibox_ex.client_options(), "api_secret": "wrong"}
    with Bibox(**options) as bx, pytest.raises(StreamAuthenticationError, match="HTTP 401"):
        bx.streams.user(StreamOptions(**FAST)).open()
    assert bibox_ex.streams.handshakes == [("user", 401)]


# -- listen keys and private streams ------------------------------------------------------


async def test_hashkey_user_stream_orders_and_server_pings(hk_ex: HashKeyExchange) -> None:
    hk_ex.streams.faults.ping_interval = 0.05
    async with AsyncHashKey(**hk_ex.client_options()) as hk, hk.streams.user() as s:
        await hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
        events = await until(s, lambda e: isinstance(e, AccountUpdate))
        await asyncio.sleep(0.2)
    new, report = (e for e in events if isinstance(e, ExecutionReport))
    assert new.status.value == "NEW" and new.cumulative_filled_quantity == 0
    assert report.status.value == "FILLED" and report.cumulative_filled_quantity == Decimal("0.01")
    assert [type(e) for e in events] == [
        Connected,
        ExecutionReport,
        ExecutionReport,
        TicketInfo,
        AccountUpdate,
    ]
    pongs = [json.loads(p) for p in hk_ex.streams.pongs]
    assert len(pongs) >= 2 and all(set(p) == {"pong"} for p in pongs)


async def test_listen_key_is_kept_alive_on_schedule_and_deleted(hk_ex: HashKeyExchange) -> None:
    delays: list[float] = []
    parked = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) > 3:
            await parked.wait()  # no real waiting: the test ends here

    options = StreamOptions(sleep=fake_sleep, rng=random.Random(3))
    async with AsyncHashKey(**hk_ex.client_options()) as hk, hk.streams.user(options) as s:
        await until(s, lambda e: isinstance(e, Connected))
        async with asyncio.timeout(5):
            while len(delays) < 4:
                await asyncio.sleep(0.01)
        (key,) = hk_ex.listen_keys
    assert all(1620 <= d <= 1800 for d in delays) and len(set(delays)) == 4
    calls = [(c.method, c.params.get("listenKey")) for c in hk_ex.calls if "Stream" in c.path]
    assert calls == [("POST", None)] + [("PUT", key)] * 3 + [("DELETE", key)]
    assert hk_ex.listen_keys == {}
    assert hk_ex.streams.handshakes == [("user", 101)]


async def test_failed_extension_renews_the_key_and_reconnects(hk_ex: HashKeyExchange) -> None:
    calls = 0
    parked = asyncio.Event()
    connected = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await connected.wait()
            hk_ex.expire_listen_keys()  # nobody extended it in time
            return
        await parked.wait()

    options = StreamOptions(sleep=fake_sleep, **FAST)
    async with AsyncHashKey(**hk_ex.client_options()) as hk, hk.streams.user(options) as s:
        connected.set()
        events = await until(s, lambda e: isinstance(e, Reconnected))
        assert [type(e) for e in events] == [Connected, Gap, Reconnected]
        assert events[1].reason == "listen key renewed"
        await hk.spot.create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.01")
        await until(s, lambda e: isinstance(e, ExecutionReport))
    assert [c.method for c in hk_ex.calls if "Stream" in c.path][:3] == ["POST", "PUT", "POST"]
    assert [status for _, status in hk_ex.streams.handshakes] == [101, 101]


async def test_expired_key_at_reconnect_gets_a_new_key(hk_ex: HashKeyExchange) -> None:
    async with AsyncHashKey(**hk_ex.client_options()) as hk, hk.streams.user(FAST_OPTIONS) as s:
        await until(s, lambda e: isinstance(e, Connected))
        hk_ex.expire_listen_keys()
        hk_ex.streams.drop("user")
        await until(s, lambda e: isinstance(e, Reconnected))
    assert [status for _, status in hk_ex.streams.handshakes] == [101, 401, 101]
    assert [c.method for c in hk_ex.calls if "Stream" in c.path][:2] == ["POST", "POST"]


async def test_bingx_user_stream_gzip_ping_and_raw_events() -> None:
    with BingXExchange() as ex:
        ex.streams.faults.ping_interval = 0.05
        async with AsyncBingX(**ex.client_options()) as bx, bx.streams.user() as s:
            await until(s, lambda e: isinstance(e, Connected))
            ex.push_user({"e": "executionReport", "E": 1, "p": "0.1"})
            events = await until(s, lambda e: isinstance(e, RawEvent))
            await asyncio.sleep(0.2)
        assert events[-1].type == "executionReport" and events[-1].data["p"] == "0.1"
        assert ex.streams.pongs and set(ex.streams.pongs) == {"Pong"}
        assert [c.method for c in ex.calls] == ["POST", "DELETE"]


async def test_bingx_raw_events_keep_numbers_exact() -> None:
    """BingX documents no push schema: every push is a RawEvent, its JSON numbers exact as
    written (a fraction as a Decimal, an id beyond 64 bits as an int), never via a float."""
    frame = b'{"e":"ACCOUNT_UPDATE","wb":123.450000000000000001,"i":12345678901234567890123,"n":7}'
    with BingXExchange() as ex:
        async with AsyncBingX(**ex.client_options()) as bx, bx.streams.user() as s:
            await until(s, lambda e: isinstance(e, Connected))
            ex.streams.send_raw(gzip.compress(frame), route="user")
            events = await until(s, lambda e: isinstance(e, RawEvent))
    data = events[-1].data
    assert data["wb"] == Decimal("123.450000000000000001") and isinstance(data["wb"], Decimal)
    assert data["i"] == 12345678901234567890123 and type(data["i"]) is int
    assert data["n"] == 7 and type(data["n"]) is int


async def test_bibox_book_depth_is_a_count_of_levels() -> None:
    """A depth of 0 (or less) is refused before subscribing: Bibox would take the stream name
    and the local book would stay empty for good."""
    with BiboxExchange() as ex:
        async with AsyncBibox(**ex.client_options()) as bb, bb.streams.market() as s:
            for depth in (0, -20):
                with pytest.raises(RequestValidationError, match="depth: must be at least 1"):
                    await s.subscribe_order_book(symbol="BTC_USDT", depth=depth)
            await s.subscribe_order_book(symbol="BTC_USDT", depth=1)
            await until(s, lambda e: isinstance(e, OrderBookUpdate))
        assert ex.streams.subscribers("market", "BTC_USDT.order_book.0") == 0


def _blocking_streams_close_with_their_client() -> None:
    from cambist.bingx import BingX
    from cambist.errors import ClientClosedError, StreamError

    with BingXExchange() as ex:
        bx = BingX(**ex.client_options())
        stream = bx.streams.user()
        stream.open()
        assert isinstance(stream.next(timeout=5), Connected)
        assert len(ex.listen_keys) == 1
        bx.close()  # the stream is closed with it: its listen key deleted while REST works
        assert [c.method for c in ex.calls] == ["POST", "DELETE"] and not ex.listen_keys
        with pytest.raises(StreamError, match="closed"):
            stream.next(timeout=1)
        assert list(stream) == []
        stream.close()  # already closed: nothing to do
        with pytest.raises(ClientClosedError), bx.streams.user():  # its listen key: REST
            pass
        assert len(ex.calls) == 2


async def test_closing_a_client_closes_its_streams() -> None:
    """Closing a client closes the streams it made, listen keys deleted (blocking: next()
    raised a bare RuntimeError "Event loop is closed" and the stream's exit failed the same
    way, its listen key left behind)."""
    await asyncio.to_thread(_blocking_streams_close_with_their_client)
    with BingXExchange() as ex:
        bx = AsyncBingX(**ex.client_options())
        s = bx.streams.user()
        await s.open()
        await until(s, lambda e: isinstance(e, Connected))
        await bx.aclose()
        assert [c.method for c in ex.calls] == ["POST", "DELETE"]
        assert [e async for e in s] == []  # ended with its client


def _blocking_stream_calls_after_its_client_closed() -> None:
    import warnings

    from cambist.errors import StreamError

    with BiboxExchange() as ex:
        bb = Bibox(**ex.client_options())
        s = bb.streams.market()
        s.open()
        s.subscribe_order_book(symbol="BTC_USDT", depth=20)
        bb.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "coroutine ... was never awaited"
            for call in (
                lambda: s.unsubscribe_order_book(symbol="BTC_USDT", depth=20),
                lambda: s.book(symbol="BTC_USDT", depth=20),
                s.open,
            ):
                with pytest.raises(StreamError, match="closed"):
                    call()


async def test_blocking_stream_calls_after_its_client_closed_raise_stream_error() -> None:
    """A blocking stream closed with its client refuses every call with StreamError, as an
    asyncio one does (unsubscribe, book and open raised a bare 'RuntimeError: Event loop is
    closed' and left a coroutine never awaited)."""
    await asyncio.to_thread(_blocking_stream_calls_after_its_client_closed)


# -- buffering and secrets ----------------------------------------------------------------


@pytest.mark.parametrize("buffer", [5, 1])  # 1: the least buffer keeps the newest event
async def test_slow_consumer_gets_a_gap_with_the_drop_count(
    hk_ex: HashKeyExchange, ahk: AsyncHashKey, buffer: int
) -> None:
    async with ahk.streams.public(StreamOptions(max_buffer=buffer)) as s:
        await s.subscribe_depth(symbol="BTCUSDT")
        hk_ex.streams.wait_subscribed("public", "depth:BTCUSDT")
        hk_ex.tick("BTCUSDT", steps=40)
        await asyncio.sleep(0.3)  # not consuming
        first = await s.__anext__()
        assert isinstance(first, Gap) and first.reason == "buffer overflow"
        assert first.dropped >= 30
        rest = [await s.__anext__() for _ in range(buffer)]
        assert isinstance(rest[-1], DepthUpdate) and rest[-1].data.version == "41_1"
        assert same_book(s.book(symbol="BTCUSDT"), hk_ex, "BTCUSDT")


async def test_listen_keys_never_logged_or_shown(
    hk_ex: HashKeyExchange, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with AsyncHashKey(**hk_ex.client_options()) as hk:
        stream = hk.streams.user(StreamOptions(**FAST))
        async with stream as s:
            (key,) = hk_ex.listen_keys
            hk_ex.streams.drop("user")
            await until(s, lambda e: isinstance(e, Reconnected))
            text = repr(stream) + repr(stream._engine)
    assert key not in caplog.text and key not in text
    assert "/api/v1/ws/***" in caplog.text  # the websockets debug log, masked


# -- the order book alone ------------------------------------------------------------------


def test_order_book_rules() -> None:
    book = OrderBook("t")
    assert not book.synced and book.best_bid() is None
    book.replace([["10", "1"], ["9", "2"]], [["11", "1"], ["12", "0"]], "5_1")
    assert book.best_bid() == (Decimal(10), Decimal(1)) and book.asks == [(Decimal(11), Decimal(1))]
    book.update([["10", "0"], ["9.5", "3"]], [["11.5", "4"]], "5_2")
    assert book.top(2) == (
        [(Decimal("9.5"), Decimal(3)), (Decimal(9), Decimal(2))],
        [(Decimal(11), Decimal(1)), (Decimal("11.5"), Decimal(4))],
    )
    with pytest.raises(Exception, match="does not advance"):
        book.update([], [], "5_2")
    with pytest.raises(Exception, match="crossed"):
        book.update([["11", "1"]], [], "6")
    book.reset()
    assert not book.synced and book.bids == [] and book.version is None


def test_snapshot_checks_of_decoded_levels() -> None:
    """A full book of decoded levels (a parsed push's rows): sorted, distinct and non-zero
    levels are kept as they came; anything else is sorted, deduplicated (the last quantity of
    a price wins) and emptied of zero levels, as a dict of prices would be; a crossed book, a
    level too short to read, raise."""
    from cambist._runtime.book import PriceLevel

    def lv(p: str, q: str) -> PriceLevel:
        return PriceLevel(Decimal(p), Decimal(q))

    book = OrderBook("t")
    bids, asks = [lv("10", "1"), lv("9", "2")], [lv("11", "1"), lv("12", "3")]
    book.replace(bids, asks, "1", decoded=True)
    assert book.bids == bids and book.asks == asks
    book.replace(
        [lv("9", "2"), lv("10", "1"), lv("9", "5"), lv("8", "0")],  # unsorted, 9 twice, a 0
        [lv("12", "3"), lv("11", "1"), lv("11", "1")],  # equal neighbours: not strictly sorted
        "2",
        decoded=True,
    )
    assert book.bids == [lv("10", "1"), lv("9", "5")]
    assert book.asks == [lv("11", "1"), lv("12", "3")]
    book.replace([lv("10", "0")], [lv("11", "0"), lv("12", "1")], "3", decoded=True)
    assert book.bids == [] and book.asks == [lv("12", "1")]
    book.replace([], [], "4", decoded=True)
    assert book.best_bid() is None and book.best_ask() is None
    with pytest.raises(Exception, match="crossed"):
        book.replace([lv("11", "1")], [lv("11", "2")], "5", decoded=True)
    with pytest.raises(IndexError):  # unreadable: the stream resynchronises its book
        book.replace([(Decimal(1),)], [], "6", decoded=True)


def test_versions_are_read_as_numbers() -> None:
    from cambist._runtime.book import BookError, version_of

    assert version_of("538222447_18") == (538222447, 18)
    assert version_of("1027024") == (1027024,) == version_of(1027024)
    assert version_of("1_2_3") == (1, 2, 3) and version_of(" 7_8") == (7, 8)
    for bad in ("", "x", "5_", "_5", "1__2", "1_x", "1_2_", None):
        with pytest.raises(BookError, match="unreadable version"):
            version_of(bad)


def test_frames_helpers_decompress() -> None:
    from cambist._runtime.wire import frame_text

    assert frame_text(gzip.compress(b'{"a":1}')) == b'{"a":1}'
    assert frame_text(zlib.compress(b'{"a":1}')) == b'{"a":1}'


# -- the documents' push samples, routed and typed (no server needed) ---------------------

V1_KLINE = """{"symbol": "BTCUSDT", "symbolName": "BTCUSDT", "topic": "kline",
 "params": {"realtimeInterval": "24h", "klineType": "1m", "binary": "false"},
 "data": [{"t": 1766727660000, "s": "BTCUSDT", "sn": "BTCUSDT", "c": "88888.01", "h": "88888.01",
 "l": "88888.01", "o": "88888.01", "v": "0", "et": 0, "qv": "0", "td": 0, "tb": "0", "tq": "0"}],
 "f": true, "sendTime": 1766727675969, "shared": false}"""
V2_BBO = """{"topic": "bbo", "params": {"symbol": "ETHUSDT"}, "data": {"s": "ETHUSDT",
 "b": "2974.52", "bz": "0.0202", "a": "2974.85", "az": "0.2838", "t": 1766729017183}}"""
V2_REALTIMES = """{"topic": "realtimes", "params": {"symbol": "BTCUSDT"}, "data": {
 "t": 1766728440004, "s": "BTCUSDT", "o": "87740.12", "h": "89270.33", "l": "86971.82",
 "c": "88910.23", "v": "0.20041", "qv": "17621.0846565", "m": "0.0133"}}"""
TICKET = """[{"e": "ticketInfo", "E": "1766730154173", "s": "USDTAED", "q": "1.00",
 "t": "1766730154162", "p": "91446.40", "T": "2113880177556930560", "o": "2113880177188611584",
 "c": "99999999980006", "a": "1695624199740137984", "m": false, "S": "BUY"},
 {"e": "outboundCustodyAccountInfo", "E": "1764932840383", "T": true, "W": true, "D": true,
 "B": [{"a": "BTC", "f": "6086.715847759989968887", "l": "0", "r": ""}]},
 {"e": "somethingNew", "x": 1}]"""


def _engine(definition: Any) -> Any:
    from cambist._runtime.ws import StreamEngine

    return StreamEngine(
        definition, base_url="ws://unused", credentials=None, rest=None, options=StreamOptions()
    )


async def test_document_push_samples_are_routed_and_typed() -> None:
    from cambist._runtime.wire import make_subscription
    from cambist.hashkey.models import (
        BboUpdate,
        KlineUpdateV1,
        RealtimesUpdate,
        TicketInfo,
    )
    from cambist.hashkey.streams.public import PUBLIC
    from cambist.hashkey.streams.public_v1 import _KLINE, PUBLIC_V1
    from cambist.hashkey.streams.user import USER

    v1 = _engine(PUBLIC_V1)
    v1._register(make_subscription(PUBLIC_V1, _KLINE, {"symbol": "BTCUSDT", "interval": "1m"}))
    v1._on_frame(V1_KLINE)
    (kline,) = v1._events
    assert isinstance(kline, KlineUpdateV1) and kline.first is True
    assert kline.data[0].close == Decimal("88888.01") and kline.data[0].trade_count == 0

    v2 = _engine(PUBLIC)
    for name, symbol in (("bbo", "ETHUSDT"), ("realtimes", "BTCUSDT")):
        v2._register(make_subscription(PUBLIC, PUBLIC.channels[name], {"symbol": symbol}))
    v2._on_frame(V2_BBO)
    v2._on_frame(V2_REALTIMES)
    bbo, ticker = v2._events
    assert isinstance(bbo, BboUpdate) and bbo.data.ask_quantity == Decimal("0.2838")
    assert isinstance(ticker, RealtimesUpdate) and ticker.data.quote_volume == Decimal(
        "17621.0846565"
    )

    user = _engine(USER)
    user._on_frame(TICKET)
    ticket, custody, unknown = user._events
    assert isinstance(ticket, TicketInfo) and ticket.ticket_id == "2113880177556930560"
    assert isinstance(custody, AccountUpdate)
    assert custody.balances[0].free == Decimal("6086.715847759989968887")
    assert unknown == RawEvent("user", "somethingNew", {"e": "somethingNew", "x": 1})


# -- options checked before anything connects -----------------------------------------------

BAD_STREAM_OPTIONS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"max_buffer": 0}, ValueError, "StreamOptions.max_buffer must be at least 1, got 0"),
    ({"max_buffer": "3"}, TypeError, "StreamOptions.max_buffer must be an int, got '3' (str)"),
    ({"max_buffer": 3.0}, TypeError, "StreamOptions.max_buffer must be an int, got 3.0"),
    ({"ping_interval": 0}, ValueError, "StreamOptions.ping_interval must be a positive, finite"),
    ({"ping_interval": "5"}, TypeError, "StreamOptions.ping_interval must be a number"),
    ({"ping_timeout": -1.0}, ValueError, "StreamOptions.ping_timeout must be a positive"),
    ({"max_reconnects": 0}, ValueError, "StreamOptions.max_reconnects must be at least 1"),
    ({"max_reconnects": True}, TypeError, "StreamOptions.max_reconnects must be an int"),
    ({"connect_attempts": 0}, ValueError, "StreamOptions.connect_attempts must be at least 1"),
    ({"connect_attempts": None}, TypeError, "StreamOptions.connect_attempts must be an int"),
    ({"backoff_base": -0.1}, ValueError, "StreamOptions.backoff_base must be a non-negative"),
    ({"backoff_max": "30"}, TypeError, "StreamOptions.backoff_max must be a number"),
    ({"reply_timeout": 0}, ValueError, "StreamOptions.reply_timeout must be a positive"),
    ({"open_timeout": None}, TypeError, "StreamOptions.open_timeout must be a number"),
    ({"handover_timeout": float("nan")}, ValueError, "StreamOptions.handover_timeout must be"),
    ({"keepalive_jitter": 1.5}, ValueError, "StreamOptions.keepalive_jitter must be from 0 to 1"),
    ({"keepalive_jitter": "0.1"}, TypeError, "StreamOptions.keepalive_jitter must be a number"),
    ({"max_connection_age": 0}, ValueError, "StreamOptions.max_connection_age must be a"),
    ({"sleep": 0.1}, TypeError, "StreamOptions.sleep must be a function"),
    ({"clock": 0.0}, TypeError, "StreamOptions.clock must be a function"),
    ({"rng": 3}, TypeError, "StreamOptions.rng must be a random.Random, got 3 (int)"),
    ({"check_symbols": "no"}, TypeError, "StreamOptions.check_symbols must be True or False"),
]


@pytest.mark.parametrize(
    ("fields", "error", "message"), BAD_STREAM_OPTIONS, ids=lambda v: str(v)[:40]
)
def test_bad_stream_options_are_refused_when_made(
    fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        StreamOptions(**fields)
    assert message in str(caught.value)


def test_stream_option_edge_values_are_accepted() -> None:
    StreamOptions(max_buffer=1, max_reconnects=1, connect_attempts=1, backoff_base=0)
    StreamOptions(keepalive_jitter=0, max_connection_age=math.inf, backoff_max=math.inf)
    StreamOptions(keepalive_jitter=1, ping_interval=0.05, ping_timeout=0.1, rng=random.Random(1))


def test_options_that_are_not_stream_options_are_refused_sync(hk_ex: HashKeyExchange) -> None:
    with HashKey(**hk_ex.client_options()) as hk:
        with pytest.raises(
            TypeError, match=r"options must be a cambist\.streams\.StreamOptions"
        ) as caught:
            hk.streams.public({"max_buffer": 3})  # type: ignore[arg-type]
        assert "got dict; pass StreamOptions(**it)" in str(caught.value)
        with pytest.raises(TypeError, match="got dict"):
            hk.streams.public({})  # type: ignore[arg-type]  # (was taken as "no options")
    assert hk_ex.streams.handshakes == []  # nothing connected


async def test_options_that_are_not_stream_options_are_refused_async(
    hk_ex: HashKeyExchange, ahk: AsyncHashKey
) -> None:
    with pytest.raises(TypeError, match=r"streams\.public: options must be .* got dict"):
        ahk.streams.public({"max_buffer": 3})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"options must be .* got int$"):
        ahk.streams.user(3)  # type: ignore[arg-type]
    assert hk_ex.streams.handshakes == []  # nothing connected
