"""The document's JSON examples parse into the models with exact values; unknown enum values
and extra fields never break parsing; JSON numbers stay exact."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest

from cambist._runtime import convert
from cambist.hashkey import ENDPOINTS, HashKey
from cambist.hashkey.models import (
    DepositStatus,
    Kline,
    Order,
    OrderBook,
    OrderSide,
    OrderStatus,
    PriceLevel,
    TimeInForce,
)
from tests.conftest import hashkey_example
from tests.doc_examples import hashkey_examples


def _parse(name: str, payload: Any) -> Any:
    ep = next(e for e in ENDPOINTS if e.name == name)
    body = orjson.dumps(payload, default=str)
    with HashKey(time_sync=False) as client:
        return client._core.parse(ep, body, client._core._decode(body))


def _walk(value: Any) -> list[Any]:
    """Every leaf value in a parsed model."""
    if attrs.has(type(value)):
        return [leaf for f in attrs.fields(type(value)) for leaf in _walk(getattr(value, f.name))]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _walk(v)]
    return [value]


@pytest.mark.parametrize("ep", [e for e in ENDPOINTS if e.response], ids=lambda e: e.name)
def test_every_document_example_parses(ep: Any) -> None:
    result = _parse(ep.name, hashkey_example(ep.method, ep.path))
    assert result is not None
    assert not any(isinstance(leaf, float) for leaf in _walk(result))


def test_order_example_exact() -> None:
    order = _parse("spot.get_order", hashkey_examples()[("GET", "/api/v1/spot/order")][0])
    assert isinstance(order, Order)
    assert order.order_id == "2108873672953505280"
    assert order.account_id == "1649292498437183232"
    assert order.cumulative_quote_qty == Decimal("11292.24")
    assert str(order.avg_price) == "112922.4"
    assert str(order.stop_price) == "0.0"  # as written: not normalised to 0
    assert order.time == 1766133332319 and order.update_time == 1766133332383
    assert order.status is OrderStatus.FILLED and order.time_in_force is TimeInForce.IOC
    assert order.side is OrderSide.SELL and order.is_working is True


def test_depth_and_klines_exact() -> None:
    book = _parse("market.get_depth", hashkey_examples()[("GET", "/quote/v1/depth")][0])
    assert isinstance(book, OrderBook) and book.time == 1764059245287
    assert book.bids[0] == PriceLevel(Decimal("87473.15"), Decimal("0.05805"))
    assert str(book.bids[0].quantity) == "0.05805"
    klines = _parse("market.list_klines", hashkey_examples()[("GET", "/quote/v1/klines")][0])
    first = klines[0]
    assert isinstance(first, Kline) and first.open_time == 1766718300000
    assert first.open == Decimal("89037.52")


def test_batch_result_and_int_enum() -> None:
    result = _parse(
        "spot.create_batch_orders",
        hashkey_examples()[("POST", "/api/v1.1/spot/batchOrders")][0],
    )
    assert [r.order.order_id for r in result.result] == [
        "1563289422480390912",
        "1563289422622997248",
    ]
    deposits = _parse(
        "wallet.list_deposits", hashkey_examples()[("GET", "/api/v1/account/depositOrders")][0]
    )
    assert all(isinstance(d.status, DepositStatus) for d in deposits)


def test_unknown_enum_value_and_extra_fields_are_tolerated() -> None:
    raw = dict(hashkey_examples()[("GET", "/api/v1/spot/order")][0])
    raw["status"] = "PENDING_SOMETHING_NEW"
    raw["aFieldAddedLater"] = {"nested": [1, 2]}
    order = _parse("spot.get_order", raw)
    assert order.status.value == "PENDING_SOMETHING_NEW"
    assert str(order.status) == "PENDING_SOMETHING_NEW"
    assert isinstance(order.status, OrderStatus)
    assert order.status not in list(OrderStatus)  # not added to the listed members
    assert OrderStatus("PENDING_SOMETHING_NEW") is order.status


def test_json_numbers_stay_exact() -> None:
    """A decimal sent as a JSON number keeps its exact text; big ids stay exact ints."""
    body = (
        b'{"t": 1764059245287, "b": [[87473.150000000000000000001, 0.05805]],'
        b' "a": [[1e-7, 100000000000000000000000000001]]}'
    )
    ep = next(e for e in ENDPOINTS if e.name == "market.get_depth")
    with HashKey(time_sync=False) as client:
        book = client._core.parse(ep, body, client._core._decode(body))
    assert book.bids[0].price == Decimal("87473.150000000000000000001")
    assert str(book.bids[0].quantity) == "0.05805"
    assert book.asks[0].price == Decimal("1E-7")
    assert book.asks[0].quantity == 100000000000000000000000000001


def test_converter_helpers() -> None:
    assert convert.integer("18446744073709551617") == 2**64 + 1
    assert convert.string(2**63 + 5) == str(2**63 + 5)
    assert convert.opt_dec("") is None and convert.opt_dec(None) is None
    assert convert.dec(" 1") == Decimal("1")
    with pytest.raises(convert.NeedsExactNumbers):
        convert.dec(0.1)
    with pytest.raises(convert.WireTypeError):
        convert.dec({"x": 1})
    with pytest.raises(convert.WireTypeError):
        convert.boolean("maybe")


def test_raw_response(hk: HashKey) -> None:
    raw = hk.with_raw_response.market.get_depth(symbol="BTCUSDT", limit=5)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/json"
    assert raw.content.startswith(b"{")
    assert isinstance(raw.parsed, OrderBook)
    assert raw.rate_limits == {}
    assert hk.market.get_depth(symbol="BTCUSDT") == raw.parsed  # the plain call is unchanged


def test_models_are_frozen() -> None:
    order = _parse("spot.get_order", hashkey_examples()[("GET", "/api/v1/spot/order")][0])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        order.price = Decimal(1)  # type: ignore[misc]
