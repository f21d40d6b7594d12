"""What ``check_orders=True`` costs an order: the same signed order with and without the
check against its market (loaded once, then cached), on one kept-alive loopback connection."""

from __future__ import annotations

import time
from decimal import Decimal

from _common import goal, report, rounds

KEY, SECRET = "bench-key", "bench-secret"


def bench_check_orders(url: str, n: int, calls: int) -> None:
    from cambist.hashkey import HashKey
    from cambist.ratelimit import RateLimits

    off = RateLimits(enabled=False)  # HashKey's documented 10 orders/s would pace the loop
    plain = HashKey(api_key=KEY, api_secret=SECRET, base_url=url, rate_limits=off)
    checked = HashKey(
        api_key=KEY, api_secret=SECRET, base_url=url, check_orders=True, rate_limits=off
    )
    order = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": Decimal("0.0123"),
        "price": Decimal("85000.01"),
    }
    for client in (plain, checked):  # connect, sync the clock, load the markets
        client.spot.test_order(**order)  # type: ignore[arg-type]

    def run(client: HashKey) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            client.spot.test_order(**order)  # type: ignore[arg-type]
        return (time.perf_counter() - start) / calls

    medians = rounds(
        {
            "test_order (check_orders off)": lambda: run(plain),
            "test_order (check_orders=True)": lambda: run(checked),
        },
        n,
    )
    report(
        "Signed order with its market checked first, per call (goal: at most 1.05x)",
        medians,
        "test_order (check_orders off)",
    )
    # The end-to-end difference is inside a loaded machine's run-to-run noise; the goal takes
    # the check itself (the cached market's look-up and every rule), timed over many calls.
    # Per order, check_orders reads the exchange's time (the windows) and the side too.
    get_market = checked.get_market
    server_ms = checked._core.clock.timestamp

    def check_only() -> float:
        start = time.perf_counter()
        for _ in range(calls * 20):
            get_market("BTCUSDT").check(
                price=order["price"], quantity=order["quantity"], side="BUY", now=server_ms()
            )
        return (time.perf_counter() - start) / (calls * 20)

    check = rounds({"check": check_only}, n)["check"]
    call = medians["test_order (check_orders off)"]
    print(f"  the check alone: {check * 1e6:.1f} us per order, {check / call:.1%} of a call")
    goal("check_orders cost on a signed order", (call + check) / call, 1.05)
    plain.close()
    checked.close()


if __name__ == "__main__":
    from _common import BenchServer, print_goals

    with BenchServer() as url:
        bench_check_orders(url, 5, 200)
    print_goals()
