"""What user code may write, type-checked with ``mypy --strict`` by tests/typecheck_docs.py
(never imported by pytest): each line is something a signature once refused or mis-typed."""

from __future__ import annotations

from decimal import Decimal
from typing import assert_type

from cambist.bibox import Bibox
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import BatchOrderRequest
from cambist.testing import BiboxExchange, HashKeyExchange
from cambist.types import DecimalLike


def decimals_as_the_runtime_takes_them(hk: HashKey) -> None:
    hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.1", price=50000)
    hk.spot.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.1"), price="50000"
    )
    BatchOrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", amount=100)
    amount: DecimalLike = "12.5"
    hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", amount=amount)


def ids_a_model_returns_are_accepted(hk: HashKey, bb: Bibox) -> None:
    order = hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=1, price=1)
    hk.account.get_balances(account_id=order.account_id)  # a str
    hk.account.get_balances(account_id=1471090223379184384)  # the document's LONG
    placed = bb.user.create_order(symbol="BTC_USDT", side="buy", type="limit", quantity=1)
    bb.user.get_order(order_id=placed.order_id)  # an int
    bb.user.cancel_order(order_id=placed.order_id)
    bb.user.list_fills(order_id=placed.order_id)


async def async_too(hk: AsyncHashKey) -> None:
    order = await hk.spot.create_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", quantity="1", price=2
    )
    await hk.account.get_balances(account_id=order.account_id)


def local_exchanges_are_typed() -> None:
    with HashKeyExchange() as ex:
        assert_type(ex, HashKeyExchange)
    with BiboxExchange() as bx:
        assert_type(bx, BiboxExchange)
