"""Markets (issue 13 parts 1-2): each exchange's trading rules loaded from its own endpoint
(mapped in its spec), exact rounding and checks on ``cambist.markets.Market``, the
``check_orders`` option (nothing sent on failure) and the local exchanges refusing orders
that break a rule with the document's code. Sync and async, on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from cambist.bibox import AsyncBibox, Bibox
from cambist.binance_options import AsyncBinanceOptions, BinanceOptions
from cambist.bingx import AsyncBingX, BingX
from cambist.errors import (
    APIError,
    APITimeoutError,
    ExecutionStatusUnknownError,
    InvalidRequestError,
    MarketRuleError,
    MarketsUnavailableError,
    RequestValidationError,
    UnknownMarketError,
)
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import BatchOrderRequest
from cambist.markets import Market
from cambist.testing import (
    BiboxExchange,
    BinanceOptionsExchange,
    BingXExchange,
    FakeClock,
    HashKeyExchange,
    LocalExchange,
    SymbolRules,
)
from codegen.schema import SpecError
from codegen.spec import load_spec

D = Decimal

BTC = Market(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    status="TRADING",
    price_tick=D("0.01"),
    quantity_step=D("0.0001"),
    min_quantity=D("0.0002"),
    max_quantity=D("100"),
    min_notional=D("10"),
    max_notional=D("1000000"),
    market_min_notional=D("5"),
)


# -- Market: rounding and checks (pure) --------------------------------------------------


def test_round_price_goes_the_way_asked_exactly() -> None:
    assert BTC.round_price("50000.004", rounding=ROUND_DOWN) == D("50000.00")
    assert str(BTC.round_price("50000.004", rounding=ROUND_UP)) == "50000.01"
    assert BTC.round_price("50000.005", rounding=ROUND_HALF_EVEN) == D("50000.00")
    assert str(BTC.round_price(D("1E+5"), rounding=ROUND_DOWN)) == "100000.00"
    half = Market(symbol="X", base="X", quote="Y", status="T", price_tick=D("0.5"))
    assert half.round_price("10.74", rounding=ROUND_DOWN) == D("10.5")


def test_round_quantity_is_toward_zero_unless_asked() -> None:
    assert str(BTC.round_quantity("0.123456")) == "0.1234"
    assert str(BTC.round_quantity("0.123401", rounding=ROUND_CEILING)) == "0.1235"
    assert BTC.round_quantity(D("-0.12349")) == D("-0.1234")  # toward zero, not down
    bare = Market(symbol="X", base="X", quote="Y", status="T")  # no step: unchanged
    assert bare.round_quantity("0.123456789") == D("0.123456789")


@pytest.mark.parametrize(
    ("order", "rule", "param", "value", "valid"),
    [
        ({"price": "50000.001", "quantity": "1"}, "price_tick", "price", "50000.001",
         ("50000.00", "50000.01")),
        ({"price": "50000", "quantity": "0.000011"}, "quantity_step", "quantity", "0.000011",
         ("0.0001",)),  # not 0.0000: no order has it
        ({"price": "0.004", "quantity": "1"}, "price_tick", "price", "0.004", ("0.01",)),
        ({"price": "50000", "quantity": "-0.000011"}, "quantity_step", "quantity", "-0.000011",
         ()),  # -0.0000 is no order's quantity either
        ({"price": "50000", "quantity": "0.0001"}, "min_quantity", "quantity", "0.0001",
         ("0.0002",)),
        ({"price": "5", "quantity": "101"}, "max_quantity", "quantity", "101", ("100",)),
        ({"price": "10", "quantity": "0.5"}, "min_notional", "quantity", "0.5", ("1.0000",)),
        ({"price": "50000", "quantity": "50"}, "max_notional", "quantity", "50", ("20.0000",)),
        ({"quote_amount": "1", "market": True}, "market_min_notional", "quote_amount", "1",
         ("5",)),
    ],
)  # fmt: skip
def test_check_names_the_rule_the_value_and_the_nearest_valid_values(
    order: dict[str, Any], rule: str, param: str, value: str, valid: tuple[str, ...]
) -> None:
    with pytest.raises(MarketRuleError) as caught:
        BTC.check(**order)
    e = caught.value
    assert isinstance(e, RequestValidationError)  # bad input: nothing is sent
    assert (e.rule, e.param, e.symbol, e.value) == (rule, param, "BTCUSDT", D(value))
    assert tuple(map(str, e.valid)) == valid
    assert rule in str(e) and value in str(e) and all(v in str(e) for v in valid)


def test_a_valid_order_passes_and_every_broken_rule_is_listed() -> None:
    BTC.check(price=D("50000.01"), quantity=D("0.0002"))
    BTC.check(quantity="0.5", market=True)  # a market order's price is not checked
    found = BTC.violations(price="50000.001", quantity="0.000011")
    assert [e.rule for e in found] == [
        "price_tick",
        "quantity_step",
        "min_quantity",
        "min_notional",
    ]
    with pytest.raises(MarketRuleError) as caught:
        BTC.check(price="50000.001", quantity="0.000011")
    assert caught.value.rule == "price_tick"
    assert "quantity_step" in "".join(caught.value.__notes__)


def test_values_that_are_not_finite_numbers_are_refused_not_checked() -> None:
    with pytest.raises(ValueError, match="price: Decimal\\('NaN'\\) is not a finite number"):
        BTC.check(price=D("NaN"), quantity="0.1")
    with pytest.raises(ValueError, match="quantity: 'abc' is not a decimal number"):
        BTC.violations(price="1000", quantity="abc")
    with pytest.raises(ValueError, match="not a finite number"):
        BTC.round_quantity("Infinity")


def test_a_market_not_open_for_trading_refuses_every_order() -> None:
    halted = Market(symbol="BTCUSDT", base="BTC", quote="USDT", status="HALT", active=False)
    with pytest.raises(MarketRuleError) as caught:
        halted.check(price="50000", quantity="1")
    assert (caught.value.rule, caught.value.value, caught.value.valid) == ("status", "BTCUSDT", ())
    assert str(caught.value) == (
        "Market.check: BTCUSDT: symbol BTCUSDT is not open for trading (HALT) (rule status)"
    )


# -- loading the markets -----------------------------------------------------------------

SYNC: list[tuple[type[LocalExchange], Any, str]] = [
    (HashKeyExchange, HashKey, "BTCUSDT"),
    (BiboxExchange, Bibox, "BTC_USDT"),
    (BinanceOptionsExchange, BinanceOptions, "BTC-220815-50000-C"),
]
ASYNC: list[tuple[type[LocalExchange], Any, str]] = [
    (HashKeyExchange, AsyncHashKey, "BTCUSDT"),
    (BiboxExchange, AsyncBibox, "BTC_USDT"),
    (BinanceOptionsExchange, AsyncBinanceOptions, "BTC-220815-50000-C"),
]
EXPECTED: dict[str, dict[str, Any]] = {
    "hashkey": dict(
        base="BTC", quote="USDT", status="TRADING", active=True, price_tick=D("0.01"),
        quantity_step=D("0.0001"), min_quantity=D("0.0001"), max_quantity=D("1000"),
        min_notional=D("1"), max_notional=D("100000000"), market_min_quantity=D("0.0001"),
        market_max_quantity=D("500"), market_min_notional=D("1"),
        market_max_notional=D("50000000"), price_precision=2, quantity_precision=4,
        min_price=None, max_price=None,
    ),
    "bibox": dict(
        base="BTC", quote="USDT", status="tradable", active=True, price_tick=D("0.01"),
        min_price=D("0.01"), max_price=D("100000000"), quantity_step=D("0.0001"),
        min_quantity=D("0.0001"), max_quantity=D("1000000"), min_notional=D("1"),
        max_notional=None, price_precision=2, quantity_precision=4,
    ),
    "binance_options": dict(
        base="BTC-220815-50000-C", quote="USDT", status="TRADING", active=True,
        price_tick=D("0.01"), min_price=D("0.01"), max_price=D("100000"),
        quantity_step=D("0.01"), min_quantity=D("0.01"), max_quantity=D("10000"),
        min_notional=None, price_precision=2, quantity_precision=2,
    ),
}  # fmt: skip


def _loads(ex: LocalExchange) -> int:
    paths = ("/api/v1/exchangeInfo", "/api/v4/marketdata/pairs", "/eapi/v1/exchangeInfo")
    return sum(c.path in paths for c in ex.calls)


@pytest.fixture(params=SYNC, ids=lambda p: p[0].id)
def sync_case(request: pytest.FixtureRequest) -> Iterator[tuple[LocalExchange, Any, str]]:
    ex_cls, client_cls, symbol = request.param
    with ex_cls() as ex, client_cls(**ex.client_options()) as client:
        yield ex, client, symbol


@pytest.fixture(params=ASYNC, ids=lambda p: p[0].id)
def async_case(request: pytest.FixtureRequest) -> Iterator[tuple[LocalExchange, Any, str]]:
    ex_cls, client_cls, symbol = request.param
    with ex_cls() as ex:
        yield ex, client_cls, symbol


def test_markets_load_every_simulated_symbol_with_its_rules(
    sync_case: tuple[LocalExchange, Any, str],
) -> None:
    ex, client, symbol = sync_case
    markets = client.markets()
    assert set(markets) == set(ex.symbols)
    m = client.get_market(symbol)
    for name, value in EXPECTED[ex.id].items():
        assert getattr(m, name) == value, name
    assert m.info is not None  # the exchange's own object
    assert _loads(ex) == 1  # cached: one load


@pytest.mark.anyio
async def test_markets_load_every_simulated_symbol_with_its_rules_async(
    async_case: tuple[LocalExchange, Any, str],
) -> None:
    ex, client_cls, symbol = async_case
    async with client_cls(**ex.client_options()) as client:
        markets = await client.markets()
        assert set(markets) == set(ex.symbols)
        m = await client.get_market(symbol)
        for name, value in EXPECTED[ex.id].items():
            assert getattr(m, name) == value, name
    assert _loads(ex) == 1


def test_markets_are_cached_refreshed_on_demand_and_after_the_ttl() -> None:
    clock = FakeClock()
    with (
        HashKeyExchange(clock=clock) as ex,
        HashKey(**ex.client_options(), clock=clock, markets_ttl=60) as hk,
    ):
        first = hk.markets()
        assert hk.markets() is first and _loads(ex) == 1
        ex.rules["BTCUSDT"] = SymbolRules(min_notional=D("10"))
        assert hk.get_market("BTCUSDT").min_notional == D("1")  # still the cached one
        assert hk.markets(refresh=True)["BTCUSDT"].min_notional == D("10")
        assert _loads(ex) == 2
        clock.advance(59)
        hk.markets()
        assert _loads(ex) == 2
        clock.advance(1)
        hk.markets()
        assert _loads(ex) == 3


@pytest.mark.anyio
async def test_markets_are_cached_and_refreshed_async() -> None:
    clock = FakeClock()
    with HashKeyExchange(clock=clock) as ex:
        async with AsyncHashKey(**ex.client_options(), clock=clock, markets_ttl=60) as hk:
            first = await hk.markets()
            assert await hk.markets() is first
            await hk.markets(refresh=True)
            clock.advance(60)
            await hk.get_market("ETHUSDT")
    assert _loads(ex) == 3


def test_market_options_are_checked_when_the_client_is_built() -> None:
    with pytest.raises(TypeError, match="check_orders"):
        HashKey(check_orders="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="markets_ttl"):
        HashKey(markets_ttl=0)


def test_unknown_symbol_names_close_matches(sync_case: tuple[LocalExchange, Any, str]) -> None:
    _, client, symbol = sync_case
    with pytest.raises(UnknownMarketError) as caught:
        client.get_market(symbol[:-1])
    assert caught.value.symbol == symbol[:-1]
    assert symbol in caught.value.close_matches and repr(symbol) in str(caught.value)
    assert isinstance(caught.value, RequestValidationError)


@pytest.mark.anyio
async def test_unknown_symbol_names_close_matches_async() -> None:
    with BiboxExchange() as ex:
        async with AsyncBibox(**ex.client_options()) as bx:
            with pytest.raises(UnknownMarketError) as caught:
                await bx.get_market("btc_usdt")
    assert caught.value.close_matches == ["BTC_USDT"]


def test_bingx_has_no_markets_and_says_why() -> None:
    with BingXExchange() as ex, BingX(**ex.client_options()) as bx:
        with pytest.raises(MarketsUnavailableError, match="no market or symbol endpoint"):
            bx.markets()
        with pytest.raises(MarketsUnavailableError):
            bx.get_market("BTC-USDT")
        assert ex.calls == []  # nothing sent


@pytest.mark.anyio
async def test_bingx_has_no_markets_and_says_why_async() -> None:
    with BingXExchange() as ex:
        async with AsyncBingX(**ex.client_options()) as bx:
            with pytest.raises(MarketsUnavailableError, match="bingx"):
                await bx.markets()
        assert ex.calls == []


# -- check_orders: nothing sent on failure ------------------------------------------------

BREAKING: list[tuple[type[LocalExchange], Any, str, dict[str, Any], str]] = [
    (HashKeyExchange, HashKey, "spot.create_order",
     dict(symbol="BTCUSDT", side="BUY", type="LIMIT", price="50000.001", quantity="0.01"),
     "price_tick"),
    (BiboxExchange, Bibox, "user.create_order",
     dict(symbol="BTC_USDT", side="buy", type="limit", price="50000", quantity="0.000011"),
     "quantity_step"),
    (BinanceOptionsExchange, BinanceOptions, "trade.create_order",
     dict(symbol="BTC-220815-50000-C", side="BUY", type="LIMIT", time_in_force="GTC", price="5",
          quantity="20000"),
     "max_quantity"),
]  # fmt: skip


def _orders_sent(ex: LocalExchange) -> int:
    return sum(c.endpoint is not None and "order" in c.endpoint.name for c in ex.calls)


@pytest.mark.parametrize(("ex_cls", "client_cls", "name", "order", "rule"), BREAKING)
def test_check_orders_refuses_before_sending(
    ex_cls: type[LocalExchange], client_cls: Any, name: str, order: dict[str, Any], rule: str
) -> None:
    resource, method = name.split(".")
    with ex_cls() as ex, client_cls(**ex.client_options(), check_orders=True) as client:
        with pytest.raises(MarketRuleError) as caught:
            getattr(getattr(client, resource), method)(**order)
        assert caught.value.rule == rule and caught.value.endpoint == name
        assert _orders_sent(ex) == 0 and _loads(ex) == 1  # only the markets were loaded
        ok = dict(order, price="1000", quantity="0.1")  # keeps every rule: sent
        getattr(getattr(client, resource), method)(**ok)
        assert _orders_sent(ex) == 1 and _loads(ex) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("ex_cls", "client_cls", "name", "order", "rule"),
    [
        (HashKeyExchange, AsyncHashKey, *BREAKING[0][2:]),
        (BiboxExchange, AsyncBibox, *BREAKING[1][2:]),
        (BinanceOptionsExchange, AsyncBinanceOptions, *BREAKING[2][2:]),
    ],
)
async def test_check_orders_refuses_before_sending_async(
    ex_cls: type[LocalExchange], client_cls: Any, name: str, order: dict[str, Any], rule: str
) -> None:
    resource, method = name.split(".")
    with ex_cls() as ex:
        async with client_cls(**ex.client_options(), check_orders=True) as client:
            with pytest.raises(MarketRuleError) as caught:
                await getattr(getattr(client, resource), method)(**order)
            assert caught.value.rule == rule
            assert _orders_sent(ex) == 0
            await getattr(getattr(client, resource), method)(
                **dict(order, price="1000", quantity="0.1")
            )
    assert _orders_sent(ex) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"price": Decimal("NaN")}, "is not a finite number"),
        ({"price": "abc"}, "is not a decimal number"),
        ({"quantity": "-1"}, "quantity: must be greater than 0"),
    ],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_check_orders_reports_bad_values_as_without_it(
    mode: str, change: dict[str, Any], message: str
) -> None:
    # The endpoint's own checks come first: a NaN price is not an arithmetic error in a
    # rule, nor a negative quantity a broken minimum.
    from tests.test_faults_rest import Driver

    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "price": "1000"}
    order = {**order, "quantity": "0.1", **change}
    with (
        HashKeyExchange() as ex,
        Driver(mode, (HashKey, AsyncHashKey), **ex.client_options(), check_orders=True) as c,
    ):
        with pytest.raises(RequestValidationError, match=message) as caught:
            c(lambda x: x.spot.create_order(**order))
        assert not isinstance(caught.value, MarketRuleError)
        assert _orders_sent(ex) == 0 and _loads(ex) == 0  # nothing sent, nothing loaded


def test_check_orders_checks_each_order_of_a_batch_and_unknown_symbols() -> None:
    with HashKeyExchange() as ex, HashKey(**ex.client_options(), check_orders=True) as hk:
        good = BatchOrderRequest(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.01"),
                                 price=D("50000"))  # fmt: skip
        bad = BatchOrderRequest(symbol="ETHUSDT", side="BUY", type="LIMIT", quantity=D("0.01"),
                                price=D("50"))  # fmt: skip
        with pytest.raises(MarketRuleError) as caught:
            hk.spot.create_batch_orders(orders=[good, bad])
        assert (caught.value.rule, caught.value.symbol) == ("min_notional", "ETHUSDT")
        assert caught.value.valid == (D("0.0200"),)
        with pytest.raises(UnknownMarketError):
            hk.spot.create_order(symbol="BTCUSD", side="BUY", type="LIMIT", quantity="1",
                                 price="5")  # fmt: skip
        with pytest.raises(MarketRuleError) as amount:  # a market order by quote amount
            hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", amount="0.5")
        assert amount.value.rule == "market_min_notional"
        assert _orders_sent(ex) == 0


def test_check_orders_is_off_by_default() -> None:
    with HashKeyExchange() as ex, HashKey(**ex.client_options()) as hk:
        with pytest.raises(InvalidRequestError):
            hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01",
                                 price="50000.001")  # fmt: skip
        assert _loads(ex) == 0 and _orders_sent(ex) == 1


# -- the local exchanges refuse what breaks a rule, with the document's codes -------------

REFUSED: list[tuple[type[LocalExchange], Any, str, dict[str, Any], object, str]] = [
    # HashKey: the error table's codes ("... Check ExchangeInfo").
    (HashKeyExchange, HashKey, "spot.create_order",
     dict(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="50000.001"),
     "0209", "Invalid price precision"),
    (HashKeyExchange, HashKey, "spot.create_order",
     dict(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.000011", price="50000"),
     "-1137", "Order quantity precision too large"),
    (HashKeyExchange, HashKey, "spot.create_order",
     dict(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="1001", price="5"),
     "-1135", "Order quantity greater than the maximum"),
    (HashKeyExchange, HashKey, "spot.create_order",
     dict(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.0001", price="1"),
     "-1140", "Order amount lower than the minimum"),
    (HashKeyExchange, HashKey, "spot.create_order",
     dict(symbol="BTCUSDT", side="BUY", type="MARKET", amount="0.5"),
     "-1140", "Order amount lower than the minimum"),
    # Bibox: no code for these in its table: -2004 "Invalid value for parameter".
    (BiboxExchange, Bibox, "user.create_order",
     dict(symbol="BTC_USDT", side="buy", type="limit", quantity="0.01", price="50000.001"),
     -2004, "Invalid value for parameter: price"),
    (BiboxExchange, Bibox, "user.create_order",
     dict(symbol="BTC_USDT", side="buy", type="limit", quantity="0.000011", price="50000"),
     -2004, "Invalid value for parameter: quantity"),
    (BiboxExchange, Bibox, "user.create_order",
     dict(symbol="BTC_USDT", side="buy", type="limit", quantity="0.0001", price="5"),
     -2004, "Invalid value for parameter: quantity"),
    # Binance Options: its options error list.
    (BinanceOptionsExchange, BinanceOptions, "trade.create_order",
     dict(symbol="BTC-220815-50000-C", side="BUY", type="LIMIT", time_in_force="GTC",
          quantity="1", price="5.001"),
     -4029, "Tick size precision is invalid."),
    (BinanceOptionsExchange, BinanceOptions, "trade.create_order",
     dict(symbol="BTC-220815-50000-C", side="BUY", type="LIMIT", time_in_force="GTC",
          quantity="0.001", price="5"),
     -4030, "Step size precision is invalid."),
    (BinanceOptionsExchange, BinanceOptions, "trade.create_order",
     dict(symbol="BTC-220815-50000-C", side="BUY", type="LIMIT", time_in_force="GTC",
          quantity="20000", price="5"),
     -4005, "Quantity greater than max quantity."),
    (BinanceOptionsExchange, BinanceOptions, "trade.create_order",
     dict(symbol="BTC-220815-50000-C", side="BUY", type="LIMIT", time_in_force="GTC",
          quantity="1", price="200000"),
     -4002, "Price greater than max price."),
]  # fmt: skip


@pytest.mark.parametrize(("ex_cls", "client_cls", "name", "order", "code", "message"), REFUSED)
def test_local_exchange_refuses_a_broken_rule_with_the_documents_code(
    ex_cls: type[LocalExchange],
    client_cls: Any,
    name: str,
    order: dict[str, Any],
    code: object,
    message: str,
) -> None:
    resource, method = name.split(".")
    with ex_cls() as ex, client_cls(**ex.client_options()) as client:
        with pytest.raises(InvalidRequestError) as caught:
            getattr(getattr(client, resource), method)(**order)
        assert ex.ledger.orders == {}  # refused: nothing placed, nothing held
    assert str(caught.value.code) == str(code)
    assert caught.value.message == message


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("ex_cls", "client_cls", "name", "order", "code"),
    [
        (HashKeyExchange, AsyncHashKey, *REFUSED[1][2:5]),
        (BiboxExchange, AsyncBibox, *REFUSED[5][2:5]),
        (BinanceOptionsExchange, AsyncBinanceOptions, *REFUSED[8][2:5]),
    ],
)
async def test_local_exchange_refuses_a_broken_rule_async(
    ex_cls: type[LocalExchange], client_cls: Any, name: str, order: dict[str, Any], code: object
) -> None:
    resource, method = name.split(".")
    with ex_cls() as ex:
        async with client_cls(**ex.client_options()) as client:
            with pytest.raises(APIError) as caught:
                await getattr(getattr(client, resource), method)(**order)
    assert str(caught.value.code) == str(code)


def test_a_batch_order_breaking_a_rule_is_refused_alone() -> None:
    with HashKeyExchange() as ex, HashKey(**ex.client_options()) as hk:
        answer = hk.spot.create_batch_orders(
            orders=[
                BatchOrderRequest(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.01"),
                                  price=D("50000")),
                BatchOrderRequest(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.01"),
                                  price=D("50000.001")),
            ]
        )  # fmt: skip
    codes = [str(r.code) for r in answer.result]
    assert codes == ["0000", "0209"]


def test_rules_given_to_a_local_exchange_are_reported_and_enforced() -> None:
    rules = {"BTC_USDT": SymbolRules(tick=D("0.5"), step=D("0.01"), min_notional=D("100"))}
    with BiboxExchange(rules=rules) as ex, Bibox(**ex.client_options()) as bx:
        m = bx.get_market("BTC_USDT")
        assert (m.price_tick, m.quantity_step, m.min_notional) == (D("0.5"), D("0.01"), D("100"))
        assert bx.get_market("ETH_USDT").price_tick == D("0.01")  # the default rules
        with pytest.raises(InvalidRequestError):
            bx.user.create_order(symbol="BTC_USDT", side="buy", type="limit", quantity="1",
                                 price="50000.25")  # fmt: skip
        m.check(price="50000.5", quantity="0.01")
        bx.user.create_order(symbol="BTC_USDT", side="buy", type="limit", quantity="0.01",
                             price="50000.5")  # fmt: skip


def test_the_clients_read_the_simulated_market_and_account_answers() -> None:
    with HashKeyExchange() as ex, HashKey(**ex.client_options()) as hk:
        info = hk.market.get_exchange_info()
        assert [s.symbol for s in info.symbols] == list(ex.symbols)
        assert info.coins is not None and {c.coin_id for c in info.coins} >= {"BTC", "USDT"}
        types = hk.account.list_account_types()
        assert [a.account_id for a in types] == [ex.ACCOUNT_ID, ex.SUB_ACCOUNT_ID]
        assert hk.account.check_api_key().account_type == "Master Account"
        assert [r.symbol for r in hk.account.get_vip_info().data] == list(ex.symbols)
    with BinanceOptionsExchange() as bex, BinanceOptions(**bex.client_options()) as bn:
        account = bn.account.get_account()
        assert account.asset[0].available == D("100000")
        assert [s.symbol for s in bn.market.get_exchange_info().option_symbols] == list(bex.symbols)


# -- the spec's mapping is checked when the spec is loaded --------------------------------


def _edited_spec_error(tmp_path: Path, exchange: str, old: str, new: str) -> tuple[str, str]:
    """Load a copy of ``specs/<exchange>`` whose ``exchange.yaml`` has ``old`` replaced by
    ``new`` (once): the edited text and the message of the SpecError the load fails with."""
    folder = tmp_path / "specs" / exchange
    shutil.copytree(Path(__file__).resolve().parent.parent / "specs" / exchange, folder)
    path = folder / "exchange.yaml"
    text = path.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(folder, tmp_path)
    return text, str(info.value)


def _line_of(text: str, row_start: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith(row_start))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("price_tick: PRICE_FILTER.tickSize", "price_tick: PRICE_FILTER.tikSize",
         "SymbolFilter has no field 'tikSize'"),
        ("base: baseAsset", "base: baseCoin", "SymbolInfo has no field 'baseCoin'"),
        ("active: [TRADING]", "active: [TRADNG]", "active ['TRADNG'] not in SymbolStatus"),
        ("price_tick: PRICE_FILTER.tickSize", "price_tick: PRICE_FILTR.tickSize",
         "fields.price_tick: no filter type 'PRICE_FILTR'"),
        ("price_tick: PRICE_FILTER.tickSize", "price_tick: symbol",
         "fields.price_tick: 'symbol' is a string, not usable here"),
        ("endpoint: market.get_exchange_info", "endpoint: market.get_exchange_infos",
         "markets: no endpoint 'market.get_exchange_infos'"),
        ("items: symbols\n", "items: coins\n", "ExchangeCoin has no field 'filters'"),
        ("max_open_orders: LIMIT_TRADING.maxEntrustNum",  # a count or a time is whole
         "max_open_orders: LIMIT_TRADING.buyPriceUpRate",
         "fields.max_open_orders: 'LIMIT_TRADING.buyPriceUpRate' is a decimal, not usable here"),
        ("quote_amount: amount, market_types: [MARKET]}\n      - {endpoint: spot.create_batch",
         "quote_amount: amt, market_types: [MARKET]}\n      - {endpoint: spot.create_batch",
         "spot.create_order has no param 'amt'"),
    ],
)  # fmt: skip
def test_a_wrong_markets_mapping_fails_the_spec_with_its_reason(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    _, error = _edited_spec_error(tmp_path, "hashkey", old, new)
    assert error.startswith("specs/hashkey/exchange.yaml:")
    assert message in error


def test_a_wrong_field_names_its_own_line(tmp_path: Path) -> None:
    text, error = _edited_spec_error(
        tmp_path, "bibox", "min_notional: min_order_value", "min_notional: minOrder"
    )
    line = _line_of(text, "      min_notional: minOrder")
    assert error.startswith(
        f"specs/bibox/exchange.yaml:{line}: markets: TradingPair has no field 'minOrder'"
    )


def test_check_orders_sends_no_order_when_the_markets_cannot_be_loaded() -> None:
    with (
        HashKeyExchange() as ex,
        HashKey(**ex.client_options(), check_orders=True, max_retries=0) as hk,
    ):
        ex.fail("market.get_exchange_info", status=500, times=1)
        with pytest.raises(APIError) as caught:
            hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01",
                                 price="50000")  # fmt: skip
        assert caught.value.status_code == 500 and _orders_sent(ex) == 0
        hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01",
                             price="50000")  # fmt: skip
        assert _orders_sent(ex) == 1


# -- one load in flight per client; the order's own deadline -----------------------------


def test_threads_asking_at_once_share_one_load() -> None:
    import threading

    with HashKeyExchange() as ex, HashKey(**ex.client_options(), check_orders=True) as hk:
        ex.fail("market.get_exchange_info", latency=0.3, times=1)  # the first load is slow
        got: dict[int, Any] = {}
        start = threading.Barrier(4)

        def ask(i: int, call: Any) -> None:
            start.wait()
            got[i] = call()

        order = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="50000")
        calls = [hk.markets, hk.markets, lambda: hk.get_market("ETHUSDT"),
                 lambda: hk.spot.create_order(**order)]  # fmt: skip
        threads = [threading.Thread(target=ask, args=(i, c)) for i, c in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 4 and _loads(ex) == 1 and _orders_sent(ex) == 1
        assert got[0] is got[1] and got[2] is got[0]["ETHUSDT"]  # the same load's


@pytest.mark.anyio
async def test_tasks_asking_at_once_share_one_load() -> None:
    import asyncio

    with HashKeyExchange() as ex:
        async with AsyncHashKey(**ex.client_options(), check_orders=True, max_retries=0) as hk:
            ex.fail("market.get_exchange_info", latency=0.2, times=1)
            first, second, eth, placed = await asyncio.gather(
                hk.markets(),
                hk.markets(),
                hk.get_market("ETHUSDT"),
                hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                     quantity="0.01", price="50000"),
            )  # fmt: skip
            assert first is second and eth is first["ETHUSDT"] and placed.order_id
            assert _loads(ex) == 1 and _orders_sent(ex) == 1
            # A failed load fails every caller waiting for it; the next call loads anew.
            ex.fail("market.get_exchange_info", status=500, times=1)
            failed = await asyncio.gather(
                hk.markets(refresh=True), hk.markets(refresh=True), return_exceptions=True
            )
            assert [isinstance(e, APIError) and e.status_code for e in failed] == [500, 500]
            assert _loads(ex) == 2
            assert (await hk.markets(refresh=True)).keys() == first.keys()
            assert _loads(ex) == 3


ORDER = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="50000")


def test_check_orders_loads_the_markets_within_the_orders_timeout() -> None:
    with (
        HashKeyExchange() as ex,
        HashKey(**ex.client_options(), check_orders=True, timeout=10, max_retries=0) as hk,
    ):
        ex.fail("market.get_exchange_info", latency=0.6, times=1)
        with pytest.raises(APITimeoutError):  # the client's 10 s do not apply: the order's 0.2
            hk.spot.create_order(**ORDER, timeout=0.2)
        assert _orders_sent(ex) == 0
        # The load and the order share the order's timeout: 0.35 s + 0.6 s > 0.8 s, so the
        # order, sent with the 0.45 s left, times out (each alone would keep 0.8 s).
        ex.fail("market.get_exchange_info", latency=0.35, times=1)
        ex.fail("spot.create_order", latency=0.6, times=1)
        with pytest.raises(ExecutionStatusUnknownError):
            hk.spot.create_order(**ORDER, timeout=0.8)
        assert _loads(ex) == 2
        hk.spot.create_order(**ORDER, timeout=0.8)  # loaded now: the order has it all


@pytest.mark.anyio
async def test_check_orders_loads_the_markets_within_the_orders_timeout_async() -> None:
    with HashKeyExchange() as ex:
        async with AsyncHashKey(
            **ex.client_options(), check_orders=True, timeout=10, max_retries=0
        ) as hk:
            ex.fail("market.get_exchange_info", latency=0.6, times=1)
            with pytest.raises(APITimeoutError):
                await hk.spot.create_order(**ORDER, timeout=0.2)
            assert _orders_sent(ex) == 0
            ex.fail("market.get_exchange_info", latency=0.35, times=1)
            ex.fail("spot.create_order", latency=0.6, times=1)
            with pytest.raises(ExecutionStatusUnknownError):
                await hk.spot.create_order(**ORDER, timeout=0.8)
            await hk.spot.create_order(**ORDER, timeout=0.8)


# -- HashKey LIMIT_TRADING, MARKET_TRADING, OPEN_QUOTE -----------------------------------

BANDED = Market(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    status="TRADING",
    price_tick=D("0.01"),
    buy_price_up_rate=D("0.1"),
    sell_price_down_rate=D("0.2"),
    market_buy_price_up_rate=D("0.05"),
    no_market_orders_from=1_000,
    no_market_orders_until=2_000,
    limit_window_from=1_000,
    limit_window_until=3_000,
    limit_window_min_price=D("10"),
    limit_window_max_price=D("20"),
)


def test_a_limit_price_stays_within_the_band_around_the_mark_price() -> None:
    with pytest.raises(MarketRuleError) as high:
        BANDED.check(price="66000.01", side="BUY", mark_price="60000")
    assert (high.value.rule, high.value.valid) == ("buy_price_up_rate", (D("66000.00"),))
    assert "at most 10.0% above the mark price 60000" in str(high.value)
    with pytest.raises(MarketRuleError) as low:
        BANDED.check(price="47999.99", side="sell", mark_price="60000")
    assert (low.value.rule, low.value.valid) == ("sell_price_down_rate", (D("48000.00"),))
    BANDED.check(price="66000", side="BUY", mark_price="60000")
    BANDED.check(price="48000", side="SELL", mark_price="60000")
    BANDED.check(price="99999", side="BUY")  # no mark price given: not checked
    BANDED.check(quantity="1", side="BUY", mark_price="60000", market=True)  # no price
    assert BANDED.price_band("BUY", D("60000.33"), market=True) == (None, D("63000.34"))
    assert BANDED.price_band("SELL", D("60000"), market=True) == (None, None)  # no rate


def test_the_opening_windows_refuse_market_orders_and_bound_limit_prices() -> None:
    with pytest.raises(MarketRuleError) as closed:
        BANDED.check(quantity="1", market=True, now=1_500)
    assert (closed.value.rule, closed.value.param) == ("no_market_orders", "type")
    BANDED.check(quantity="1", market=True, now=2_000)  # the window is [from, until)
    BANDED.check(quantity="1", market=True)  # no time given: not checked
    with pytest.raises(MarketRuleError) as above:
        BANDED.check(price="20.01", quantity="1", now=2_999)
    assert (above.value.rule, above.value.valid) == ("limit_window_max_price", (D("20"),))
    with pytest.raises(MarketRuleError) as below:
        BANDED.check(price="9.99", quantity="1", now=1_000)
    assert below.value.rule == "limit_window_min_price"
    BANDED.check(price="25", quantity="1", now=3_000)
    # "0" (HashKey's value for a filter it does not apply) is no rule.
    none = Market(symbol="X", base="X", quote="Y", status="TRADING", no_market_orders_from=0,
                  no_market_orders_until=0, buy_price_up_rate=D("0"))  # fmt: skip
    none.check(price="1000", quantity="1", market=True, side="BUY", mark_price="1", now=5)


START_MS = 1_700_000_000_000
OPENING = SymbolRules(
    buy_price_up_rate=D("0.1"),
    sell_price_down_rate=D("0.1"),
    market_buy_price_up_rate=D("0.0000005"),  # 0.03 above a mark price of 60000
    market_sell_price_down_rate=D("0.0000005"),
    max_open_orders=2,
    no_market_orders_from=START_MS,
    no_market_orders_until=START_MS + 60_000,
    limit_window_from=START_MS,
    limit_window_until=START_MS + 120_000,
    limit_window_min_price=D("50000"),
    limit_window_max_price=D("70000"),
)


def test_hashkey_reports_its_trading_and_opening_filters() -> None:
    clock = FakeClock(START_MS / 1000)
    with (
        HashKeyExchange(clock=clock, rules={"BTCUSDT": OPENING}) as ex,
        HashKey(**ex.client_options(), clock=clock) as hk,
    ):
        m = hk.get_market("BTCUSDT")
        assert (m.buy_price_up_rate, m.sell_price_down_rate) == (D("0.1"), D("0.1"))
        assert (m.market_buy_price_up_rate, m.market_sell_price_down_rate) == (
            D("0.0000005"),
            D("0.0000005"),
        )
        assert m.max_open_orders == 2
        assert (m.no_market_orders_from, m.no_market_orders_until) == (START_MS, START_MS + 60_000)
        assert (m.limit_window_from, m.limit_window_until) == (START_MS, START_MS + 120_000)
        assert (m.limit_window_min_price, m.limit_window_max_price) == (D("50000"), D("70000"))
        eth = hk.get_market("ETHUSDT")  # the default rules: "0", none applied
        assert (eth.buy_price_up_rate, eth.no_market_orders_until, eth.max_open_orders) == (
            D("0"),
            0,
            0,
        )


def _place(hk: Any, **order: Any) -> Any:
    return hk.spot.create_order(symbol="BTCUSDT", quantity="0.01", **order)


def test_hashkey_enforces_them_with_the_documents_codes() -> None:
    clock = FakeClock(START_MS / 1000)
    funds = {"USDT": "10000000", "BTC": "100"}
    with (
        HashKeyExchange(clock=clock, rules={"BTCUSDT": OPENING}, balances=funds) as ex,
        HashKey(**ex.client_options(), clock=clock) as hk,
    ):
        mark = ex.mark_price("BTCUSDT")

        def code(**order: Any) -> tuple[str, str]:
            with pytest.raises(InvalidRequestError) as caught:
                _place(hk, **order)
            return str(caught.value.code), caught.value.message

        assert code(side="BUY", type="MARKET") == ("-1194", "Market order creation forbidden")
        assert code(side="BUY", type="LIMIT", price="70000.01")[0] == "-1132"
        assert code(side="SELL", type="LIMIT", price="49999.99")[0] == "-1133"
        clock.advance(120)  # both windows over
        above = str((mark * D("1.1")).quantize(D("0.01")) + D("0.01"))
        assert code(side="BUY", type="LIMIT", price=above) == (
            "0210",
            "Price outside of allowed range",
        )
        assert code(side="SELL", type="LIMIT", price="1000")[0] == "0210"
        _place(hk, side="BUY", type="LIMIT", price="50000")
        _place(hk, side="BUY", type="LIMIT", price="50000")
        assert code(side="BUY", type="LIMIT", price="50000") == (
            "-2017",
            "Open orders exceeds the limit of the trading pair",
        )
        # A market order fills no further from the mark price than MARKET_TRADING's rate.
        order = hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="50")
        worst = mark * D("1.0000005")
        fills = [f for f in ex.ledger.fills if f.order.id == str(order.order_id)]
        assert fills and all(f.price <= worst for f in fills)
        assert sum(f.quantity for f in fills) < D("50")


@pytest.mark.anyio
async def test_hashkey_enforces_them_async() -> None:
    clock = FakeClock(START_MS / 1000)
    with HashKeyExchange(clock=clock, rules={"BTCUSDT": OPENING}) as ex:
        async with AsyncHashKey(**ex.client_options(), clock=clock) as hk:
            with pytest.raises(InvalidRequestError) as caught:
                await hk.spot.create_order(symbol="BTCUSDT", side="SELL", type="MARKET",
                                           quantity="0.01")  # fmt: skip
            assert str(caught.value.code) == "-1194"
            assert (await hk.get_market("BTCUSDT")).no_market_orders_until == START_MS + 60_000


def test_check_orders_refuses_what_the_opening_windows_forbid_before_sending() -> None:
    clock = FakeClock(START_MS / 1000)
    with (
        HashKeyExchange(clock=clock, rules={"BTCUSDT": OPENING}) as ex,
        HashKey(**ex.client_options(), clock=clock, check_orders=True) as hk,
    ):
        with pytest.raises(MarketRuleError) as market:
            _place(hk, side="BUY", type="MARKET")
        assert market.value.rule == "no_market_orders"
        with pytest.raises(MarketRuleError) as limit:
            _place(hk, side="BUY", type="LIMIT", price="70000.01")
        assert (limit.value.rule, limit.value.valid) == ("limit_window_max_price", (D("70000"),))
        assert _orders_sent(ex) == 0
        clock.advance(60)  # market orders again; the limit window still on
        _place(hk, side="BUY", type="MARKET")
        # The band is around a mark price no documented endpoint gives: the exchange judges.
        clock.advance(60)
        with pytest.raises(InvalidRequestError) as band:
            _place(hk, side="SELL", type="LIMIT", price="1000")
        assert str(band.value.code) == "0210" and _orders_sent(ex) == 2


@pytest.mark.anyio
async def test_check_orders_refuses_what_the_opening_windows_forbid_async() -> None:
    clock = FakeClock(START_MS / 1000)
    with HashKeyExchange(clock=clock, rules={"BTCUSDT": OPENING}) as ex:
        async with AsyncHashKey(**ex.client_options(), clock=clock, check_orders=True) as hk:
            with pytest.raises(MarketRuleError) as caught:
                await hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                           quantity="0.01", price="49999")  # fmt: skip
            assert caught.value.rule == "limit_window_min_price"
            clock.advance(120)
            await hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                       quantity="0.01", price="59000")  # fmt: skip
    assert _orders_sent(ex) == 1


def test_an_order_waiting_for_a_load_in_flight_keeps_its_own_deadline() -> None:
    import threading

    with HashKeyExchange() as ex, HashKey(**ex.client_options(), check_orders=True) as hk:
        ex.fail("market.get_exchange_info", latency=0.5, times=1)
        loading = threading.Thread(target=hk.markets)
        loading.start()
        while not ex.calls:  # the load is in flight
            threading.Event().wait(0.01)
        with pytest.raises(APITimeoutError, match="markets were not loaded"):
            hk.spot.create_order(**ORDER, timeout=0.15)
        loading.join()
        assert _loads(ex) == 1 and _orders_sent(ex) == 0
        hk.spot.create_order(**ORDER, timeout=2)  # the markets the other thread loaded


@pytest.mark.anyio
async def test_an_order_waiting_for_a_load_in_flight_keeps_its_own_deadline_async() -> None:
    import asyncio

    with HashKeyExchange() as ex:
        async with AsyncHashKey(**ex.client_options(), check_orders=True) as hk:
            ex.fail("market.get_exchange_info", latency=0.5, times=1)
            loading = asyncio.ensure_future(hk.markets())
            await asyncio.sleep(0)  # the load starts
            with pytest.raises(APITimeoutError, match="markets were not loaded"):
                await hk.spot.create_order(**ORDER, timeout=0.15)
            markets = await loading  # the load went on for the caller still waiting
            assert "BTCUSDT" in markets and _loads(ex) == 1 and _orders_sent(ex) == 0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [  # a misspelt market type checked the exchange's market orders as limit orders
        ("quote_amount: amount, market_types: [MARKET]}\n      - {endpoint: spot.create_batch",
         "quote_amount: amount, market_types: [MARKT]}\n      - {endpoint: spot.create_batch",
         "markets: orders: market_types: 'MARKT' is not a value of OrderType"),
        ("items: orders, symbol: symbol, side: side, type: type, price: price, quantity:"
         " quantity, quote_amount: amount, market_types: [MARKET]",
         "items: orders, symbol: symbol, side: side, type: type, price: price, quantity:"
         " quantity, quote_amount: amount, market_types: [MARKT]",
         "markets: orders: market_types: 'MARKT' is not a value of OrderType"),
        ("{endpoint: spot.test_order,", "{endpoint: spot.test_ordr,",  # a removed endpoint
         "markets: orders: no endpoint 'spot.test_ordr'"),
    ],
)  # fmt: skip
def test_a_wrong_order_entry_names_its_own_line(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text, error = _edited_spec_error(tmp_path, "hashkey", old, new)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if new.split("\n")[0] in row)
    assert error.startswith(f"specs/hashkey/exchange.yaml:{line}: {message}")


def test_a_budget_naming_a_removed_endpoint_names_the_list_line(tmp_path: Path) -> None:
    """Removing an endpoint a rate-limit budget lists: the error named the budget's first
    line, not the `names:` line that lists it."""
    old = "          names: [spot.test_order,"
    text, error = _edited_spec_error(
        tmp_path, "hashkey", old, old.replace("test_order", "test_ordr")
    )
    line = _line_of(text, "          names: [spot.test_ordr,")
    assert error.startswith(
        f"specs/hashkey/exchange.yaml:{line}: endpoints.names: 'spot.test_ordr' matches no"
    )
