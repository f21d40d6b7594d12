"""A real HTTP server on 127.0.0.1 that records what it receives and answers as scripted.

Tests talk to it with the real clients (no mocked transport): each request is recorded with
its exact raw query string, headers and body bytes, so a test can check the bytes that were
signed are the bytes that were sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from cambist.testing._http import StoppableHTTPServer


@dataclass
class Received:
    method: str
    path: str
    query: str  # the raw query string, as sent
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        """Query and form params, decoded (form wins, as it comes later)."""
        out = dict(parse_qsl(self.query, keep_blank_values=True))
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            out.update(parse_qsl(self.body.decode(), keep_blank_values=True))
        return out


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


Responder = Callable[[Received], Reply]


class LoopbackServer:
    """Start with ``with LoopbackServer() as server:``; ``server.url`` is its base URL."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.routes: dict[tuple[str, str], Responder] = {}
        self.queued: dict[tuple[str, str], deque[Reply]] = {}
        self.default: Responder = lambda r: Reply(404, {"code": -1, "msg": "no route"})
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                received = Received(
                    self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body
                )
                reply = server._reply(received)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = (
                    reply.body
                    if isinstance(reply.body, bytes)
                    else (b"" if reply.body is None else json.dumps(reply.body).encode())
                )
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._httpd = StoppableHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _reply(self, received: Received) -> Reply:
        key = (received.method, received.path)
        with self._lock:
            self.received.append(received)
            queue = self.queued.get(key)
            if queue:
                return queue.popleft()
        return self.routes.get(key, self.default)(received)

    def route(self, method: str, path: str, body: Any = None, status: int = 200) -> None:
        """Answer ``method path`` with ``body`` (JSON) every time."""
        self.routes[(method, path)] = lambda r: Reply(status, body)

    def queue(self, method: str, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``method path`` with ``replies``, in order."""
        self.queued.setdefault((method, path), deque()).extend(replies)

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def __enter__(self) -> LoopbackServer:
        self._httpd.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.stop()
