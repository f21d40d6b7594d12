"""cambist benchmarks: each figure is a ratio against a baseline measured side by side, in the
same run, as medians of interleaved rounds.

Run: nox -s bench   (or python benchmarks/run.py [--quick] [--only calls,decode,streams,limits,...])

Topics live beside this file: ``calls.py`` (import time, a signed call, calls in flight
against raw aiohttp and ccxt, regeneration), ``decode.py`` (REST answers -> models),
``streams.py`` (pushes, one push per exchange, memory under a push load), ``governor.py``
(the rate-limit governor), ``markets.py`` (checking orders against their markets).
"""

from __future__ import annotations

import argparse
import sys

import calls
import httpx
from _common import BenchServer, print_goals
from decode import bench_decode
from governor import bench_governor
from markets import bench_check_orders
from streams import bench_memory, bench_single_frames, bench_streams

CASES = ("import", "decode", "streams", "memory", "requests", "limits", "markets", "calls")
"""What ``--only`` may name (comma-separated): each runs its cases alone, e.g. while measuring.
``calls`` is every case of ``calls.py``: ``import`` (import time, regeneration) and
``requests`` (a signed call, calls in flight)."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--only", help=f"run only these cases (comma-separated): {CASES}")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else set(CASES) - {"calls"}
    unknown = only - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose among {CASES}")
    if "calls" in only:
        only |= {"import", "requests"}
    n = 5 if args.quick else 15
    print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}; medians of {n} rounds")
    with BenchServer() as url:
        if "import" in only:
            calls.bench_regenerate(max(1, n // 5))
            calls.bench_import(n, url)
        if "decode" in only:
            bench_decode(n * 2)
        if "streams" in only:
            bench_streams(n)
            bench_single_frames(n)
        if "memory" in only:
            bench_memory(seconds=10 if args.quick else 30, warmup=3 if args.quick else 10)
        if "requests" in only:
            calls.bench_signed_get(url, n, 200)
            calls.bench_async(url, max(3, n // 3), 2000)
        if "limits" in only:
            bench_governor(url, n, 200)
        if "markets" in only:
            bench_check_orders(url, n, 200)
    print_goals()


if __name__ == "__main__":
    main()
