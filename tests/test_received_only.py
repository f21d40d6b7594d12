"""Enum values the exchange only reports (spec ``received_only``): HashKey's MARKET_OF_QUOTE is
refused in a request before anything is sent (sync and async, as a param and inside an input
model), and still parsed from an order update."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from cambist.data import from_dict, to_dict
from cambist.errors import RequestValidationError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import BatchOrderRequest, ExecutionReport, OrderType
from cambist.streams import StreamOptions
from cambist.testing import HashKeyExchange

REFUSED = (
    r"type: 'MARKET_OF_QUOTE' is received only: the exchange reports this OrderType but never"
    r" takes it in a request; send MARKET with amount instead"
)
ORDER: dict[str, Any] = {"symbol": "BTCUSDT", "side": "BUY", "amount": Decimal("100")}


@pytest.fixture
def ex() -> Iterator[HashKeyExchange]:
    with HashKeyExchange(seed=3) as exchange:
        yield exchange


@pytest.mark.parametrize("value", [OrderType.MARKET_OF_QUOTE, "MARKET_OF_QUOTE"])
def test_create_order_refuses_it_before_sending(ex: HashKeyExchange, value: Any) -> None:
    with HashKey(**ex.client_options(), max_retries=0) as hk:
        with pytest.raises(RequestValidationError, match=REFUSED) as info:
            hk.spot.create_order(**ORDER, type=value)
        assert (info.value.endpoint, info.value.param) == ("spot.create_order", "type")
        with pytest.raises(RequestValidationError, match="is received only") as info:
            hk.spot.create_batch_orders(
                orders=[BatchOrderRequest(**ORDER, type=value)]  # a field of an input model
            )
        assert "BatchOrderRequest.type: 'MARKET_OF_QUOTE' is received only" in str(info.value)
        assert info.value.param == "orders"
        assert ex.calls == []  # the local exchange saw nothing, not even a clock request
        hk.spot.create_order(**ORDER, type=OrderType.MARKET)  # what the error says to send
    assert [c.path for c in ex.calls][-1] == "/api/v1.1/spot/order"  # after the clock


@pytest.mark.anyio
async def test_async_create_order_refuses_it_before_sending(ex: HashKeyExchange) -> None:
    async with AsyncHashKey(**ex.client_options(), max_retries=0) as hk:
        with pytest.raises(RequestValidationError, match=REFUSED) as info:
            await hk.spot.create_order(**ORDER, type=OrderType.MARKET_OF_QUOTE)
        assert (info.value.endpoint, info.value.param) == ("spot.create_order", "type")
    assert ex.calls == []


def test_the_value_is_still_a_member_and_named_in_unknown_value_errors() -> None:
    assert OrderType("MARKET_OF_QUOTE") is OrderType.MARKET_OF_QUOTE
    assert OrderType.MARKET_OF_QUOTE in list(OrderType)
    assert OrderType.__received_only__ == {"MARKET_OF_QUOTE": "MARKET with amount"}
    assert OrderType.__doc__ is not None
    with HashKeyExchange() as ex, HashKey(**ex.client_options()) as hk:
        # a wrong value lists what may be sent: the received-only value is left out
        with pytest.raises(
            RequestValidationError, match=r"is not one of LIMIT, MARKET, LIMIT_MAKER$"
        ):
            hk.spot.create_order(**ORDER, type="STOP")  # type: ignore[arg-type]
        assert ex.calls == []


@pytest.mark.anyio
async def test_an_order_update_with_it_is_parsed(ex: HashKeyExchange) -> None:
    report = {"e": "executionReport", "E": "1", "s": "BTCUSDT", "c": "c1", "S": "BUY"}
    report |= {"o": "MARKET_OF_QUOTE", "f": "IOC", "q": "0", "p": "0", "X": "FILLED", "i": "2"}
    report |= {"l": "0.001", "z": "0.001", "L": "85000", "n": "0", "N": "", "u": True}
    report |= {"w": False, "m": False, "O": "1", "Z": "85", "x": "NEW", "C": False, "v": "0"}
    report |= {"d": "1", "t": "1"}
    options = StreamOptions(backoff_base=0.01, backoff_max=0.05, reply_timeout=2.0)
    async with (
        AsyncHashKey(**ex.client_options()) as hk,
        hk.streams.user(options) as stream,
    ):
        async with asyncio.timeout(5):
            pushed = False
            async for event in stream:
                if not pushed and type(event).__name__ == "Connected":
                    ex.streams.publish("user", None, [report])
                    pushed = True
                if isinstance(event, ExecutionReport):
                    break
    assert event.order_type is OrderType.MARKET_OF_QUOTE
    assert from_dict(ExecutionReport, to_dict(event)) == event  # a received model keeps it
    assert event.cumulative_filled_quantity == Decimal("0.001")
