"""cambist benchmarks: each figure is a ratio against a baseline measured side by side, in the
same run, as medians of interleaved rounds.

Run: nox -s bench   (or python benchmarks/run.py [--quick] [--only decode,streams,limits,...])

Topics live beside this file: ``decode.py`` (REST answers -> models), ``streams.py`` (pushes,
one push per exchange, memory under a push load), ``governor.py`` (the rate-limit
governor), ``markets.py``; import time and requests are here.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
from _common import BenchServer, print_goals, report, rounds
from decode import bench_decode
from governor import bench_governor
from markets import bench_check_orders
from streams import bench_memory, bench_single_frames, bench_streams

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


CASES = ("import", "decode", "streams", "memory", "requests", "limits", "markets")
"""What ``--only`` may name (comma-separated): each runs its cases alone, e.g. while measuring."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--only", help=f"run only these cases (comma-separated): {CASES}")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else set(CASES)
    unknown = only - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose among {CASES}")
    n = 5 if args.quick else 15
    print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}; medians of {n} rounds")
    if "import" in only:
        bench_import(n)
    if "decode" in only:
        bench_decode(n * 2)
    if "streams" in only:
        bench_streams(n)
        bench_single_frames(n)
    if "memory" in only:
        bench_memory(seconds=10 if args.quick else 30, warmup=3 if args.quick else 10)
    if "requests" in only:
        with BenchServer() as url:
            bench_signed_get(url, n, 200)
            bench_async(url, max(3, n // 3), 2000)
    if "limits" in only:
        with BenchServer() as url:
            bench_governor(url, n, 200)
    if "markets" in only:
        with BenchServer() as url:
            bench_check_orders(url, n, 200)
    print_goals()


if __name__ == "__main__":
    main()
