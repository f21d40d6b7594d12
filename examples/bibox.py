"""Bibox v4 spot with cambist: market data, orders, both streams, errors; blocking and asyncio.

Runs against ``cambist.testing.BiboxExchange`` (REST + WebSocket on loopback, no account, no
network). Against the real exchange, drop the local exchange and write
``Bibox(api_key=..., api_secret=...)``. Run: python examples/bibox.py
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cambist.bibox import AsyncBibox, Bibox
from cambist.bibox.models import (
    CandleTimeFrame,
    OrderBookUpdate,
    OrderEvent,
    OrderSide,
    OrderType,
    TradesUpdate,
)
from cambist.errors import ExecutionStatusUnknownError, InvalidRequestError, OrderNotFoundError
from cambist.streams import Connected
from cambist.testing import BiboxExchange

SYMBOL = "BTC_USDT"


def market_data(bb: Bibox) -> Decimal:
    """Public endpoints: no key needed. Prices and quantities are exact Decimals."""
    (pair,) = bb.market.list_pairs(symbol=[SYMBOL])
    print(f"pair {pair.symbol}: price step {pair.price_increment}, min qty {pair.min_quantity}")
    book = bb.market.get_order_book(symbol=SYMBOL, level=5)
    bid, ask = book.bids[0], book.asks[0]
    assert bid.price < ask.price
    print(f"order book: best bid {bid.price} x {bid.quantity}, best ask {ask.price}")
    (ticker,) = bb.market.list_tickers(symbol=[SYMBOL])
    trades = bb.market.list_trades(symbol=SYMBOL, limit=5)
    candles = bb.market.list_candles(symbol=SYMBOL, time_frame=CandleTimeFrame.MINUTE_1)
    assert trades and candles
    print(f"ticker last {ticker.last_price}; {len(trades)} trades; last candle {candles[-1].close}")
    return bid.price


def orders(bb: Bibox, bid: Decimal) -> None:
    """Place a resting limit order, find it by its client order id, cancel it."""
    price = (bid * Decimal("0.9")).quantize(Decimal("0.01"))  # below the book: it rests
    order = bb.user.create_order(
        symbol=SYMBOL,
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.01"),
        price=price,
        client_order_id="1001",  # Bibox: digits only
    )
    print(f"order {order.order_id} (client id {order.client_order_id}): {order.status} @ {price}")
    found = bb.user.get_order(client_order_id="1001")
    assert found.order_id == order.order_id
    open_ids = [o.order_id for o in bb.user.list_orders(status="unsettled", symbol=SYMBOL)]
    assert open_ids == [order.order_id], open_ids
    (usdt,) = bb.user.list_accounts(asset=["USDT"])
    assert usdt.frozen == price * Decimal("0.01"), usdt
    print(f"  unsettled: {open_ids}; USDT available {usdt.available}, frozen {usdt.frozen}")
    cancelled = bb.user.cancel_order(order_id=str(order.order_id))
    assert cancelled.status == "cancelled", cancelled.status
    print(f"  cancelled: {cancelled.status}")


def errors(ex: BiboxExchange, bb: Bibox) -> None:
    """Typed errors from cambist.errors."""
    try:
        bb.user.cancel_order(client_order_id="1001")  # already settled
        raise AssertionError("expected OrderNotFoundError")
    except OrderNotFoundError as exc:
        print(f"typed error: {type(exc).__name__} (code {exc.code}): {exc.message}")
    try:  # 1000 BTC is far more USDT than the account has
        bb.user.create_order(
            symbol=SYMBOL, side="buy", type="limit", quantity=Decimal(1000), price=Decimal(50000)
        )
        raise AssertionError("expected InvalidRequestError")
    except InvalidRequestError as exc:  # Bibox's error table has no insufficient-balance code
        print(f"typed error: {type(exc).__name__} (code {exc.code}): {exc.message}")

    # A 503 after an order was sent: it may exist. It is never resent blindly; look it up
    # by the client order id the client filled in (digits, as Bibox wants).
    ex.fail("user.create_order", status=503, execute=True, times=1)
    try:
        bb.user.create_order(
            symbol=SYMBOL, side="buy", type="limit", quantity=Decimal("0.01"), price=Decimal(50000)
        )
        raise AssertionError("expected ExecutionStatusUnknownError")
    except ExecutionStatusUnknownError as exc:
        assert exc.client_order_id is not None
        print(f"typed error: {type(exc).__name__}, client order id {exc.client_order_id}")
        recovered = bb.user.get_order(client_order_id=exc.client_order_id)
        print(f"  recovered: order {recovered.order_id} is {recovered.status}")
        bb.user.cancel_all_orders(symbol=SYMBOL)


async def streams(ex: BiboxExchange) -> None:
    """asyncio: the market stream (order book kept locally, trades) and the user stream."""
    async with AsyncBibox(**ex.client_options()) as bb:
        async with bb.streams.market() as market:
            await market.subscribe_order_book(symbol=SYMBOL, depth=20)
            await market.subscribe_trades(symbol=SYMBOL)
            # the local exchange acknowledges a subscription before it takes effect: wait
            ex.streams.wait_subscribed("market", f"{SYMBOL}.trades")
            ex.tick(SYMBOL, steps=3)  # the simulated market moves
            rest = await bb.market.get_order_book(symbol=SYMBOL, level=10)  # the same, by REST
            trades, same = 0, False
            async with asyncio.timeout(5):
                async for event in market:
                    if isinstance(event, TradesUpdate):
                        trades += len(event.data)
                    elif isinstance(event, OrderBookUpdate):  # the full book, then changes
                        bids, asks = market.book(symbol=SYMBOL, depth=20).top(10)
                        same = bids == rest.bids and asks == rest.asks
                    if same and trades:
                        break
            print(f"async market stream: {trades} trade(s); local book = REST book, ", end="")
            print(f"best {bids[0][0]} / {asks[0][0]}")

        async with bb.streams.user() as user:  # pushes order and account events unasked
            assert isinstance(await anext(user), Connected)
            order = await bb.user.create_order(
                symbol=SYMBOL,
                side="buy",
                type="limit",
                quantity=Decimal("0.02"),
                price=Decimal(55000),
            )
            ex.trade(SYMBOL, "55000", "0.02", taker="SELL")  # a market sell reaches it
            seen: list[str] = []
            async with asyncio.timeout(5):
                async for update in user:
                    if isinstance(update, OrderEvent) and update.data.order_id == order.order_id:
                        seen.append(update.data.status)
                        if update.data.status == "filled":
                            break
            fills = await bb.user.list_fills(order_id=str(order.order_id))
            assert len(fills) == 1 and fills[0].price == 55000, fills
            print(f"async user stream: order {order.order_id} went {' -> '.join(seen)}, ", end="")
            print(f"filled as {fills[0].liquidity.value} at {fills[0].price}")


def main() -> None:
    with BiboxExchange(seed=1) as ex, Bibox(**ex.client_options()) as bb:
        ex.tick(SYMBOL, steps=5)  # some simulated trading first: trades, candles, a ticker
        bid = market_data(bb)
        orders(bb, bid)
        errors(ex, bb)
        asyncio.run(streams(ex))
    print("bibox example: ok")


if __name__ == "__main__":
    main()
