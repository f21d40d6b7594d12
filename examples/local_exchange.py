"""A tiny HashKey stand-in on 127.0.0.1 for the quickstart: it checks the API key, the
timestamp and the signature as the exchange does, and answers with the document's examples.

(The full local exchange, generated from the specs, is planned as ``cambist.testing``.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

API_KEY = "demo-key"
API_SECRET = "demo-secret"

ANSWERS: dict[tuple[str, str], Any] = {
    ("GET", "/quote/v1/depth"): {
        "t": 1764059245287,
        "b": [["87473.15", "0.05805"], ["87473.14", "0.00068"]],
        "a": [["87473.16", "0.23445"], ["87473.65", "0.00068"]],
    },
    ("GET", "/quote/v1/klines"): [
        [
            1766718300000,
            "89037.52",
            "89037.52",
            "89037.52",
            "89037.52",
            "0.00012",
            0,
            "10.6845024",
            1,
            "0",
            "0",
        ],
    ],
    ("POST", "/api/v1.1/spot/order"): {
        "accountId": "1464567707961719552",
        "symbol": "BTCUSDT",
        "symbolName": "BTCUSDT",
        "clientOrderId": "",
        "orderId": "1563277167764290304",
        "transactTime": "1701093160541",
        "price": "85000",
        "origQty": "0.01",
        "executedQty": "0",
        "status": "NEW",
        "timeInForce": "GTC",
        "type": "LIMIT",
        "side": "BUY",
        "reqAmount": "0",
        "concentration": "",
    },
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        if path == "/api/v1/time":
            return self._answer(200, {"serverTime": int(time.time() * 1000)})
        answer = ANSWERS.get((self.command, path))
        if answer is None:
            return self._answer(404, {"code": "-1004", "msg": "Bad request"})
        if path.startswith("/api/"):  # signed
            if self.headers.get("X-HK-APIKEY") != API_KEY:
                return self._answer(400, {"code": "0102", "msg": "Invalid APIKey"})
            signed, _, signature = query.rpartition("&signature=")
            expected = hmac.new(API_SECRET.encode(), signed.encode() + body, hashlib.sha256)
            if not hmac.compare_digest(expected.hexdigest(), signature):
                return self._answer(400, {"code": "0001", "msg": "Incorrect signature"})
            params = dict(parse_qsl(signed))
            if abs(int(params["timestamp"]) - time.time() * 1000) > 5000:
                return self._answer(
                    400,
                    {
                        "code": "-1021",
                        "msg": "Timestamp for this request is outside of the recvWindow",
                    },
                )
            answer = {**answer, "clientOrderId": params.get("newClientOrderId", "")}
        return self._answer(200, answer)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class LocalExchange:
    """``with LocalExchange() as url:`` serves on 127.0.0.1 until the block ends."""

    def __enter__(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
