"""Binance Options (eapi) with cambist: market data, orders (place, query, cancel), errors;
blocking and asyncio.

Runs against ``cambist.testing.BinanceOptionsExchange`` (loopback, no account, no network).
Against the real exchange, drop the local exchange and write
``BinanceOptions(api_key=..., api_secret=...)``.
Run: python examples/binance_options.py
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cambist.binance_options import AsyncBinanceOptions, BinanceOptions
from cambist.binance_options.models import (
    NewOrderRespType,
    OrderSide,
    OrderStatus,
    OrderType,
    SymbolFilterType,
    TimeInForce,
)
from cambist.errors import (
    ExecutionStatusUnknownError,
    InsufficientBalanceError,
    RateLimitError,
    RequestValidationError,
)
from cambist.testing import BinanceOptionsExchange

SYMBOL = "BTC-220815-50000-C"


def market_data(bo: BinanceOptions) -> Decimal:
    """Public endpoints: server time, symbols and their trading rules (exact Decimals)."""
    print(f"server time {bo.market.get_server_time().server_time}")
    info = bo.market.get_exchange_info()
    option = next(s for s in info.option_symbols if s.symbol == SYMBOL)
    tick = next(f for f in option.filters if f.filter_type is SymbolFilterType.PRICE_FILTER)
    assert tick.tick_size is not None
    print(
        f"{option.symbol}: {option.side.value} strike {option.strike_price} on "
        f"{option.underlying}, price tick {tick.tick_size}, min qty {option.min_qty}"
    )
    limits = ", ".join(
        f"{r.limit} {r.rate_limit_type.value}/{r.interval.value}" for r in info.rate_limits
    )
    print(f"rate limits: {limits}")
    return option.min_qty


def orders(bo: BinanceOptions, quantity: Decimal) -> None:
    """New Order: a resting limit order (ACK answer) and a taker one (RESULT answer); the
    resting one queried by its client order id, then cancelled."""
    book = bo.market.get_order_book(symbol=SYMBOL, limit=10)
    best_bid, best_ask = book.bids[0].price, book.asks[0].price
    resting = bo.trade.create_order(
        symbol=SYMBOL,
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        quantity=quantity,
        price=best_bid - Decimal(100),
        time_in_force=TimeInForce.GTC,
        client_order_id="example-resting-1",
    )
    assert resting.status is None  # ACK (the default): no status, no executed quantity
    print(
        f"order {resting.order_id} (ACK): {resting.side.value} {resting.quantity} @ {resting.price}"
    )
    taker = bo.trade.create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        quantity=quantity,
        price=best_ask,
        time_in_force=TimeInForce.IOC,
        new_order_resp_type=NewOrderRespType.RESULT,
    )
    assert taker.status is OrderStatus.FILLED and taker.executed_qty == quantity, taker
    print(
        f"order {taker.order_id} (RESULT): {taker.status.value} "
        f"{taker.executed_qty} @ {taker.avg_price}"
    )
    found = bo.trade.get_order(symbol=SYMBOL, client_order_id="example-resting-1")
    assert found.order_id == resting.order_id and found.status is OrderStatus.ACCEPTED
    cancelled = bo.trade.cancel_order(symbol=SYMBOL, order_id=resting.order_id)
    print(f"order {cancelled.order_id}: {found.status.value}, then {cancelled.status.value}")


def errors(ex: BinanceOptionsExchange, bo: BinanceOptions) -> None:
    """Typed errors from cambist.errors, and what the client retries by itself."""
    try:  # the document's rules are checked before sending: LIMIT needs a time in force
        bo.trade.create_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", quantity=Decimal(1), price=Decimal(500)
        )
        raise AssertionError("expected RequestValidationError")
    except RequestValidationError as exc:
        assert exc.param == "time_in_force", exc.param
        print(f"typed error: {type(exc).__name__}: {exc}")
    try:  # 1000 contracts at 5000 USDT each: far more premium than the account has
        bo.trade.create_order(
            symbol=SYMBOL,
            side="BUY",
            type="LIMIT",
            quantity=Decimal(1000),
            price=Decimal(5000),
            time_in_force="GTC",
        )
        raise AssertionError("expected InsufficientBalanceError")
    except InsufficientBalanceError as exc:
        print(f"typed error: {type(exc).__name__} (code {exc.code}): {exc.message}")

    ex.fail("market.get_exchange_info", status=429, retry_after=0.2, times=1)
    sent = len(ex.calls)
    bo.market.get_exchange_info()  # a 429 proves nothing was done: waited, retried
    assert len(ex.calls) == sent + 2
    print("429 with Retry-After: retried, then answered")
    ex.fail("trade.create_order", status=429, retry_after=0.2, times=1)
    with BinanceOptions(**ex.client_options(), max_retries=0) as impatient:
        try:
            impatient.trade.create_order(
                symbol=SYMBOL,
                side="BUY",
                type="LIMIT",
                quantity=Decimal(1),
                price=Decimal(1),
                time_in_force="GTC",
            )
            raise AssertionError("expected RateLimitError")
        except RateLimitError as exc:
            print(f"typed error: {type(exc).__name__}, retry_after={exc.retry_after}")

    # A 503 after an order was sent: it may exist, and it is never resent blindly. The error
    # names the client order id the client filled in; look the order up by it.
    ex.fail("trade.create_order", status=503, execute=True, times=1)
    try:
        bo.trade.create_order(
            symbol=SYMBOL,
            side="BUY",
            type="LIMIT",
            quantity=Decimal(1),
            price=Decimal(500),
            time_in_force="GTC",
        )
        raise AssertionError("expected ExecutionStatusUnknownError")
    except ExecutionStatusUnknownError as exc:
        print(f"typed error: {type(exc).__name__}, client order id {exc.client_order_id}")
        assert exc.client_order_id is not None
        placed = bo.trade.get_order(symbol=SYMBOL, client_order_id=exc.client_order_id)
        print(f"  it was placed: order {placed.order_id} is {placed.status}")


async def asynchronous(ex: BinanceOptionsExchange) -> None:
    """asyncio: the same methods, awaited; independent calls run concurrently."""
    async with AsyncBinanceOptions(**ex.client_options()) as bo:
        time, info = await asyncio.gather(
            bo.market.get_server_time(), bo.market.get_exchange_info()
        )
        assert time.server_time > 0 and info.option_symbols
        order = await bo.trade.create_order(
            symbol=SYMBOL,
            side="BUY",
            type="LIMIT",
            quantity=Decimal(1),
            price=Decimal(900),
            time_in_force="GTC",
            new_order_resp_type="RESULT",
        )
        assert order.status is OrderStatus.ACCEPTED, order.status
        print(
            f"async: {len(info.option_symbols)} symbol(s); "
            f"order {order.order_id} {order.status.value}"
        )


def main() -> None:
    with BinanceOptionsExchange(seed=1) as ex, BinanceOptions(**ex.client_options()) as bo:
        quantity = market_data(bo)
        orders(bo, quantity)
        errors(ex, bo)
        asyncio.run(asynchronous(ex))
    print("binance_options example: ok")


if __name__ == "__main__":
    main()
