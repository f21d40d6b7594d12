"""cambist quickstart: HashKey, blocking and asyncio, against the local stand-in exchange.

No account and no network: ``cambist.testing.HashKeyExchange`` serves the REST API and the
WebSocket streams on loopback, with the default credentials. Run: python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cambist.errors import AuthenticationError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import DepthUpdate, ExecutionReport, OrderSide, OrderType
from cambist.streams import Connected
from cambist.testing import HashKeyExchange


def blocking(ex: HashKeyExchange) -> None:
    with HashKey(**ex.client_options()) as hk:
        book = hk.market.get_depth(symbol="BTCUSDT", limit=50)
        best = book.bids[0]
        print(f"best bid {best.price} x {best.quantity} ({type(best.price).__name__})")
        with hk.streams.user() as user:
            assert isinstance(next(user), Connected)
            order = hk.spot.create_order(
                symbol="BTCUSDT",
                side=OrderSide.BUY,
                type=OrderType.LIMIT,
                quantity=Decimal("0.01"),
                price=Decimal("55000"),
            )
            print(f"placed {order.order_id}: {order.status.value} {order.orig_qty} @ {order.price}")
            hk.spot.cancel_order(order_id=order.order_id)
            again = hk.spot.create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                quantity=Decimal("0.01"),
                price=Decimal("55000"),
            )
            ex.trade("BTCUSDT", "55000", "0.01", taker="SELL")  # a market sell reaches it
            for event in user:
                if isinstance(event, ExecutionReport):
                    print(f"  user stream: order {event.order_id} is {event.status.value}")
                    if event.order_id == again.order_id and event.status.value == "FILLED":
                        break
    with HashKey(**{**ex.client_options(), "api_secret": "wrong"}) as bad:
        try:
            bad.account.get_balances()
        except AuthenticationError as exc:
            print(f"typed error: {type(exc).__name__}: {exc}")


async def asynchronous(ex: HashKeyExchange) -> None:
    async with AsyncHashKey(**ex.client_options()) as hk, hk.streams.public() as stream:
        await stream.subscribe_depth(symbol="BTCUSDT")
        ex.streams.wait_subscribed("public", "depth:BTCUSDT")
        ex.tick("BTCUSDT", steps=5)  # the synthetic market moves
        updates = 0
        async for event in stream:
            if isinstance(event, DepthUpdate):
                updates += 1
                if updates == 6:
                    break
        local = stream.book(symbol="BTCUSDT")
        print(f"async depth stream: {updates} pushes, local book best bid {local.best_bid()}")
        order = await hk.spot.create_order(
            symbol="BTCUSDT", side="SELL", type="MARKET", quantity=Decimal("0.01")
        )
        print(f"async market order {order.order_id}: {order.status.value} {order.executed_qty}")


def main() -> None:
    with HashKeyExchange(seed=1) as ex:
        blocking(ex)
        asyncio.run(asynchronous(ex))


if __name__ == "__main__":
    main()
