"""The local exchanges' HTTP side: routes every endpoint of a spec's registry and checks
each request the way the document says the exchange does, before any behaviour runs.

Checks, in order: API key known (where the security type needs one), signature over exactly
the bytes received, timestamp within recvWindow of the simulator's clock (which a test can
skew), required params present, enum and number values valid. Failures are answered with
the exchange's own error payload and the document's codes (see ``_exchanges``).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import selectors
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cambist._runtime.endpoint import Endpoint, Exchange
from cambist.testing._limits import LimitKeeper
from cambist.testing._text import dumps


class StoppableHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server whose ``shutdown()`` takes effect at once.

    ``socketserver``'s ``serve_forever`` notices a shutdown request only between waits of
    ``poll_interval`` (0.5 s), so every stop took up to half a second (and a shorter poll
    only trades that for wake-ups while idle). Here the loop also waits on one end of a
    socket pair, which ``shutdown()`` writes to: it wakes at once, and otherwise sleeps until
    a client connects (``poll_interval`` is ignored). The contract is ``socketserver``'s:
    ``serve_forever()`` on one thread, ``shutdown()`` from another (it returns when the loop
    has ended), then ``server_close()``; ``start()`` and ``stop()`` do all of it.
    """

    daemon_threads = True
    request_queue_size = socket.SOMAXCONN
    """The listen backlog (socketserver's default is 5): with more connections opened at
    once (an asyncio client with a dozen calls in flight), the kernel drops the extra SYNs
    and the client retries them a second later, so those requests arrived a second late."""

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self._stopped = threading.Event()
        self._stopped.set()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake_r, selectors.EVENT_READ)
                while not self._stopping:
                    for key, _ in selector.select():
                        if key.fileobj is self._wake_r:
                            self._wake_r.recv(64)
                        elif not self._stopping:
                            self.handle_request()  # ready: accepts without waiting
                    self.service_actions()
        finally:
            self._stopping = False
            self._stopped.set()

    def shutdown(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):  # closed already: nothing is serving
            self._wake_w.send(b"\0")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def start(self) -> None:
        """Serve on a daemon thread."""
        self._stopped.clear()  # a stop() right after this waits for the loop to end
        threading.Thread(target=self.serve_forever, name="cambist-http", daemon=True).start()

    def stop(self) -> None:
        """Stop serving, at once, and close the listening socket. Safe to call twice."""
        self.shutdown()
        self.server_close()


class Refusal(Exception):
    """A request the exchange refuses: ``kind`` picks the document's code."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail


@dataclass
class Fault:
    """What a switched-on fault does to the calls it matches.

    Attributes:
        status: Answer this HTTP status instead (429, 418, 500, 503, ...).
        retry_after: The Retry-After header (seconds) of that answer.
        latency: Seconds to wait before answering.
        drop: Close the connection without answering.
        execute: With ``status`` or ``drop``: carry the call out anyway (the "unknown
            execution status" case: the order exists though the answer said otherwise).
        times: How many calls it affects (None: every call until cleared).
        body: The error body to send with ``status`` (default: the exchange's own).
    """

    status: int | None = None
    retry_after: float | None = None
    latency: float = 0.0
    drop: bool = False
    execute: bool = False
    times: int | None = None
    body: Any = None


@dataclass
class Call:
    """One request as received."""

    method: str
    path: str
    query: str
    body: bytes
    headers: Mapping[str, str]
    params: dict[str, Any]
    endpoint: Endpoint[Any] | None = None


class HttpSide:
    """The HTTP server of one local exchange (threaded, loopback)."""

    def __init__(
        self, exchange: Any, config: Exchange, endpoints: tuple[Endpoint[Any], ...]
    ) -> None:
        self.exchange = exchange
        self.config = config
        self.routes = {(ep.method, ep.path): ep for ep in endpoints}
        self.faults: dict[str, Fault] = {}
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._server: StoppableHTTPServer | None = None
        self.limits: LimitKeeper | None = None  # the document's rate limits, when switched on

    def start(self, host: str, port: int) -> int:
        side = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet; never logs keys
                pass

            def _any(self) -> None:
                side._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self._server = StoppableHTTPServer((host, port), Handler)
        self._server.start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    # -- one request -------------------------------------------------------------------

    def _fault(self, name: str) -> Fault | None:
        with self._lock:
            for key in (name, "*"):
                fault = self.faults.get(key)
                if fault is None:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self.faults[key]
                return fault
        return None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        call = Call(h.command, url.path, url.query, body, dict(h.headers.items()), {})
        self.calls.append(call)
        ep = self.routes.get((h.command, url.path))
        call.endpoint = ep
        if ep is None:
            self._reply(h, *self.exchange._not_found(call))
            return
        fault = self._fault(ep.name)
        if fault is not None and fault.latency:
            time.sleep(fault.latency)
        limit_headers: Mapping[str, str] | None = None
        try:
            self.check(ep, call)
            if self.limits is not None:
                key = call.headers.get(self.config.api_key_header)
                verdict = self.limits.spend(ep, call.params, key, h.client_address[0])
                limit_headers = verdict.headers
                if verdict.status:
                    headers = dict(verdict.headers or {})
                    headers["Retry-After"] = str(verdict.retry_after)
                    self._reply(
                        h, verdict.status, self.exchange._fault_body(verdict.status), headers
                    )
                    return
            if fault is not None and (fault.status or fault.drop):
                if fault.execute:
                    self.exchange._handle(ep, call)
                if fault.drop:
                    h.close_connection = True
                    h.connection.shutdown(socket.SHUT_RDWR)
                    return
                assert fault.status is not None
                headers = (
                    {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                )
                body_out = (
                    fault.body
                    if fault.body is not None
                    else self.exchange._fault_body(fault.status)
                )
                self._reply(h, fault.status, body_out, headers)
                return
            status, payload = 200, self.exchange._handle(ep, call)
        except Refusal as refusal:
            status, payload = self.exchange._refusal(refusal)
        self._reply(h, status, payload, limit_headers)

    def _reply(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        data = payload if isinstance(payload, bytes) else dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    # -- checks ------------------------------------------------------------------------

    def check(self, ep: Endpoint[Any], call: Call) -> None:
        config = self.config
        security = config.security[ep.security]
        if security.api_key:
            key = call.headers.get(config.api_key_header)
            if not key:
                raise Refusal("no_key", f"{config.api_key_header} header missing")
            secret = self.exchange.credentials.get(key)
            if secret is None:
                raise Refusal("bad_key")
        call.params = self._params(ep, call)
        if security.signed:
            self._check_signature(call, secret)
            self._check_time(call)
        self._check_params(ep, call.params)

    def _params(self, ep: Endpoint[Any], call: Call) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(call.query, keep_blank_values=True))
        if self.config.auth_scheme == "hmac_body_header" and call.method != "GET":
            # "For POST and DELETE type requests, Body String is the message body that needs
            # to be signed" (Bibox): such a request's parameters are its body; a query string
            # is neither signed nor read.
            params = {}
        content_type = call.headers.get("Content-Type", "")
        if call.body and "json" in content_type:
            try:
                value = json.loads(call.body, parse_float=Decimal)
            except ValueError:
                raise Refusal("bad_json") from None
            body_param = next((p for p in ep.params if p.body), None)
            if body_param is not None:
                params[body_param.wire_name] = value
            elif isinstance(value, dict):
                params.update(value)
        elif call.body:
            params.update(parse_qsl(call.body.decode(), keep_blank_values=True))
        return params

    def _check_signature(self, call: Call, secret: str) -> None:
        config = self.config
        if config.auth_scheme == "hmac_body_header":
            assert config.signature_header is not None
            given = call.headers.get(config.signature_header, "")
            payload = call.query.encode() if call.method == "GET" else call.body
        else:
            name = config.signature_param or "signature"
            query, given_q = _strip(call.query, name)
            form = "json" not in call.headers.get("Content-Type", "")
            body, given_b = _strip(call.body.decode(), name) if form else (call.body.decode(), None)
            given = given_q or given_b or ""
            payload = (query + body).encode()
            call.params.pop(name, None)
        expected = hmac.new(secret.encode(), payload, "sha256").hexdigest()
        if not given:
            raise Refusal("no_signature")
        if not hmac.compare_digest(given, expected):
            raise Refusal("bad_signature")

    def _check_time(self, call: Call) -> None:
        config = self.config
        now = self.exchange.now_ms()
        if config.expire_header:
            expire = call.headers.get(config.expire_header)
            if expire is not None and not expire.isdigit():
                raise Refusal("invalid", config.expire_header)
            if expire is not None and int(expire) < now:
                raise Refusal("timestamp", "request expired")
            return
        name = config.timestamp_param or "timestamp"
        stamp = call.params.get(name)
        if stamp is None:
            raise Refusal("missing", name)
        window_name = config.recv_window_param or "recvWindow"
        window_text = str(call.params.get(window_name) or 5000)
        if not window_text.lstrip("-").isdigit():
            raise Refusal("invalid", window_name)
        window = int(window_text)
        if not str(stamp).isdigit() or not (now - window <= int(stamp) < now + 1000):
            raise Refusal("timestamp")

    def _check_params(self, ep: Endpoint[Any], params: Mapping[str, Any]) -> None:
        for p in ep.params:
            value = params.get(p.wire_name)
            if value is None or value == "":
                if p.required is True:
                    raise Refusal("missing", p.wire_name)
                continue
            if p.prefix and isinstance(value, str) and not value.startswith(p.prefix):
                continue  # a prefixed param shares its wire name with another
            if p.body or p.kind == "list" or p.to_wire is not None:
                continue
            text = str(value)
            if p.enum is not None and text not in {str(m.value) for m in p.enum}:
                raise Refusal("invalid", p.wire_name)
            if p.kind in ("int", "long") and not text.lstrip("-").isdigit():
                raise Refusal("invalid", p.wire_name)
            if p.kind == "decimal":
                try:
                    finite = Decimal(text).is_finite()  # "NaN", "Infinity": not numbers
                except InvalidOperation:
                    finite = False
                if not finite:
                    raise Refusal("invalid", p.wire_name)


def _strip(text: str, name: str) -> tuple[str, str | None]:
    """``text`` without its ``name=value`` pair (exactly as received), and the value."""
    parts = text.split("&") if text else []
    kept = [part for part in parts if not part.startswith(name + "=")]
    found = [part[len(name) + 1 :] for part in parts if part.startswith(name + "=")]
    return "&".join(kept), found[0] if found else None
