"""The asyncio client's own HTTP/1.1 transport (``cambist._runtime.http11``), on the wire.

A scripted loopback server records the exact bytes each request arrives as and answers with
exact bytes: chunked and gzip bodies, bodies read to the connection's end, keep-alive and
``Connection: close``, an answer cut short, a slow answer; an environment proxy (an ``http``
URL in absolute form), an ``https`` origin with its certificate trusted, and one tunnelled
through a CONNECT proxy.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

from cambist import errors
from cambist._runtime import http11
from cambist.hashkey import AsyncHashKey
from tests.test_debug_and_proxy import ConnectProxy

pytestmark = pytest.mark.anyio


class Scripted:
    """Answers each request with the next scripted bytes (``None``: close without
    answering; ``delay``: wait first; ``close``: close after). Records each request and
    connection."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[bytes] = []
        self.answers: deque[tuple[float, bytes | None, bool]] = deque()
        self.connections = 0
        self._tls = tls
        self._sock = socket.create_server(("127.0.0.1", 0))
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def answer(self, raw: bytes | None, delay: float = 0.0, close: bool = False) -> None:
        self.answers.append((delay, raw, close))

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(data) < length:
                    data += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + data[:length])
                data = data[length:]
                delay, raw, close = self.answers.popleft()
                time.sleep(delay)
                if raw is None:
                    return
                conn.sendall(raw)
                if close:
                    return
                lower = raw.lower()
                to_the_end = b"content-length" not in lower and b"chunked" not in lower
                if b"connection: close" in lower or to_the_end:
                    return
        except (OSError, IndexError, ssl.SSLError):
            return
        finally:
            conn.close()

    def close(self) -> None:
        self._sock.close()


def ok(body: bytes, *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture
def server() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.close()


def client(url: str, **options: object) -> AsyncHashKey:
    return AsyncHashKey(
        api_key="the-key", api_secret="the-secret", base_url=url, time_sync=False, **options
    )


async def test_the_request_is_sent_exactly_as_signed(server: Scripted) -> None:
    server.answer(ok(b'{"a": 1}'))
    server.answer(ok(b'{"b": 2}'))
    async with client(server.url) as hk:
        assert await hk.request("GET", "/api/v1/x", params={"s": "BTC USDT"}) == {"a": 1}
        got = await hk.request("POST", "/api/v1/y", security="USER_DATA", params_in="form")
        assert got == {"b": 2}
    first, second = (r.decode() for r in server.requests)
    assert first.startswith("GET /api/v1/x?s=BTC%20USDT HTTP/1.1\r\n")
    assert f"\r\nHost: {server.url.removeprefix('http://')}\r\n" in first
    assert "\r\nAccept-Encoding: gzip, deflate\r\n" in first
    assert "\r\nUser-Agent: cambist/0.1\r\n" in first
    head, _, body = second.partition("\r\n\r\n")
    assert head.startswith("POST /api/v1/y HTTP/1.1\r\n")
    assert "\r\nX-HK-APIKEY: the-key\r\n" in head
    assert "\r\nContent-Type: application/x-www-form-urlencoded\r\n" in head
    assert f"\r\nContent-Length: {len(body)}" in head
    assert body.startswith("timestamp=") and "&signature=" in body
    assert server.connections == 1  # kept alive: the second call reused the connection


async def test_chunked_gzip_and_read_to_the_end_answers(server: Scripted) -> None:
    packed = gzip.compress(b'{"chunked": true}')
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (packed[:7], packed[7:]))
    server.answer(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + chunks
        + b"0\r\nX-Trailer: 1\r\n\r\n"
    )
    server.answer(b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{"to": "the end"}')
    server.answer(ok(b'{"again": 1}', "Connection: close"))
    async with client(server.url) as hk:
        assert await hk.request("GET", "/a") == {"chunked": True}
        assert await hk.request("GET", "/b") == {"to": "the end"}  # no length: until closed
        assert await hk.request("GET", "/c") == {"again": 1}
    assert server.connections == 2  # the read-to-the-end answer closed the first


async def test_a_raw_response_is_an_httpx_response(server: Scripted) -> None:
    server.answer(ok(b'{"serverTime": 1700000000000}', "X-Custom: yes"))
    async with client(server.url) as hk:
        raw = await hk.with_raw_response.misc.get_server_time()
    assert raw.status_code == 200
    assert raw.headers["x-custom"] == "yes"
    assert raw.content == b'{"serverTime": 1700000000000}'
    assert raw.parsed.server_time == 1700000000000
    assert raw.http_response.request.url.path == "/api/v1/time"


async def test_an_answer_cut_short_is_a_transport_error_and_the_next_call_reconnects(
    server: Scripted,
) -> None:
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", close=True)
    server.answer(None)  # closed without an answer
    server.answer(ok(b'{"fine": 1}'))
    async with client(server.url, max_retries=0) as hk:
        with pytest.raises(errors.APIConnectionError, match="RemoteProtocolError"):
            await hk.request("GET", "/a")
        with pytest.raises(errors.APIConnectionError):
            await hk.request("GET", "/b")
        assert await hk.request("GET", "/c") == {"fine": 1}
    assert server.connections == 3


async def test_a_connection_the_server_closed_while_idle_is_not_reused(server: Scripted) -> None:
    """An order is not sent on a connection the server has closed (its outcome would be
    unknown): it goes on a new one."""
    server.answer(ok(b'{"first": 1}'), close=True)  # kept alive by its headers, then closed
    server.answer(ok(b'{"second": 2}'))
    async with client(server.url) as hk:
        assert await hk.request("GET", "/a") == {"first": 1}
        await asyncio.sleep(0.1)
        order = await hk.request("POST", "/api/v1/spot/order", security="TRADE", safe=False)
        assert order == {"second": 2}
    assert server.connections == 2


async def test_a_malformed_answer_is_a_protocol_error(server: Scripted) -> None:
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\n{}", close=True)
    server.answer(b"SSH-2.0-OpenSSH\r\n\r\n", close=True)
    async with client(server.url, max_retries=0) as hk:
        for path in ("/a", "/b"):
            with pytest.raises(errors.APIConnectionError, match="RemoteProtocolError"):
                await hk.request("GET", path)


def test_one_client_serves_one_event_loop_after_another(server: Scripted) -> None:
    server.answer(ok(b'{"loop": 1}'))
    server.answer(ok(b'{"loop": 2}'))
    hk = client(server.url)
    assert asyncio.run(hk.request("GET", "/1")) == {"loop": 1}
    assert asyncio.run(hk.request("GET", "/2")) == {"loop": 2}  # not the ended loop's socket
    asyncio.run(hk.aclose())
    assert server.connections == 2


async def test_a_cancelled_call_leaves_no_stale_answer_behind(server: Scripted) -> None:
    server.answer(ok(b'{"late": 1}'), delay=0.5)
    server.answer(ok(b'{"mine": 1}'))
    async with client(server.url) as hk:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await hk.request("GET", "/slow")
        assert await hk.request("GET", "/next") == {"mine": 1}  # not the late answer
    assert server.connections == 2


async def test_the_timeout_bounds_the_wait_for_the_answer(server: Scripted) -> None:
    server.answer(ok(b"{}"), delay=1.0)
    async with client(server.url, timeout=0.2) as hk:
        started = time.monotonic()
        with pytest.raises(errors.APITimeoutError):
            await hk.request("GET", "/slow")
        assert time.monotonic() - started < 0.8


async def test_many_calls_in_flight_share_a_bounded_pool(
    server: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http11, "MAX_CONNECTIONS", 3)
    for i in range(12):
        server.answer(ok(b'{"n": %d}' % i))
    async with client(server.url) as hk:
        got = await asyncio.gather(*(hk.request("GET", f"/{i}") for i in range(12)))
    assert sorted(g["n"] for g in got) == list(range(12))
    assert server.connections <= 3


async def test_waiting_for_a_connection_past_the_deadline_is_a_pool_timeout(
    server: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing was sent: a PoolTimeout, retried on any endpoint while time is left."""
    monkeypatch.setattr(http11, "MAX_CONNECTIONS", 1)
    server.answer(ok(b'{"slow": 1}'), delay=0.6)
    async with client(server.url, timeout=0.3, max_retries=0) as hk:
        slow = asyncio.ensure_future(hk.request("GET", "/slow", timeout=5.0))
        await asyncio.sleep(0.05)  # the one connection is busy for 0.6 s
        with pytest.raises(errors.APITimeoutError, match="PoolTimeout"):
            await hk.request("POST", "/api/v1/spot/order", security="TRADE", safe=False)
        assert await slow == {"slow": 1}
    assert [r.split(b" ", 2)[:2] for r in server.requests] == [[b"GET", b"/slow"]]


def test_building_a_client_loads_nothing_a_call_needs_yet() -> None:
    """The request core, httpx, asyncio's TLS, uuid: loaded by the first call, not before."""
    code = (
        "import sys\n"
        "from cambist.hashkey import AsyncHashKey, HashKey\n"
        "HashKey(api_key='k', api_secret='s'); AsyncHashKey(api_key='k', api_secret='s')\n"
        "loaded = {'httpx', 'ssl', 'asyncio', 'uuid', 'cambist._runtime.core'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_client_of_http_urls_builds_no_ssl_context(server: Scripted) -> None:
    code = (
        "from cambist._runtime import transport\n"
        "from cambist.hashkey import HashKey\n"
        f"assert HashKey(base_url={server.url!r}, time_sync=False).request('GET', '/') == {{}}\n"
        "assert transport.ssl_context.cache_info().currsize == 0\n"
    )
    server.answer(ok(b"{}"))
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_the_environment_proxy_carries_http_calls(
    server: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://user:p%40ss@" + server.url.removeprefix("http://"))
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    server.answer(ok(b'{"via": "proxy"}'))
    async with client("http://exchange.invalid:8080") as hk:
        assert await hk.request("GET", "/api/v1/x", params={"a": "1"}) == {"via": "proxy"}
    (sent,) = server.requests
    assert sent.startswith(b"GET http://exchange.invalid:8080/api/v1/x?a=1 HTTP/1.1\r\n")
    assert b"\r\nHost: exchange.invalid:8080\r\n" in sent
    assert b"\r\nProxy-Authorization: Basic dXNlcjpwQHNz\r\n" in sent  # user:p@ss


async def test_no_proxy_is_honoured(server: Scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server.answer(ok(b"{}"))
    async with client(server.url) as hk:
        assert await hk.request("GET", "/direct") == {}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"),
                *("ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert)),
                *("-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            ],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a certificate: {exc}")
    return cert, key


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Scripted:
    """An HTTPS origin whose certificate the client trusts (as a CA bundle would)."""
    cert, key = certificate
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(http11, "ssl_context", lambda: trust)
    return Scripted(tls=server_side)


async def test_https_with_a_trusted_certificate(trusted: Scripted) -> None:
    trusted.answer(ok(b'{"tls": true}'))
    trusted.answer(ok(b'{"tls": "again"}'))
    async with client(trusted.url) as hk:
        assert await hk.request("GET", "/secure") == {"tls": True}
        assert await hk.request("GET", "/secure") == {"tls": "again"}
    assert trusted.connections == 1
    trusted.close()


async def test_https_through_a_connect_proxy(
    trusted: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = ConnectProxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    trusted.answer(ok(b'{"tunnelled": true}'))
    try:
        async with client(trusted.url) as hk:
            assert await hk.request("GET", "/secure") == {"tunnelled": True}
    finally:
        proxy.close()
        trusted.close()
    host = trusted.url.removeprefix("https://")
    assert proxy.connects == [f"CONNECT {host} HTTP/1.1"]
    assert trusted.requests[0].startswith(b"GET /secure HTTP/1.1\r\n")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/api/v1/spot/order?orderId=1&timestamp=17&signature=ab",
        "https://api-pro.hashkey.com/api/v1/x?symbol=BTC%20USDT&ids=1,2,3",
        "https://API-pro.hashkey.com:443/p",
        "http://[::1]:8080/eapi/v1/order?x=%2B",
        "http://h/p?",
        "http://h/p?q=a b",  # not encoded: parsed by httpx as a whole
    ],
)
def test_the_httpx_request_has_the_url_httpx_would_parse(url: str) -> None:
    """The blocking client's (and a user's httpx client's) requests: only the origin is
    parsed by httpx, the core's encoded path and query are taken as they are."""
    import httpx

    from cambist._runtime.transport import Outgoing

    built = Outgoing("GET", url, {}, None, 5.0).to_httpx().url
    parsed = httpx.URL(url)
    assert built == parsed
    assert (built.scheme, built.host, built.port) == (parsed.scheme, parsed.host, parsed.port)
    assert (built.raw_path, built.query) == (parsed.raw_path, parsed.query)


async def test_a_client_closed_before_its_first_call_sends_nothing(server: Scripted) -> None:
    hk = client(server.url)
    await hk.aclose()
    with pytest.raises(errors.ClientClosedError, match="create a new client"):
        await hk.request("GET", "/never")
    assert server.connections == 0
