"""A loopback WebSocket server for the stream memory benchmark: after the first frame it
receives (a subscription), it pushes HashKey V2 depth (20 levels a side, the version always
advancing) as fast as it can, until the client goes.

Run: python benchmarks/push_server.py PORT   (prints "ready" when listening)
"""

from __future__ import annotations

import asyncio
import json
import random
import sys

from websockets.asyncio.server import ServerConnection, serve


def _frames(count: int) -> list[str]:
    """Depth pushes with a ``%d`` for the version: prices move, so the client's book and its
    caches see new values all the time (up to ``count`` distinct books, then repeating)."""
    rng = random.Random(5)
    out = []
    for i in range(count):
        mid = 60000 + rng.randint(-500, 500)
        bids = [
            [f"{mid - j}.{rng.randint(0, 99):02d}", f"{rng.random():.4f}"] for j in range(1, 21)
        ]
        asks = [
            [f"{mid + j}.{rng.randint(0, 99):02d}", f"{rng.random():.4f}"] for j in range(1, 21)
        ]
        frame = {
            "topic": "depth",
            "params": {"symbol": "BTCUSDT"},
            "data": {"s": "BTCUSDT", "t": 1766000000000 + i, "v": "VERSION", "b": bids, "a": asks},
        }
        out.append(json.dumps(frame).replace('"VERSION"', '"%d_1"'))
    return out


FRAMES = _frames(5000)


async def handler(ws: ServerConnection) -> None:
    await ws.recv()  # the subscription
    version = 0
    try:
        while True:
            for frame in FRAMES:
                version += 1
                await ws.send(frame % version)
                if version % 50 == 0:
                    await asyncio.sleep(0)  # let the client's pings in
    except Exception:
        return


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
