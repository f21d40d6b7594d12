"""Pagination: the generated ``iter_*`` methods walk every page, sync and async.

The pure core (``Pager``) against in-memory servers with each exchange behaviour (inclusive
or exclusive bounds, pages in either order, many items on one timestamp, a page repeated);
then the generated methods against the local exchanges (HashKey trades, traded orders and
balance flow, Bibox fills and ledger, BingX transfers and deposits) and a loopback server
that repeats a page: every item exactly once, bounded by ``max_items``, and a clear
``PaginationError`` rather than a loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from cambist._runtime.paging import Pager, Paging
from cambist.bibox import AsyncBibox, Bibox
from cambist.bingx import AsyncBingX, BingX
from cambist.errors import PaginationError, RequestValidationError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.testing import BiboxExchange, BingXExchange, HashKeyExchange
from tests.conftest import API_KEY, API_SECRET
from tests.loopback import LoopbackServer

D = Decimal

# -- the pure core -------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    time: int


def _walk(pager: Pager[Row], answer: Callable[[dict[str, object]], Any]) -> list[Row]:
    out: list[Row] = []
    while (values := pager.request()) is not None:
        out.extend(pager.take(answer(values)))
    return out


def newest_below(rows: list[Row], *, inclusive: bool, field: str = "id", param: str = "toId"):
    """A server answering the newest ``limit`` rows at or below (``inclusive``) the bound,
    oldest first in the page (as the local exchanges do)."""
    calls: list[dict[str, object]] = []

    def answer(values: dict[str, object]) -> list[Row]:
        calls.append(values)
        bound = values.get(param)

        def ok(r: Row) -> bool:
            at = int(getattr(r, field))
            return bound is None or (at <= bound if inclusive else at < bound)  # type: ignore[operator]

        kept = sorted((r for r in rows if ok(r)), key=lambda r: int(getattr(r, field)))
        return kept[max(0, len(kept) - int(values["limit"])) :]  # type: ignore[call-overload]

    answer.calls = calls  # type: ignore[attr-defined]
    return answer


ROWS = [Row(str(1000 + 3 * n), 5000 + n // 4) for n in range(23)]  # 4 rows per millisecond
BY_ID = Paging(by="id", param="toId", limit="limit", size=1000, field="id")


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("size", [2, 3, 5, 22, 23, 24, 500])
def test_a_cursor_walk_yields_every_item_once_newest_first(inclusive: bool, size: int) -> None:
    server = newest_below(ROWS, inclusive=inclusive)
    got = _walk(Pager("x.list", BY_ID, {"limit": size}, None), server)
    assert got == sorted(ROWS, key=lambda r: -int(r.id))
    pages = server.calls  # type: ignore[attr-defined]
    assert pages[0] == {"limit": size}  # the first page: no bound
    assert len(pages) <= len(ROWS) // (size - inclusive) + 1


def test_the_bound_is_the_smallest_id_received_as_an_int() -> None:
    server = newest_below(ROWS, inclusive=False)
    _walk(Pager("x.list", BY_ID, {"limit": 10, "symbol": "S"}, None), server)
    bounds = [p.get("toId") for p in server.calls]  # type: ignore[attr-defined]
    assert bounds == [None, 1039, 1009]
    assert all(p["symbol"] == "S" and p["limit"] == 10 for p in server.calls)  # type: ignore[attr-defined]


def test_a_given_bound_is_where_the_walk_starts() -> None:
    server = newest_below(ROWS, inclusive=True)
    got = _walk(Pager("x.list", BY_ID, {"limit": 4, "toId": 1030}, None), server)
    assert [int(r.id) for r in got] == list(range(1030, 999, -3))


def test_time_paging_keeps_items_that_share_the_boundary_millisecond() -> None:
    by_time = Paging(by="time", param="endTime", limit="limit", size=3, field="time", key="id")
    for inclusive in (True,):  # an exclusive time bound would lose them: the spec says which
        server = newest_below(ROWS[:16], inclusive=inclusive, field="time", param="endTime")
        got = _walk(Pager("x.flow", by_time, {"limit": 5}, None), server)
        assert sorted(got, key=lambda r: r.id) == ROWS[:16]
        assert [r.time for r in got] == sorted((r.time for r in got), reverse=True)


def test_more_items_on_one_timestamp_than_a_page_raises_instead_of_looping() -> None:
    by_time = Paging(by="time", param="endTime", limit="limit", size=3, field="time", key="id")
    server = newest_below(ROWS[:8], inclusive=True, field="time", param="endTime")
    pager: Pager[Row] = Pager("x.flow", by_time, {"limit": 3}, None)
    got: list[Row] = []
    with pytest.raises(PaginationError) as caught:
        while (values := pager.request()) is not None:
            got.extend(pager.take(server(values)))
    assert caught.value.page == 2 and caught.value.endpoint == "x.flow"
    assert "more than 3 items share one time" in str(caught.value)
    assert len(got) == 3 and len(server.calls) == 2  # type: ignore[attr-defined]
    assert pager.request() is None  # stopped for good


def test_walking_up_follows_the_largest() -> None:
    up = Paging(by="id", param="fromId", limit="limit", size=4, field="id", direction="up")

    def oldest_from(values: dict[str, object]) -> list[Row]:
        bound = values.get("fromId")
        kept = [r for r in ROWS if bound is None or int(r.id) >= bound]  # type: ignore[operator]
        return list(reversed(kept[: int(values["limit"])]))  # type: ignore[call-overload]

    assert _walk(Pager("x.up", up, {}, None), oldest_from) == ROWS


def test_a_server_repeating_a_full_page_raises_after_yielding_it() -> None:
    pager: Pager[Row] = Pager("x.list", BY_ID, {"limit": 3}, None)
    assert pager.take(ROWS[:3]) == sorted(ROWS[:3], key=lambda r: -int(r.id))
    assert pager.request() == {"limit": 3, "toId": 1000}
    with pytest.raises(PaginationError, match="repeated a page"):
        pager.take(ROWS[:3])


def test_max_items_bounds_the_items_and_the_requests() -> None:
    server = newest_below(ROWS, inclusive=False)
    got = _walk(Pager("x.list", BY_ID, {"limit": 5}, 7), server)
    assert [r.id for r in got] == [r.id for r in sorted(ROWS, key=lambda r: -int(r.id))][:7]
    assert len(server.calls) == 2  # type: ignore[attr-defined]
    nothing = newest_below(ROWS, inclusive=False)
    assert _walk(Pager("x.list", BY_ID, {}, 0), nothing) == []
    assert nothing.calls == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "max_items", "param"),
    [({}, -1, "max_items"), ({"limit": 0}, None, "limit"), ({"limit": 1}, None, "limit")],
)
def test_bad_walk_arguments_are_refused_before_sending(
    values: dict[str, object], max_items: int | None, param: str
) -> None:
    with pytest.raises(RequestValidationError) as caught:
        Pager("x.list", BY_ID, values, max_items)
    assert caught.value.param == param


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int


BY_PAGE = Paging(by="page", param="current", limit="size", size=10, items="rows", total="total")


def numbered(rows: list[Row], *, ignore_page: bool = False):
    calls: list[dict[str, object]] = []

    def answer(values: dict[str, object]) -> Page:
        calls.append(values)
        size, page = int(values["size"]), 1 if ignore_page else int(values["current"])  # type: ignore[call-overload]
        return Page(rows[(page - 1) * size : page * size], len(rows))

    answer.calls = calls  # type: ignore[attr-defined]
    return answer


@pytest.mark.parametrize(("count", "size", "requests"), [(23, 10, 3), (20, 10, 2), (0, 10, 1)])
def test_page_numbers_stop_at_the_total_or_a_short_page(
    count: int, size: int, requests: int
) -> None:
    server = numbered(ROWS[:count])
    assert _walk(Pager("x.pages", BY_PAGE, {"size": size}, None), server) == ROWS[:count]
    assert [c["current"] for c in server.calls] == list(range(1, requests + 1))  # type: ignore[attr-defined]


def test_a_server_ignoring_the_page_number_raises() -> None:
    server = numbered(ROWS, ignore_page=True)
    pager: Pager[Row] = Pager("x.pages", BY_PAGE, {"size": 5}, None)
    got: list[Row] = []
    with pytest.raises(PaginationError, match="equals the page before"):
        while (values := pager.request()) is not None:
            got.extend(pager.take(server(values)))
    assert got == ROWS[:5] and len(server.calls) == 2  # type: ignore[attr-defined]


def test_offsets_grow_by_the_items_received() -> None:
    by_offset = Paging(by="offset", param="offset", limit="limit", size=4)
    seen: list[object] = []

    def answer(values: dict[str, object]) -> list[Row]:
        seen.append(values["offset"])
        start = int(values["offset"])  # type: ignore[call-overload]
        return ROWS[start : start + int(values["limit"])]  # type: ignore[call-overload]

    assert _walk(Pager("x.off", by_offset, {}, None), answer) == ROWS
    assert seen == [0, 4, 8, 12, 16, 20]


# -- the generated methods, on the local exchanges -----------------------------------------

RICH = {"USDT": "1000000", "BTC": "20"}


def _trade(hk: HashKey, n: int) -> None:
    for _ in range(n):
        hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", amount=D("100"))


def test_hashkey_iter_trades_walks_every_page_sync() -> None:
    with (
        HashKeyExchange(seed=5, balances=RICH) as ex,
        HashKey(**ex.client_options(), max_retries=0) as hk,
    ):
        _trade(hk, 12)
        every = hk.account.list_trades(symbol="BTCUSDT", limit=1000)
        start = len(ex.calls)
        walked = list(hk.account.iter_trades(symbol="BTCUSDT", limit=5))
        pages = [c.params for c in ex.calls[start:]]
        few = list(hk.account.iter_trades(symbol="BTCUSDT", limit=5, max_items=6))
        orders = hk.spot.list_traded_orders(limit=1000)
        walked_orders = list(hk.spot.iter_traded_orders(limit=3))
    assert len(every) == 12 and walked == every[::-1]  # newest first, each once
    ids = [int(t.id) for t in walked]
    assert [p.get("toId") for p in pages] == [None, str(ids[4]), str(ids[8])]
    assert all(p["limit"] == "5" and p["symbol"] == "BTCUSDT" for p in pages)
    assert few == walked[:6]
    assert sorted(o.order_id for o in walked_orders) == sorted(o.order_id for o in orders)
    assert len(walked_orders) == len({o.order_id for o in walked_orders}) == 12


@pytest.mark.anyio
async def test_hashkey_iter_trades_and_balance_flow_async() -> None:
    with HashKeyExchange(seed=5, balances=RICH) as ex:
        async with AsyncHashKey(**ex.client_options(), max_retries=0) as hk:
            for _ in range(9):
                await hk.spot.create_order(
                    symbol="BTCUSDT", side="BUY", type="MARKET", amount=D("100")
                )
            every = await hk.account.list_trades(symbol="BTCUSDT", limit=1000)
            walked = [t async for t in hk.account.iter_trades(symbol="BTCUSDT", limit=2)]
            window = {"start_time": 0, "end_time": int(time.time() * 1000) + 10**9}
            flow = await hk.account.list_balance_flow(**window, limit=500)
            walked_flow = [f async for f in hk.account.iter_balance_flow(**window, limit=3)]
            sub = [t async for t in hk.sub_account.iter_trades(limit=2, max_items=1)]
    assert walked == every[::-1]
    # every fill moves two assets at one millisecond: pages split such pairs, none is lost
    assert len(flow) >= 18 and len({f.created for f in flow}) < len(flow)
    assert sorted(f.id for f in walked_flow) == sorted(f.id for f in flow)
    assert len(walked_flow) == len({f.id for f in walked_flow})
    assert sub == []


def _bibox_fills(bx: Bibox) -> None:
    for _ in range(7):
        bx.user.create_order(
            symbol="BTC_USDT",
            side="buy",
            type="limit",
            quantity=D("0.001"),
            price=D("70000"),
            time_in_force="ioc",
        )


def test_bibox_iter_fills_and_ledger_sync() -> None:
    with (
        BiboxExchange(seed=3, fee_rate="0.002") as ex,
        Bibox(**ex.client_options(), max_retries=0) as bx,
    ):
        _bibox_fills(bx)
        fills = bx.user.list_fills(symbol="BTC_USDT", limit=1000)
        walked = list(bx.user.iter_fills(symbol="BTC_USDT", limit=2))
        ledger = bx.user.list_ledger(asset=["BTC", "USDT"], limit=1000)
        walked_ledger = list(bx.user.iter_ledger(asset=["BTC", "USDT"], limit=3))
        befores = [c.params.get("before") for c in ex.calls if c.path.endswith("/userdata/fills")]
        for _ in range(20):
            ex.tick("BTC_USDT")
        market = bx.market.list_trades(symbol="BTC_USDT", limit=1000)
        walked_market = list(bx.market.iter_trades(symbol="BTC_USDT", limit=7))
    assert len(fills) == 7 and walked == fills[::-1]
    # Bibox's before is inclusive: each page starts with the last one's smallest, not repeated
    assert befores[1:] == [None, *(str(f.fill_id) for f in walked[1:])]
    assert len(ledger) > 7 and walked_ledger == sorted(ledger, key=lambda e: -e.entry_id)
    assert 14 < len(market) < 1000
    assert walked_market == sorted(market, key=lambda t: -int(t.trade_id))


@pytest.mark.anyio
async def test_bibox_iter_fills_async() -> None:
    with BiboxExchange(seed=3) as ex:
        with Bibox(**ex.client_options(), max_retries=0) as bx:
            _bibox_fills(bx)
            fills = bx.user.list_fills(symbol="BTC_USDT", limit=1000)
        async with AsyncBibox(**ex.client_options(), max_retries=0) as abx:
            walked = [f async for f in abx.user.iter_fills(symbol="BTC_USDT", limit=3)]
            two = [f async for f in abx.user.iter_fills(symbol="BTC_USDT", max_items=2)]
    assert walked == fills[::-1] and two == walked[:2]


def _transfers(bx: BingX, n: int) -> list[int]:
    return [
        bx.wallet.transfer(type="FUND_PFUTURES", asset="USDT", amount=D(k + 1)).transfer_id
        for k in range(n)
    ]


@pytest.mark.parametrize(("count", "pages"), [(23, 3), (20, 2)])
def test_bingx_iter_transfers_pages_by_number_until_the_total(count: int, pages: int) -> None:
    with BingXExchange() as ex, BingX(**ex.client_options(), max_retries=0) as bx:
        ids = _transfers(bx, count)
        start = len(ex.calls)
        walked = list(bx.wallet.iter_transfers(type="FUND_PFUTURES", size=10))
        sent = [c.params for c in ex.calls[start:]]
    assert [r.transfer_id for r in walked] == ids[::-1]  # the exchange's order: newest first
    assert [p["current"] for p in sent] == [str(n) for n in range(1, pages + 1)]
    assert all(p["size"] == "10" for p in sent)


@pytest.mark.anyio
async def test_bingx_iter_transfers_async() -> None:
    with BingXExchange() as ex:
        with BingX(**ex.client_options(), max_retries=0) as bx:
            ids = _transfers(bx, 12)
        async with AsyncBingX(**ex.client_options(), max_retries=0) as abx:
            walked = [r async for r in abx.wallet.iter_transfers(type="FUND_PFUTURES")]
            five = [r async for r in abx.wallet.iter_transfers(type="FUND_PFUTURES", max_items=5)]
    assert [r.transfer_id for r in walked] == ids[::-1]
    assert five == walked[:5]


def test_bingx_deposits_answered_with_the_same_example_raise_instead_of_looping() -> None:
    """The local BingX answers its document example for deposits whatever the offset: a
    repeated page. A walk of one-item pages gets the page once, then stops with an error."""
    with BingXExchange() as ex, BingX(**ex.client_options(), max_retries=0) as bx:
        once = bx.wallet.list_deposits()
        got = []
        with pytest.raises(PaginationError) as caught:
            for deposit in bx.wallet.iter_deposits(limit=1):
                got.append(deposit)
        offsets = [c.params.get("offset") for c in ex.calls if "deposit" in c.path]
        every = list(bx.wallet.iter_deposits())  # a page of 1000: short, so the only one
    assert got == once and every == once and len(once) >= 2
    assert caught.value.page == 2 and offsets[-2:] == ["0", str(len(once))]


# -- a loopback server repeating a page -----------------------------------------------------


def _trade_row(n: int) -> dict[str, Any]:
    return {
        "id": str(n),
        "clientOrderId": "c",
        "ticketId": "1",
        "symbol": "BTCUSDT",
        "symbolName": "BTCUSDT",
        "orderId": "9",
        "matchOrderId": "0",
        "price": "1",
        "qty": "1",
        "commission": "0",
        "commissionAsset": "USDT",
        "time": "1",
        "isBuyer": True,
        "isMaker": False,
        "fee": {
            "feeCoinId": "USDT",
            "feeCoinName": "USDT",
            "fee": "0",
            "originCoinId": "USDT",
            "originCoinName": "USDT",
            "originFee": "0",
        },
        "feeCoinId": "USDT",
        "feeAmount": "0",
        "makerRebate": "0",
        "hskDeduct": False,
        "hskDeductPrice": "",
    }


@pytest.fixture
def repeating(server: LoopbackServer) -> LoopbackServer:
    server.route("GET", "/api/v1/account/trades", [_trade_row(n) for n in (7, 8, 9)])
    return server


def test_a_repeated_page_raises_pagination_error_sync(repeating: LoopbackServer) -> None:
    with HashKey(api_key=API_KEY, api_secret=API_SECRET, base_url=repeating.url) as hk:
        got = []
        with pytest.raises(PaginationError) as caught:
            for trade in hk.account.iter_trades(limit=3):
                got.append(trade.id)
    sent = repeating.requests_to("/api/v1/account/trades")
    assert got == ["9", "8", "7"] and len(sent) == 2  # one page, one repeat, no loop
    assert "toId=7" in sent[1].query
    assert str(caught.value).startswith("account.list_trades: page 2: a full page (3 items)")


@pytest.mark.anyio
async def test_a_repeated_page_raises_pagination_error_async(repeating: LoopbackServer) -> None:
    async with AsyncHashKey(api_key=API_KEY, api_secret=API_SECRET, base_url=repeating.url) as hk:
        got = []
        with pytest.raises(PaginationError):
            async for trade in hk.account.iter_trades(limit=3):
                got.append(trade.id)
        short = [t.id async for t in hk.account.iter_trades(limit=4)]  # 3 < 4: the last page
    assert got == ["9", "8", "7"] and short == got
    assert len(repeating.requests_to("/api/v1/account/trades")) == 3


def test_a_walk_is_lazy_and_checks_its_arguments_first(repeating: LoopbackServer) -> None:
    with HashKey(api_key=API_KEY, api_secret=API_SECRET, base_url=repeating.url) as hk:
        with pytest.raises(RequestValidationError):
            hk.account.iter_trades(max_items=-1)
        walk = hk.account.iter_trades(limit=3)
        assert repeating.requests_to("/api/v1/account/trades") == []
        assert next(walk).id == "9"
    assert len(repeating.requests_to("/api/v1/account/trades")) == 1


def test_bibox_trades_before_takes_the_trade_id_as_received() -> None:
    """The document's recipe: "use the tradeId of the first record obtained as the value of
    the before parameter". MarketTrade.trade_id arrives quoted (a str): before/after take it
    as it is, an int as well, and refuse what is not an id before sending."""
    with BiboxExchange(seed=3) as ex, Bibox(**ex.client_options(), max_retries=0) as bx:
        for _ in range(10):
            ex.tick("BTC_USDT")
        latest = bx.market.list_trades(symbol="BTC_USDT", limit=3)
        first = latest[0].trade_id
        assert isinstance(first, str)
        older = bx.market.list_trades(symbol="BTC_USDT", before=first, limit=3)
        newer = bx.market.list_trades(symbol="BTC_USDT", after=first, limit=1000)
        same = bx.market.list_trades(symbol="BTC_USDT", before=int(first), limit=3)
        sent = [c.params.get("before") or c.params.get("after") for c in ex.calls[-3:]]
        walked = list(bx.market.iter_trades(symbol="BTC_USDT", before=first, limit=2))
        n = len(ex.calls)
        with pytest.raises(RequestValidationError, match="before"):
            bx.market.list_trades(symbol="BTC_USDT", before="12&x=1")
        assert len(ex.calls) == n
    assert older and older == same and all(int(t.trade_id) <= int(first) for t in older)
    assert older[-1].trade_id == first
    assert newer and all(int(t.trade_id) >= int(first) for t in newer)
    assert sent == [first, first, first]
    ids = [int(t.trade_id) for t in walked]
    assert ids[0] == int(first) and ids == sorted(set(ids), reverse=True)
