"""Stream pushes (issue 12 goals 2 and 6).

- Parse + dispatch + local-book update of pushes, per frame, against the limit measured side
  by side: msgspec decoding the same frames into structs with ``Decimal`` fields (derived from
  the channel's spec model, as in ``decode.py``), and, where cambist keeps a book, the least
  book on the baseline's side too (:func:`reference_book`: the work is counted on both sides;
  the ratio to decoding alone is printed beside it). HashKey V2 and V1 depth (20 levels a side,
  a snapshot book), V2 trades, Bibox's order book (a full book, then increments). The engine
  is fed as the connection feeds it (``_on_frame``, text frames), and a consumer keeps up
  (events taken as they come), as the baseline keeps nothing either.
- One frame, per exchange: the same push decoded again and again (no book), in microseconds.
- Bounded memory: a loopback WebSocket server (``push_server.py``, its own process) pushes
  HashKey V2 depth as fast as it can for a fixed time to a real ``AsyncHashKey`` stream with
  its local book; resident memory is sampled every second, and the goal compares the last
  sample with the first one after warm-up.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from operator import attrgetter
from typing import Any

import orjson
from _common import HERE, free_port, goal, report, rounds
from decode import baseline_decoder

LIMIT = 1.5
"""Goal 2: at most this many times msgspec + Decimal."""


def stream_frames(count: int) -> dict[str, list[str]]:
    """HashKey V2 and V1 depth, V2 trades and Bibox order-book pushes, from the local
    exchanges' synthetic market (seeded: the same frames every run)."""
    from cambist.testing._market import Market

    market = Market({"BTCUSDT": Decimal("60000.00")}, seed=3)
    book = market.books["BTCUSDT"]
    out: dict[str, list[str]] = {"v2": [], "v1": [], "trades": [], "bibox": []}

    def levels(items: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
        return [[str(p), str(q)] for p, q in items]

    bids, asks = book.top(20)
    out["bibox"].append(  # the first push after subscribing: the whole book
        json.dumps(
            {
                "stream": "BTC_USDT.order_book.20",
                "data": {"i": "0", "t": "0", "b": levels(bids), "a": levels(asks)},
            }
        )
    )
    for _ in range(count):
        change = market.step("BTCUSDT")
        bids, asks = book.top(20)
        version = f"{change.version}_1"
        data = {"s": "BTCUSDT", "t": change.time, "v": version}
        out["v2"].append(
            json.dumps(
                {
                    "topic": "depth",
                    "params": {"symbol": "BTCUSDT"},
                    "data": {**data, "b": levels(bids), "a": levels(asks)},
                }
            )
        )
        out["v1"].append(
            json.dumps(
                {
                    "symbol": "BTCUSDT",
                    "symbolName": "BTCUSDT",
                    "topic": "depth",
                    "params": {"realtimeInterval": "24h", "binary": "false"},
                    "data": [{"e": 301, **data, "b": levels(bids), "a": levels(asks)}],
                    "f": False,
                    "sendTime": change.time,
                }
            )
        )
        trade = {"v": str(change.version), "t": change.time, "p": str(bids[0][0]), "q": "0.0123"}
        out["trades"].append(
            json.dumps(
                {
                    "topic": "trade",
                    "params": {"symbol": "BTCUSDT"},
                    "data": {**trade, "m": True},
                }
            )
        )
        out["bibox"].append(
            json.dumps(
                {
                    "stream": "BTC_USDT.order_book.20",
                    "data": {
                        "i": str(change.version),
                        "t": str(change.time),
                        "b": levels(change.bids),
                        "a": levels(change.asks),
                    },
                }
            )
        )
    return out


def reference_book(channel: Any) -> Callable[[Any], None]:
    """The least keeping a local book costs, added to the baseline of a case with a book so
    both sides do the same work: the decoded struct's levels taken as they are for a
    snapshot channel (every push is the whole book), and for an incremental one the first
    push's levels in a dict per side, later levels set (quantity 0: popped) by price. No
    version, order or crossed-book checks (cambist's book makes them)."""
    spec = channel.book
    paths = [[p if type(p) is int else f"f_{p}" for p in path] for path in spec.event_paths[:2]]
    if all(type(p) is str for path in paths for p in path):
        read: Callable[[Any], Any] = attrgetter(*(".".join(path) for path in paths))
    else:  # a list index in the path (HashKey V1: data[0])

        def read(struct: Any) -> Any:
            out = []
            for path in paths:
                value = struct
                for part in path:
                    value = value[part] if type(part) is int else getattr(value, part)
                out.append(value)
            return out

    if spec.mode == "snapshot":
        kept: list[Any] = []

        def snapshot(struct: Any) -> None:
            kept[:] = read(struct)

        return snapshot
    sides: list[dict[Decimal, Decimal]] = []

    def incremental(struct: Any) -> None:
        levels = read(struct)
        if not sides:
            sides.extend({lv.f_price: lv.f_quantity for lv in side} for side in levels)
            return
        for side, changes in zip(sides, levels, strict=True):
            for lv in changes:
                quantity = lv.f_quantity
                if quantity:
                    side[lv.f_price] = quantity
                else:
                    side.pop(lv.f_price, None)

    return incremental


def _engine(definition: Any, channel: Any, values: dict[str, object], book: bool) -> Any:
    from cambist._runtime.book import OrderBook
    from cambist._runtime.wire import make_subscription
    from cambist._runtime.ws import StreamEngine
    from cambist.streams import StreamOptions

    e = StreamEngine(
        definition, base_url="ws://unused", credentials=None, rest=None, options=StreamOptions()
    )
    sub = make_subscription(definition, channel, values)
    e._subs[sub.key] = sub
    if book:
        e.books[sub.key] = OrderBook()
    return e


def _cases() -> list[tuple[str, list[str], Any, Any, dict[str, object], bool, str, str]]:
    from cambist.bibox.streams.market import MARKET
    from cambist.hashkey.streams.public import PUBLIC
    from cambist.hashkey.streams.public_v1 import PUBLIC_V1

    frames = stream_frames(2000)
    symbol = {"symbol": "BTCUSDT"}
    return [
        (
            "HashKey V2 depth + book",
            frames["v2"],
            PUBLIC,
            "depth",
            symbol,
            True,
            "hashkey",
            "DepthUpdate",
        ),
        (
            "HashKey V1 depth + book",
            frames["v1"],
            PUBLIC_V1,
            "depth",
            symbol,
            True,
            "hashkey",
            "DepthUpdateV1",
        ),
        (
            "HashKey V2 trades",
            frames["trades"],
            PUBLIC,
            "trade",
            symbol,
            False,
            "hashkey",
            "TradeUpdate",
        ),
        (
            "Bibox order book (full, then increments) + book",
            frames["bibox"],
            MARKET,
            "order_book",
            {"symbol": "BTC_USDT", "depth": 20},
            True,
            "bibox",
            "OrderBookUpdate",
        ),
    ]


def bench_streams(n: int) -> None:
    for title, frames, definition, name, values, book, exchange, model in _cases():
        channel = definition.channels[name]
        baseline = baseline_decoder(exchange, model)
        probe = _engine(definition, channel, values, book)
        for frame in frames:
            assert probe._on_fast(frame) is not None, f"{title}: a push left the fast path"
        assert not probe.books or next(iter(probe.books.values())).synced

        def ours(
            frames: list[str] = frames,
            definition: Any = definition,
            channel: Any = channel,
            values: dict[str, object] = values,
            book: bool = book,
        ) -> float:
            e = _engine(definition, channel, values, book)
            on_frame, events = e._on_frame, e._events
            start = time.perf_counter()
            for frame in frames:
                on_frame(frame)
                events.clear()  # a consumer keeping up
            elapsed = time.perf_counter() - start
            assert e._dropped == 0 and not any(b.version is None for b in e.books.values())
            return elapsed

        def limit(frames: list[str] = frames, decode: Callable[[Any], Any] = baseline) -> float:
            start = time.perf_counter()
            for frame in frames:
                decode(frame)
            return time.perf_counter() - start

        def limit_book(
            frames: list[str] = frames, decode: Callable[[Any], Any] = baseline, ch: Any = channel
        ) -> float:
            apply = reference_book(ch)
            start = time.perf_counter()
            for frame in frames:
                apply(decode(frame))
            return time.perf_counter() - start

        def plain(frames: list[str] = frames) -> float:
            start = time.perf_counter()
            for frame in frames:
                orjson.loads(frame)
            return time.perf_counter() - start

        candidates = {"msgspec + Decimal (structs)": limit}
        if book:  # the book counted on both sides: the baseline keeps the least book too
            candidates["msgspec + Decimal + a dict book"] = limit_book
        candidates["orjson.loads (dicts, floats)"] = plain
        candidates["cambist parse + dispatch (+ book)"] = ours
        medians = rounds(candidates, n)
        base = "msgspec + Decimal + a dict book" if book else "msgspec + Decimal (structs)"
        report(f"Stream: {title}, {len(frames)} frames", medians, base)
        per = medians["cambist parse + dispatch (+ book)"] / len(frames)
        print(f"  -> {per * 1e6:.1f} us a push, {1 / per:,.0f} pushes/s on one core")
        if book:
            decode_only = (
                medians["cambist parse + dispatch (+ book)"]
                / medians["msgspec + Decimal (structs)"]
            )
            print(f"  -> {decode_only:.2f}x decoding alone (no book on the baseline's side)")
        ratio = medians["cambist parse + dispatch (+ book)"] / medians[base]
        goal(f"stream {title} / msgspec+Decimal{' + book' if book else ''}", ratio, LIMIT)


def bench_single_frames(n: int) -> None:
    """One push per exchange, decoded again and again (parse + dispatch, no book)."""
    from cambist.bibox.streams.market import MARKET
    from cambist.binance_options.streams.public import PUBLIC as BINANCE
    from cambist.hashkey.streams.public import PUBLIC

    frames = stream_frames(1)
    binance = json.dumps(
        {
            "stream": "BTC-250328-90000-C@optionTrade",
            "data": {
                "e": "trade",
                "E": 1591677941092,
                "T": 1591677567872,
                "s": "BTC-250328-90000-C",
                "t": 1,
                "p": "1000.0",
                "q": "0.1",
                "X": "MARKET",
                "S": "BUY",
                "m": True,
            },
        }
    )
    cases = [
        (
            "hashkey",
            "V2 depth (20 levels a side)",
            frames["v2"][0],
            PUBLIC,
            "depth",
            {"symbol": "BTCUSDT"},
            "DepthUpdate",
        ),
        (
            "bibox",
            "order book (20 levels a side)",
            frames["bibox"][0],
            MARKET,
            "order_book",
            {"symbol": "BTC_USDT", "depth": 20},
            "OrderBookUpdate",
        ),
        (
            "binance_options",
            "trade",
            binance,
            BINANCE,
            "trade",
            {"symbol": "BTC-250328-90000-C"},
            "TradeUpdate",
        ),
    ]
    repeat = 2000
    print("\nOne push, per exchange (parse + dispatch, no book): microseconds a push")
    for exchange, what, frame, definition, name, values, model in cases:
        channel = definition.channels[name]
        e = _engine(definition, channel, values, False)
        fast = e._on_fast(frame) is not None
        baseline = baseline_decoder(exchange, model)

        def ours(e: Any = e, frame: str = frame) -> float:
            on_frame, events = e._on_frame, e._events
            start = time.perf_counter()
            for _ in range(repeat):
                on_frame(frame)
                events.clear()
            return time.perf_counter() - start

        def limit(frame: str = frame, decode: Callable[[Any], Any] = baseline) -> float:
            start = time.perf_counter()
            for _ in range(repeat):
                decode(frame)
            return time.perf_counter() - start

        medians = rounds({"limit": limit, "ours": ours}, n)
        ratio = medians["ours"] / medians["limit"]
        print(
            f"  {exchange:<16} {what:<32} cambist {medians['ours'] / repeat * 1e6:6.1f} us, "
            f"msgspec + Decimal {medians['limit'] / repeat * 1e6:6.1f} us: {ratio:4.2f}x"
            f"{'' if fast else '  (general path!)'}"
        )
        goal(f"one push ({exchange} {what}) / msgspec+Decimal", ratio, LIMIT)


# -- goal 6: memory under a push load -------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource

    return pages * resource.getpagesize() / 2**20


def bench_memory(seconds: float, warmup: float) -> None:
    """A real WebSocket on loopback pushing depth as fast as the server can for ``seconds``:
    resident memory sampled every second stays flat after ``warmup`` seconds."""
    from cambist.hashkey import AsyncHashKey
    from cambist.hashkey.models import DepthUpdate

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "push_server.py"), str(port)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    samples: list[tuple[float, float, int]] = []

    async def run() -> None:
        ws = {"ws": f"ws://127.0.0.1:{port}"}
        async with AsyncHashKey(ws_urls=ws, time_sync=False) as hk, hk.streams.public() as s:
            await s.subscribe_depth(symbol="BTCUSDT")
            start = last = time.perf_counter()
            count = 0
            async for event in s:
                if isinstance(event, DepthUpdate):
                    count += 1
                now = time.perf_counter()
                if now - last >= 1.0:
                    last = now
                    samples.append((now - start, _rss_mb(), count))
                    if now - start >= seconds:
                        break
            book = s.book(symbol="BTCUSDT")
            assert book.synced and book.best_bid() is not None

    try:
        asyncio.run(run())
    finally:
        server.terminate()
        server.wait()
    print(f"\nMemory under a depth push load ({seconds:.0f} s over loopback, book kept)")
    previous = 0
    for at, rss, count in samples:
        print(f"  {at:5.1f} s  RSS {rss:7.1f} MB  {count - previous:7,d} pushes/s")
        previous = count
    after = [rss for at, rss, _ in samples if at >= warmup]
    base = after[0]
    last, most = after[-1], max(after)
    print(
        f"  after {warmup:.0f} s of warm-up: {base:.1f} MB; last {last:.1f} MB; max {most:.1f} MB"
    )
    goal("stream memory: last RSS / RSS after warm-up", after[-1] / base, 1.05)
