"""Binance Options on the local exchange: the /public and /market streams (typed events, the
diff book kept equal to the exchange's book by the document's update-id rules, a broken chain
resynchronised from a new snapshot), the user stream following an order's life cycle with its
listen key kept alive, and the simulated orders, positions and margin through the client,
sync and async."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest

from cambist.binance_options import AsyncBinanceOptions, BinanceOptions
from cambist.binance_options.models import (
    AccountUpdate,
    BalancePositionUpdate,
    BatchOrder,
    DepthUpdate,
    IndexPriceUpdate,
    KlineUpdate,
    ListenKeyExpired,
    MarkPriceUpdate,
    OpenInterestUpdate,
    OrderTradeUpdate,
    PositionSide,
    TickerUpdate,
    TradeUpdate,
)
from cambist.errors import (
    ExecutionStatusUnknownError,
    InsufficientBalanceError,
    OrderNotFoundError,
)
from cambist.streams import BookResync, Connected, Gap, Reconnected, StreamOptions
from cambist.testing import BinanceOptionsExchange
from cambist.testing._binance import MARGIN_PER_CONTRACT
from tests.test_streams import frames, same_book, until

pytestmark = pytest.mark.anyio

CALL = "BTC-220815-50000-C"
PUT = "BTC-220815-40000-P"


@pytest.fixture
def ex() -> Iterator[BinanceOptionsExchange]:
    with BinanceOptionsExchange(seed=5) as exchange:
        yield exchange


async def synced(book: Any) -> None:
    """Wait for the book's REST snapshot to be loaded (fetched after the first diff)."""
    async with asyncio.timeout(5):
        while not book.synced:
            await asyncio.sleep(0.005)


def _depth(version: int) -> Any:
    return lambda e: isinstance(e, DepthUpdate) and e.data.final_update_id == version


async def test_diff_book_follows_the_exchange_by_update_ids(ex: BinanceOptionsExchange) -> None:
    async with AsyncBinanceOptions(**ex.client_options()) as bn, bn.streams.public() as s:
        assert isinstance(await s.__anext__(), Connected)
        await s.subscribe_depth(symbol=CALL, update_speed="100ms")
        await s.subscribe_trade(symbol=CALL)
        for _ in range(40):
            ex.tick(CALL)
        version = ex.market.books[CALL].version
        events = await until(s, _depth(version))
        book = s.book(symbol=CALL, update_speed="100ms")
        await synced(book)
        assert same_book(book, ex, CALL) and book.version == (version,)
        diffs = [e.data for e in events if isinstance(e, DepthUpdate)]
        assert all(d.previous_update_id == d.first_update_id - 1 for d in diffs)
        trades = [e for e in events if isinstance(e, TradeUpdate)]
        assert trades and all(isinstance(t.data.price, D) for t in trades)
        assert {t.data.symbol for t in trades} == {CALL}
    sent = frames(ex, "public")
    assert sent[0] == {"method": "SUBSCRIBE", "params": [f"{CALL}@depth@100ms"], "id": 1}
    snapshots = [c for c in ex.calls if c.path == "/eapi/v1/depth"]
    assert [(c.params["symbol"], c.params["limit"]) for c in snapshots] == [(CALL, "1000")]


async def test_a_lower_case_symbol_keeps_a_book_from_a_capitals_snapshot(
    ex: BinanceOptionsExchange,
) -> None:
    # The newer pages write stream symbols in lower case; REST symbols are capitals, so the
    # book's snapshot asks for CALL (a lower-case one was refused with 400, again and again).
    lower = CALL.lower()
    async with AsyncBinanceOptions(**ex.client_options()) as bn, bn.streams.public() as s:
        await s.subscribe_depth(symbol=lower, update_speed="100ms")
        ex.tick(CALL, steps=5)
        await until(s, _depth(ex.market.books[CALL].version))
        book = s.book(symbol=lower, update_speed="100ms")
        await synced(book)
        assert same_book(book, ex, CALL)
    snapshots = [c for c in ex.calls if c.path == "/eapi/v1/depth"]
    assert [c.params["symbol"] for c in snapshots] == [CALL]
    assert frames(ex, "public")[0]["params"] == [f"{lower}@depth@100ms"]  # as the caller gave


async def test_a_failing_snapshot_is_asked_for_again_after_a_backoff(
    ex: BinanceOptionsExchange,
) -> None:
    # It was asked for again on the very next diff: with REST refusing (or down), every diff
    # (10 a second) cost a snapshot call of weight 20, spending the caller's REST budget.
    ex.fail("market.get_order_book", status=400)  # until cleared
    options = StreamOptions(backoff_base=3, backoff_max=3)  # each wait: 1.5 to 3 s
    client = AsyncBinanceOptions(**ex.client_options(), max_retries=0)  # a call each attempt
    async with client as bn, bn.streams.public(options) as s:
        await s.subscribe_depth(symbol=CALL, update_speed="100ms")

        def snapshots() -> int:
            return len([c for c in ex.calls if c.path == "/eapi/v1/depth"])

        ex.tick(CALL)  # the first diff asks for a snapshot: refused
        async with asyncio.timeout(5):
            while not snapshots():
                await asyncio.sleep(0.005)
        for _ in range(10):  # diffs arriving over half a second, while the failure waits
            ex.tick(CALL)
            await asyncio.sleep(0.05)
        await until(s, _depth(ex.market.books[CALL].version))
        assert snapshots() == 1  # (it was one per diff)
        events = await until(s, lambda e: isinstance(e, BookResync))  # after the wait
        assert events[-1].reason.startswith("snapshot: ")
        ex.clear_faults()
        ex.tick(CALL, steps=5)  # the next diff asks again: answered
        book = s.book(symbol=CALL, update_speed="100ms")
        await synced(book)
        assert same_book(book, ex, CALL)


async def test_a_broken_chain_fetches_a_new_snapshot(ex: BinanceOptionsExchange) -> None:
    async with AsyncBinanceOptions(**ex.client_options()) as bn, bn.streams.public() as s:
        await s.subscribe_depth(symbol=CALL, update_speed="500ms")
        ex.tick(CALL, steps=5)
        await until(s, _depth(ex.market.books[CALL].version))
        await synced(s.book(symbol=CALL, update_speed="500ms"))
        key = f"{CALL}@depth@500ms".lower()
        gap = {"e": "depthUpdate", "E": 1, "T": 1, "s": CALL, "U": 900, "u": 900, "pu": 899,
               "b": [], "a": []}  # fmt: skip
        ex.streams.publish("public", key, {"stream": key, "data": gap})
        events = await until(s, lambda e: isinstance(e, BookResync))
        assert "follows 899" in events[-1].reason
        ex.tick(CALL, steps=5)
        await until(s, _depth(ex.market.books[CALL].version))
        await synced(s.book(symbol=CALL, update_speed="500ms"))
        assert same_book(s.book(symbol=CALL, update_speed="500ms"), ex, CALL)
    assert len([c for c in ex.calls if c.path == "/eapi/v1/depth"]) == 2


def test_blocking_public_stream_and_partial_depth(ex: BinanceOptionsExchange) -> None:
    with BinanceOptions(**ex.client_options()) as bn, bn.streams.public() as s:
        s.subscribe_depth(symbol=PUT, update_speed="100ms")
        s.subscribe_partial_depth(symbol=PUT, level="5", update_speed="100ms")
        s.subscribe_ticker_by_expiry(underlying="btcusdt", expiration_date="220815")
        ex.streams.wait_subscribed("public", "btcusdt@optionticker@220815")
        ex.tick(PUT, steps=20)
        ex.trade(PUT, ex.market.best(PUT)[0][0], "0.5", taker="SELL")
        seen: list[Any] = []
        while not any(isinstance(e, TickerUpdate) for e in seen):
            seen.append(s.next(timeout=5))
        version = ex.market.books[PUT].version
        while not (
            isinstance(seen[-1], DepthUpdate)
            and seen[-1].stream.endswith("@depth@100ms")
            and seen[-1].data.final_update_id == version
        ):
            seen.append(s.next(timeout=5))
        partial = [e for e in seen if isinstance(e, DepthUpdate) and "depth5" in e.stream]
        assert partial and len(partial[-1].data.bids) == 5
        ticker = next(e for e in seen if isinstance(e, TickerUpdate)).data
        assert ticker.symbol == PUT
        assert ticker.last_price in {t.price for t in ex.market.trades[PUT]}
        book = s.book(symbol=PUT, update_speed="100ms")  # a copy: wait for the snapshot
        for _ in range(500):
            if book.synced:
                break
            time.sleep(0.005)
            book = s.book(symbol=PUT, update_speed="100ms")
        assert same_book(book, ex, PUT)


async def test_market_stream_channels_are_typed(ex: BinanceOptionsExchange) -> None:
    async with AsyncBinanceOptions(**ex.client_options()) as bn, bn.streams.market() as s:
        await s.subscribe_index_price()
        await s.subscribe_mark_price(underlying="btcusdt")
        await s.subscribe_kline(symbol=CALL, interval="1m")
        await s.subscribe_open_interest(underlying="btcusdt", expiration_date="220815")
        wanted = {IndexPriceUpdate, MarkPriceUpdate, KlineUpdate, OpenInterestUpdate}
        seen: set[type] = set()
        async with asyncio.timeout(5):
            while seen != wanted:
                ex.tick(CALL)
                ex.trade(CALL, ex.market.best(CALL)[1][0], "0.1", taker="BUY")
                await asyncio.sleep(0.01)
                while True:
                    try:
                        async with asyncio.timeout(0.05):
                            event = await s.__anext__()
                    except TimeoutError:
                        break
                    if type(event) in wanted:
                        seen.add(type(event))
                        if isinstance(event, MarkPriceUpdate):
                            marks = {m.symbol: m.mark_price for m in event.data}
                            assert set(marks) == {CALL, PUT}
                        if isinstance(event, IndexPriceUpdate):
                            assert {i.symbol for i in event.data} == {"BTCUSDT", "ETHUSDT"}
                        if isinstance(event, KlineUpdate):
                            assert event.data.kline.interval.value == "1m"


async def test_user_stream_follows_an_order_and_keeps_its_key(ex: BinanceOptionsExchange) -> None:
    delays: list[float] = []
    parked = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) > 2:
            await parked.wait()

    # no connection-age handover here: every long wait is the listen key's keep-alive
    options = StreamOptions(sleep=fake_sleep, rng=random.Random(1), max_connection_age=math.inf)
    async with AsyncBinanceOptions(**ex.client_options()) as bn, bn.streams.user(options) as s:
        await until(s, lambda e: isinstance(e, Connected))
        (key,) = ex.listen_keys
        bid = ex.market.best(CALL)[0][0]
        order = await bn.trade.create_order(symbol=CALL, side="BUY", type="LIMIT",
                                            quantity=D("2"), price=bid - 5,
                                            time_in_force="GTC")  # fmt: skip
        ex.trade(CALL, bid - 5, "0.5", taker="SELL")  # a partial maker fill
        await bn.trade.cancel_order(symbol=CALL, order_id=order.order_id)
        events = await until(
            s,
            lambda e: (
                isinstance(e, OrderTradeUpdate) and e.order.execution_type.value == "CANCELED"
            ),
        )
        updates = [e.order for e in events if isinstance(e, OrderTradeUpdate)]
        assert [(u.execution_type.value, u.status.value) for u in updates] == [
            ("NEW", "ACCEPTED"),
            ("TRADE", "PARTIALLY_FILLED"),
            ("CANCELED", "CANCELLED"),
        ]
        assert {u.order_id for u in updates} == {order.order_id}
        assert updates[1].last_filled_quantity == D("0.5") and updates[1].maker
        position = next(e for e in events if isinstance(e, BalancePositionUpdate))
        assert (position.positions[0].symbol, position.positions[0].quantity) == (CALL, D("0.5"))
        assert any(isinstance(e, AccountUpdate) for e in events)
        async with asyncio.timeout(5):
            while len(delays) < 3:
                await asyncio.sleep(0.01)
        ex.expire_listen_keys()
        expired = await until(s, lambda e: isinstance(e, ListenKeyExpired))
        assert expired[-1].listen_key == key
    assert all(1620 <= d <= 1800 for d in delays)  # half of the 60-minute lifetime, jittered
    calls = [c.method for c in ex.calls if c.path == "/eapi/v1/listenKey"]
    assert calls[:3] == ["POST", "PUT", "PUT"] and calls[-1] == "DELETE"
    assert ex.streams.handshakes[0] == ("user", 101)


async def test_an_expired_listen_key_is_renewed_at_once(ex: BinanceOptionsExchange) -> None:
    """On listenKeyExpired the server pushes nothing more on that key: the stream makes a new
    key and reconnects with it at once (it waited for the next keep-alive, up to 30 minutes),
    and the account's events arrive again."""
    async with AsyncBinanceOptions(**ex.client_options()) as bn, bn.streams.user() as s:
        await until(s, lambda e: isinstance(e, Connected))
        (old,) = ex.listen_keys
        ex.expire_listen_keys()
        events = await until(s, lambda e: isinstance(e, Gap) and "expired" in e.reason)
        assert any(isinstance(e, ListenKeyExpired) and e.listen_key == old for e in events)
        await until(s, lambda e: isinstance(e, Reconnected))
        posts = [c for c in ex.calls if c.method == "POST" and c.path == "/eapi/v1/listenKey"]
        assert len(posts) == 2  # one new key, made at once
        new = next(k for k in ex.listen_keys if k != old)
        assert ex.streams.handshakes[-1] == ("user", 101)
        bid = ex.market.best(CALL)[0][0]
        await bn.trade.create_order(symbol=CALL, side="BUY", type="LIMIT", quantity=D("1"),
                                    price=bid - 10, time_in_force="GTC")  # fmt: skip
        await until(s, lambda e: isinstance(e, OrderTradeUpdate))
    assert new != old


async def test_an_expiry_during_the_keep_alives_renewal_makes_one_key(
    ex: BinanceOptionsExchange,
) -> None:
    """The expiry event's renewal and the keep-alive's (its extension refused: the key has
    expired) are one renewal: one new key, one reconnection. Two ran side by side: a second
    key was made and the connection already made with the first was closed again."""
    first = asyncio.Event()
    release = asyncio.Event()
    waits = 0

    async def fake_sleep(seconds: float) -> None:
        nonlocal waits
        if seconds < 60:  # a backoff
            return
        waits += 1  # the keep-alive's wait: the first is let go once, the others never
        first.set()
        await (release.wait() if waits == 1 else asyncio.Event().wait())

    options = StreamOptions(sleep=fake_sleep, rng=random.Random(1), max_connection_age=math.inf)
    async with AsyncBinanceOptions(**ex.client_options()) as bn, bn.streams.user(options) as s:
        await until(s, lambda e: isinstance(e, Connected))
        await asyncio.wait_for(first.wait(), 5)
        ex.fail("user_stream.create_listen_key", latency=0.5, times=1)  # the event's: slow
        ex.expire_listen_keys()
        await until(s, lambda e: isinstance(e, ListenKeyExpired))
        release.set()  # the keep-alive's extension is now refused
        events = await until(s, lambda e: isinstance(e, Reconnected))
        await asyncio.sleep(1.5)  # the slow renewal has long answered
        calls = [c.method for c in ex.calls if c.path == "/eapi/v1/listenKey"]
        assert sorted(calls) == ["POST", "POST", "PUT"]  # the first key, one new one
        assert [e.reason for e in events if isinstance(e, Gap)] == ["listen key expired"]
        assert len(ex.streams.handshakes) == 2


def test_writing_options_holds_margin_and_buying_back_releases_it(
    ex: BinanceOptionsExchange,
) -> None:
    with BinanceOptions(**ex.client_options()) as bn:
        bid, ask = ex.market.best(CALL)[0][0], ex.market.best(CALL)[1][0]
        sold = bn.trade.create_order(symbol=CALL, side="SELL", type="LIMIT", quantity=D("2"),
                                     price=bid, time_in_force="IOC",
                                     new_order_resp_type="RESULT")  # fmt: skip
        assert sold.status is not None and sold.status.value == "FILLED"
        (short,) = bn.trade.get_positions(symbol=CALL)
        assert (short.side, short.quantity) == (PositionSide.SHORT, D("-2"))
        margin = bn.account.get_margin_account().asset[0]
        assert margin.initial_margin == 2 * MARGIN_PER_CONTRACT
        assert margin.available == D("100000") + 2 * bid - 2 * MARGIN_PER_CONTRACT
        bought = bn.trade.create_order(symbol=CALL, side="BUY", type="LIMIT", quantity=D("2"),
                                       price=ask + 1, time_in_force="IOC",
                                       new_order_resp_type="RESULT")  # fmt: skip
        assert bought.executed_qty == 2 and bought.avg_price is not None
        assert bn.trade.get_positions(symbol=CALL) == []
        margin = bn.account.get_margin_account().asset[0]
        assert margin.initial_margin == 0
        assert margin.available == D("100000") + 2 * bid - 2 * bought.avg_price
        trades = bn.trade.get_user_trades(symbol=CALL)
        assert [(t.side.value, t.quantity, t.liquidity.value) for t in trades] == [
            ("SELL", D("2"), "TAKER"),
            ("BUY", D("1.6741"), "TAKER"),  # the best ask's quantity (seed 5)
            ("BUY", D("0.3259"), "TAKER"),  # the rest at the next level
        ]
        with pytest.raises(InsufficientBalanceError) as caught:
            bn.trade.create_order(symbol=PUT, side="SELL", type="LIMIT", quantity=D("1000"),
                                  price=D("600"), time_in_force="GTC")  # fmt: skip
        assert caught.value.code == -2027


def _check_refused_items(
    ex: BinanceOptionsExchange, placed: list[Any], cancelled: list[Any]
) -> None:
    good, refused = placed
    assert good.symbol == CALL and good.quantity == 1
    assert isinstance(refused, InsufficientBalanceError) and refused.code == -2027
    assert not isinstance(refused, ExecutionStatusUnknownError)  # refused: nothing to check
    posted = [c for c in ex.calls if c.method == "POST" and c.path == "/eapi/v1/batchOrders"]
    assert len(posted) == 1  # read, not resent
    assert [o.client_id for o in ex.ledger.orders.values()] == ["b-1"]  # placed once
    done, unknown = cancelled
    assert done.order_id == good.order_id and done.status.value == "CANCELLED"
    assert isinstance(unknown, OrderNotFoundError) and unknown.code == -2013


def _refused_orders(bid: D) -> list[BatchOrder]:
    return [
        BatchOrder(symbol=CALL, side="BUY", type="LIMIT", quantity=D("1"), price=bid - 10,
                   client_order_id="b-1"),
        BatchOrder(symbol=PUT, side="SELL", type="LIMIT", quantity=D("1000"), price=D("600"),
                   client_order_id="b-2"),  # more than the margin carries
    ]  # fmt: skip


def test_a_batch_item_refused_is_its_error_in_its_place(ex: BinanceOptionsExchange) -> None:
    """Binance answers a refused item of a batch with an error object in its place while the
    others are carried out: the answer reads as the orders and the typed errors, in order (it
    was an unreadable answer, ResponseParseError, after the orders had been placed)."""
    with BinanceOptions(**ex.client_options()) as bn:
        placed = bn.trade.create_batch_orders(orders=_refused_orders(ex.market.best(CALL)[0][0]))
        good = placed[0]
        assert not isinstance(good, Exception)
        cancelled = bn.trade.cancel_batch_orders(symbol=CALL, order_ids=[good.order_id, 123])
    _check_refused_items(ex, placed, cancelled)


async def test_a_batch_item_refused_is_its_error_in_its_place_async(
    ex: BinanceOptionsExchange,
) -> None:
    async with AsyncBinanceOptions(**ex.client_options()) as bn:
        orders = _refused_orders(ex.market.best(CALL)[0][0])
        placed = await bn.trade.create_batch_orders(orders=orders)
        good = placed[0]
        assert not isinstance(good, Exception)
        cancelled = await bn.trade.cancel_batch_orders(symbol=CALL, order_ids=[good.order_id, 123])
    _check_refused_items(ex, placed, cancelled)


async def test_batch_orders_queries_and_cancels(ex: BinanceOptionsExchange) -> None:
    async with AsyncBinanceOptions(**ex.client_options()) as bn:
        bid = ex.market.best(CALL)[0][0]
        placed = await bn.trade.create_batch_orders(orders=[
            BatchOrder(symbol=CALL, side="BUY", type="LIMIT", quantity=D("1"), price=bid - 10,
                       client_order_id="a-1"),
            BatchOrder(symbol=PUT, side="BUY", type="LIMIT", quantity=D("1"), price=D("400")),
            BatchOrder(symbol=CALL, side="BUY", type="LIMIT", quantity=D("1"), price=bid - 20),
        ])  # fmt: skip
        assert len(placed) == 3
        ids = [o.order_id for o in placed]
        assert ex.ledger.orders[str(ids[0])].client_id == "a-1"
        assert len(ex.ledger.orders[str(ids[1])].client_id) >= 10  # filled in by the client
        opened = await bn.trade.get_open_orders()
        assert sorted(o.order_id for o in opened) == sorted(ids)
        cancelled = await bn.trade.cancel_batch_orders(symbol=CALL, order_ids=[ids[0]])
        assert [o.status.value for o in cancelled] == ["CANCELLED"]
        one = await bn.trade.get_order(symbol=CALL, client_order_id="a-1")
        assert one.status.value == "CANCELLED"
        answer = await bn.trade.cancel_all_orders_by_underlying(underlying="BTCUSDT")
        assert answer.code == 0
        assert await bn.trade.get_open_orders() == []
        history = await bn.trade.get_order_history(symbol=CALL)
        assert [o.status.value for o in history] == ["CANCELLED", "CANCELLED"]
        with pytest.raises(OrderNotFoundError):
            await bn.trade.cancel_order(symbol=CALL, order_id=ids[0])
        book = await bn.market.get_order_book(symbol=CALL, limit=1000)
        assert book.last_update_id == ex.market.books[CALL].version
    sent = [c for c in ex.calls if c.path == "/eapi/v1/batchOrders" and c.method == "POST"]
    assert json.loads(sent[0].params["orders"])[0]["clientOrderId"] == "a-1"


def test_sequenced_book_rules() -> None:
    """The document's rules, without I/O: buffer, drop what the snapshot covers, the first
    diff applied spans the snapshot id, then pu chains; a break raises."""
    from cambist._runtime.book import BookError, OrderBook

    book = OrderBook("t")
    assert book.feed(5, 6, 4, [["10", "1"]], []) is True  # fetch a snapshot now
    assert book.feed(7, 8, 6, [["10", "2"]], [["12", "1"]]) is False  # buffered, one fetch
    book.load([["10", "5"], ["9", "1"]], [["11", "1"]], 7)  # 5..6 dropped, 7..8 spans 7
    assert book.synced and book.version == (8,)
    assert book.bids == [(D("10"), D("2")), (D("9"), D("1"))]
    assert book.asks == [(D("11"), D("1")), (D("12"), D("1"))]
    book.feed(9, 9, 8, [["9", "0"], ["8", "0"]], [])  # removing an absent level is normal
    assert book.bids == [(D("10"), D("2"))]
    with pytest.raises(BookError, match="follows 7, not 9"):
        book.feed(10, 10, 7, [], [])
    stale = OrderBook("t")
    stale.feed(20, 21, 19, [], [])
    with pytest.raises(BookError, match="does not cover snapshot 10"):
        stale.load([], [], 10)  # the snapshot is older than the first buffered diff
