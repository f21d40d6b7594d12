"""Binance Options batch endpoints: a list sent as the compact JSON text of ONE form or query
parameter (`encode: json`), typed on the Python side, byte for byte, signed over exactly those
bytes (verified independently), with client order ids filled per item."""

from __future__ import annotations

import asyncio
import json
import typing
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest

from cambist.binance_options import AsyncBinanceOptions, BinanceOptions
from cambist.binance_options.models import BatchOrder, BlockTradeLegInput, NewOrder
from cambist.errors import (
    ExecutionStatusUnknownError,
    InsufficientBalanceError,
    RequestValidationError,
)
from tests.conftest import API_KEY, API_SECRET
from tests.exchanges import EXCHANGES, verify
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
EXCHANGE = next(c for c in EXCHANGES if c.id == "binance_options").exchange()
ORDER = {"orderId": 4611875134427365377, "symbol": "BTC-200730-9000-C", "price": "100",
         "quantity": "1", "side": "BUY", "type": "LIMIT", "createDate": 1592465880683,
         "reduceOnly": False, "postOnly": False, "mmp": False}  # fmt: skip


@pytest.fixture
def binance() -> LoopbackServer:
    with LoopbackServer() as srv:
        srv.route("POST", "/eapi/v1/batchOrders", [ORDER, ORDER])
        srv.route("DELETE", "/eapi/v1/batchOrders", [])
        example = ROOT / "specs/binance_options/examples/POST_eapi_v1_block_order_create.json"
        srv.route("POST", "/eapi/v1/block/order/create", json.loads(example.read_text()))
        yield srv


def _options(srv: LoopbackServer) -> dict[str, object]:
    return {"base_url": srv.url, "api_key": API_KEY, "api_secret": API_SECRET, "time_sync": False}


def _orders() -> list[BatchOrder]:
    return [
        BatchOrder(symbol="BTC-200730-9000-C", side="BUY", type="LIMIT",
                   quantity=Decimal("1E-2"), price=Decimal("100.50"), time_in_force="GTC",
                   client_order_id="mine-1"),
        BatchOrder(symbol="BTC-200730-9000-P", side="SELL", type="LIMIT",
                   quantity=Decimal("2"), price=Decimal("5"), post_only=True),
    ]  # fmt: skip


def _form(body: bytes) -> list[tuple[str, str]]:
    return [(k, unquote(v)) for k, _, v in (p.partition("=") for p in body.decode().split("&"))]


def _check_batch(srv: LoopbackServer) -> None:
    received = srv.requests_to("/eapi/v1/batchOrders")[-1]
    assert received.method == "POST" and received.query == ""
    assert verify(EXCHANGE, received, API_SECRET)  # over the exact body bytes
    form = _form(received.body)
    assert [k for k, _ in form] == ["orders", "timestamp", "signature"]
    text = form[0][1]
    filled = json.loads(text)[1]["clientOrderId"]
    assert len(filled) >= 10  # the client filled the second item's id
    assert text == (
        '[{"symbol":"BTC-200730-9000-C","side":"BUY","type":"LIMIT","quantity":"0.01",'
        '"price":"100.50","timeInForce":"GTC","clientOrderId":"mine-1"},'
        '{"symbol":"BTC-200730-9000-P","side":"SELL","type":"LIMIT","quantity":"2",'
        f'"price":"5","postOnly":true,"clientOrderId":"{filled}"}}]'
    )
    # one form parameter, percent-encoded: nothing of the JSON leaks into other params
    assert received.body.startswith(b"orders=%5B%7B%22symbol%22%3A%22BTC-200730-9000-C%22")


def test_place_multiple_orders_sends_one_json_form_param(binance: LoopbackServer) -> None:
    with BinanceOptions(**_options(binance)) as client:  # type: ignore[arg-type]
        answers = client.trade.create_batch_orders(orders=_orders())
    assert [a.order_id for a in answers] == [4611875134427365377] * 2
    _check_batch(binance)


def test_place_multiple_orders_async(binance: LoopbackServer) -> None:
    async def main() -> None:
        async with AsyncBinanceOptions(**_options(binance)) as client:  # type: ignore[arg-type]
            await client.trade.create_batch_orders(orders=_orders())

    asyncio.run(main())
    _check_batch(binance)


@pytest.mark.parametrize("is_async", [False, True])
def test_cancel_multiple_sends_json_arrays_in_the_query(
    binance: LoopbackServer, is_async: bool
) -> None:
    ids = [4611875134427365377, 4611875134427365378]  # above 2**53: exact
    if is_async:

        async def main() -> None:
            async with AsyncBinanceOptions(**_options(binance)) as client:  # type: ignore[arg-type]
                await client.trade.cancel_batch_orders(symbol="BTC-200730-9000-C", order_ids=ids)

        asyncio.run(main())
    else:
        with BinanceOptions(**_options(binance)) as client:  # type: ignore[arg-type]
            client.trade.cancel_batch_orders(
                symbol="BTC-200730-9000-C", client_order_ids=["my_id_1", "my_id_2"]
            )
    received = binance.requests_to("/eapi/v1/batchOrders")[-1]
    assert received.method == "DELETE" and received.body == b""
    assert verify(EXCHANGE, received, API_SECRET)
    pairs = [p.partition("=") for p in received.query.split("&")]
    name, _, value = pairs[1]
    if is_async:
        assert (name, unquote(value)) == ("orderIds", "[4611875134427365377,4611875134427365378]")
        assert value == "%5B4611875134427365377,4611875134427365378%5D"  # commas kept
    else:
        assert (name, unquote(value)) == ("clientOrderIds", '["my_id_1","my_id_2"]')


def test_block_trade_legs(binance: LoopbackServer) -> None:
    leg = BlockTradeLegInput(symbol="BTC-210115-35000-C", side="BUY", type="LIMIT",
                             quantity=Decimal("0.0002"), price=Decimal("100"))  # fmt: skip
    with BinanceOptions(**_options(binance)) as client:  # type: ignore[arg-type]
        client.block_trade.create_order(liquidity="TAKER", legs=[leg])
    received = binance.requests_to("/eapi/v1/block/order/create")[-1]
    assert verify(EXCHANGE, received, API_SECRET)
    assert dict(_form(received.body))["legs"] == (
        '[{"symbol":"BTC-210115-35000-C","side":"BUY","type":"LIMIT",'
        '"quantity":"0.0002","price":"100"}]'
    )


def test_items_are_checked_before_sending(binance: LoopbackServer) -> None:
    with BinanceOptions(**_options(binance)) as client:  # type: ignore[arg-type]
        bad = BatchOrder(symbol="BTC-200730-9000-C", side="BUY", type="LIMIT", quantity=1)
        with pytest.raises(RequestValidationError, match="price"):
            client.trade.create_batch_orders(orders=[bad])  # LIMIT needs a price
        with pytest.raises(RequestValidationError, match="empty"):
            client.trade.create_batch_orders(orders=[])
        with pytest.raises(RequestValidationError, match="int"):
            client.trade.cancel_batch_orders(symbol="X", order_ids=["1"])  # type: ignore[list-item]
    assert binance.requests_to("/eapi/v1/batchOrders") == []


def _item_types(method: object) -> tuple[type, ...]:
    """The classes a list answer's items are declared to be (``list[A | B]``)."""
    (union,) = typing.get_args(typing.get_type_hints(method)["return"])
    return typing.get_args(union)


def test_an_item_of_unknown_outcome_is_of_a_declared_type(binance: LoopbackServer) -> None:
    """An item error whose code means the order's outcome is unknown (-1000) is
    ExecutionStatusUnknownError with that item's client order id: the declared item types
    name it (they said ``NewOrder | APIError``, which it is not, so ``isinstance(x, APIError)``
    took it for an order)."""
    unknown = {"code": -1000, "msg": "An unknown error occurred while processing the request."}
    binance.route("POST", "/eapi/v1/batchOrders", [ORDER, unknown])
    cancel = json.loads((ROOT / "specs/binance_options/examples/DELETE_eapi_v1_batchOrders.json")
                        .read_text())  # fmt: skip
    binance.route("DELETE", "/eapi/v1/batchOrders", [unknown, *cancel])
    with BinanceOptions(**_options(binance)) as client:  # type: ignore[arg-type]
        placed = client.trade.create_batch_orders(orders=_orders())
        cancelled = client.trade.cancel_batch_orders(symbol="BTC-200730-9000-C", order_ids=[1, 2])
        trade = type(client.trade)
    filled = json.loads(dict(_form(binance.requests_to("/eapi/v1/batchOrders")[0].body))["orders"])
    assert isinstance(placed[1], ExecutionStatusUnknownError)
    assert placed[1].client_order_id == filled[1]["clientOrderId"]  # the item's own id
    assert isinstance(cancelled[0], ExecutionStatusUnknownError)
    batches = ((placed, trade.create_batch_orders), (cancelled, trade.cancel_batch_orders))
    for items, method in batches:
        declared = _item_types(method)
        assert all(isinstance(x, declared) for x in items), declared


def test_an_answer_item_by_item_is_read_whatever_its_status(binance: LoopbackServer) -> None:
    """A batch answered item by item with an HTTP error status is still read item by item:
    each refused item its own typed error, each placed order its model (it was one
    InvalidRequestError, "HTTP 400: Bad Request", which lost every item's code and took the
    placed orders for failures)."""
    refused = {"code": -2027, "msg": "Exceeded the maximum allowable position"}
    binance.route("POST", "/eapi/v1/batchOrders", [ORDER, refused], status=400)
    with BinanceOptions(**_options(binance)) as client:  # type: ignore[arg-type]
        placed, error = client.trade.create_batch_orders(orders=_orders())
        binance.route("POST", "/eapi/v1/batchOrders", [refused, refused], status=400)
        errors = client.trade.create_batch_orders(orders=_orders())
    assert isinstance(placed, NewOrder) and placed.order_id == ORDER["orderId"]
    assert isinstance(error, InsufficientBalanceError) and error.code == -2027
    assert [type(e) for e in errors] == [InsufficientBalanceError] * 2
    assert len(binance.requests_to("/eapi/v1/batchOrders")) == 2  # read, not resent
