"""cambist benchmarks: each figure is a ratio against a baseline measured side by side, in the
same run, as medians of interleaved rounds.

Run: nox -s bench   (or python benchmarks/run.py [--quick])
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import orjson
from _common import BenchServer, print_goals, report, rounds
from governor import bench_governor
from markets import bench_check_orders

from cambist.ratelimit import RateLimits

# -- import time ----------------------------------------------------------------------------


def _import_cost(code: str) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    return run


def bench_import(n: int) -> None:
    medians = rounds(
        {
            "python -c pass": _import_cost("pass"),
            "import httpx": _import_cost("import httpx"),
            "import cambist.hashkey": _import_cost("import cambist.hashkey"),
            "import cambist.hashkey; HashKey() (loads httpx)": _import_cost(
                "from cambist.hashkey import HashKey; HashKey()"
            ),
        },
        n,
    )
    bare = medians["python -c pass"]
    print("\nImport time, above bare `python -c pass` (goal: at most 1.5x import httpx)")
    base = medians["import httpx"] - bare
    for name, value in medians.items():
        if name == "python -c pass":
            continue
        print(f"  {name:<48} {(value - bare) * 1e3:7.1f} ms   {(value - bare) / base:5.2f}x")


# -- parsing ----------------------------------------------------------------------------------


def _orders_body(count: int) -> bytes:
    rng = random.Random(7)
    from server import ORDER

    template = json.loads(ORDER)
    orders = []
    for i in range(count):
        order = dict(template)
        order["orderId"] = str(2108873672953505280 + i)
        order["price"] = f"{rng.randint(80000, 90000)}.{rng.randint(0, 99):02d}"
        order["origQty"] = f"0.{rng.randint(1, 99999):05d}"
        order["executedQty"] = rng.choice(["0", order["origQty"]])
        order["status"] = rng.choice(["NEW", "PARTIALLY_FILLED", "FILLED"])
        order["time"] = str(1766133332319 + i)
        orders.append(order)
    return orjson.dumps(orders)


def _klines_body(count: int) -> bytes:
    rng = random.Random(8)
    rows = []
    for i in range(count):
        o = rng.randint(80000, 90000)
        rows.append(
            [
                1766718300000 + i * 60000,
                f"{o}.52",
                f"{o + 5}.1",
                f"{o - 5}.3",
                f"{o}.9",
                f"{rng.random():.5f}",
                1766718359999 + i * 60000,
                f"{rng.random() * 1e4:.7f}",
                rng.randint(1, 500),
                f"{rng.random():.5f}",
                f"{rng.random() * 1e3:.7f}",
            ]
        )
    return orjson.dumps(rows)


def _depth_body(levels: int) -> bytes:
    rng = random.Random(9)
    bids = [[f"{87473 - i}.{rng.randint(0, 99):02d}", f"{rng.random():.5f}"] for i in range(levels)]
    asks = [[f"{87474 + i}.{rng.randint(0, 99):02d}", f"{rng.random():.5f}"] for i in range(levels)]
    return orjson.dumps({"t": 1764059245287, "b": bids, "a": asks})


def bench_parse(n: int) -> None:
    from cambist._runtime.core import CallOptions
    from cambist.hashkey import ENDPOINTS, HashKey

    client = HashKey(time_sync=False)
    core = client._core
    options = CallOptions()
    cases = [
        ("1000 open orders", "spot.list_open_orders", _orders_body(1000), "2.5x"),
        ("1000 klines (array rows)", "market.list_klines", _klines_body(1000), "2x"),
        ("200-level depth", "market.get_depth", _depth_body(200), "4x"),
    ]
    for title, name, body, target in cases:
        ep = next(e for e in ENDPOINTS if e.name == name)

        response = httpx.Response(200, content=body)  # what a call hands the client's core

        def ours(ep: Any = ep, response: httpx.Response = response) -> float:
            start = time.perf_counter()
            core.handle(ep, response, options)
            return time.perf_counter() - start

        def baseline(body: bytes = body) -> float:
            start = time.perf_counter()
            orjson.loads(body)
            return time.perf_counter() - start

        def exact_json(body: bytes = body) -> float:
            start = time.perf_counter()
            json.loads(body, parse_float=Decimal)
            return time.perf_counter() - start

        medians = rounds(
            {
                "orjson.loads (dicts)": baseline,
                "json.loads(parse_float=Decimal) (dicts)": exact_json,
                "cambist: bytes -> typed models": ours,
            },
            n,
        )
        report(f"Parse {title} (goal: at most {target} orjson)", medians, "orjson.loads (dicts)")


# -- requests -----------------------------------------------------------------------------------


KEY, SECRET = "bench-key", "bench-secret"
UNGOVERNED = RateLimits(enabled=False)  # HashKey's documented 2 queries/s would pace the loop


def bench_signed_get(url: str, n: int, calls: int) -> None:
    from cambist.hashkey import HashKey

    raw = httpx.Client()
    hk = HashKey(api_key=KEY, api_secret=SECRET, base_url=url, rate_limits=UNGOVERNED)
    hk.spot.get_order(order_id="2108873672953505280")  # connect and sync the clock first
    raw.get(url + "/api/v1/time")

    def handwritten() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            query = f"orderId=2108873672953505280&timestamp={int(time.time() * 1000)}"
            sig = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
            r = raw.get(
                f"{url}/api/v1/spot/order?{query}&signature={sig}", headers={"X-HK-APIKEY": KEY}
            )
            json.loads(r.content)
        return (time.perf_counter() - start) / calls

    def cambist() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            hk.spot.get_order(order_id="2108873672953505280")
        return (time.perf_counter() - start) / calls

    medians = rounds(
        {
            "hand-written httpx + hmac + json": handwritten,
            "cambist HashKey.spot.get_order (typed Order)": cambist,
        },
        n,
    )
    report(
        "Signed GET, one kept-alive connection, per call (goal: at most 1.10x)",
        medians,
        "hand-written httpx + hmac + json",
    )


def bench_async(url: str, n: int, calls: int) -> None:
    from cambist.hashkey import AsyncHashKey

    async def run_cambist(transport: httpx.AsyncBaseTransport | None) -> float:
        http = httpx.AsyncClient(transport=transport) if transport else None
        async with AsyncHashKey(
            api_key=KEY, api_secret=SECRET, base_url=url, http_client=http, rate_limits=UNGOVERNED
        ) as hk:
            await hk.spot.get_order(order_id="1")
            start = time.perf_counter()
            for _ in range(calls // 50):
                await asyncio.gather(*(hk.spot.get_order(order_id="1") for _ in range(50)))
            elapsed = time.perf_counter() - start
        if http:
            await http.aclose()
        return calls / elapsed

    async def run_httpx() -> float:
        async with httpx.AsyncClient() as client:
            await client.get(url + "/api/v1/time")
            start = time.perf_counter()
            for _ in range(calls // 50):
                await asyncio.gather(
                    *(client.get(url + "/api/v1/spot/order?orderId=1") for _ in range(50))
                )
            return calls / (time.perf_counter() - start)

    candidates: dict[str, Callable[[], float]] = {
        "plain httpx.AsyncClient (unsigned, dicts)": lambda: asyncio.run(run_httpx()),
        "AsyncHashKey on httpx's default transport": lambda: asyncio.run(run_cambist(None)),
    }
    try:
        from httpx_aiohttp import AiohttpTransport  # type: ignore[import-not-found]

        candidates["AsyncHashKey on httpx-aiohttp's transport"] = lambda: asyncio.run(
            run_cambist(AiohttpTransport())
        )
    except ImportError:
        print("\n(httpx-aiohttp not installed: that row is skipped)")
    medians = rounds(candidates, n)
    report(
        "Async throughput, 50 calls in flight, calls per second (higher is better)",
        medians,
        "plain httpx.AsyncClient (unsigned, dicts)",
        unit="calls/s",
    )


# -- streams: parse + dispatch, and order-book updates --------------------------------------


def _stream_frames(count: int) -> tuple[list[str], list[str], list[str]]:
    """HashKey v2 depth and trade pushes, and Bibox order_book changes, from the local
    exchanges' synthetic market (seeded: the same frames every run)."""
    from cambist.testing._market import Market

    market = Market({"BTCUSDT": Decimal("60000.00")}, seed=3)
    depth, trades, deltas = [], [], []
    book = market.books["BTCUSDT"]

    def levels(items: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
        return [[str(p), str(q)] for p, q in items]

    for _ in range(count):
        change = market.step("BTCUSDT")
        bids, asks = book.top(20)
        data = {"s": "BTCUSDT", "t": change.time, "v": f"{change.version}_1"}
        depth.append(
            json.dumps(
                {
                    "topic": "depth",
                    "params": {"symbol": "BTCUSDT"},
                    "data": {**data, "b": levels(bids), "a": levels(asks)},
                }
            )
        )
        trade = {
            "v": str(change.version),
            "t": change.time,
            "p": str(bids[0][0]),
            "q": "0.0123",
            "m": True,
        }
        trades.append(
            json.dumps({"topic": "trade", "params": {"symbol": "BTCUSDT"}, "data": trade})
        )
        deltas.append(
            json.dumps(
                {
                    "stream": "BTCUSDT.order_book.20",
                    "data": {
                        "i": str(change.version),
                        "t": str(change.time),
                        "b": levels(change.bids),
                        "a": levels(change.asks),
                    },
                }
            )
        )
    return depth, trades, deltas


def bench_streams(n: int) -> None:
    from cambist._runtime.wire import make_subscription
    from cambist._runtime.ws import StreamEngine
    from cambist.bibox.streams.market import _ORDER_BOOK, MARKET
    from cambist.hashkey.streams.public import _DEPTH, _TRADE, PUBLIC
    from cambist.streams import StreamOptions

    count = 2000
    depth, trades, deltas = _stream_frames(count)

    def engine(definition: Any, channel: Any, values: dict[str, object]) -> Any:
        e = StreamEngine(
            definition,
            base_url="ws://unused",
            credentials=None,
            rest=None,
            options=StreamOptions(max_buffer=count * 2),
        )
        sub = make_subscription(definition, channel, values)
        e._subs[sub.key] = sub
        return e

    def through(
        frames: list[str], definition: Any, channel: Any, values: dict[str, object], book: bool
    ) -> Callable[[], float]:
        def run() -> float:
            e = engine(definition, channel, values)
            if book:
                from cambist._runtime.book import OrderBook

                key = next(iter(e._subs))
                e.books[key] = OrderBook()
            start = time.perf_counter()
            for frame in frames:
                e._on_frame(frame)
            elapsed = time.perf_counter() - start
            assert len(e._events) == len(frames), "every frame became one event"
            return elapsed

        return run

    def loads(frames: list[str]) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            for frame in frames:
                json.loads(frame)
            return time.perf_counter() - start

        return run

    for title, frames, channel, definition, values, book in (
        (
            "HashKey v2 depth pushes (20 levels a side) -> DepthUpdate + local book",
            depth,
            _DEPTH,
            PUBLIC,
            {"symbol": "BTCUSDT"},
            True,
        ),
        (
            "HashKey v2 trade pushes -> TradeUpdate",
            trades,
            _TRADE,
            PUBLIC,
            {"symbol": "BTCUSDT"},
            False,
        ),
        (
            "Bibox order_book changes -> OrderBookUpdate + incremental book",
            deltas,
            _ORDER_BOOK,
            MARKET,
            {"symbol": "BTCUSDT", "depth": 20},
            True,
        ),
    ):
        if definition is MARKET:  # the first frame must be a full book for the book to sync
            full = json.loads(depth[0])["data"]
            frames = [
                json.dumps(
                    {
                        "stream": "BTCUSDT.order_book.20",
                        "data": {"i": "0", "t": "0", "b": full["b"], "a": full["a"]},
                    }
                ),
                *frames,
            ]
        medians = rounds(
            {
                "json.loads only (baseline)": loads(frames),
                "cambist parse + dispatch": through(frames, definition, channel, values, book),
            },
            n,
        )
        report(f"{title}: {len(frames)} frames", medians, "json.loads only (baseline)")
        rate = len(frames) / medians["cambist parse + dispatch"]
        print(f"  -> {rate:,.0f} messages/s through cambist on one core")

    from cambist._runtime.book import OrderBook

    updates = [json.loads(d)["data"] for d in deltas]
    full = json.loads(depth[0])["data"]

    def apply() -> float:
        b = OrderBook()
        b.replace(full["b"], full["a"], "0")
        start = time.perf_counter()
        for u in updates:
            b.update(u["b"], u["a"], u["i"])
        return time.perf_counter() - start

    elapsed = rounds({"apply": apply}, n)["apply"]
    print(
        f"\nOrder book: {len(updates) / elapsed:,.0f} incremental updates applied per second "
        f"({sum(len(u['b']) + len(u['a']) for u in updates) / len(updates):.1f} levels each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    n = 5 if args.quick else 15
    print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}; medians of {n} rounds")
    bench_import(n)
    bench_parse(n * 4)
    bench_streams(n)
    with BenchServer() as url:
        bench_signed_get(url, n, 200)
        bench_async(url, max(3, n // 3), 2000)
        bench_governor(url, n, 200)
        bench_check_orders(url, n, 200)
    print_goals()


if __name__ == "__main__":
    main()
