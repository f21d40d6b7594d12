"""A minimal asyncio HTTP/1.1 keep-alive server for benchmarks: canned answers by path.

Run: python benchmarks/server.py PORT   (prints "ready" when listening)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

ORDER = json.dumps(
    {
        "accountId": "1649292498437183232",
        "exchangeId": "301",
        "symbol": "BTCUSDT",
        "symbolName": "BTCUSDT",
        "clientOrderId": "1766133332140288",
        "orderId": "2108873672953505280",
        "price": "0",
        "origQty": "0.1",
        "executedQty": "0.1",
        "cummulativeQuoteQty": "11292.24",
        "cumulativeQuoteQty": "11292.24",
        "avgPrice": "112922.4",
        "status": "FILLED",
        "timeInForce": "IOC",
        "type": "MARKET",
        "side": "SELL",
        "stopPrice": "0.0",
        "icebergQty": "0.0",
        "time": "1766133332319",
        "updateTime": "1766133332383",
        "isWorking": True,
        "reqAmount": "0",
        "feeCoin": "",
        "feeAmount": "0",
        "sumFeeAmount": "0",
        "ordCxlReason": "",
        "stpMode": "EXPIRE_TAKER",
    }
).encode()


INFO = json.dumps(
    {
        "timezone": "UTC",
        "serverTime": 1766133332319,
        "symbols": [
            {
                "symbol": "BTCUSDT",
                "symbolName": "BTCUSDT",
                "status": "TRADING",
                "baseAsset": "BTC",
                "baseAssetName": "BTC",
                "baseAssetPrecision": "0.0001",
                "quoteAsset": "USDT",
                "quoteAssetName": "USDT",
                "quotePrecision": "0.01",
                "retailAllowed": True,
                "piAllowed": True,
                "corporateAllowed": True,
                "omnibusAllowed": True,
                "icebergAllowed": False,
                "isAggregate": False,
                "allowMargin": False,
                "filters": [
                    {
                        "minPrice": "0.01",
                        "maxPrice": "0",
                        "tickSize": "0.01",
                        "filterType": "PRICE_FILTER",
                    },
                    {
                        "minQty": "0.0001",
                        "maxQty": "1000",
                        "stepSize": "0.0001",
                        "marketOrderMinQty": "0.0001",
                        "marketOrderMaxQty": "500",
                        "filterType": "LOT_SIZE",
                    },
                    {"minNotional": "1", "filterType": "MIN_NOTIONAL"},
                    {
                        "minAmount": "1",
                        "maxAmount": "100000000",
                        "minBuyPrice": "0",
                        "marketOrderMinAmount": "1",
                        "marketOrderMaxAmount": "50000000",
                        "filterType": "TRADE_AMOUNT",
                    },
                ],
            }
        ],
    }
).encode()
"""Get Exchange Information with one symbol (for ``check_orders``)."""  # fmt: skip


def _response(body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    order = _response(ORDER)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            path = head.split(b" ", 2)[1].split(b"?")[0]
            if path == b"/api/v1/time":
                writer.write(_response(b'{"serverTime": %d}' % int(time.time() * 1000)))
            elif path == b"/api/v1/exchangeInfo":
                writer.write(_response(INFO))
            else:
                writer.write(order)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
