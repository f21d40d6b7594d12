"""HashKey Global spot with cambist: market data, orders, streams, errors; blocking and asyncio.

Runs against ``cambist.testing.HashKeyExchange`` (REST + WebSocket on loopback, no account, no
network). Against the real exchange, drop the local exchange and write
``HashKey(api_key=..., api_secret=...)``. Run: python examples/hashkey.py
"""

from __future__ import annotations

import asyncio
from decimal import ROUND_DOWN, Decimal

from cambist.errors import (
    ExecutionStatusUnknownError,
    InsufficientBalanceError,
    MarketRuleError,
    RateLimitError,
)
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import (
    DepthUpdate,
    ExecutionReport,
    KlineInterval,
    OrderSide,
    OrderStatus,
    OrderType,
)
from cambist.streams import Connected
from cambist.testing import HashKeyExchange

SYMBOL = "BTCUSDT"


def market_data(hk: HashKey) -> Decimal:
    """Public endpoints: no key needed. Prices and quantities are exact Decimals."""
    book = hk.market.get_depth(symbol=SYMBOL, limit=5)
    bid, ask = book.bids[0], book.asks[0]
    assert bid.price < ask.price
    print(f"depth: best bid {bid.price} x {bid.quantity}, best ask {ask.price} x {ask.quantity}")
    klines = hk.market.list_klines(symbol=SYMBOL, interval=KlineInterval.MINUTE_1, limit=3)
    assert klines
    print(f"klines (1m): {len(klines)}, last close {klines[-1].close}")
    (ticker,) = hk.market.list_24hr_tickers(symbol=SYMBOL)
    print(f"24h ticker: last {ticker.last_price}, volume {ticker.volume}")
    return bid.price


def markets(ex: HashKeyExchange, bid: Decimal) -> None:
    """The symbol's trading rules (loaded from exchangeInfo, cached), exact rounding, and
    check_orders: an order breaking a rule is refused before anything is sent."""
    with HashKey(**ex.client_options(), check_orders=True) as hk:
        btc = hk.get_market(SYMBOL)
        print(f"market {btc.symbol}: tick {btc.price_tick}, step {btc.quantity_step}, "
              f"min order value {btc.min_notional} {btc.quote}")  # fmt: skip
        price = btc.round_price(bid * Decimal("0.9"), rounding=ROUND_DOWN)
        quantity = btc.round_quantity(Decimal("0.0123456"))  # toward zero: 0.0123
        btc.check(price=price, quantity=quantity)  # keeps every rule
        try:
            hk.spot.create_order(symbol=SYMBOL, side="BUY", type="LIMIT",
                                 quantity=quantity, price=price + Decimal("0.001"))  # fmt: skip
            raise AssertionError("expected MarketRuleError")
        except MarketRuleError as exc:  # nothing was sent
            assert exc.rule == "price_tick"
            print(f"  refused before sending: {exc.rule}, nearest valid {exc.valid}")


def orders(hk: HashKey, bid: Decimal) -> None:
    """Place a resting limit order, find it, cancel it; balances follow exactly."""
    usdt = {b.asset: b for b in hk.account.get_balances().balances}["USDT"]
    price = (bid * Decimal("0.9")).quantize(Decimal("0.01"))  # below the book: it rests
    order = hk.spot.create_order(
        symbol=SYMBOL,
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.01"),
        price=price,
        new_client_order_id="example-rest-1",
    )
    assert order.status is OrderStatus.NEW, order.status
    print(f"order {order.order_id} ({order.client_order_id}): {order.status.value} @ {order.price}")
    found = hk.spot.get_order(orig_client_order_id="example-rest-1")
    assert found.order_id == order.order_id
    held = {b.asset: b for b in hk.account.get_balances().balances}["USDT"]
    assert held.locked - usdt.locked == price * Decimal("0.01"), held
    print(f"  open orders: {[o.order_id for o in hk.spot.list_open_orders(symbol=SYMBOL)]}")
    print(f"  USDT locked by it: {held.locked - usdt.locked}")
    cancelled = hk.spot.cancel_order(order_id=order.order_id)
    assert cancelled.status is OrderStatus.CANCELED, cancelled.status
    assert not hk.spot.list_open_orders(symbol=SYMBOL)
    print(f"  cancelled: {cancelled.status.value}")


def errors(ex: HashKeyExchange, hk: HashKey) -> None:
    """Typed errors from cambist.errors, and what the client retries by itself."""
    try:  # 1000 BTC at 50000 is far more USDT than the account has
        hk.spot.create_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", quantity=Decimal(1000), price=Decimal(50000)
        )
        raise AssertionError("expected InsufficientBalanceError")
    except InsufficientBalanceError as exc:
        print(f"typed error: {type(exc).__name__} (code {exc.code}): {exc.message}")

    # HashKey's document says to stop after a 429 (and, for orders, to wait a minute): the
    # client does not resend; the error says how long to wait.
    ex.fail("market.get_depth", status=429, retry_after=0.2, times=1)
    sent = len(ex.calls)
    try:
        hk.market.get_depth(symbol=SYMBOL)
        raise AssertionError("expected RateLimitError")
    except RateLimitError as exc:
        assert len(ex.calls) == sent + 1  # sent once, not resent
        assert exc.retry_after == 0.2, exc.retry_after
        print(f"typed error: {type(exc).__name__}, retry_after={exc.retry_after} (not resent)")
    hk.market.get_depth(symbol=SYMBOL)  # after the wait, the caller tries again

    # A 503 after an order was sent: it may exist. It is never resent blindly; look it up
    # by the client order id the client filled in.
    ex.fail("spot.create_order", status=503, execute=True, times=1)
    try:
        hk.spot.create_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", quantity=Decimal("0.01"), price=Decimal(50000)
        )
        raise AssertionError("expected ExecutionStatusUnknownError")
    except ExecutionStatusUnknownError as exc:
        assert exc.client_order_id is not None
        print(f"typed error: {type(exc).__name__}, client order id {exc.client_order_id}")
        recovered = hk.spot.get_order(orig_client_order_id=exc.client_order_id)
        print(f"  recovered: order {recovered.order_id} is {recovered.status.value}")
        hk.spot.cancel_order(order_id=recovered.order_id)


async def streams(ex: HashKeyExchange) -> None:
    """asyncio: the public depth stream with its local order book, and the user stream."""
    async with AsyncHashKey(**ex.client_options()) as hk:
        async with hk.streams.public() as public:
            await public.subscribe_depth(symbol=SYMBOL)
            ex.streams.wait_subscribed("public", f"depth:{SYMBOL}")
            ex.tick(SYMBOL, steps=3)  # the simulated market moves
            rest = await hk.market.get_depth(symbol=SYMBOL, limit=10)  # the same, by REST
            async with asyncio.timeout(5):
                async for event in public:
                    if isinstance(event, DepthUpdate):
                        bids, asks = public.book(symbol=SYMBOL).top(10)  # kept from the pushes
                        if bids == rest.bids and asks == rest.asks:
                            break
            print(f"async depth stream: local book = REST book, best {bids[0][0]} / {asks[0][0]}")

        async with hk.streams.user() as user:  # listen key created, kept alive, deleted
            assert isinstance(await anext(user), Connected)
            order = await hk.spot.create_order(
                symbol=SYMBOL,
                side="BUY",
                type="LIMIT",
                quantity=Decimal("0.02"),
                price=Decimal(55000),
            )
            ex.trade(SYMBOL, "55000", "0.02", taker="SELL")  # a market sell reaches it
            seen: list[str] = []
            async with asyncio.timeout(5):
                async for update in user:
                    if isinstance(update, ExecutionReport) and update.order_id == order.order_id:
                        seen.append(update.status.value)
                        if update.status is OrderStatus.FILLED:
                            break
            assert seen[-1] == "FILLED", seen
            print(f"async user stream: order {order.order_id} went {' -> '.join(seen)}")


def main() -> None:
    with HashKeyExchange(seed=1) as ex, HashKey(**ex.client_options()) as hk:
        ex.tick(SYMBOL, steps=5)  # some simulated trading first: trades, bars, a ticker
        bid = market_data(hk)
        markets(ex, bid)
        orders(hk, bid)
        errors(ex, hk)
        asyncio.run(streams(ex))
    print("hashkey example: ok")


if __name__ == "__main__":
    main()
