"""The rate-limit governor (issue 13 parts 3-5): the documented limits declared in the specs,
spent before sending (waiting within the call's deadline, or raising), following the
server's counters, shared through a real Redis, and enforced by the local exchanges.
Blocking and asyncio clients, on loopback, in fake time where waits are involved."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from cambist import errors
from cambist.binance_options import AsyncBinanceOptions, BinanceOptions
from cambist.binance_options._config import EXCHANGE as BINANCE
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey._config import EXCHANGE as HASHKEY
from cambist.ratelimit import Budget, RateLimits
from cambist.testing import BinanceOptionsExchange, FakeClock, HashKeyExchange
from tests.redis_server import redis_server
from tests.test_faults_rest import Driver as Client

MODES = ["sync", "async"]
START = 1_700_000_040.0  # on a minute's (and a second's) boundary: windows are predictable
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "50000"}


HK = (HashKey, AsyncHashKey)
BN = (BinanceOptions, AsyncBinanceOptions)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=START)


@pytest.fixture
def hx(clock: FakeClock) -> Iterator[HashKeyExchange]:
    with HashKeyExchange(clock=clock, rate_limits=True) as ex:
        yield ex


@pytest.fixture
def bx(clock: FakeClock) -> Iterator[BinanceOptionsExchange]:
    with BinanceOptionsExchange(clock=clock, rate_limits=True) as ex:
        yield ex


def options(ex: Any, clock: FakeClock, **limits: Any) -> dict[str, Any]:
    return {**ex.client_options(), "clock": clock, "rate_limits": RateLimits(**limits)}


def sent(ex: Any, name: str) -> int:
    return sum(1 for c in ex.calls if c.endpoint is not None and c.endpoint.name == name)


# -- the documented limits, in the specs ----------------------------------------------


def test_the_documents_limits_are_declared_with_their_source() -> None:
    hk = {b.name: b for b in HASHKEY.budgets}
    assert (hk["orders"].per, hk["orders"].limit, hk["orders"].interval) == ("key", 10, 1)
    assert hk["orders"].suspend == 60
    assert (hk["queries"].limit, hk["queries"].interval) == (2, 1)
    assert hk["transfer"].limit == 1
    assert all("Order Rate Limiting" in hk[n].source for n in ("orders", "queries"))
    assert hk["orders"].applies("spot.create_order", True)
    assert not hk["queries"].applies("spot.create_order", True)
    assert hk["queries"].applies("account.get_balances", True)
    assert not hk["queries"].applies("market.get_depth", False)  # per key: keyed calls only
    (weight,) = BINANCE.budgets
    assert (weight.per, weight.limit, weight.interval, weight.cost) == ("ip", 2400, 60, "weight")
    assert weight.header == "X-MBX-USED-WEIGHT-1M"
    rules = {r.endpoint: r for r in BINANCE.weight_rules}
    assert rules["market.get_ticker"].weight({}) == 40
    assert rules["market.get_ticker"].weight({"symbol": "BTC-220815-50000-C"}) == 1
    assert rules["market.get_order_book"].weight({"limit": 1000}) == 20
    assert rules["market.get_order_book"].weight({}) == 5


def test_the_pure_core_counts_a_call_in_every_window_the_server_may_count_it_in() -> None:
    from cambist._runtime.governor import Entry, plan, verdict
    from cambist._runtime.limits import Budget

    entry = Entry(Budget("b", "key", 2, 1.0), "p", 2)
    assert [i.key for i in plan((entry,), (1,), 10.5, 0.25)] == ["p:10"]
    assert [i.key for i in plan((entry,), (1,), 10.9, 0.25)] == ["p:10", "p:11"]  # in flight
    items = plan((entry,), (1,), 11.05, 0.35, 0.1)  # the server's clock may be 0.1 s behind
    assert [(i.key, i.ends) for i in items] == [("p:10", 11.1), ("p:11", 12.1)]
    assert verdict(items, [0, 1], 11.05) == (0.0, "")
    wait, name = verdict(items, [2, 0], 11.05)  # until the call cannot land in window 10
    assert name == "b" and wait == pytest.approx(0.05)
    heavy = plan((entry,), (5,), 10.0, 0.0)  # heavier than a window: alone in an empty one
    assert verdict(heavy, [0], 10.0) == (0.0, "") and verdict(heavy, [1], 10.0)[1] == "b"


def test_the_margin_follows_how_long_recent_calls_took() -> None:
    # A request reaches the server between its spend and its answer: when calls take longer
    # than the margin (a slow link), one spent 0.45 s before a window's end may be counted
    # in the next window, so it is paid for there too. The median of the last 32 calls
    # decides: one slow answer (a heavy query) does not cut the order rate.
    from cambist._runtime.clock import ServerClock
    from cambist._runtime.governor import LATE_CAP, Governor
    from cambist.hashkey import ENDPOINTS

    clock = FakeClock(start=START)
    governor = Governor(
        HASHKEY, RateLimits(), api_key="k", clock=clock, server_clock=ServerClock(clock.time)
    )
    order = next(e for e in ENDPOINTS if e.name == "spot.test_order")
    (entry,) = governor.entries(order, True)
    windows = [f"{entry.prefix}:{int(START) + i}" for i in range(3)]

    def spend_at(offset: float) -> list[int]:
        clock.advance(START + offset - clock.time())
        for _ in governor.spend(order, {}, True, clock.monotonic() + 10):
            raise AssertionError("nothing to wait for")  # pragma: no cover
        return [governor.local.count(w) for w in windows]

    def took(*durations: float) -> float:
        for d in durations:
            governor.took(d)
        return governor.late

    assert spend_at(0.5) == [1, 0, 0]  # the margin (0.25 s) is far from the window's end
    assert took(0.01) == 0.25  # faster calls never narrow it
    assert took(*[0.02] * 30, 1.9) == 0.25  # one slow answer among fast ones: unchanged
    assert took(*[0.7] * 20) == 0.7  # a slow link: most calls take 0.7 s
    assert spend_at(0.55) == [2, 1, 0]  # it may land after the window turns
    assert took(*[30.0] * 32) == LATE_CAP  # timeout-long calls widen it only so far
    assert took(*[0.01] * 32) == 0.25  # the slow calls pass out of the recent ones
    assert spend_at(1.5) == [2, 2, 0]


@pytest.mark.parametrize("mode", MODES)
def test_slow_answers_widen_the_margin_of_the_calls_after_them(mode: str) -> None:
    with HashKeyExchange(rate_limits=True) as ex, Client(mode, HK, **ex.client_options()) as c:
        ex.fail("account.get_balances", latency=0.4, times=2)  # a slow link
        c(lambda x: x.account.get_balances())
        c(lambda x: x.account.get_balances())
        assert c.client._core.governor.late >= 0.4  # the margin was 0.25 s


# -- spending before sending ----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_full_budget_waits_for_its_next_window_and_the_server_sees_no_429(
    mode: str, hx: HashKeyExchange, clock: FakeClock
) -> None:
    with Client(mode, HK, **options(hx, clock)) as c:
        for _ in range(5):
            c(lambda x: x.account.get_balances())
    assert clock.sleeps == [1.0, 1.0]  # 2 per second: the 3rd and the 5th wait a window
    assert sent(hx, "account.get_balances") == 5
    assert hx.http.limits is not None and hx.http.limits.refused == []


@pytest.mark.parametrize("mode", MODES)
def test_raise_instead_of_waiting_sends_nothing(
    mode: str, hx: HashKeyExchange, clock: FakeClock
) -> None:
    with Client(mode, HK, **options(hx, clock, on_empty="raise")) as c:
        clock.advance(0.5)
        c(lambda x: x.account.get_balances())
        c(lambda x: x.account.get_balances())
        with pytest.raises(errors.BudgetExhaustedError) as caught:
            c(lambda x: x.account.get_balances())
    err = caught.value
    assert isinstance(err, errors.RateLimitError) and err.local and err.status_code == 0
    assert err.budget == "queries" and err.retry_after == pytest.approx(0.5)
    assert "not sent" in str(err) and "HTTP" not in str(err)
    assert sent(hx, "account.get_balances") == 2
    assert clock.sleeps == []


@pytest.mark.parametrize("mode", MODES)
def test_a_wait_beyond_the_calls_deadline_raises_at_once(
    mode: str, bx: BinanceOptionsExchange, clock: FakeClock
) -> None:
    with Client(mode, BN, **options(bx, clock, limits={"weight": 45})) as c:
        c(lambda x: x.market.get_ticker())  # 40: no symbol
        with pytest.raises(errors.BudgetExhaustedError) as caught:
            c(lambda x: x.market.get_ticker(timeout=30))  # the window turns in 60 s
        assert caught.value.retry_after == pytest.approx(60.0)
        assert sent(bx, "market.get_ticker") == 1
        c(lambda x: x.market.get_ticker(symbol="BTC-220815-50000-C"))  # weight 1 still fits
        c(lambda x: x.market.get_ticker(timeout=90))  # waits for the next minute
    assert clock.sleeps == [pytest.approx(60.0)]
    assert sent(bx, "market.get_ticker") == 3


@pytest.mark.parametrize("mode", MODES)
def test_off_lets_the_exchange_answer_429_then_418_for_keeping_on(
    mode: str, hx: HashKeyExchange, clock: FakeClock
) -> None:
    with Client(mode, HK, **options(hx, clock, enabled=False)) as c:
        clock.advance(0.2)
        c(lambda x: x.account.get_balances())
        c(lambda x: x.account.get_balances())
        with pytest.raises(errors.RateLimitError) as limited:
            c(lambda x: x.account.get_balances())
        assert limited.value.status_code == 429 and limited.value.retry_after == 1
        with pytest.raises(errors.IPBannedError) as banned:
            c(lambda x: x.account.get_balances())
        assert banned.value.status_code == 418
    assert hx.http.limits is not None
    assert hx.http.limits.refused == [(429, "queries"), (418, "queries")]


@pytest.mark.parametrize("mode", MODES)
def test_orders_suspend_for_a_minute_on_the_local_exchange(
    mode: str, hx: HashKeyExchange, clock: FakeClock
) -> None:
    with Client(mode, HK, **options(hx, clock, enabled=False)) as c:
        for _ in range(10):
            c(lambda x: x.spot.test_order(**ORDER))
        with pytest.raises(errors.RateLimitError) as caught:
            c(lambda x: x.spot.test_order(**ORDER))
        assert caught.value.retry_after == 60  # "wait 1 minute for the suspended period"
        clock.advance(60)
        c(lambda x: x.spot.test_order(**ORDER))


@pytest.mark.parametrize("mode", MODES)
def test_share_and_overrides(mode: str, hx: HashKeyExchange, clock: FakeClock) -> None:
    with Client(mode, HK, **options(hx, clock, share=0.5)) as c:
        for _ in range(6):
            c(lambda x: x.spot.test_order(**ORDER))
    assert clock.sleeps == [1.0]  # half of 10 per second
    with Client(mode, HK, **options(hx, clock, limits={"queries": 1})) as c:
        clock.advance(1)
        c(lambda x: x.account.get_balances())
        c(lambda x: x.account.get_balances())
    assert clock.sleeps == [1.0, 1.0]


@pytest.mark.parametrize("mode", MODES)
def test_a_budget_of_your_own_for_a_limit_the_document_gives_no_figure_for(
    mode: str, bx: BinanceOptionsExchange, clock: FakeClock
) -> None:
    """Binance's order counts: read from the account's exchange information, declared by the
    user; spent by the order endpoints only."""
    orders = Budget(
        name="orders_10s",
        per="key",
        limit=2,
        interval=10,
        names=("trade.create_order",),
        header="X-MBX-ORDER-COUNT-10S",
    )
    order = {"symbol": "BTC-220815-50000-C", "side": "BUY", "type": "LIMIT", "quantity": "1"}
    order |= {"price": "900", "time_in_force": "GTC"}
    with Client(mode, BN, **options(bx, clock, budgets=[orders])) as c:
        for _ in range(3):
            c(lambda x: x.trade.create_order(**order, timeout=30))
        c(lambda x: x.market.get_ticker(symbol="BTC-220815-50000-C"))  # not an order
    assert clock.sleeps == [pytest.approx(10.0)]
    assert sent(bx, "trade.create_order") == 3
    with pytest.raises(ValueError, match="declared twice"):
        BinanceOptions(rate_limits=RateLimits(budgets=[orders, orders]))
    with pytest.raises(ValueError, match="per"):
        Budget(name="x", per="account", limit=1, interval=1)  # type: ignore[arg-type]


class TightBinance(BinanceOptionsExchange):
    """Reports lower limits in its exchange information than the document's sample."""

    def _on_market__get_exchange_info(self, p: dict[str, Any]) -> Any:
        info = super()._on_market__get_exchange_info(p)
        info["rateLimits"] = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 45,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 2},
            {"rateLimitType": "SOMETHING_NEW", "interval": "MINUTE", "intervalNum": 1, "limit": 1},
        ]
        return info


@pytest.mark.parametrize("mode", MODES)
def test_the_limits_the_exchange_reports_are_followed(mode: str, clock: FakeClock) -> None:
    """Exchange information's rateLimits: the weight's limit is the account's, and the order
    count (which the document gives no figure for) becomes a budget of the order calls."""
    order = {"symbol": "BTC-220815-50000-C", "side": "BUY", "type": "LIMIT", "quantity": "1"}
    order |= {"price": "900", "time_in_force": "GTC"}
    with TightBinance(clock=clock) as ex, Client(mode, BN, **options(ex, clock)) as c:
        c(lambda x: x.market.get_exchange_info())
        budgets = {b.name: b for b in c.client._core.governor.budgets}
        assert budgets["weight"].limit == 45
        orders = budgets["orders_10s"]
        assert (orders.per, orders.limit, orders.interval) == ("key", 2, 10)
        assert orders.header == "X-MBX-ORDER-COUNT-10S" and "something_new_1m" not in budgets
        for _ in range(3):
            c(lambda x: x.trade.create_order(**order, timeout=30))
        assert clock.sleeps == [pytest.approx(10.0)]  # the third order: the next 10 s
        c(lambda x: x.market.get_ticker())  # 40 more weight: 1 + 0 x 3 + 40 <= 45
        c(lambda x: x.market.get_ticker(timeout=90))  # over 45: the next minute
    assert clock.sleeps[1] == pytest.approx(50.0)


@pytest.mark.parametrize("mode", MODES)
def test_the_local_exchange_enforces_the_limits_it_reports(mode: str, clock: FakeClock) -> None:
    """Its order count (from its exchange information) is enforced and reported in
    X-MBX-ORDER-COUNT-10S; a client that read the exchange information keeps to it."""
    order = {"symbol": "BTC-220815-50000-C", "side": "BUY", "type": "LIMIT", "quantity": "1"}
    order |= {"price": "900", "time_in_force": "GTC"}
    with TightBinance(clock=clock, rate_limits=True) as ex:
        with Client(mode, BN, **options(ex, clock, enabled=False)) as blind:
            raw = blind(lambda x: x.with_raw_response.trade.create_order(**order))
            assert raw.rate_limits["x-mbx-order-count-10s"] == "1"
            blind(lambda x: x.trade.create_order(**order))
            with pytest.raises(errors.RateLimitError) as caught:
                blind(lambda x: x.trade.create_order(**order, timeout=1))
            assert caught.value.status_code == 429
        assert ex.http.limits is not None and ex.http.limits.refused == [(429, "orders_10s")]
        clock.advance(10)
        with Client(mode, BN, **options(ex, clock)) as c:
            c(lambda x: x.market.get_exchange_info())
            for _ in range(3):
                c(lambda x: x.trade.create_order(**order, timeout=30))
        assert ex.http.limits.refused == [(429, "orders_10s")]  # nothing more refused


def test_options_are_checked_when_the_client_is_built() -> None:
    with pytest.raises(ValueError, match="unknown budget 'queriez'"):
        HashKey(rate_limits=RateLimits(limits={"queriez": 1}))
    with pytest.raises(ValueError, match="share"):
        RateLimits(share=0)
    with pytest.raises(ValueError, match="on_empty"):
        RateLimits(on_empty="sleep")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rate_limits"):
        HashKey(rate_limits={"share": 0.5})  # type: ignore[arg-type]
    assert "secret" not in repr(RateLimits(redis="redis://:secret@127.0.0.1:6379/0"))
    # a user's budget naming no endpoint would leave the calls it meant unbudgeted
    mine = {"name": "mine", "per": "key", "limit": 1, "interval": 10}
    with pytest.raises(ValueError, match=r"'spot\.create_ordr' names no endpoint; did you mean"):
        HashKey(rate_limits=RateLimits(budgets=[Budget(**mine, names=("spot.create_ordr",))]))
    with pytest.raises(ValueError, match=r"'spot\.\*_orderz' names no endpoint"):
        HashKey(rate_limits=RateLimits(budgets=[Budget(**mine, exclude=("spot.*_orderz",))]))
    with pytest.raises(TypeError, match="names must be a tuple of endpoint names or globs"):
        Budget(**mine, names="spot.create_order")  # type: ignore[arg-type]
    HashKey(rate_limits=RateLimits(budgets=[Budget(**mine, names=["spot.*"])]))  # type: ignore[arg-type]


def test_clients_in_one_process_share_their_counts(hx: HashKeyExchange, clock: FakeClock) -> None:
    with HashKey(**options(hx, clock)) as a, HashKey(**options(hx, clock)) as b:
        a.account.get_balances()
        b.account.get_balances()
        a.account.get_balances()  # the key's third query in this second: waits
    assert clock.sleeps == [1.0]
    assert hx.http.limits is not None and hx.http.limits.refused == []


@pytest.mark.parametrize("mode", MODES)
def test_the_servers_counter_is_followed(
    mode: str, bx: BinanceOptionsExchange, clock: FakeClock
) -> None:
    """Another program on the IP spent weight: the used-weight header says so, and the
    client waits where its own count alone would have sent."""
    with BinanceOptions(**options(bx, clock, enabled=False)) as other:
        other.market.get_ticker()  # 40
    with Client(mode, BN, **options(bx, clock, limits={"weight": 50})) as c:
        raw = c(lambda x: x.with_raw_response.market.get_exchange_info())
        assert raw.rate_limits["x-mbx-used-weight-1m"] == "41"
        c(lambda x: x.market.get_ticker(timeout=90))  # 41 + 40 > 50: the next minute
    assert clock.sleeps == [pytest.approx(60.0)]


@pytest.mark.parametrize("mode", MODES)
def test_binance_backs_off_after_a_429_and_is_not_banned(mode: str, clock: FakeClock) -> None:
    with (
        TightBinance(clock=clock, rate_limits=True) as ex,  # 45 weight a minute
        Client(mode, BN, **options(ex, clock, enabled=False)) as hog,
    ):
        hog(lambda x: x.market.get_ticker())  # 40
        hog(lambda x: x.market.get_ticker(timeout=120))  # 429, Retry-After, resent
        assert ex.http.limits is not None and ex.http.limits.refused == [(429, "weight")]
    assert clock.sleeps == [60.0]


@pytest.mark.parametrize("mode", MODES)
def test_after_a_429_the_budget_stays_closed_so_no_ban_follows(
    mode: str, hx: HashKeyExchange, clock: FakeClock
) -> None:
    """Another program on the key spent the second's queries: the exchange answers 429
    (HashKey: not resent). The next call waits out the Retry-After instead of keeping on
    into a 418."""
    with HashKey(**options(hx, clock, enabled=False)) as other:
        other.account.get_balances()
        other.account.get_balances()
    with Client(mode, HK, **options(hx, clock)) as c:
        with pytest.raises(errors.RateLimitError) as caught:
            c(lambda x: x.account.get_balances())
        assert caught.value.status_code == 429
        c(lambda x: x.account.get_balances())
    assert clock.sleeps == [1.0]
    assert hx.http.limits is not None and hx.http.limits.refused == [(429, "queries")]


# -- shared through Redis -------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_server_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The server, emptied: each test starts with no counts."""
    import redis

    with redis.Redis.from_url(redis_server_url) as r:
        r.flushdb()
    return redis_server_url


@pytest.mark.parametrize("mode", MODES)
def test_clients_on_separate_clocks_share_one_budget_through_redis(
    mode: str, hx: HashKeyExchange, clock: FakeClock, redis_url: str
) -> None:
    """Two clients that share nothing in-process (each its own clock, as two processes)
    count in one Redis: together they keep to 2 queries per second."""
    other = FakeClock(start=START)
    shared = {"redis": redis_url}
    with (
        Client(mode, HK, **options(hx, clock, **shared)) as a,
        Client(mode, HK, **{**options(hx, other, **shared), "clock": other}) as b,
    ):
        b(lambda x: x.account.get_balances())
        a(lambda x: x.account.get_balances())
        a(lambda x: x.account.get_balances())  # the key's third this second: waits
    assert clock.sleeps == [1.0] and other.sleeps == []
    assert hx.http.limits is not None and hx.http.limits.refused == []


@pytest.mark.parametrize("mode", MODES)
def test_a_429_closes_the_budget_for_every_process_on_the_redis(
    mode: str, hx: HashKeyExchange, clock: FakeClock, redis_url: str
) -> None:
    with HashKey(**options(hx, clock, enabled=False)) as other:
        other.account.get_balances()
        other.account.get_balances()
    elsewhere = FakeClock(start=START)
    shared = {"redis": redis_url}
    with (
        Client(mode, HK, **options(hx, clock, **shared)) as a,
        Client(mode, HK, **options(hx, elsewhere, on_empty="raise", **shared)) as b,
    ):
        with pytest.raises(errors.RateLimitError) as limited:
            a(lambda x: x.account.get_balances())
        assert limited.value.status_code == 429
        with pytest.raises(errors.BudgetExhaustedError) as held:
            b(lambda x: x.account.get_balances())
        assert held.value.budget == "queries" and 0 < (held.value.retry_after or 0) <= 1
    assert hx.http.limits is not None and hx.http.limits.refused == [(429, "queries")]


@pytest.mark.parametrize("mode", MODES)
def test_the_servers_counter_reaches_redis_too(
    mode: str, bx: BinanceOptionsExchange, clock: FakeClock, redis_url: str
) -> None:
    """A client that saw the used-weight header raises the shared count in Redis: another
    client (its own clock, as another process) waits where its own count would have sent."""
    import redis

    with BinanceOptions(**options(bx, clock, enabled=False)) as other:
        other.market.get_ticker()  # 40 spent outside any governor
    shared = {"redis": redis_url, "limits": {"weight": 50}}
    with Client(mode, BN, **options(bx, clock, **shared)) as a:
        a(lambda x: x.market.get_exchange_info())  # the header says 41: Redis learns it
    with redis.Redis.from_url(redis_url) as r:
        counts = [int(r.get(k) or 0) for k in r.keys("cambist:rl:binance_options:*:weight:*")]
    assert max(counts) == 41
    elsewhere = FakeClock(start=START)
    with (
        Client(mode, BN, **options(bx, elsewhere, on_empty="raise", **shared)) as b,
        pytest.raises(errors.BudgetExhaustedError),
    ):
        b(lambda x: x.market.get_ticker())  # 41 + 40 > 50


@pytest.mark.parametrize("mode", MODES)
def test_unreachable_redis_falls_back_in_process_and_logs_once(
    mode: str, hx: HashKeyExchange, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"redis://:hunter2@127.0.0.1:{s.getsockname()[1]}/0"
    with (
        caplog.at_level(logging.WARNING, logger="cambist"),
        Client(mode, HK, **options(hx, clock, redis=url)) as c,
    ):
        for _ in range(3):
            c(lambda x: x.account.get_balances())
    assert clock.sleeps == [1.0]  # still governed, in this process
    lines = [r.getMessage() for r in caplog.records if "Redis" in r.getMessage()]
    assert len(lines) == 1 and "hunter2" not in lines[0]


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from cambist.hashkey import AsyncHashKey, HashKey
    from cambist.ratelimit import RateLimits
    from cambist.testing import DEFAULT_API_KEY, DEFAULT_API_SECRET

    url, redis, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    options = dict(base_url=url, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET,
                   rate_limits=RateLimits(redis=redis, ip="bots", margin=0.5), timeout=60)
    order = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="50000")
    if mode == "sync":
        with HashKey(**options) as hk:
            for i in range(n):
                hk.spot.test_order(**order)
                if i % 4 == 0:
                    hk.account.get_balances()
    else:
        async def bot(hk, i):
            await hk.spot.test_order(**order)
            if i % 4 == 0:
                await hk.account.get_balances()

        async def main():
            async with AsyncHashKey(**options) as hk:  # calls in flight at once
                await asyncio.gather(*(bot(hk, i) for i in range(n)))

        asyncio.run(main())
    print("done")
    """
)


def test_processes_hammering_one_exchange_through_redis_get_no_429(redis_url: str) -> None:
    """Three processes, one key (two blocking clients, one asyncio client with all its calls
    in flight at once): together they keep to the document's per-key limits (orders 10/s,
    queries 2/s) through one Redis, and the exchange refuses nothing. The margin is wider
    than the default: on a loaded CI machine a request may take half a second between the
    spend and the server's count (the server counts on arrival, as a real one does)."""
    with HashKeyExchange(rate_limits=True) as ex:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, ex.url, redis_url, "12", mode],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for mode in ("sync", "sync", "async")
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        assert ex.http.limits is not None
        refused = ex.http.limits.refused
        assert [p.returncode for p in procs] == [0, 0, 0], (refused, [o[1][-800:] for o in outs])
        assert refused == []
        assert sent(ex, "spot.test_order") == 36
        assert sent(ex, "account.get_balances") == 9


@pytest.mark.parametrize("mode", MODES)
def test_a_429_while_redis_is_down_still_holds_once_redis_is_back(
    mode: str, hx: HashKeyExchange, clock: FakeClock
) -> None:
    """Redis is down when the exchange answers 429 (HashKey orders: a minute's suspension):
    the hold is kept in-process. When the client goes back to Redis (30 s later, Redis
    restarted) the minute has not passed: the next order must not be sent into a 418."""
    import socket

    from tests.redis_server import _free_port

    port = _free_port()  # nothing listens there yet: Redis is down
    url = f"redis://127.0.0.1:{port}/0"
    with HashKey(**options(hx, clock, enabled=False)) as other:
        for _ in range(10):
            other.spot.test_order(**ORDER)
    with Client(mode, HK, **options(hx, clock, redis=url, on_empty="raise")) as c:
        with pytest.raises(errors.RateLimitError) as limited:
            c(lambda x: x.spot.test_order(**ORDER))
        assert limited.value.status_code == 429 and limited.value.retry_after == 60
        clock.advance(31)  # past the client's 30 s without Redis, within the minute
        with redis_server(port):
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass  # up
            with pytest.raises(errors.BudgetExhaustedError) as held:
                c(lambda x: x.spot.test_order(**ORDER))
            assert held.value.budget == "orders" and 0 < (held.value.retry_after or 0) <= 29
            assert hx.http.limits is not None and hx.http.limits.refused == [(429, "orders")]
            clock.advance(30)  # the minute is over
            c(lambda x: x.spot.test_order(**ORDER))
    assert hx.http.limits is not None and hx.http.limits.refused == [(429, "orders")]


def test_options_that_would_fail_every_call_are_refused_when_built() -> None:
    """A margin or interval that is not a finite number, or a Redis URL without its scheme,
    failed only at the first call (ValueError / OverflowError from inside the governor, or
    from the redis library), and again at every call after."""
    for margin in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"RateLimits\.margin"):
            RateLimits(margin=margin)
    with pytest.raises(ValueError, match=r"Budget\.interval"):
        Budget(name="mine", per="key", limit=1, interval=float("inf"))
    with pytest.raises(ValueError, match=r"RateLimits\.redis must be a Redis URL \(redis://") as e:
        RateLimits(redis=":hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in str(e.value)
    for url in ("redis://127.0.0.1:6379/0", "rediss://h:6380", "unix:///tmp/redis.sock"):
        RateLimits(redis=url)


@pytest.mark.parametrize("mode", MODES)
def test_a_redis_that_never_answers_does_not_stretch_a_calls_deadline(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis accepts the connection but never answers (stalled, overloaded): the spend waited
    for the store's own 1 s timeout whatever the call's, so a call with timeout=0.3 took a
    second. The wait for Redis is bounded by the call's deadline; the client then counts
    in-process (logged once) and the next call goes at once."""
    import socket
    import threading
    import time

    stalled: list[socket.socket] = []
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        srv.settimeout(0.1)
        url = f"redis://127.0.0.1:{srv.getsockname()[1]}/0"
        done = threading.Event()

        def accept() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    stalled.append(srv.accept()[0])  # held open, never answered

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            with (
                HashKeyExchange(rate_limits=True) as ex,
                caplog.at_level(logging.WARNING, logger="cambist"),
                Client(mode, HK, **ex.client_options(), rate_limits=RateLimits(redis=url)) as c,
            ):
                started = time.monotonic()
                with pytest.raises(errors.APITimeoutError):
                    c(lambda x: x.account.get_balances(timeout=0.3))
                took = time.monotonic() - started
                assert took < 0.8, took  # the store's own timeout is 1 s
                assert sent(ex, "account.get_balances") == 0
                c(lambda x: x.account.get_balances(timeout=5))  # in-process now
                assert sent(ex, "account.get_balances") == 1
        finally:
            done.set()
            thread.join()
            for conn in stalled:
                conn.close()
    assert len([r for r in caplog.records if "Redis" in r.getMessage()]) == 1


def test_redis_without_the_redis_library_is_refused_when_the_client_is_built() -> None:
    """``RateLimits(redis=...)`` without ``pip install cambist[redis]``: the client was built,
    then every call failed with ModuleNotFoundError from inside the governor."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # as if the library were not installed
        from cambist.hashkey import HashKey
        from cambist.ratelimit import RateLimits
        try:
            HashKey(rate_limits=RateLimits(redis="redis://:hunter2@127.0.0.1:6379/0"))
        except ImportError as exc:
            print("refused:", exc)
        else:
            print("built")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.startswith("refused:") and "pip install cambist[redis]" in out, out
    assert "hunter2" not in out


@pytest.mark.parametrize("mode", MODES)
def test_a_used_weight_header_that_is_not_a_number_is_ignored(mode: str) -> None:
    """A header value that ``str.isdigit`` takes for digits (a latin-1 superscript, as a
    garbling proxy may send) made ``int()`` raise inside the client after the exchange had
    answered: a bare ValueError instead of the answer (for an order: carried out)."""
    import http.server
    import threading

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"serverTime": 1700000000000}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-MBX-USED-WEIGHT-1M", "\u00b2")  # '²'
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with Client(mode, BN, base_url=url, timeout=10) as c:
            assert c(lambda x: x.market.get_server_time()).server_time == 1700000000000
    finally:
        server.shutdown()
        server.server_close()
