"""The local exchanges' trading simulation, through the generated clients: the matching rules
(taker fills up to the limit, rest, IOC/FOK/post-only, maker fills from market trades, fees),
every HashKey order endpoint, balance flow, market data consistent with the synthetic market
and its streams. The exact order events are asserted where a stream carries them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cambist.bibox import Bibox
from cambist.bibox.models import AccountEvent, CandlesUpdate, OrderEvent, TickerUpdate
from cambist.binance_options import BinanceOptions
from cambist.bingx import BingX
from cambist.errors import InsufficientBalanceError, InvalidRequestError, OrderNotFoundError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import (
    BatchOrderRequest,
    BboUpdate,
    ExecutionReport,
    RealtimesUpdate,
    TicketInfo,
)
from cambist.streams import Connected
from cambist.testing import (
    BiboxExchange,
    BinanceOptionsExchange,
    BingXExchange,
    FakeClock,
    HashKeyExchange,
)
from cambist.testing._market import bar_start
from cambist.testing._text import dumps

D = Decimal
RICH = {"USDT": "1000000", "BTC": "2", "ETH": "10"}


@pytest.fixture
def ex() -> Iterator[HashKeyExchange]:
    with HashKeyExchange(seed=5, balances=RICH) as exchange:
        yield exchange


@pytest.fixture
def hk(ex: HashKeyExchange) -> Iterator[HashKey]:
    with HashKey(**ex.client_options(), max_retries=0) as client:
        yield client


def balances(hk: HashKey) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (b.free, b.locked) for b in hk.account.get_balances().balances}


def walk(levels: list[tuple[Decimal, Decimal]], quantity: Decimal) -> list[tuple[Decimal, Decimal]]:
    """The fills a taker gets walking ``levels`` for ``quantity``."""
    out = []
    for price, available in levels:
        if quantity <= 0:
            break
        out.append((price, min(quantity, available)))
        quantity -= min(quantity, available)
    return out


# -- matching ------------------------------------------------------------------------------


def test_crossing_limit_order_takes_up_to_its_price_and_rests_the_rest(
    ex: HashKeyExchange, hk: HashKey
) -> None:
    asks = ex.market.books["BTCUSDT"].top(20)[1]
    limit = asks[2][0]  # crosses three ask levels
    within = sum(q for p, q in asks[:3])
    quantity = within + D("0.5")
    order = hk.spot.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=quantity, price=limit
    )
    assert order.status.value == "PARTIALLY_FILLED" and order.executed_qty == within
    cost = sum(p * q for p, q in asks[:3])
    trades = hk.account.list_trades(symbol="BTCUSDT")
    assert [(t.price, t.qty, t.is_maker) for t in trades] == [(p, q, False) for p, q in asks[:3]]
    # the rest holds its price x quantity; the fills were paid at their own prices
    assert balances(hk)["USDT"] == (D("1000000") - cost - D("0.5") * limit, D("0.5") * limit)
    assert balances(hk)["BTC"] == (D("2") + within, D(0))
    assert [o.order_id for o in hk.spot.list_open_orders()] == [order.order_id]


def test_resting_order_fills_as_maker_when_a_market_trade_reaches_it(
    ex: HashKeyExchange, hk: HashKey
) -> None:
    with hk.streams.user() as stream:
        next(stream)  # Connected
        order = hk.spot.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.3", price="59000"
        )
        assert next(stream).status.value == "NEW"
        assert {b.asset: b.locked for b in next(stream).balances}["USDT"] == D("17700")
        ex.trade("BTCUSDT", "59000.01", "1", taker="SELL")  # above the order: no fill
        ex.trade("BTCUSDT", "59000", "0.1", taker="SELL")
        report, ticket, account = next(stream), next(stream), next(stream)
        ex.trade("BTCUSDT", "58990", "5", taker="SELL")  # through it: the rest, at its price
        last, last_ticket = next(stream), next(stream)
    assert isinstance(report, ExecutionReport) and report.status.value == "PARTIALLY_FILLED"
    assert (report.last_executed_quantity, report.last_executed_price) == (D("0.1"), D("59000"))
    assert isinstance(ticket, TicketInfo) and ticket.is_maker and ticket.order_id == order.order_id
    assert {b.asset: b.free for b in account.balances}["BTC"] == D("2.1")
    assert last.status.value == "FILLED" and last.cumulative_filled_quantity == D("0.3")
    assert (last_ticket.price, last_ticket.quantity) == (D("59000"), D("0.2"))
    assert balances(hk)["USDT"] == (D("1000000") - D("0.3") * D("59000"), D(0))
    assert [o.status.value for o in hk.spot.list_traded_orders()] == ["FILLED"]


def test_tick_fills_an_order_at_the_best_bid_from_the_markets_own_trades(
    ex: HashKeyExchange, hk: HashKey
) -> None:
    best_bid = ex.market.books["BTCUSDT"].top(1)[0][0][0]
    order = hk.spot.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.0001", price=best_bid
    )
    for _ in range(200):
        changes = ex.tick("BTCUSDT")
        if any(t.buyer_maker and t.price <= best_bid for c in changes for t in c.trades):
            break
    else:
        pytest.fail("no market sell reached the best bid in 200 steps")
    assert hk.spot.get_order(order_id=order.order_id).status.value == "FILLED"


def test_ioc_fok_and_limit_maker(ex: HashKeyExchange, hk: HashKey) -> None:
    asks = ex.market.books["BTCUSDT"].top(20)[1]
    best = asks[0]
    before = balances(hk)
    fok = hk.spot.create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=best[1] + 1,
        price=best[0],
        time_in_force="FOK",
    )
    assert (fok.status.value, fok.executed_qty) == ("CANCELED", 0)
    assert balances(hk) == before and hk.account.list_trades() == []
    ioc = hk.spot.create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=best[1] + 1,
        price=best[0],
        time_in_force="IOC",
    )
    assert (ioc.status.value, ioc.executed_qty) == ("PARTIALLY_CANCELED", best[1])
    assert balances(hk)["USDT"] == (before["USDT"][0] - best[0] * best[1], D(0))
    maker = hk.spot.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.1", price=best[0]
    )
    assert maker.status.value == "REJECTED" and hk.spot.list_open_orders() == []
    resting = hk.spot.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.1", price="1000"
    )
    assert resting.status.value == "NEW" and resting.type.value == "LIMIT_MAKER"


def test_market_buy_by_quote_amount(ex: HashKeyExchange, hk: HashKey) -> None:
    best = ex.market.books["BTCUSDT"].top(1)[1][0]
    order = hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", amount="600")
    got = (D("600") / best[0]).quantize(D("1e-8"), "ROUND_DOWN")
    assert order.status.value == "FILLED" and order.executed_qty == got
    assert order.req_amount == 600
    assert balances(hk)["USDT"][0] == D("1000000") - got * best[0]


def test_fees_are_charged_on_what_is_received_and_listed(ex: HashKeyExchange) -> None:
    with (
        HashKeyExchange(fee_rate="0.001") as fees,
        HashKey(**fees.client_options(), max_retries=0) as hk,
    ):
        best = fees.market.books["BTCUSDT"].top(1)[1][0]
        hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.5")
        (trade,) = hk.account.list_trades()
        assert (trade.commission, trade.commission_asset) == (D("0.0005"), "BTC")
        assert balances(hk)["BTC"][0] == D("2.4995")
        flow = hk.account.list_balance_flow(start_time=0, end_time=fees.now_ms() + 1)
        assert [(f.coin, f.flow_type, f.change) for f in flow] == [
            ("USDT", "TRADE", -best[0] * D("0.5")),
            ("BTC", "TRADE", D("0.5")),
            ("BTC", "FEE", D("-0.0005")),
        ]
        assert flow[-1].total == D("2.4995")
        fees_only = hk.account.list_balance_flow(start_time=0, end_time=fees.now_ms(), flow_type=2)
        assert [f.change for f in fees_only] == [D("-0.0005")]


def test_insufficient_balance_changes_nothing(hk: HashKey) -> None:
    before = balances(hk)
    with pytest.raises(InsufficientBalanceError):
        hk.spot.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="20", price="59000"
        )
    assert balances(hk) == before and hk.spot.list_open_orders() == []


# -- the other order endpoints -----------------------------------------------------------------


def place(hk: HashKey, price: str, side: str = "BUY", symbol: str = "BTCUSDT") -> Any:
    return hk.spot.create_order(
        symbol=symbol, side=side, type="LIMIT", quantity="0.01", price=price
    )


def test_batch_orders_answer_per_order(hk: HashKey) -> None:
    result = hk.spot.create_batch_orders(
        orders=[
            BatchOrderRequest(
                symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.01"), price=D("50000")
            ),
            BatchOrderRequest(
                symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("99"), price=D("50000")
            ),
        ]
    )
    ok, failed = result.result
    assert ok.code == "0000" and ok.order is not None and ok.order.status.value == "NEW"
    assert failed.code == "0401" and failed.order is None
    assert [o.order_id for o in hk.spot.list_open_orders()] == [ok.order.order_id]


def test_cancel_by_ids_reports_the_ones_not_cancelled(hk: HashKey) -> None:
    a, b = place(hk, "50000"), place(hk, "50001")
    result = hk.spot.cancel_orders_by_ids(ids=[a.order_id, "123"])
    assert [(f.order_id, f.code) for f in result.result] == [("123", "0211")]
    assert [o.order_id for o in hk.spot.list_open_orders()] == [b.order_id]


def test_cancel_open_orders_by_symbol_and_side(hk: HashKey) -> None:
    buy, sell = place(hk, "50000"), place(hk, "70000", side="SELL")
    eth = place(hk, "2000", symbol="ETHUSDT")
    assert hk.spot.cancel_open_orders(symbol="BTCUSDT", side="BUY").success
    assert {o.order_id for o in hk.spot.list_open_orders()} == {sell.order_id, eth.order_id}
    answer = hk.spot.cancel_all_open_orders()
    assert answer.code == "0000" and hk.spot.list_open_orders() == []
    closed = hk.spot.list_traded_orders(symbol="BTCUSDT")
    assert {o.order_id for o in closed} == {buy.order_id, sell.order_id}
    assert {o.status.value for o in closed} == {"CANCELED"}
    assert balances(hk)["USDT"] == (D("1000000"), D(0))


def test_sub_account_orders_and_trades_by_sub_account_id(ex: HashKeyExchange, hk: HashKey) -> None:
    hk.account.transfer(
        from_account_id=ex.ACCOUNT_ID, to_account_id=ex.SUB_ACCOUNT_ID, coin="USDT", quantity="1000"
    )
    with ex.lock:
        ex.ledger.place(
            account="sub",
            symbol="BTCUSDT",
            base="BTC",
            quote="USDT",
            side="BUY",
            kind="LIMIT",
            quantity=D("0.01"),
            price=D("50000"),
        )
    (order,) = hk.sub_account.list_open_orders(sub_account_id=ex.SUB_ACCOUNT_ID)
    assert order.account_id == ex.SUB_ACCOUNT_ID and hk.spot.list_open_orders() == []
    sub = hk.account.get_balances(account_id=int(ex.SUB_ACCOUNT_ID)).balances
    assert [(b.asset, b.free, b.locked) for b in sub] == [("USDT", D("500"), D("500"))]
    with pytest.raises(InvalidRequestError):
        hk.sub_account.list_open_orders(sub_account_id=ex.ACCOUNT_ID)


def test_coin_info_for_known_coins(hk: HashKey) -> None:
    info = hk.account.get_coin_info(coin_id="BTC")
    assert [c.coin_id for c in info.coins] == ["BTC"]
    with pytest.raises(InvalidRequestError):
        hk.account.get_coin_info(coin_id="DOGE")


# -- market data from the synthetic market ------------------------------------------------------


def test_klines_and_tickers_follow_the_markets_trades(ex: HashKeyExchange, hk: HashKey) -> None:
    ex.tick(steps=30)
    trades = ex.market.trades["BTCUSDT"]
    klines = hk.market.list_klines(symbol="BTCUSDT", interval="1m")
    assert sum(k.volume for k in klines) == sum(t.quantity for t in trades)
    assert klines[-1].close == trades[-1].price
    (ticker,) = hk.market.list_24hr_tickers(symbol="BTCUSDT")
    assert ticker.volume == sum(t.quantity for t in trades)
    assert ticker.high_price == max(t.price for t in trades)
    assert ticker.last_price == trades[-1].price
    (book,) = hk.market.list_book_tickers(symbol="BTCUSDT")
    (bid, bid_qty), (ask, ask_qty) = ex.market.best("BTCUSDT")
    assert (book.bid_price, book.bid_quantity, book.ask_price, book.ask_quantity) == (
        bid,
        bid_qty,
        ask,
        ask_qty,
    )


@pytest.mark.anyio
async def test_bbo_and_realtimes_are_pushed_on_tick(ex: HashKeyExchange) -> None:
    async with AsyncHashKey(**ex.client_options()) as hk, hk.streams.public() as s:
        await s.subscribe_bbo(symbol="BTCUSDT")
        await s.subscribe_realtimes(symbol="BTCUSDT")
        await asyncio.to_thread(ex.streams.wait_subscribed, "public", "realtimes:BTCUSDT")
        await asyncio.to_thread(ex.streams.wait_subscribed, "public", "bbo:BTCUSDT")
        while not any(c.trades for c in ex.tick("BTCUSDT")):
            pass
        bbo = realtime = None
        async with asyncio.timeout(5):
            async for event in s:
                if isinstance(event, BboUpdate):
                    bbo = event
                elif isinstance(event, RealtimesUpdate):
                    realtime = event
                if bbo and realtime:
                    break
    (bid, bid_qty), (ask, _) = ex.market.best("BTCUSDT")
    assert (bbo.data.bid_price, bbo.data.bid_quantity, bbo.data.ask_price) == (bid, bid_qty, ask)
    assert realtime.data.close == ex.market.trades["BTCUSDT"][-1].price


# -- Bibox -------------------------------------------------------------------------------------


@pytest.fixture
def bibox_ex() -> Iterator[BiboxExchange]:
    with BiboxExchange(seed=3, fee_rate="0.002") as exchange:
        yield exchange


def test_bibox_order_life_cycle_with_signed_quantities_and_user_events(
    bibox_ex: BiboxExchange,
) -> None:
    bids = bibox_ex.market.books["BTC_USDT"].top(20)[0]
    with Bibox(**bibox_ex.client_options(), max_retries=0) as bx, bx.streams.user() as stream:
        assert isinstance(next(stream), Connected)
        resting = bx.user.create_order(
            symbol="BTC_USDT",
            side="sell",
            type="limit",
            quantity=D("0.5"),
            price=D("70000"),
            client_order_id="42",
        )
        assert (resting.status, resting.quantity, resting.client_order_id) == (
            "unfilled",
            D("-0.5"),
            "42",
        )
        assert bx.user.get_order(client_order_id="42").order_id == resting.order_id
        btc = next(a for a in bx.user.list_accounts(asset=["BTC"]))
        assert (btc.available, btc.frozen) == (D("1.5"), D("0.5"))
        order_event, account_event = next(stream), next(stream)
        assert isinstance(order_event, OrderEvent) and order_event.data.status == "unfilled"
        assert isinstance(account_event, AccountEvent)
        assert (account_event.data.asset, account_event.data.frozen) == ("BTC", D("0.5"))

        sold = bx.user.create_order(
            symbol="BTC_USDT",
            side="sell",
            type="limit",
            quantity=D("0.1"),
            price=bids[0][0],
            time_in_force="ioc",
        )
        fills = bx.user.list_fills(order_id=str(sold.order_id))
        cancelled = bx.user.cancel_order(order_id=str(resting.order_id))
        with pytest.raises(OrderNotFoundError):
            bx.user.cancel_order(order_id=str(resting.order_id))
        settled = bx.user.list_orders(status="settled", symbol="BTC_USDT")
        ledger = bx.user.list_ledger(asset=["USDT"])
        assert bx.user.list_orders() == []
    taken = min(D("0.1"), bids[0][1])
    assert sold.executed_quantity == -taken and sold.executed_value == -taken * bids[0][0]
    assert [(f.price, f.quantity, f.liquidity.value) for f in fills] == [
        (bids[0][0], -taken, "taker")
    ]
    fee = taken * bids[0][0] * D("0.002")
    assert fills[0].fee.asset == "USDT" and fills[0].fee.amount == fee
    assert cancelled.status == "cancelled"
    assert [(o.order_id, o.status) for o in settled] == [
        (sold.order_id, "cancelled" if taken < D("0.1") else "filled"),
        (resting.order_id, "cancelled"),
    ]
    assert [(e.type.value, e.amount) for e in ledger] == [
        ("trade", taken * bids[0][0]),
        ("fee", -fee),
    ]
    assert ledger[-1].balance == D("100000") + taken * bids[0][0] - fee


def test_bibox_market_data_rest_and_streams_agree(bibox_ex: BiboxExchange) -> None:
    with Bibox(**bibox_ex.client_options(), max_retries=0) as bx, bx.streams.market() as s:
        s.subscribe_candles(symbol="BTC_USDT", time_frame="1h")
        s.subscribe_ticker(symbol="BTC_USDT")
        while not any(c.trades for c in bibox_ex.tick("BTC_USDT")):
            pass
        candle = ticker = None
        for event in s:
            if isinstance(event, CandlesUpdate):
                candle = event
            elif isinstance(event, TickerUpdate):
                ticker = event
            if candle and ticker:
                break
        rest_candles = bx.market.list_candles(symbol="BTC_USDT", time_frame="1h")
        (rest_ticker,) = bx.market.list_tickers(symbol=["BTC_USDT"])
        book = bx.market.get_order_book(symbol="BTC_USDT", level=5)
        trades = bx.market.list_trades(symbol="BTC_USDT")
    last = bibox_ex.market.trades["BTC_USDT"][-1]
    assert candle.data[-1].close == last.price == rest_candles[-1].close
    assert candle.data[-1].volume == rest_candles[-1].volume
    assert candle.data[-1].start_time == bar_start(last.time, "1h")
    assert rest_ticker.last_price == last.price and D(ticker.data["p"]) == last.price
    assert trades[-1].trade_id == str(last.id)
    bids = bibox_ex.market.books["BTC_USDT"].top(5)[0]
    assert [(b.price, b.quantity) for b in book.bids] == bids


# -- BingX and Binance Options -----------------------------------------------------------------


def test_bingx_transfers_move_funds_and_page_the_history() -> None:
    with BingXExchange() as ex, BingX(**ex.client_options(), max_retries=0) as bx:
        ids = [
            bx.wallet.transfer(type="FUND_PFUTURES", asset="USDT", amount=D(n)).transfer_id
            for n in ("100", "250.5", "7")
        ]
        back = bx.wallet.transfer(type="PFUTURES_FUND", asset="USDT", amount=D("50"))
        with pytest.raises(InsufficientBalanceError):
            bx.wallet.transfer(type="SFUTURES_FUND", asset="USDT", amount=D("1"))
        first = bx.wallet.list_transfers(type="FUND_PFUTURES", size=2)
        second = bx.wallet.list_transfers(type="FUND_PFUTURES", size=2, current=2)
        returned = bx.wallet.list_transfers(type="PFUTURES_FUND")
    assert ex.balances["FUND"]["USDT"] == D("100000") - D("357.5") + D("50")
    assert ex.balances["PFUTURES"]["USDT"] == D("307.5")
    # newest first; amounts leaving the funding account are negative, as in the sample
    assert first.total == 3 and [r.transfer_id for r in first.rows] == ids[:0:-1]
    assert [(r.transfer_id, r.amount) for r in second.rows] == [(ids[0], D("-100"))]
    assert [(r.transfer_id, r.amount) for r in returned.rows] == [(back.transfer_id, D("50"))]
    assert ex.calls[0].path == "/openApi/api/v3/get/asset/transfer"


def test_binance_options_orders_rest_fill_and_answer_ack_or_result() -> None:
    with (
        BinanceOptionsExchange() as ex,
        BinanceOptions(**ex.client_options(), max_retries=0) as bn,
    ):
        symbol = "BTC-220815-50000-C"
        ask = ex.market.books[symbol].top(1)[1][0]
        ack = bn.trade.create_order(
            symbol=symbol,
            side="BUY",
            type="LIMIT",
            quantity=D("0.5"),
            price=D("900"),
            time_in_force="GTC",
        )
        result = bn.trade.create_order(
            symbol=symbol,
            side="BUY",
            type="LIMIT",
            quantity=D("0.01"),
            price=ask[0],
            time_in_force="GTC",
            new_order_resp_type="RESULT",
            client_order_id="mine-1",
        )
        with pytest.raises(InsufficientBalanceError) as caught:
            bn.trade.create_order(
                symbol=symbol,
                side="SELL",
                type="LIMIT",
                quantity=D("500"),  # writes 499.99 contracts: more margin than USDT held
                price=D("2000"),
                time_in_force="GTC",
            )
    assert ack.status is None and ack.create_date is not None and ack.price == 900
    assert (result.status.value, result.executed_qty, result.avg_price) == (
        "FILLED",
        D("0.01"),
        ask[0],
    )
    assert result.client_order_id == "mine-1" and result.quote_asset == "USDT"
    assert caught.value.code == -2027  # OPTION_MARGIN_NOT_SUFFICIENT
    held = D("0.5") * 900
    assert ex.balances["options"] == {
        "USDT": D("100000") - held - D("0.01") * ask[0],
        symbol: D("0.01"),
    }
    assert ex.ledger.orders[str(ack.order_id)].held == held


# -- small parts -------------------------------------------------------------------------------


def test_json_numbers_from_decimals_are_exact() -> None:
    payload = {"a": D("0.10043850000"), "b": [D("-1E+2"), D("1152921504606846976.5")], "s": "x"}
    assert dumps(payload) == '{"a": 0.1004385, "b": [-100, 1152921504606846976.5], "s": "x"}'
    assert dumps({"text": "\u0000"}) == '{"text": "\\u0000"}'


def test_blocking_next_gives_up_after_its_timeout(ex: HashKeyExchange, hk: HashKey) -> None:
    with hk.streams.public() as stream:
        assert isinstance(stream.next(timeout=5), Connected)
        with pytest.raises(TimeoutError):
            stream.next(timeout=0.2)
        stream.subscribe_trade(symbol="BTCUSDT")
        ex.streams.wait_subscribed("public", "trade:BTCUSDT")
        printed = ex.trade("BTCUSDT", "60000", "0.25", taker="BUY")
        event = stream.next(timeout=5)
    assert (event.data.price, event.data.quantity) == (printed.price, printed.quantity)


def test_bar_start_for_every_kind_of_interval() -> None:
    t = int(datetime(2026, 11, 21, 15, 47, 12, tzinfo=UTC).timestamp() * 1000)

    def start(interval: str) -> datetime:
        return datetime.fromtimestamp(bar_start(t, interval) / 1000, UTC)

    assert start("1m") == datetime(2026, 11, 21, 15, 47, tzinfo=UTC)
    assert start("15m") == datetime(2026, 11, 21, 15, 45, tzinfo=UTC)
    assert start("4h") == datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert start("1d") == datetime(2026, 11, 21, tzinfo=UTC)
    assert start("1w") == start("1W") == datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
    assert start("1M") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown interval"):
        bar_start(t, "7x")


def test_klines_of_any_interval_aggregate_the_minutes(ex: HashKeyExchange, hk: HashKey) -> None:
    for _ in range(12):  # a dozen minutes of market time, 40 steps each
        ex.tick("BTCUSDT", steps=40)
        ex.market.clock_ms += 60_000
    minutes = hk.market.list_klines(symbol="BTCUSDT", interval="1m", limit=1000)
    fives = hk.market.list_klines(symbol="BTCUSDT", interval="5m", limit=1000)
    assert len(fives) >= 2 and len(minutes) > len(fives)
    for bar in fives:
        inside = [m for m in minutes if bar.open_time <= m.open_time < bar.open_time + 300_000]
        assert bar.volume == sum(m.volume for m in inside)
        assert (bar.open, bar.close) == (inside[0].open, inside[-1].close)
        assert bar.high == max(m.high for m in inside)
        assert bar.close_time == bar.open_time + 300_000 - 1


HOUR_MS = 3_600_000


def test_trades_and_klines_of_the_last_hour_are_found_by_time() -> None:
    """Trades and candles were timed from Nov 2023 while depth, orders and the server time
    were the exchange clock's now: a ``start_time=now - 1h`` filter found nothing."""
    with HashKeyExchange(seed=5) as ex, HashKey(**ex.client_options(), max_retries=0) as hk:
        ex.tick("BTCUSDT", steps=30)
        now = ex.now_ms()
        printed = ex.market.trades["BTCUSDT"]
        assert printed
        trades = hk.market.list_trades(symbol="BTCUSDT")  # (HashKey's takes no time filter)
        assert trades and all(now - HOUR_MS <= t.time <= now for t in trades)  # not 2023
        klines = hk.market.list_klines(symbol="BTCUSDT", interval="1m", start_time=now - HOUR_MS)
        assert sum(k.number_of_trades for k in klines) == len(printed)
        assert hk.market.get_depth(symbol="BTCUSDT").time - klines[-1].open_time < 60_000 + 1000
    with BiboxExchange(seed=5) as bex, Bibox(**bex.client_options(), max_retries=0) as bx:
        bex.tick("BTC_USDT", steps=30)
        now = bex.now_ms()
        count = len(bex.market.trades["BTC_USDT"])
        recent = bx.market.list_trades(symbol="BTC_USDT", start_time=now - HOUR_MS)
        assert count and len(recent) == count
        candles = bx.market.list_candles(symbol="BTC_USDT", time_frame="1m", after=now - HOUR_MS)
        assert sum(c.trade_count for c in candles) == count


def test_market_times_follow_a_fake_clock_deterministically() -> None:
    start = 1_795_000_000.0  # 2026-11-18
    seen = []
    for _ in range(2):
        clock = FakeClock(start)
        with HashKeyExchange(seed=9, clock=clock) as ex, HashKey(**ex.client_options()) as hk:
            ex.tick("BTCUSDT", steps=20)
            clock.advance(2 * 3600)  # two hours pass
            ex.tick("BTCUSDT", steps=20)
            now = ex.now_ms()
            times = [t.time for t in ex.market.trades["BTCUSDT"]]
            # the clock's now: its start for the first steps, two hours on for the others
            later = int(start * 1000) + 2 * HOUR_MS
            assert set(times) == {int(start * 1000), later} and now == later
            recent = hk.market.list_klines(
                symbol="BTCUSDT", interval="1m", start_time=now - HOUR_MS
            )
            earlier = hk.market.list_klines(symbol="BTCUSDT", interval="1m", end_time=now - HOUR_MS)
            assert [k.open_time for k in recent] == [bar_start(now, "1m")]
            assert [k.open_time for k in earlier] == [bar_start(int(start * 1000), "1m")]
            assert sum(k.number_of_trades for k in recent + earlier) == len(times)
            seen.append((times, recent, earlier))
    assert seen[0] == seen[1]  # the same seed and clock: the same trades and candles


def test_bibox_records_page_by_id_time_and_limit(bibox_ex: BiboxExchange) -> None:
    with Bibox(**bibox_ex.client_options(), max_retries=0) as bx:
        for _ in range(3):
            bx.user.create_order(
                symbol="BTC_USDT",
                side="buy",
                type="limit",
                quantity=D("0.001"),
                price=D("70000"),
                time_in_force="ioc",
            )
        fills = bx.user.list_fills(symbol="BTC_USDT")
        ids = [f.fill_id for f in fills]
        assert len(ids) == 3 and ids == sorted(ids)
        assert [f.fill_id for f in bx.user.list_fills(symbol="BTC_USDT", limit=2)] == ids[1:]
        after = bx.user.list_fills(symbol="BTC_USDT", after=ids[1])
        before = bx.user.list_fills(symbol="BTC_USDT", before=ids[1])
        late = bx.user.list_fills(symbol="BTC_USDT", start_time=fills[2].time)
        entries = bx.user.list_ledger(asset=["BTC"], limit=1)
    assert [f.fill_id for f in after] == ids[1:] and [f.fill_id for f in before] == ids[:2]
    assert [f.fill_id for f in late] == [f.fill_id for f in fills if f.time >= fills[2].time]
    assert [(e.type.value, e.amount) for e in entries] == [("fee", D("-0.000002"))]
