"""Models to plain data and back (``cambist.data``): every document example of every exchange
round-trips through ``to_dict`` / ``from_dict`` (Python and wire names) and ``to_json``;
decimals stay exact text, enums become their values, wire names are the exchange's own keys;
request models are built from plain dicts with errors naming each path, and the orders built
so are accepted by the local exchange, sync and async."""

from __future__ import annotations

import asyncio
import importlib
import json
from decimal import Decimal
from typing import Any

import attrs
import pytest
import yaml

from cambist.bibox.models import Fee, Fill, Liquidity
from cambist.data import from_dict, from_json, to_dict, to_json
from cambist.errors import RequestValidationError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import (
    AccountTrade,
    BatchOrderRequest,
    Kline,
    Order,
    OrderBook,
    OrderSide,
    OrderStatus,
    OrderType,
    PriceLevel,
)
from cambist.testing import HashKeyExchange
from tests.exchanges import EXCHANGES, Case
from tests.test_fast_path import _general

D = Decimal
ANSWERS = [
    (case, ep)
    for case in EXCHANGES
    for ep in case.endpoints()
    if ep.response not in (None, "json") and ep.parse is not None
]


def _type(case: Case, text: str) -> Any:
    models = importlib.import_module(f"cambist.{case.id}.models")
    if text.startswith("list["):
        return list[getattr(models, text[5:-1])]  # type: ignore[misc]
    return getattr(models, text)


def _id(case: Case, ep: Any) -> str:
    return f"{case.id}:{ep.name}"


@pytest.mark.parametrize(("case", "ep"), ANSWERS, ids=[_id(c, e) for c, e in ANSWERS])
def test_every_example_answer_round_trips(case: Case, ep: Any) -> None:
    try:
        body = case.sample(ep)
    except (FileNotFoundError, KeyError):
        pytest.skip("no document example")
    parsed = _general(case, ep, body)
    cls = _type(case, ep.response)
    for wire in (False, True):
        plain = to_dict(parsed, wire_names=wire)
        text = to_json(parsed, wire_names=wire)
        assert json.loads(text) == plain  # only JSON types: no Decimal, enum or tuple left
        assert from_dict(cls, plain, wire_names=wire) == parsed
        assert from_json(cls, text, wire_names=wire) == parsed


def _hashkey_sample(path: str) -> Any:
    from tests.conftest import hashkey_example

    return json.loads(json.dumps(hashkey_example("GET", path), default=str))


def test_wire_names_are_the_exchanges_own_keys() -> None:
    case = EXCHANGES[0]
    ep = next(e for e in case.endpoints() if e.name == "spot.get_order")
    sample = json.loads(case.sample(ep))
    order = _general(case, ep, case.sample(ep))
    plain = to_dict(order, wire_names=True)
    assert {k for k, v in plain.items() if v is not None} <= set(sample)
    assert plain["orderId"] == sample["orderId"] and plain["origQty"] == sample["origQty"]
    python = to_dict(order)
    assert python["order_id"] == sample["orderId"] and "orderId" not in python


def _order(**changes: Any) -> Order:
    """The document's Query Order example, with ``changes``."""
    case = EXCHANGES[0]
    ep = next(e for e in case.endpoints() if e.name == "spot.get_order")
    example = _general(case, ep, case.sample(ep))
    return attrs.evolve(example, price=D("85000.50"), orig_qty=D("1E-7"), **changes)


def test_decimals_are_exact_strings_and_enums_their_values() -> None:
    order = _order(side=OrderSide.BUY, type=OrderType.LIMIT, status=OrderStatus("SOMETHING_NEW"))
    plain = to_dict(order)
    assert order.side is OrderSide.BUY and order.type is OrderType.LIMIT
    assert plain["price"] == "85000.50"  # the exchange's text: trailing zero kept
    assert plain["orig_qty"] == "0.0000001"  # plain notation, as sent on the wire
    assert plain["side"] == "BUY" and plain["type"] == "LIMIT"
    assert plain["status"] == "SOMETHING_NEW"
    back = from_dict(Order, plain)
    assert back == order and back.status.value == "SOMETHING_NEW"  # kept, as parsing keeps it
    assert json.loads(to_json(order))["price"] == "85000.50"
    with pytest.raises(TypeError):  # why this module exists
        json.dumps(attrs.asdict(order))


def _leaves(data: Any) -> list[Any]:
    if isinstance(data, dict):
        return [leaf for value in data.values() for leaf in _leaves(value)]
    if isinstance(data, list):
        return [leaf for value in data for leaf in _leaves(value)]
    return [data]


def test_to_dict_of_an_answer_is_plain_data_for_yaml() -> None:
    # a str enum (``OrderStatus(str, OpenEnum)``) came out as the member itself: equal to its
    # value, so JSON showed nothing, but ``yaml.safe_dump`` refused it
    with HashKeyExchange(seed=5) as ex, HashKey(**ex.client_options(), max_retries=0) as hk:
        made = hk.spot.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.1", price="1000.50"
        )
        order = hk.spot.get_order(order_id=made.order_id)
    for wire in (False, True):
        plain = to_dict(order, wire_names=wire)
        status = plain["status"]
        assert type(status) is str and status == "NEW"
        assert type(plain["side"]) is str and plain["side"] == "BUY"
        assert plain["price"] == "1000.5"  # a decimal: its exact text, as the exchange wrote it
        assert all(type(leaf) in (str, int, bool, type(None)) for leaf in _leaves(plain))
        text = yaml.safe_dump(plain)
        assert "status: NEW" in text
        assert from_dict(Order, yaml.safe_load(text), wire_names=wire) == order


def test_ids_above_2_53_stay_exact() -> None:
    fill = Fill(
        fill_id=2**63 - 1,
        time=1651895799668,
        price=D("0.123456789012345678901"),
        quantity=D("-0.5"),
        liquidity=Liquidity.MAKER,
        fee=Fee(asset="BTC", amount=D("1E-20")),
    )
    text = to_json(fill, wire_names=True)
    data = json.loads(text)
    assert data["i"] == 2**63 - 1 and data["p"] == "0.123456789012345678901"
    assert data["f"] == {"a": "BTC", "m": "0.00000000000000000001"}
    assert from_json(Fill, text, wire_names=True) == fill


def test_rows_are_objects_or_arrays_as_sent() -> None:
    level = PriceLevel(D("87473.15"), D("0.05805"))
    assert to_dict(level) == {"price": "87473.15", "quantity": "0.05805"}
    assert to_dict(level, wire_names=True) == ["87473.15", "0.05805"]
    assert from_dict(PriceLevel, {"price": "87473.15", "quantity": "0.05805"}) == level
    assert from_dict(PriceLevel, ["87473.15", "0.05805"]) == level
    book = OrderBook(time=1, bids=[level], asks=[])
    assert to_dict(book, wire_names=True) == {"t": 1, "b": [["87473.15", "0.05805"]], "a": []}
    assert to_dict([book]) == [{"time": 1, "bids": [to_dict(level)], "asks": []}]
    kline = Kline(1, D("1"), D("2"), D("0.5"), D("1.5"), D("10"), 2, D("15"), 3, D("4"), D("6"))
    assert to_dict(kline)["close_time"] == 2 and to_dict(kline)["volume"] == "10"
    assert from_dict(Kline, to_dict(kline)) == kline
    assert from_dict(Kline, to_dict(kline, wire_names=True)) == kline


GOOD = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1", "price": "50000"}


def test_request_models_from_plain_dicts() -> None:
    order = from_dict(BatchOrderRequest, GOOD)
    assert order == BatchOrderRequest(
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        quantity=D("0.1"),
        price=D("50000"),
    )
    assert order.side is OrderSide.BUY  # the member, not the string
    wire = {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": 2}
    wire["newClientOrderId"] = "abc"
    built = from_dict(BatchOrderRequest, wire, wire_names=True)
    assert built.new_client_order_id == "abc" and built.quantity == D(2)
    assert to_dict(built, wire_names=True)["newClientOrderId"] == "abc"
    assert from_json(list[BatchOrderRequest], json.dumps([GOOD, GOOD])) == [order, order]


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        (
            {**GOOD, "side": "BYU", "quantity": 0.1, "pirce": "1"},
            [
                "'BYU' is not one of BUY, SELL @ $.side",
                "0.1 is a float, which is not exact: give a str or a Decimal @ $.quantity",
                "extra fields found (pirce) @ $",
            ],
        ),
        ({**GOOD, "price": None}, ["price is required when type is LIMIT @ $"]),
        ({"side": "BUY", "type": "MARKET", "amount": "10"}, ["required field missing @ $.symbol"]),
        ({**GOOD, "symbol": 7}, ["expected str, got int @ $.symbol"]),
        ({**GOOD, "quantity": "lots"}, ["'lots' is not a decimal number @ $.quantity"]),
        ("BTCUSDT", ["expected an object, got str @ $"]),
        (
            {**GOOD, "type": "MARKET_OF_QUOTE"},  # spec received_only: refused as sending is
            [
                "'MARKET_OF_QUOTE' is received only: the exchange reports this OrderType but never"
                " takes it in a request; send MARKET with amount instead @ $.type"
            ],
        ),
    ],
)
def test_request_model_errors_name_the_path(data: Any, problems: list[str]) -> None:
    with pytest.raises(RequestValidationError) as caught:
        from_dict(BatchOrderRequest, data)
    message = str(caught.value)
    assert message.startswith("from_dict(BatchOrderRequest): ")
    for problem in problems:
        assert problem in message
    assert caught.value.param == problems[0].rpartition(" @ ")[2] or "@" not in problems[0]


def test_errors_in_a_list_name_the_index() -> None:
    with pytest.raises(RequestValidationError) as caught:
        from_dict(
            list[BatchOrderRequest], [GOOD, {**GOOD, "type": "STOP"}, {**GOOD, "price": True}]
        )
    text = str(caught.value)
    assert text.startswith("from_dict(list[BatchOrderRequest]): ")
    assert "'STOP' is not one of LIMIT, MARKET, LIMIT_MAKER @ $[1].type" in text
    assert "expected a decimal (str, int or Decimal), got bool @ $[2].price" in text
    assert caught.value.param == "$[1].type"
    with pytest.raises(RequestValidationError, match=r"expected a list, got str @ \$"):
        from_dict(list[BatchOrderRequest], "orders")


def test_received_models_ignore_unknown_keys_but_check_types() -> None:
    plain = to_dict(_order())
    assert from_dict(Order, {**plain, "added_later": 1}) == _order()
    with pytest.raises(RequestValidationError, match=r"@ \$\.time"):
        from_dict(Order, {**plain, "time": "soon"})
    with pytest.raises(RequestValidationError, match=r"not JSON"):
        from_json(Order, "{")


def _batch_orders() -> list[BatchOrderRequest]:
    rows = [
        {**GOOD, "side": "BUY", "price": "1000", "new_client_order_id": "a1"},
        {**GOOD, "side": "BUY", "price": "1001", "new_client_order_id": "a2"},
    ]
    return from_dict(list[BatchOrderRequest], rows)


def test_orders_built_from_dicts_are_accepted_sync() -> None:
    with HashKeyExchange(seed=3) as ex, HashKey(**ex.client_options(), max_retries=0) as hk:
        answer = hk.spot.create_batch_orders(orders=_batch_orders())
        assert [r.order.client_order_id for r in answer.result if r.order] == ["a1", "a2"]
        assert {o.client_id for o in ex.ledger.orders.values()} == {"a1", "a2"}


def test_orders_built_from_dicts_are_accepted_async() -> None:
    async def main() -> list[str | None]:
        with HashKeyExchange(seed=3) as ex:
            async with AsyncHashKey(**ex.client_options(), max_retries=0) as hk:
                answer = await hk.spot.create_batch_orders(orders=_batch_orders())
                trades = await hk.account.list_trades(symbol="BTCUSDT")
                assert trades == [] or isinstance(trades[0], AccountTrade)
                return [r.order.client_order_id for r in answer.result if r.order]

    assert asyncio.run(main()) == ["a1", "a2"]
