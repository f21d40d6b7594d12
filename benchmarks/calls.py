"""Calls: import time, a signed call in sequence, calls in flight (async), regeneration.

Each figure is a ratio against a peer measured side by side in the same run (medians of
interleaved rounds). Peers of the async case: raw aiohttp (signed as cambist's calls are:
hmac of the query, orjson, the same header), ccxt 4.5.90's HashKey (implicit API and unified
``fetch_order``) pointed at the loopback server, httpx.

Run alone: python benchmarks/run.py --only calls [--quick] (or --only import / requests),
or python benchmarks/calls.py [--quick]
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from _common import HERE, BenchServer, goal, report, rounds

KEY, SECRET = "bench-key", "bench-secret"
ORDER_ID = "2108873672953505280"


def _ungoverned() -> Any:
    """The rate-limit governor off (HashKey's documented 2 queries/s would pace the loop), as
    ccxt's ``enableRateLimit=False`` below: throughput of the calls themselves."""
    from cambist.ratelimit import RateLimits

    return RateLimits(enabled=False)


# -- import time ----------------------------------------------------------------------------


def _import_cost(code: str) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    return run


def bench_import(n: int, url: str) -> None:
    first_call = (  # what a first call still has to load (the core, httpx), then one call
        f"from cambist.hashkey import HashKey; HashKey(base_url={url!r}).misc.get_server_time()"
    )
    floor_call = f"import httpx, orjson; orjson.loads(httpx.get({url!r} + '/api/v1/time').content)"
    medians = rounds(
        {
            "python -c pass": _import_cost("pass"),
            "import httpx": _import_cost("import httpx"),
            "import httpx, orjson": _import_cost("import httpx, orjson"),
            "import cambist.hashkey": _import_cost("import cambist.hashkey"),
            "import cambist.hashkey; HashKey()": _import_cost(
                "from cambist.hashkey import HashKey; HashKey()"
            ),
            "import cambist.hashkey; AsyncHashKey()": _import_cost(
                "from cambist.hashkey import AsyncHashKey; AsyncHashKey()"
            ),
            "import httpx, orjson; one GET": _import_cost(floor_call),
            "import cambist.hashkey; HashKey(); one GET": _import_cost(first_call),
        },
        n,
    )
    bare = medians.pop("python -c pass")
    above = {name: value - bare for name, value in medians.items()}
    print("\nImport time, above bare `python -c pass`")
    base = above["import httpx"]
    for name, value in above.items():
        print(f"  {name:<48} {value * 1e3:7.1f} ms   {value / base:5.2f}x import httpx")
    goal("import cambist.hashkey / import httpx", above["import cambist.hashkey"] / base, 0.5)
    goal(
        "import + first HashKey() / import httpx, orjson",
        above["import cambist.hashkey; HashKey()"] / above["import httpx, orjson"],
        1.5,
    )
    first = above["import cambist.hashkey; HashKey(); one GET"]
    print(
        f"  (a first call, imports included: {first / above['import httpx, orjson; one GET']:.2f}x"
        " the same GET with httpx + orjson)"
    )


# -- a signed call, one at a time ---------------------------------------------------------------


def bench_signed_get(url: str, n: int, calls: int) -> None:
    from cambist.hashkey import HashKey

    raw = httpx.Client()
    hk = HashKey(api_key=KEY, api_secret=SECRET, base_url=url, rate_limits=_ungoverned())
    hk.spot.get_order(order_id=ORDER_ID)  # connect and sync the clock first
    raw.get(url + "/api/v1/time")

    def handwritten() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            query = f"orderId={ORDER_ID}&timestamp={int(time.time() * 1000)}"
            sig = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
            r = raw.get(
                f"{url}/api/v1/spot/order?{query}&signature={sig}", headers={"X-HK-APIKEY": KEY}
            )
            json.loads(r.content)
        return (time.perf_counter() - start) / calls

    def cambist() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            hk.spot.get_order(order_id=ORDER_ID)
        return (time.perf_counter() - start) / calls

    floor = "hand-written httpx + hmac + json"
    ours = "cambist HashKey.spot.get_order (typed Order)"
    medians = rounds({floor: handwritten, ours: cambist}, n)
    report("Signed GET, one kept-alive connection, per call", medians, floor)
    goal(
        "signed sequential call / hand-written httpx floor",
        medians[ours] / medians[floor],
        1.10,
    )
    hk.close()
    raw.close()


# -- async: calls in flight through one client ------------------------------------------------

Call = Callable[[], Awaitable[Any]]
Setup = Callable[[str], Awaitable[tuple[Call, Callable[[], Awaitable[None]]]]]


def _signed_query() -> str:
    query = f"orderId={ORDER_ID}&timestamp={int(time.time() * 1000)}"
    sig = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}"


async def _raw_aiohttp(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import aiohttp
    import orjson

    session = aiohttp.ClientSession()
    headers = {"X-HK-APIKEY": KEY}

    async def call() -> Any:
        async with session.get(f"{url}/api/v1/spot/order?{_signed_query()}", headers=headers) as r:
            return orjson.loads(await r.read())

    return call, session.close


async def _raw_httpx(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import orjson

    client = httpx.AsyncClient()
    headers = {"X-HK-APIKEY": KEY}

    async def call() -> Any:
        r = await client.get(f"{url}/api/v1/spot/order?{_signed_query()}", headers=headers)
        return orjson.loads(r.content)

    return call, client.aclose


def _ccxt(url: str) -> Any:
    import ccxt.async_support as ccxt  # type: ignore[import-untyped]

    exchange = ccxt.hashkey({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
    exchange.urls["api"] = {"public": url, "private": url}
    return exchange


async def _ccxt_implicit(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    exchange = _ccxt(url)

    async def call() -> Any:
        return await exchange.privateGetApiV1SpotOrder({"orderId": ORDER_ID})

    return call, exchange.close


async def _ccxt_unified(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    exchange = _ccxt(url)
    exchange.set_markets(  # what load_markets would read from exchange information
        [
            {
                "id": "BTCUSDT",
                "symbol": "BTC/USDT",
                "base": "BTC",
                "quote": "USDT",
                "baseId": "BTC",
                "quoteId": "USDT",
                "type": "spot",
                "spot": True,
                "active": True,
                "precision": {"amount": 0.00001, "price": 0.01},
                "limits": {},
            }
        ]
    )

    async def call() -> Any:
        return await exchange.fetch_order(ORDER_ID)

    return call, exchange.close


def _cambist(transport: str) -> Setup:
    async def setup(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
        from cambist.hashkey import AsyncHashKey

        http = httpx.AsyncClient() if transport == "httpx" else None
        hk = AsyncHashKey(
            api_key=KEY,
            api_secret=SECRET,
            base_url=url,
            http_client=http,
            rate_limits=_ungoverned(),
        )

        async def close() -> None:
            await hk.aclose()
            if http is not None:
                await http.aclose()

        return (lambda: hk.spot.get_order(order_id=ORDER_ID)), close

    return setup


def _in_flight(setup: Setup, url: str, calls: int, width: int) -> Callable[[], float]:
    """Calls per second with ``width`` calls in flight (one new asyncio loop per round)."""

    async def main() -> float:
        call, close = await setup(url)
        try:
            await asyncio.gather(*(call() for _ in range(width)))  # connect, sync the clock
            start = time.perf_counter()
            for _ in range(calls // width):
                await asyncio.gather(*(call() for _ in range(width)))
            return (calls // width * width) / (time.perf_counter() - start)
        finally:
            await close()

    return lambda: asyncio.run(main())


CAMBIST = "cambist AsyncHashKey.spot.get_order (default)"
CAMBIST_HTTPX = "cambist, http_client=httpx.AsyncClient()"
RAW_AIOHTTP = "raw aiohttp (signed, orjson)"
CCXT_IMPLICIT = "ccxt privateGetApiV1SpotOrder (implicit)"


def _peers() -> dict[str, Setup]:
    peers: dict[str, Setup] = {
        RAW_AIOHTTP: _raw_aiohttp,
        "raw httpx.AsyncClient (signed, orjson)": _raw_httpx,
        CAMBIST: _cambist("default"),
        CAMBIST_HTTPX: _cambist("httpx"),
    }
    try:
        import ccxt  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        print("\n(ccxt not installed: its rows are skipped; nox -s bench installs it)")
    else:
        peers[CCXT_IMPLICIT] = _ccxt_implicit
        peers["ccxt fetch_order (unified)"] = _ccxt_unified
    return peers


def bench_async(url: str, n: int, calls: int) -> None:
    try:
        import aiohttp  # noqa: F401  # the floor these cases are measured against
    except ImportError:
        print("\n(aiohttp not installed: the async cases are skipped; nox -s bench installs it)")
        return
    peers = _peers()
    medians = rounds({name: _in_flight(s, url, calls, 50) for name, s in peers.items()}, n)
    report(
        "Async, 50 calls in flight through one client, calls per second (higher is better)",
        medians,
        RAW_AIOHTTP,
        unit="calls/s",
    )
    if CCXT_IMPLICIT in medians:
        goal(
            "async 50 in flight: cambist / ccxt implicit",
            medians[CAMBIST] / medians[CCXT_IMPLICIT],
            1.0,
            higher_is_better=True,
        )
    goal(
        "async 50 in flight: cambist / raw aiohttp",
        medians[CAMBIST] / medians[RAW_AIOHTTP],
        0.70,
        higher_is_better=True,
    )
    one = {
        name: _in_flight(peers[name], url, calls // 10, 1)
        for name in (RAW_AIOHTTP, CAMBIST, CAMBIST_HTTPX)
    }
    medians = rounds(one, n)
    report("Async, one call in flight, calls per second", medians, RAW_AIOHTTP, unit="calls/s")
    goal(  # the default before aiohttp was httpx's own transport
        "async 1 in flight: cambist default / on httpx.AsyncClient",
        medians[CAMBIST] / medians[CAMBIST_HTTPX],
        1.0,
        higher_is_better=True,
    )


# -- regeneration ---------------------------------------------------------------------------


def bench_regenerate(n: int) -> None:
    """``python -m codegen --check``: every spec rendered, formatted and compared."""

    def run() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "codegen", "--check"], check=True, cwd=HERE.parent)
        return time.perf_counter() - start

    seconds = rounds({"regenerate": run}, n)["regenerate"]
    print(f"\nRegeneration (python -m codegen --check): {seconds:.2f} s")
    goal("regeneration (python -m codegen --check)", seconds, 2.0, unit="s")


def run_all(n: int) -> None:
    """Every case of this module, on one loopback server."""
    bench_regenerate(max(1, n // 5))
    with BenchServer() as url:
        bench_import(n, url)
        bench_signed_get(url, n, 200)
        bench_async(url, max(3, n // 3), 2000)


if __name__ == "__main__":  # python benchmarks/calls.py [--quick]
    from _common import print_goals

    run_all(5 if "--quick" in sys.argv else 15)
    print_goals()
