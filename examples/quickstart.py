"""cambist quickstart: the HashKey client, blocking and asyncio, against a local stand-in.

Run: python examples/quickstart.py   (after `pip install -e .`)
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from local_exchange import API_KEY, API_SECRET, LocalExchange

from cambist.errors import AuthenticationError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import OrderSide, OrderType


def blocking(url: str) -> None:
    with HashKey(api_key=API_KEY, api_secret=API_SECRET, base_url=url) as hk:
        book = hk.market.get_depth(symbol="BTCUSDT", limit=50)
        print(
            f"best bid {book.bids[0].price} x {book.bids[0].quantity}, "
            f"best ask {book.asks[0].price} ({type(book.asks[0].price).__name__})"
        )
        order = hk.spot.create_order(
            symbol="BTCUSDT",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.01"),
            price=Decimal("85000"),
        )
        print(
            f"order {order.order_id} {order.status.value}: {order.orig_qty} @ {order.price}, "
            f"client order id {order.client_order_id}"
        )
        raw = hk.with_raw_response.market.get_depth(symbol="BTCUSDT")
        print(f"raw: HTTP {raw.status_code}, {len(raw.content)} bytes, parsed {raw.parsed.time}")
    with HashKey(api_key=API_KEY, api_secret="wrong", base_url=url) as bad:
        try:
            bad.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", amount=10)
        except AuthenticationError as exc:
            print(f"typed error: {type(exc).__name__}: {exc}")


async def asynchronous(url: str) -> None:
    async with AsyncHashKey(base_url=url) as hk:
        klines = await hk.market.list_klines(symbol="BTCUSDT", interval="1m")
        first = klines[0]
        print(f"async kline {first.open_time}: open {first.open} close {first.close}")


def main() -> None:
    with LocalExchange() as url:
        blocking(url)
        asyncio.run(asynchronous(url))


if __name__ == "__main__":
    main()
