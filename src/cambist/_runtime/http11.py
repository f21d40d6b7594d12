"""A lean HTTP/1.1 client over asyncio: the asyncio client's default transport.

Why not httpx's or aiohttp's own: with 50 calls in flight, httpx's connection pool rescans
every connection for each request, and aiohttp's per-request layers (request and response
objects, middlewares, tracing, cookies, proxy lookup from the environment on each call) cost
several times what an exchange API call needs. This one does only what these calls need, in
one :class:`asyncio.Protocol` per connection (README: Performance):

- a pool of keep-alive connections per origin (at most 100 in all; more calls wait for one;
  an idle connection older than 5 s is not reused, as httpx's ``keepalive_expiry``);
- ``https`` with the shared SSL context (built by the first HTTPS request), ``http``;
- proxies from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``,
  ``NO_PROXY``, read once, as httpx reads them): an ``http`` URL through the proxy,
  an ``https`` URL tunnelled (``CONNECT``); ``user:password@`` sent as Basic auth (with a
  SOCKS proxy named, the asyncio client calls through httpx instead: not this transport);
- answers with ``Content-Length``, ``chunked`` or read-to-close bodies; ``gzip`` /
  ``deflate`` decoded (and asked for, as httpx does); no redirects followed (as httpx).

Failures are raised as httpx's exception classes (what the core's retry rules read):
``ConnectError`` / ``ConnectTimeout`` / ``PoolTimeout`` before anything was sent (a refused
certificate chained to its ``ssl`` error), ``ReadTimeout`` / ``RemoteProtocolError`` /
``ReadError`` after. The attempt's timeout covers waiting for a connection, connecting and
the answer (the call's deadline bounds it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import urllib.request
import zlib
from collections import deque
from typing import Any

import httpx

from cambist._runtime.transport import Answer, Outgoing, environment_proxy, ssl_context

log = logging.getLogger("cambist.http")

MAX_CONNECTIONS = 100
KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection may be reused after
_NO_BODY_STATUS = frozenset({204, 304})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _Failed(Exception):
    """A connection failed after the request was (perhaps) sent: ``error`` says how."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: sends one request at a time, parses its answer."""

    def __init__(self, origin: _Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.origin = origin
        self.loop = loop  # a connection serves the event loop it was opened in
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Any] | None = None
        self.closed = False
        self.idle_since = 0.0
        self.connect_only = False  # waiting for a proxy's answer to CONNECT (a head only)
        self._head: tuple[int, str, list[tuple[bytes, bytes]]] | None = None
        self._length = -1  # body bytes expected; -1: chunked; -2: until the connection ends
        self._keep = True
        self._no_body = False
        self._chunks: list[bytes] = []
        self._eof = False

    # -- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None:
            self._parse()

    def eof_received(self) -> bool:
        self._eof = True
        self.closed = True  # never reused: the server is done with it
        if self.waiter is not None:
            self._parse()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._eof = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            self._parse()
            if not waiter.done():
                waiter.set_exception(
                    _Failed(httpx.RemoteProtocolError("the server closed the connection"))
                )

    # -- one exchange -------------------------------------------------------------------------

    def start(self, head: bytes, body: bytes | None, no_body: bool) -> asyncio.Future[Any]:
        """Send a request; the future's result is (status, reason, headers, body)."""
        assert self.transport is not None
        self.waiter = waiter = asyncio.get_running_loop().create_future()
        self._head = None
        self._no_body = no_body
        self._chunks = []
        self.transport.write(head + body if body else head)
        if self.buffer:
            self._parse()
        return waiter

    def _parse(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        buffer = self.buffer
        try:
            while self._head is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if self._eof:
                        raise httpx.RemoteProtocolError("the server closed the connection")
                    return
                head = self._read_head(bytes(buffer[:end]))
                del buffer[: end + 4]
                if head is None:  # 1xx: another head follows
                    continue
                self._head = head
                if self.connect_only:
                    self.waiter = None
                    waiter.set_result((*head, b""))
                    return
            length = self._length
            if length >= 0:
                if len(buffer) < length:
                    if self._eof:
                        raise httpx.RemoteProtocolError("the answer ended early")
                    return
                body = bytes(buffer[:length])
                del buffer[:length]
            elif length == -1:
                body_or_none = self._read_chunks(buffer)
                if body_or_none is None:
                    if self._eof:
                        raise httpx.RemoteProtocolError("the answer ended early")
                    return
                body = body_or_none
            else:  # until the connection ends
                if not self._eof:
                    return
                body = bytes(buffer)
                buffer.clear()
                self._keep = False
        except (httpx.HTTPError, ValueError) as exc:  # ValueError: a malformed length
            self.waiter = None
            self._keep = False
            if not isinstance(exc, httpx.HTTPError):
                exc = httpx.RemoteProtocolError(f"a malformed answer: {exc}")
            waiter.set_exception(_Failed(exc))
            return
        self.waiter = None
        status, reason, headers = self._head
        waiter.set_result((status, reason, headers, body))

    def _read_head(self, raw: bytes) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError("not an HTTP/1.1 answer")
        status = int(parts[1])
        if 100 <= status < 200 and not self.connect_only:
            return None
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        headers: list[tuple[bytes, bytes]] = []
        length = -2
        chunked = False
        keep = parts[0] == b"HTTP/1.1"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            value = value.strip()
            headers.append((name, value))
            lower = name.lower()
            if lower == b"content-length":
                length = int(value)
            elif lower == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lower == b"connection":
                token = value.lower()
                keep = b"keep-alive" in token if not keep else b"close" not in token
        if self._no_body or status in _NO_BODY_STATUS or self.connect_only:
            length = 0
        elif chunked:
            length = -1
        self._length = length
        self._keep = keep
        return status, reason, headers

    def _read_chunks(self, buffer: bytearray) -> bytes | None:
        """The whole chunked body once it has arrived (consumed from ``buffer``), or None."""
        chunks = self._chunks
        while True:
            end = buffer.find(b"\r\n")
            if end < 0:
                return None
            size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError("a malformed chunk") from None
            if size == 0:  # the last chunk, then trailers up to an empty line
                tail = buffer.find(b"\r\n\r\n", end)
                if tail < 0:
                    if buffer[end : end + 4] == b"\r\n\r\n":
                        tail = end
                    else:
                        return None
                del buffer[: tail + 4]
                return b"".join(chunks)
            if len(buffer) < end + 2 + size + 2:
                return None
            chunks.append(bytes(buffer[end + 2 : end + 2 + size]))
            del buffer[: end + 2 + size + 2]

    def reusable(self) -> bool:
        return self._keep and not self.closed and not self.buffer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop has ended (and closed it)
                self.transport.abort()


class _Origin:
    """Where a URL's connections go: host, port, TLS, proxy; built once per origin."""

    __slots__ = ("host", "host_header", "idle", "key", "port", "proxy", "proxy_auth", "tls")

    def __init__(self, key: str, proxies: dict[str, str]) -> None:
        scheme, _, rest = key.partition("://")
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        self.key = key
        self.tls = scheme == "https"
        host, port = _host_port(rest, 443 if self.tls else 80)
        self.host, self.port = host, port
        self.host_header = rest
        self.idle: list[_Connection] = []
        self.proxy: tuple[str, int, bool] | None = None
        self.proxy_auth: str | None = None
        proxy = environment_proxy(scheme, host, proxies)
        if proxy is not None:
            proxy_scheme, _, proxy_rest = proxy.partition("://")
            if proxy_scheme not in ("http", "https"):
                raise httpx.UnsupportedProtocol(
                    f"the environment's {proxy_scheme}:// proxy is not supported: pass"
                    " http_client=httpx.AsyncClient(proxy=...)"
                )
            netloc = proxy_rest.split("/", 1)[0]
            userinfo, at, hostport = netloc.rpartition("@")
            if at:
                from urllib.parse import unquote

                token = base64.b64encode(unquote(userinfo).encode()).decode()
                self.proxy_auth = f"Basic {token}"
            proxy_host, proxy_port = _host_port(hostport, 443 if proxy_scheme == "https" else 80)
            self.proxy = (proxy_host, proxy_port, proxy_scheme == "https")


def _host_port(netloc: str, default: int) -> tuple[str, int]:
    if netloc.startswith("["):  # [v6]:port
        host, _, port = netloc[1:].partition("]")
        return host, int(port[1:]) if port.startswith(":") else default
    host, sep, port = netloc.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return netloc, default


class LeanTransport:
    """The asyncio client's default transport (see the module docstring)."""

    def __init__(self, *, closed: bool = False) -> None:
        self._origins: dict[str, _Origin] = {}
        self._proxies: dict[str, str] | None = None
        self._count = 0  # open connections, in use or idle
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._closed = closed

    @property
    def is_closed(self) -> bool:
        return self._closed

    def _origin(self, url: str) -> tuple[_Origin, str]:
        """The origin of ``url`` and the request target (the path and query)."""
        scheme_end = url.find("://")
        slash = url.find("/", scheme_end + 3) if scheme_end >= 0 else -1
        key = url if slash < 0 else url[:slash]
        target = "/" if slash < 0 else url[slash:]
        origin = self._origins.get(key)
        if origin is None:
            if self._proxies is None:
                self._proxies = urllib.request.getproxies_environment()
            origin = self._origins[key] = _Origin(key, self._proxies)
        return origin, target

    async def send(self, request: Outgoing) -> Answer:
        if self._closed:
            raise httpx.ConnectError("the client is closed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.timeout
        origin, target = self._origin(request.url)
        method = request.method
        if origin.proxy is not None and not origin.tls:
            target = request.url  # absolute form, to the proxy
        head = self._head(method, target, origin, request)
        conn = await self._acquire(origin, deadline, loop)
        done = False
        try:
            waiter = conn.start(head, request.content, method == "HEAD")
            timer = loop.call_at(deadline, _expire, waiter)
            try:
                status, reason, headers, body = await waiter
            except _Failed as failed:
                raise failed.args[0] from None
            finally:
                timer.cancel()
            done = True
        finally:
            self._release(conn, done, loop)
        for name, value in headers:
            if name.lower() == b"content-encoding":
                body = _decode(value, body)
        answer = Answer(status, reason, tuple(headers), body, request)
        if log.isEnabledFor(logging.INFO):
            log.info('HTTP Request: %s %s "HTTP/1.1 %d %s"', method, request.url, status, reason)
        return answer

    @staticmethod
    def _head(method: str, target: str, origin: _Origin, request: Outgoing) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {origin.host_header}\r\n"]
        has_encoding = False
        for name, value in request.headers.items():
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
                raise httpx.LocalProtocolError(f"header {name!r} holds a line break")
            if name.lower() == "accept-encoding":
                has_encoding = True
            lines.append(f"{name}: {value}\r\n")
        if not has_encoding:
            lines.append("Accept-Encoding: gzip, deflate\r\n")
        content = request.content
        if content:
            lines.append(f"Content-Length: {len(content)}\r\n")
        elif method in _BODY_METHODS:
            lines.append("Content-Length: 0\r\n")
        if origin.proxy_auth is not None and not origin.tls:
            lines.append(f"Proxy-Authorization: {origin.proxy_auth}\r\n")
        lines.append("\r\n")
        try:
            return "".join(lines).encode("ascii")
        except UnicodeEncodeError:
            raise httpx.LocalProtocolError("a header or the URL is not ASCII") from None

    # -- the pool -----------------------------------------------------------------------------

    async def _acquire(
        self, origin: _Origin, deadline: float, loop: asyncio.AbstractEventLoop
    ) -> _Connection:
        idle = origin.idle
        now = 0.0
        while idle:
            conn = idle.pop()
            if not now:
                now = loop.time()
            if conn.loop is not loop:  # left by an event loop that has ended: dropped
                conn.closed = True
                self._count -= 1
                continue
            if not conn.closed and not conn.buffer and now - conn.idle_since < KEEPALIVE_EXPIRY:
                return conn
            self._discard(conn)
        while self._count >= MAX_CONNECTIONS:
            if not self._free_idle():
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiting.append(waiter)
                timer = loop.call_at(deadline, _expire_pool, waiter)
                try:
                    await waiter
                except asyncio.CancelledError:
                    if waiter.done() and not waiter.cancelled():
                        self._wake()  # woken, then cancelled: pass the free slot on
                    raise
                finally:
                    timer.cancel()
                if idle:
                    return await self._acquire(origin, deadline, loop)
        self._count += 1
        try:
            return await self._connect(origin, deadline, loop)
        except BaseException:
            self._count -= 1
            self._wake()
            raise

    def _free_idle(self) -> bool:
        """Close one idle connection of any origin, to open one elsewhere."""
        for origin in self._origins.values():
            if origin.idle:
                self._discard(origin.idle.pop(0))
                return True
        return False

    async def _connect(
        self, origin: _Origin, deadline: float, loop: asyncio.AbstractEventLoop
    ) -> _Connection:
        host, port, tls = origin.host, origin.port, origin.tls
        proxy = origin.proxy
        conn = _Connection(origin, loop)
        try:
            async with asyncio.timeout_at(deadline):
                if proxy is None:
                    await loop.create_connection(
                        lambda: conn,
                        host,
                        port,
                        ssl=ssl_context() if tls else None,
                        server_hostname=host if tls else None,
                    )
                    return conn
                proxy_host, proxy_port, proxy_tls = proxy
                await loop.create_connection(
                    lambda: conn,
                    proxy_host,
                    proxy_port,
                    ssl=ssl_context() if proxy_tls else None,
                    server_hostname=proxy_host if proxy_tls else None,
                )
                if tls:  # a tunnel through the proxy, then TLS with the origin
                    await self._tunnel(conn, origin, loop)
                return conn
        except TimeoutError:
            conn.close()
            raise httpx.ConnectTimeout("timed out connecting") from None
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            raise httpx.ConnectError(f"certificate verify failed: {exc.verify_message}") from exc
        except (OSError, ssl.SSLError, _Failed) as exc:
            conn.close()
            text = str(exc.args[0] if isinstance(exc, _Failed) else exc) or type(exc).__name__
            raise httpx.ConnectError(text) from None

    async def _tunnel(
        self, conn: _Connection, origin: _Origin, loop: asyncio.AbstractEventLoop
    ) -> None:
        hostport = f"{origin.host}:{origin.port}"
        head = f"CONNECT {hostport} HTTP/1.1\r\nHost: {hostport}\r\n"
        if origin.proxy_auth is not None:
            head += f"Proxy-Authorization: {origin.proxy_auth}\r\n"
        conn.connect_only = True
        try:
            status, reason, _, _ = await conn.start((head + "\r\n").encode("ascii"), None, True)
        finally:
            conn.connect_only = False
        if not 200 <= status < 300:
            raise OSError(f"the proxy refused the tunnel: {status} {reason}")
        assert conn.transport is not None
        transport = await loop.start_tls(
            conn.transport, conn, ssl_context(), server_hostname=origin.host
        )
        conn.transport = transport

    def _release(self, conn: _Connection, done: bool, loop: asyncio.AbstractEventLoop) -> None:
        if done and not self._closed and conn.reusable():
            conn.idle_since = loop.time()
            conn.origin.idle.append(conn)
        else:
            self._discard(conn)
            return
        self._wake()

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._count -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        for origin in self._origins.values():
            while origin.idle:
                self._discard(origin.idle.pop())


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(_Failed(httpx.ReadTimeout("timed out waiting for the answer")))


def _expire_pool(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.PoolTimeout("timed out waiting for a connection"))


def _decode(encoding: bytes, body: bytes) -> bytes:
    """A ``gzip`` / ``deflate`` body decoded (the encodings the request asks for)."""
    encoding = encoding.strip().lower()
    try:
        if encoding in (b"gzip", b"x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == b"deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error as exc:
        raise httpx.DecodingError(f"the {encoding.decode()} body could not be decoded") from exc
    return body
