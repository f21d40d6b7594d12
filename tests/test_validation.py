"""Bad input raises RequestValidationError before anything is sent; good input is encoded
exactly (plain-notation decimals, enums by value)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cambist.errors import RequestValidationError
from cambist.hashkey import HashKey
from cambist.hashkey.models import BatchOrderRequest, OrderSide, OrderType
from tests.loopback import LoopbackServer

ORDER = "/api/v1.1/spot/order"
GOOD: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "side": OrderSide.BUY,
    "type": OrderType.LIMIT,
    "quantity": Decimal("0.01"),
    "price": Decimal("85000"),
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"symbol": None}, "symbol is required"),
        ({"side": "HOLD"}, "side: 'HOLD' is not one of BUY, SELL"),
        ({"type": OrderSide.BUY}, "expected a OrderType"),
        ({"price": Decimal("-1")}, "price: must be greater than 0"),
        ({"price": Decimal("NaN")}, "not a finite number"),
        ({"price": Decimal("Infinity")}, "not a finite number"),
        ({"price": 85000.5}, "expected a Decimal, int or str, got float"),
        ({"price": "12abc"}, "is not a decimal number"),
        ({"price": None}, "price is required when type is LIMIT"),
        ({"type": "MARKET", "price": None, "quantity": None}, "one of quantity / amount"),
        ({"type": "MARKET", "price": None, "amount": Decimal(5)}, "only one of quantity / amount"),
    ],
)
def test_bad_input_is_refused_before_sending(
    hk: HashKey, server: LoopbackServer, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestValidationError, match=message.replace("(", r"\(")) as info:
        hk.spot.create_order(**{**GOOD, **change})
    assert info.value.endpoint == "spot.create_order"
    assert server.received == []  # not even the clock was asked


def test_limits_and_types(hk: HashKey, server: LoopbackServer) -> None:
    with pytest.raises(RequestValidationError, match="limit: must be at most 1000"):
        hk.spot.list_open_orders(limit=1001)
    with pytest.raises(RequestValidationError, match="limit: expected an int, got bool"):
        hk.spot.list_open_orders(limit=True)
    with pytest.raises(RequestValidationError, match="ids: must not be empty"):
        hk.spot.cancel_orders_by_ids(ids=[])
    with pytest.raises(
        RequestValidationError,
        match="orders: BatchOrderRequest: price is required when type is LIMIT",
    ):
        hk.spot.create_batch_orders(
            orders=[BatchOrderRequest(symbol="BTCUSD", side="SELL", type="LIMIT", quantity=1)]
        )
    assert server.received == []


def test_signed_call_without_credentials(server: LoopbackServer) -> None:
    with HashKey(base_url=server.url) as anonymous:
        with pytest.raises(RequestValidationError, match="needs credentials"):
            anonymous.spot.list_open_orders()
        assert anonymous.market.get_depth(symbol="BTCUSDT").bids  # public works
    assert [r.path for r in server.received] == ["/quote/v1/depth"]


def test_a_key_without_its_secret_signs_nothing(server: LoopbackServer) -> None:
    # It used to sign with an empty secret: the exchange answered "Incorrect signature".
    with (
        HashKey(base_url=server.url, api_key="k") as keyed,
        pytest.raises(RequestValidationError, match="pass api_secret with the api_key"),
    ):
        keyed.spot.list_open_orders()
    assert server.received == []


@pytest.mark.anyio
async def test_a_key_without_its_secret_still_serves_key_only_endpoints() -> None:
    from cambist.binance_options import AsyncBinanceOptions
    from cambist.testing import DEFAULT_API_KEY, BinanceOptionsExchange

    with BinanceOptionsExchange() as ex:
        options = {**ex.client_options(), "api_key": DEFAULT_API_KEY, "api_secret": None}
        async with AsyncBinanceOptions(**options) as bn:
            assert (await bn.user_stream.create_listen_key()).listen_key  # API key only
            with pytest.raises(RequestValidationError, match="is signed"):
                await bn.account.get_margin_account()


def test_values_go_out_exactly(hk: HashKey, server: LoopbackServer) -> None:
    hk.spot.create_order(
        symbol="BTCUSDT",
        side="SELL",
        type=OrderType.LIMIT_MAKER,
        quantity=Decimal("1E-7"),
        price=Decimal("85000.000"),
        new_client_order_id="abc/123 x",
    )
    sent = server.requests_to(ORDER)[-1]
    assert sent.params["quantity"] == "0.0000001"  # never 1E-7
    assert sent.params["price"] == "85000.000"  # as given, trailing zeros kept
    assert sent.params["side"] == "SELL" and sent.params["type"] == "LIMIT_MAKER"
    assert "newClientOrderId=abc%2F123%20x" in sent.query
    hk.spot.cancel_orders_by_ids(ids=["1507155386372816640", "1507155487740667904"])
    sent = server.requests_to("/api/v1/spot/cancelOrderByIds")[-1]
    assert sent.params["ids"] == "1507155386372816640,1507155487740667904"


def test_batch_body_is_json_with_plain_decimals(hk: HashKey, server: LoopbackServer) -> None:
    import json

    hk.spot.create_batch_orders(
        orders=[
            BatchOrderRequest(
                symbol="BTCUSD",
                side=OrderSide.SELL,
                type=OrderType.LIMIT,
                price=Decimal("52000"),
                quantity=Decimal("1E-2"),
                new_client_order_id="123456789",
            ),
            BatchOrderRequest(symbol="BTCUSD", side="BUY", type="MARKET", amount=Decimal("100")),
        ]
    )
    body = json.loads(server.requests_to("/api/v1.1/spot/batchOrders")[-1].body)
    assert body[0] == {
        "symbol": "BTCUSD",
        "side": "SELL",
        "type": "LIMIT",
        "price": "52000",
        "quantity": "0.01",
        "newClientOrderId": "123456789",
    }
    assert body[1]["amount"] == "100" and len(body[1]["newClientOrderId"]) == 32


# -- extra_params: what the spec does not have yet, never a second copy of what it has ----


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_extra_params_are_sent_but_never_clash(mode: str) -> None:
    from cambist.hashkey import AsyncHashKey
    from cambist.testing import HashKeyExchange
    from tests.test_faults_rest import Driver

    order = {**GOOD, "side": "BUY", "type": "LIMIT"}
    with HashKeyExchange() as ex, Driver(mode, (HashKey, AsyncHashKey), **ex.client_options()) as c:
        c(lambda x: x.spot.test_order(**order, extra_params={"newParam": "1"}))
        (call,) = [k for k in ex.calls if k.endpoint and k.endpoint.name == "spot.test_order"]
        assert call.params["newParam"] == "1" and call.params["symbol"] == "BTCUSDT"
        sent = len(ex.calls)
        with pytest.raises(RequestValidationError, match="pass it as symbol=") as clash:
            c(lambda x: x.spot.test_order(**order, extra_params={"symbol": "ETHUSDT"}))
        assert clash.value.param == "symbol"
        with pytest.raises(RequestValidationError, match="written by the client"):
            c(lambda x: x.spot.test_order(**order, extra_params={"timestamp": "1"}))
        assert len(ex.calls) == sent  # nothing sent for either


@pytest.mark.parametrize("bad", ["abc", "0x1f", "c:123", "-", "12 3", "1" * 20, "٣"])
def test_bibox_client_order_id_is_an_int64_in_a_string(bad: str) -> None:
    """Bibox: client_order_id is "a string with a valid value of an int64 integer": what
    cannot be one is refused before sending (placing, getting and cancelling by it); an
    int64 is taken, and a 19-digit value beyond int64 is refused by the exchange."""
    from cambist.bibox import Bibox
    from cambist.errors import InvalidRequestError
    from cambist.testing import BiboxExchange

    order = {"symbol": "BTC_USDT", "side": "buy", "type": "limit", "price": "1000"}
    with BiboxExchange(seed=1) as ex, Bibox(**ex.client_options(), max_retries=0) as bb:
        sent = len(ex.calls)
        with pytest.raises(RequestValidationError, match="client_order_id"):
            bb.user.create_order(**order, quantity="0.01", client_order_id=bad)
        with pytest.raises(RequestValidationError, match="client_order_id"):
            bb.user.get_order(client_order_id=bad)
        with pytest.raises(RequestValidationError, match="client_order_id"):
            bb.user.cancel_order(client_order_id=bad)
        assert len(ex.calls) == sent
        top = str(2**63 - 1)
        placed = bb.user.create_order(**order, quantity="0.01", client_order_id=top)
        assert bb.user.get_order(client_order_id=top).order_id == placed.order_id
        assert bb.user.create_order(**order, quantity="0.02", client_order_id="-42").status
        with pytest.raises(InvalidRequestError, match="client_order_id"):
            bb.user.create_order(**order, quantity="0.01", client_order_id=str(2**63))


def test_bingx_transfer_types_of_either_enum_are_taken() -> None:
    """BingX lists the transfer types twice: UniversalTransferType (the six a transfer
    takes) and TransferType (the fourteen of the history). A member of either is taken where
    the other is expected when that enum has the same member: a history row's type for a
    transfer back, a transfer's type for its history; a type the transfer does not take is
    still refused before sending, and an unrelated enum too."""
    from cambist.bingx import BingX
    from cambist.bingx.models import TransferType, UniversalTransferType, WithdrawStatus
    from cambist.testing import BingXExchange

    with BingXExchange(seed=1) as ex, BingX(**ex.client_options(), max_retries=0) as bx:
        out = bx.wallet.transfer(type=UniversalTransferType.FUND_SFUTURES, asset="USDT", amount=5)
        history = bx.wallet.list_transfers(type=UniversalTransferType.FUND_SFUTURES)
        (row,) = history.rows
        assert row.transfer_id == out.transfer_id and row.type is TransferType.FUND_SFUTURES
        assert bx.wallet.transfer(type=TransferType.FUND_SFUTURES, asset="USDT", amount=1)
        assert ex.calls[-1].params["type"] == "FUND_SFUTURES"
        sent = len(ex.calls)
        with pytest.raises(RequestValidationError, match="expected a UniversalTransferType"):
            bx.wallet.transfer(type=TransferType.FUND_STRADING, asset="USDT", amount=1)
        with pytest.raises(RequestValidationError, match="expected a TransferType"):
            bx.wallet.list_transfers(type=WithdrawStatus.COMPLETED)  # type: ignore[arg-type]
        assert len(ex.calls) == sent


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("check_orders", [False, True])
def test_a_batch_item_that_is_not_its_model_is_refused_before_sending(
    mode: str, check_orders: bool
) -> None:
    """A plain dict (or anything else) in a list of input models is a wrong-typed argument:
    RequestValidationError naming the param and the model to build, nothing sent (it was an
    AttributeError from reading the dict's fields by name)."""
    from cambist.binance_options import AsyncBinanceOptions, BinanceOptions
    from cambist.hashkey import AsyncHashKey
    from cambist.testing import BinanceOptionsExchange, HashKeyExchange
    from tests.test_faults_rest import Driver

    option = "BTC-220815-50000-C"
    row = {"side": "BUY", "type": "LIMIT", "quantity": "1", "price": "5"}
    with (
        HashKeyExchange() as ex,
        Driver(
            mode, (HashKey, AsyncHashKey), **ex.client_options(), check_orders=check_orders
        ) as c,
    ):
        for bad in ({**row, "symbol": "BTCUSDT"}, "BTCUSDT"):
            with pytest.raises(RequestValidationError, match="expected a BatchOrderRequest") as e:
                c(lambda x, bad=bad: x.spot.create_batch_orders(orders=[bad]))
            assert e.value.param == "orders" and e.value.endpoint == "spot.create_batch_orders"
        assert not [k for k in ex.calls if k.endpoint]
    with BinanceOptionsExchange() as bex, Driver(
        mode, (BinanceOptions, AsyncBinanceOptions), **bex.client_options(),
        check_orders=check_orders,
    ) as c:  # fmt: skip
        bad_row = {**row, "symbol": option, "time_in_force": "GTC"}
        with pytest.raises(RequestValidationError, match="expected a BatchOrder, got dict") as e:
            c(lambda x: x.trade.create_batch_orders(orders=[bad_row]))
        assert e.value.param == "orders"
        assert not [k for k in bex.calls if k.endpoint and k.endpoint.name.startswith("trade.")]
