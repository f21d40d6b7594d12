"""The rate-limit governor's cost per signed call: in-process (goal: under 5% of a signed call
on loopback), and, reported apart, with the budgets in Redis (one script per call: a round
trip to a local redis-server, started here when the binary exists)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

from _common import free_port, goal, report, rounds

from cambist.hashkey import HashKey
from cambist.ratelimit import RateLimits

KEY = "bench-key"
SECRET = "bench-secret"
ORDER_ID = "2108873672953505280"
UNBOUNDED = {"queries": 10**12}  # the documented 2/s would pace the loop: spend, never wait


def _client(url: str, **limits: Any) -> HashKey:
    hk = HashKey(api_key=KEY, api_secret=SECRET, base_url=url, rate_limits=RateLimits(**limits))
    hk.spot.get_order(order_id=ORDER_ID)  # connect and sync the clock first
    return hk


def _per_call(hk: HashKey, calls: int) -> Callable[[], float]:
    def run() -> float:
        get_order = hk.spot.get_order
        start = time.perf_counter()
        for _ in range(calls):
            get_order(order_id=ORDER_ID)
        return (time.perf_counter() - start) / calls

    return run


def _spend_only(hk: HashKey, calls: int) -> Callable[[], float]:
    """The in-process governor's spend for ``spot.get_order``, as the request core runs it
    before each send (no I/O: the local store answers without yielding)."""
    from cambist.hashkey import ENDPOINTS

    core = hk._core
    governor = core.governor
    assert governor is not None
    ep = next(e for e in ENDPOINTS if e.name == "spot.get_order")
    values = {"order_id": ORDER_ID}

    def run() -> float:
        spend = governor.spend
        far = core.time.monotonic() + 1e9
        start = time.perf_counter()
        for _ in range(calls):
            for _ in spend(ep, values, True, far):
                raise AssertionError("the in-process governor never waits here")
        return (time.perf_counter() - start) / calls

    return run


class _Redis:
    def __enter__(self) -> str | None:
        binary = shutil.which("redis-server")
        if binary is None:
            self.proc = None
            return None
        port = free_port()
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.01)
        return f"redis://127.0.0.1:{port}/0"

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()


def bench_governor(url: str, n: int, calls: int) -> None:
    off = _client(url, enabled=False)
    local = _client(url, limits=UNBOUNDED)
    medians = rounds(
        {
            "signed GET, governor off": _per_call(off, calls),
            "signed GET, governor in-process": _per_call(local, calls),
        },
        n,
    )
    report(
        "Rate-limit governor, per signed call (goal: in-process at most 1.05x)",
        medians,
        "signed GET, governor off",
    )
    # The end-to-end difference (a few us) is far inside the run-to-run noise of a ~0.5 ms
    # call on a loaded machine, so the goal takes the governor's own spend, timed over many
    # calls in the same run, as a share of the signed call without it.
    spend = rounds({"spend": _spend_only(local, calls * 20)}, n)["spend"]
    call = medians["signed GET, governor off"]
    print(
        f"  the governor's spend alone: {spend * 1e6:.1f} us per call, {spend / call:.1%} of a call"
    )
    goal("rate-limit governor in-process, per signed call", (call + spend) / call, 1.05)
    with _Redis() as redis_url:
        if redis_url is None:
            print("  (no redis-server binary: the Redis round trip is not measured)")
            return
        shared = _client(url, limits=UNBOUNDED, redis=redis_url)
        medians = rounds(
            {
                "signed GET, governor off": _per_call(off, calls),
                "signed GET, governor in Redis": _per_call(shared, calls),
            },
            n,
        )
        report(
            "Rate-limit governor in Redis (one script per call), per signed call (reported)",
            medians,
            "signed GET, governor off",
        )
        extra = medians["signed GET, governor in Redis"] - medians["signed GET, governor off"]
        print(f"  Redis round trip per call: {extra * 1e6:.0f} us")
        shared.close()
    off.close()
    local.close()
