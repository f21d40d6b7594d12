"""``python -m cambist.testing serve <exchange> [--port N] [--ws-port N] [--seed N]
[--rate-limits]``."""

from __future__ import annotations

import argparse
import signal
import threading

from cambist.testing import DEFAULT_API_KEY, DEFAULT_API_SECRET, EXCHANGES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cambist.testing")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a local exchange until interrupted")
    serve.add_argument("exchange", choices=sorted(EXCHANGES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="HTTP port (default: any free one)")
    serve.add_argument("--ws-port", type=int, default=0, help="WebSocket port")
    serve.add_argument("--seed", type=int, default=1, help="seed of the synthetic market")
    serve.add_argument("--allow-remote", action="store_true", help="listen beyond loopback")
    serve.add_argument(
        "--rate-limits", action="store_true", help="enforce the document's rate limits (429/418)"
    )
    serve.add_argument("--tick", type=float, default=0.5, help="seconds between market moves")
    args = parser.parse_args(argv)
    exchange = EXCHANGES[args.exchange](
        host=args.host,
        port=args.port,
        ws_port=args.ws_port,
        seed=args.seed,
        allow_remote=args.allow_remote,
        rate_limits=args.rate_limits,
    ).start()
    print(f"{args.exchange}: REST {exchange.url}  WebSocket {exchange.ws_urls}", flush=True)
    print(f"api_key={DEFAULT_API_KEY} api_secret={DEFAULT_API_SECRET}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(args.tick):
            if exchange.symbols:
                exchange.tick()
    except KeyboardInterrupt:
        pass
    exchange.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
