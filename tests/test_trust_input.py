"""Issue 11, "Trust under faults" (bad input, faithful to the documents, cambist.testing):
bad input is refused before anything is sent, in the blocking and the asyncio client; what the
documents show parses; the local exchanges answer with the documents' codes."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, get_type_hints

import attrs
import pytest

from cambist.bibox import AsyncBibox, Bibox
from cambist.bibox.models import Order as BiboxOrder
from cambist.bibox.models import OrderStatus as BiboxOrderStatus
from cambist.bingx import AsyncBingX, BingX
from cambist.errors import InvalidRequestError, RequestValidationError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import BatchOrderRequest, OrderType, Site, StreamTrade
from cambist.testing import BiboxExchange, HashKeyExchange
from codegen.schema import SpecError
from codegen.spec import load_spec
from tests.conftest import API_KEY, API_SECRET, hashkey_example
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
GOOD: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": Decimal("0.01"),
    "price": Decimal("85000"),
}
REFUSED = [
    # 13: positive amounts are > 0 (exclusive_min: 0)
    ({"quantity": 0}, "quantity: must be greater than 0, got 0"),
    ({"quantity": Decimal("0.000")}, "quantity: must be greater than 0"),
    ({"price": "0"}, "price: must be greater than 0"),
    ({"type": "MARKET", "price": None, "quantity": None, "amount": 0}, "amount: must be greater"),
    # 15: a symbol outside the exchange's alphabet
    ({"symbol": "BTC&side=SELL"}, r"symbol: 'BTC&side=SELL' does not match"),
    ({"symbol": "BTC USDT"}, "symbol: 'BTC USDT' does not match"),
]


def _order(change: dict[str, Any]) -> dict[str, Any]:
    return {**GOOD, **change}


def _batch(n: int, **change: Any) -> list[BatchOrderRequest]:
    item: dict[str, Any] = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "price": 1}
    return [BatchOrderRequest(**{**item, "quantity": 1, **change}) for _ in range(n)]


# -- 13, 14, 15: HashKey, blocking and asyncio ------------------------------------------------


@pytest.mark.parametrize(("change", "message"), REFUSED)
def test_hashkey_refuses_before_sending(
    hk: HashKey, server: LoopbackServer, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestValidationError, match=message) as info:
        hk.spot.create_order(**_order(change))
    assert info.value.endpoint == "spot.create_order"
    assert server.received == []


@pytest.mark.anyio
@pytest.mark.parametrize(("change", "message"), REFUSED)
async def test_hashkey_refuses_before_sending_async(
    ahk: AsyncHashKey, server: LoopbackServer, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestValidationError, match=message):
        await ahk.spot.create_order(**_order(change))
    assert server.received == []


def _hashkey_lists(hk: HashKey | AsyncHashKey) -> list[tuple[Any, str]]:
    return [
        (
            lambda: hk.spot.create_batch_orders(orders=_batch(21)),
            "orders: at most 20 items, got 21",
        ),
        (lambda: hk.spot.cancel_orders_by_ids(ids=["1"] * 101), "ids: at most 100 items, got 101"),
        (
            lambda: hk.spot.create_batch_orders(orders=_batch(1, quantity=0)),
            "BatchOrderRequest.quantity: must be greater than 0",
        ),
        (
            lambda: hk.spot.create_batch_orders(orders=_batch(1, symbol="BTC\nUSDT")),
            "BatchOrderRequest.symbol: 'BTC\\\\nUSDT' does not match",
        ),
        (lambda: hk.market.get_depth(symbol="btc/usdt"), "symbol: 'btc/usdt' does not match"),
    ]


def test_hashkey_caps_and_batch_items(hk: HashKey, server: LoopbackServer) -> None:
    for call, message in _hashkey_lists(hk):
        with pytest.raises(RequestValidationError, match=message):
            call()
    assert server.received == []
    hk.spot.create_batch_orders(orders=_batch(20))  # the cap itself is allowed
    hk.spot.cancel_orders_by_ids(ids=["1"] * 100)
    hk.market.get_depth(symbol="BTCUSDT-PERPETUAL")


@pytest.mark.anyio
async def test_hashkey_caps_and_batch_items_async(
    ahk: AsyncHashKey, server: LoopbackServer
) -> None:
    for call, message in _hashkey_lists(ahk):
        with pytest.raises(RequestValidationError, match=message):
            await call()
    assert server.received == []
    await ahk.spot.create_batch_orders(orders=_batch(20))


# -- 13, 15, 17, 20: Bibox ------------------------------------------------------------------


@pytest.fixture
def bibox_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        from cambist.bibox import ENDPOINTS
        from cambist.bibox._examples import EXAMPLES

        for ep in ENDPOINTS:
            text = EXAMPLES.get((ep.method, ep.path))
            srv.route(ep.method, ep.path, text.encode() if text else b"{}")
        yield srv


@pytest.fixture
def bb(bibox_server: LoopbackServer) -> Iterator[Bibox]:
    with Bibox(api_key=API_KEY, api_secret=API_SECRET, base_url=bibox_server.url) as client:
        yield client


@pytest.fixture
async def abb(bibox_server: LoopbackServer) -> AsyncIterator[AsyncBibox]:
    async with AsyncBibox(
        api_key=API_KEY, api_secret=API_SECRET, base_url=bibox_server.url
    ) as client:
        yield client


BIBOX_REFUSED = [
    ({"quantity": 0}, "quantity: must be greater than 0"),
    ({"price": Decimal(0)}, "price: must be greater than 0"),
    ({"symbol": "BTCUSDT"}, "symbol: 'BTCUSDT' does not match"),
    ({"symbol": "BTC_USDT&x=1"}, "does not match"),
]
BIBOX_GOOD: dict[str, Any] = {
    "symbol": "BTC_USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.1",
    "price": "100",
}


@pytest.mark.parametrize(("change", "message"), BIBOX_REFUSED)
def test_bibox_refuses_before_sending(
    bb: Bibox, bibox_server: LoopbackServer, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestValidationError, match=message):
        bb.user.create_order(**{**BIBOX_GOOD, **change})
    with pytest.raises(RequestValidationError, match="symbol: 'BTC&USDT' does not match"):
        bb.market.list_pairs(symbol=["BTC_USDT", "BTC&USDT"])
    assert bibox_server.received == []


@pytest.mark.anyio
@pytest.mark.parametrize(("change", "message"), BIBOX_REFUSED)
async def test_bibox_refuses_before_sending_async(
    abb: AsyncBibox, bibox_server: LoopbackServer, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestValidationError, match=message):
        await abb.user.create_order(**{**BIBOX_GOOD, **change})
    assert bibox_server.received == []


def _check_bibox_ids(server: LoopbackServer, order_id: int) -> None:
    get = server.requests_to("/api/v4/userdata/order")[0]
    assert get.method == "GET" and get.params["id"] == str(order_id)
    delete = server.requests_to("/api/v4/userdata/order")[1]
    assert json.loads(delete.body)["id"] == str(order_id)  # a string, as the table types it
    assert server.requests_to("/api/v4/userdata/fills")[0].params["order_id"] == str(order_id)


def test_bibox_ids_a_model_returns_are_accepted(bb: Bibox, bibox_server: LoopbackServer) -> None:
    order = bb.user.get_order(order_id="14118828812271651")
    assert isinstance(order.order_id, int) and order.order_id > 2**53
    bibox_server.received.clear()
    bb.user.get_order(order_id=order.order_id)
    bb.user.cancel_order(order_id=order.order_id)
    bb.user.list_fills(order_id=order.order_id)
    _check_bibox_ids(bibox_server, order.order_id)
    from cambist.bibox.resources.user import User

    assert int in get_type_hints(User.get_order)["order_id"].__args__


@pytest.mark.anyio
async def test_bibox_ids_a_model_returns_are_accepted_async(
    abb: AsyncBibox, bibox_server: LoopbackServer
) -> None:
    order = await abb.user.get_order(order_id="1")
    bibox_server.received.clear()
    await abb.user.get_order(order_id=order.order_id)
    await abb.user.cancel_order(order_id=order.order_id)
    await abb.user.list_fills(order_id=order.order_id)
    _check_bibox_ids(bibox_server, order.order_id)


def test_hashkey_account_ids_a_model_returns_are_accepted(
    hk: HashKey, server: LoopbackServer
) -> None:
    order = hk.spot.create_order(**GOOD)
    assert isinstance(order.account_id, str)
    hk.account.get_balances(account_id=order.account_id)
    hk.account.get_balances(account_id=1471090223379184384)  # the document's LONG
    sent = [r.params["accountId"] for r in server.requests_to("/api/v1/account")]
    assert sent == [order.account_id, "1471090223379184384"]


def test_the_generator_refuses_ids_that_disagree(tmp_path: Path) -> None:
    folder = tmp_path / "bibox"
    shutil.copytree(ROOT / "specs" / "bibox", folder)
    user = folder / "user.yaml"
    user.write_text(user.read_text().replace("accept_int: true", "accept_int: false"))
    with pytest.raises(SpecError, match=r"order_id takes string, but Order.order_id .* long"):
        load_spec(folder, tmp_path)


def _check_bibox_content_type(server: LoopbackServer) -> None:
    private = server.requests_to("/api/v4/userdata/accounts")[-1]
    assert private.headers["content-type"] == "application/json"  # as every private sample
    public = server.requests_to("/api/v4/marketdata/pairs")[-1]
    assert "content-type" not in public.headers


def test_bibox_private_get_sends_the_documented_content_type(
    bb: Bibox, bibox_server: LoopbackServer
) -> None:
    bb.user.list_accounts()
    bb.market.list_pairs()
    _check_bibox_content_type(bibox_server)


@pytest.mark.anyio
async def test_bibox_private_get_sends_the_documented_content_type_async(
    abb: AsyncBibox, bibox_server: LoopbackServer
) -> None:
    await abb.user.list_accounts()
    await abb.market.list_pairs()
    _check_bibox_content_type(bibox_server)


# -- 19: an endpoint on its own host --------------------------------------------------------


def test_bibox_domain_lookup_goes_to_its_own_host(bibox_server: LoopbackServer) -> None:
    with LoopbackServer() as tel:
        tel.route("GET", "/v1/public/queryApiDomain", ["api.bibox.tel"])
        with Bibox(base_url=bibox_server.url, rest_urls={"rest_domains": tel.url}) as bb:
            assert bb.misc.list_api_domains() == ["api.bibox.tel"]
            bb.market.list_pairs()
        assert [r.path for r in tel.received] == ["/v1/public/queryApiDomain"]
    assert [r.path for r in bibox_server.received] == ["/api/v4/marketdata/pairs"]
    with Bibox() as default:  # the documented host, not the (unreachable) REST base URL
        assert default._core.base_urls == {"rest_domains": "https://api.bibox.tel"}
    with Bibox(base_url=bibox_server.url) as local:  # a local exchange serves every path
        local.misc.list_api_domains()
    assert bibox_server.received[-1].path == "/v1/public/queryApiDomain"


@pytest.mark.anyio
async def test_bibox_domain_lookup_goes_to_its_own_host_async(
    bibox_server: LoopbackServer,
) -> None:
    with LoopbackServer() as tel:
        tel.route("GET", "/v1/public/queryApiDomain", [])
        async with AsyncBibox(base_url=bibox_server.url, rest_urls={"rest_domains": tel.url}) as bb:
            await bb.misc.list_api_domains()
        assert len(tel.received) == 1
    assert bibox_server.received == []


# -- 14: BingX recvWindow ---------------------------------------------------------------


def test_bingx_recv_window_is_capped() -> None:
    for cls in (BingX, AsyncBingX):
        with pytest.raises(RequestValidationError, match="recv_window must be between 1 and 60000"):
            cls(recv_window=60001)
        with pytest.raises(RequestValidationError, match="recv_window"):
            cls(recv_window=0)
        cls(recv_window=60000)
    HashKey(recv_window=100000)  # no cap in HashKey's document


# -- 18: HashKey exchange info, the sample and the table --------------------------------


def _table_only() -> dict[str, Any]:
    sample = hashkey_example("GET", "/api/v1/exchangeInfo")
    symbol = {k: v for k, v in sample.items() if k not in ("baseUcid", "quoteUcid", "site")}
    return {"timezone": "UTC", "serverTime": "1690084771517", "symbols": [symbol], "coins": []}


def test_exchange_info_parses_the_sample_and_the_table(hk: HashKey, server: LoopbackServer) -> None:
    info = hk.market.get_exchange_info()  # the document's sample: one bare symbol
    assert info.timezone is None and info.coins is None
    (symbol,) = info.symbols
    assert (symbol.symbol, symbol.base_ucid, symbol.site) == ("USDTAED", "825", Site.UAE)
    server.route("GET", "/api/v1/exchangeInfo", _table_only())
    info = hk.market.get_exchange_info()
    assert info.timezone == "UTC" and info.server_time == 1690084771517
    assert info.symbols[0].base_ucid is None and info.symbols[0].site is None


@pytest.mark.anyio
async def test_exchange_info_parses_the_sample_and_the_table_async(
    ahk: AsyncHashKey, server: LoopbackServer
) -> None:
    assert (await ahk.market.get_exchange_info()).symbols[0].symbol == "USDTAED"
    server.route("GET", "/api/v1/exchangeInfo", _table_only())
    assert (await ahk.market.get_exchange_info()).timezone == "UTC"


# -- 21: names and values as the documents write them ----------------------------------


def test_names_and_values_follow_the_documents() -> None:
    assert "is_maker" in attrs.fields_dict(StreamTrade)  # "m": isMaker
    assert "is_buyer_maker" not in attrs.fields_dict(StreamTrade)
    from cambist.hashkey._convert.streams import structure_execution_report

    report = {"e": "executionReport", "E": "1", "s": "BTCUSDT", "c": "1", "S": "BUY"}
    report |= {"o": "MARKET_OF_QUOTE", "f": "IOC", "q": "0", "p": "0", "X": "NEW", "i": "2"}
    report |= {"l": "0", "z": "0", "L": "0", "n": "0", "N": "", "u": True, "w": True, "m": False}
    report |= {"O": "1", "Z": "0", "x": "NEW", "C": False, "v": "0", "d": "1", "t": "1"}
    assert structure_execution_report(report).order_type is OrderType.MARKET_OF_QUOTE
    from cambist.bibox._convert.user import structure_order

    sample = {"i": 1, "I": "", "m": "BTC_USDT", "T": "limit", "s": "sell", "Q": -1, "P": 1}
    sample |= {"t": "gtc", "o": False, "E": 0, "e": 0, "C": 1, "U": 1, "n": 0}
    order: BiboxOrder = structure_order({**sample, "S": "filled"})
    assert order.status is BiboxOrderStatus.FILLED
    later = structure_order({**sample, "S": "expired"})  # a value the spec lacks is kept
    assert later.status == "expired"


# -- 22, 23: cambist.testing ----------------------------------------------------------


def test_local_bibox_refuses_an_overdraft_with_a_balance_code_not_a_pair_code() -> None:
    with BiboxExchange() as ex, Bibox(**ex.client_options()) as bb:
        assert isinstance(ex, BiboxExchange)
        with pytest.raises(InvalidRequestError) as caught:
            bb.user.create_order(**{**BIBOX_GOOD, "quantity": "1000000", "price": "60000"})
    assert caught.value.code == -2004  # not -3002 "Specified trading pair does not exist"
    assert "trading pair" not in caught.value.message


@pytest.mark.anyio
async def test_local_bibox_refuses_an_overdraft_async() -> None:
    async with BiboxExchange() as ex, AsyncBibox(**ex.client_options()) as bb:
        with pytest.raises(InvalidRequestError) as caught:
            await bb.user.create_order(**{**BIBOX_GOOD, "quantity": "1000000", "price": "60000"})
    assert caught.value.code == -2004


def test_a_misspelt_fault_is_refused_with_close_matches() -> None:
    with HashKeyExchange() as ex:
        with pytest.raises(ValueError, match=re.escape("did you mean 'spot.create_order'")):
            ex.fail("spot.create_ordr", status=503)
        with pytest.raises(ValueError, match=r"hashkey has no endpoint 'nothing\.like_it'$"):
            ex.fail("nothing.like_it", status=503)
        ex.fail("spot.create_order", status=503)
        ex.fail("*", status=503)
