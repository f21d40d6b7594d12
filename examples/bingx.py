"""BingX with cambist: universal transfers and their history, the user stream, errors;
blocking and asyncio.

Runs against ``cambist.testing.BingXExchange`` (REST + WebSocket on loopback, no account, no
network). Against the real exchange, drop the local exchange and write
``BingX(api_key=..., api_secret=...)``. BingX's document has no balance endpoint and no
schema for user stream events, so balances are read from the local exchange's ledger here and
stream events arrive as ``RawEvent`` (decoded JSON). Run: python examples/bingx.py
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cambist.bingx import AsyncBingX, BingX
from cambist.bingx.models import TransferType, UniversalTransferType
from cambist.errors import ExecutionStatusUnknownError, InsufficientBalanceError, RateLimitError
from cambist.streams import Connected, RawEvent
from cambist.testing import BingXExchange


def transfers(ex: BingXExchange, bx: BingX) -> None:
    """Move USDT from the funding account to standard futures and back; read the history."""
    out = bx.wallet.transfer(
        type=UniversalTransferType.FUND_SFUTURES, asset="USDT", amount=Decimal("250.5")
    )
    back = bx.wallet.transfer(type="SFUTURES_FUND", asset="USDT", amount=Decimal("50.25"))
    print(f"transfers {out.transfer_id} (FUND -> SFUTURES) and {back.transfer_id} (back)")
    history = bx.wallet.list_transfers(type=TransferType.FUND_SFUTURES)
    assert history.total == 1 and history.rows[0].transfer_id == out.transfer_id
    row = history.rows[0]  # BingX writes the amount leaving FUND as negative, 20 decimals
    assert row.amount == Decimal("-250.5")
    print(f"  history FUND_SFUTURES: {history.total} row, {row.amount} {row.asset} {row.status}")
    futures = ex.balances["SFUTURES"]["USDT"]  # the local exchange's ledger
    assert futures == Decimal("200.25"), futures
    print(f"  standard futures USDT now {futures}")


def errors(ex: BingXExchange, bx: BingX) -> None:
    """Typed errors from cambist.errors, and what the client retries by itself."""
    try:
        bx.wallet.transfer(type="FUND_PFUTURES", asset="USDT", amount=Decimal(10**9))
        raise AssertionError("expected InsufficientBalanceError")
    except InsufficientBalanceError as exc:
        print(f"typed error: {type(exc).__name__} (code {exc.code}): {exc.message}")

    # A 503 on a read-only call: it is safe to resend, so the client retries by itself.
    ex.fail("wallet.list_transfers", status=503, times=1)
    sent = len(ex.calls)
    bx.wallet.list_transfers(type="FUND_SFUTURES")
    assert len(ex.calls) == sent + 2  # the 503, then the answer
    print("503 on a history query: retried, then answered")
    with BingX(**ex.client_options(), max_retries=0) as impatient:
        ex.fail("wallet.list_transfers", status=429, retry_after=1, times=1)
        try:
            impatient.wallet.list_transfers(type="FUND_SFUTURES")
            raise AssertionError("expected RateLimitError")
        except RateLimitError as exc:
            print(f"typed error: {type(exc).__name__}, retry_after={exc.retry_after}")

    # A 503 after a transfer was sent: it may have happened, and it is never resent blindly.
    # BingX transfers carry no client id: compare the history before and after.
    before = bx.wallet.list_transfers(type="FUND_PFUTURES").total
    ex.fail("wallet.transfer", status=503, execute=True, times=1)
    try:
        bx.wallet.transfer(type="FUND_PFUTURES", asset="USDT", amount=Decimal(10))
        raise AssertionError("expected ExecutionStatusUnknownError")
    except ExecutionStatusUnknownError as exc:
        print(f"typed error: {type(exc).__name__}: {exc}")
        after = bx.wallet.list_transfers(type="FUND_PFUTURES")
        assert after.total == before + 1
        print(f"  recovered: it happened, transfer {after.rows[0].transfer_id}")


async def user_stream(ex: BingXExchange) -> None:
    """asyncio: concurrent calls, and the user stream (listen key created, kept alive,
    deleted). BingX documents no event schema, so every push is a RawEvent."""
    async with AsyncBingX(**ex.client_options()) as bx, bx.streams.user() as stream:
        assert isinstance(await anext(stream), Connected)
        futures, perpetual = await asyncio.gather(
            bx.wallet.list_transfers(type="FUND_SFUTURES"),
            bx.wallet.list_transfers(type="FUND_PFUTURES"),
        )
        print(f"async: {futures.total} + {perpetual.total} transfers out of FUND")
        # what BingX would push on a balance change (sent by the local exchange here)
        ex.push_user({"e": "ACCOUNT_UPDATE", "E": ex.now_ms(), "a": {"B": []}})
        raw: RawEvent | None = None
        async with asyncio.timeout(5):
            async for event in stream:
                if isinstance(event, RawEvent):
                    raw = event
                    break
        assert raw is not None and raw.type == "ACCOUNT_UPDATE", raw
        print(f"async user stream: RawEvent type={raw.type} keys={sorted(raw.data)}")


def main() -> None:
    with BingXExchange(seed=1) as ex, BingX(**ex.client_options()) as bx:
        transfers(ex, bx)
        errors(ex, bx)
        asyncio.run(user_stream(ex))
    print("bingx example: ok")


if __name__ == "__main__":
    main()
