"""Debugging and proxies (issue 14, item 9): ``CAMBIST_LOG`` turns on cambist's logging
(secret-free), and streams connect through a proxy given in ``StreamOptions(proxy=...)``,
tested through a loopback HTTP CONNECT proxy and a loopback SOCKS5 proxy that record what
they relayed, sync and async; REST goes through a SOCKS5 proxy the environment names."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import TradeUpdate
from cambist.streams import StreamOptions
from cambist.testing import DEFAULT_API_KEY, DEFAULT_API_SECRET, HashKeyExchange

ROOT = Path(__file__).resolve().parents[1]

# -- CAMBIST_LOG ------------------------------------------------------------------------

PROGRAM = """
from cambist.hashkey import HashKey
from cambist.testing import HashKeyExchange

with HashKeyExchange() as ex, HashKey(**ex.client_options()) as hk:
    hk.account.get_balances()               # signed: apiKey header, signature in the query
    with hk.streams.user() as user:         # a listen key, in the WebSocket URL
        pass
"""


def run_with(value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CAMBIST_LOG"}
    if value is not None:
        env["CAMBIST_LOG"] = value
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stderr


def test_cambist_log_debug_turns_logging_on_without_secrets() -> None:
    err = run_with("debug")
    assert "DEBUG cambist: server clock offset" in err
    assert "INFO httpx: HTTP Request: GET http://127.0.0.1:" in err
    assert "DEBUG httpcore." in err and "DEBUG websockets.client" in err
    assert "signature=***" in err
    assert DEFAULT_API_KEY not in err and DEFAULT_API_SECRET not in err
    assert "GET /api/v1/ws/*** HTTP/1.1" in err  # the listen key in the stream's URL
    assert not re.search(r"/api/v1/ws/(?!\*\*\*)\w", err)


def test_cambist_log_info_is_quieter_and_unset_is_silent() -> None:
    err = run_with("info")
    assert "INFO httpx: HTTP Request: GET" in err
    assert "DEBUG" not in err
    assert DEFAULT_API_KEY not in err
    assert run_with(None) == ""
    assert "CAMBIST_LOG='loud' is not one of info, debug" in run_with("loud")


# -- streams through a proxy ------------------------------------------------------------


class ConnectProxy:
    """A loopback HTTP CONNECT proxy: records each CONNECT line and relays the bytes."""

    def __init__(self) -> None:
        self.connects: list[str] = []
        self.targets: list[str] = []  # host:port of each tunnel
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        request_line = head.split(b"\r\n", 1)[0].decode()
        self.connects.append(request_line)
        method, target, _ = request_line.split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            client.close()
            return
        self.targets.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)
        relay(client, upstream)

    def close(self) -> None:
        self._server.close()


def relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
    pipe(client, upstream)


class Socks5Proxy(ConnectProxy):
    """A loopback SOCKS5 proxy (RFC 1928: no authentication, CONNECT): records each target
    (``host:port``) and relays the bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.url = self.url.replace("http://", "socks5://")

    def _tunnel(self, client: socket.socket) -> None:
        def read(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = client.recv(n - len(data))
                if not chunk:
                    raise ConnectionError("closed")
                data += chunk
            return data

        try:
            _, methods = read(2)  # version 5, then the methods offered
            read(methods)
            client.sendall(b"\x05\x00")  # no authentication
            _, command, _, kind = read(4)
            if kind == 1:  # IPv4
                host = socket.inet_ntoa(read(4))
            elif kind == 3:  # a domain name
                host = read(read(1)[0]).decode()
            else:
                raise ConnectionError(f"address type {kind}")
            port = int.from_bytes(read(2), "big")
            self.targets.append(f"{host}:{port}")
            if command != 1:  # only CONNECT
                client.sendall(b"\x05\x07\x00\x01" + bytes(6))
                raise ConnectionError(f"command {command}")
            upstream = socket.create_connection((host, port))
        except (ConnectionError, OSError):
            client.close()
            return
        client.sendall(b"\x05\x00\x00\x01" + bytes(6))  # succeeded (bound address unused)
        relay(client, upstream)


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    p = ConnectProxy()
    yield p
    p.close()


@pytest.fixture(params=["http", "socks5"])
def any_proxy(request: pytest.FixtureRequest) -> Iterator[ConnectProxy]:
    """An HTTP CONNECT proxy, then a SOCKS5 one (``cambist[socks]``)."""
    p = ConnectProxy() if request.param == "http" else Socks5Proxy()
    yield p
    p.close()


@pytest.fixture
def ex() -> Iterator[HashKeyExchange]:
    with HashKeyExchange(seed=3) as exchange:
        yield exchange


def ws_target(ex: HashKeyExchange) -> str:
    return "CONNECT " + exchange_target(ex.ws_urls["ws"]) + " HTTP/1.1"


def exchange_target(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def test_a_stream_connects_through_the_proxy_sync(
    ex: HashKeyExchange, any_proxy: ConnectProxy
) -> None:
    with (
        HashKey(**ex.client_options()) as hk,
        hk.streams.public(StreamOptions(proxy=any_proxy.url)) as s,
    ):
        s.subscribe_trade(symbol="BTCUSDT")
        ex.streams.wait_subscribed("public", "trade:BTCUSDT")
        ex.tick("BTCUSDT", steps=5)
        while not isinstance(s.next(timeout=5), TradeUpdate):
            pass
    assert any_proxy.targets == [exchange_target(ex.ws_urls["ws"])]


@pytest.mark.anyio
async def test_a_stream_connects_through_the_proxy_async(
    ex: HashKeyExchange, any_proxy: ConnectProxy
) -> None:
    async with (
        AsyncHashKey(**ex.client_options()) as hk,
        hk.streams.public(StreamOptions(proxy=any_proxy.url)) as s,
    ):
        await s.subscribe_trade(symbol="BTCUSDT")
        await asyncio.to_thread(ex.streams.wait_subscribed, "public", "trade:BTCUSDT")
        ex.tick("BTCUSDT", steps=5)
        async with asyncio.timeout(5):
            async for event in s:
                if isinstance(event, TradeUpdate):
                    break
    assert any_proxy.targets == [exchange_target(ex.ws_urls["ws"])]


@pytest.mark.anyio
async def test_proxy_false_connects_directly_even_with_a_proxy_in_the_environment(
    ex: HashKeyExchange, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with AsyncHashKey(**ex.client_options()) as hk:
        async with hk.streams.public(StreamOptions(proxy=False)):
            pass
        assert proxy.connects == []
        async with hk.streams.public():  # the default: the environment's proxy
            pass
    assert proxy.connects == [ws_target(ex)]


def test_a_bad_proxy_setting_is_refused_without_showing_credentials() -> None:
    with pytest.raises(ValueError, match="proxy must be an http://") as caught:
        StreamOptions(proxy="user:hunter2@127.0.0.1:3128")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(TypeError, match="proxy must be a URL"):
        StreamOptions(proxy=3128)  # type: ignore[arg-type]
    assert "hunter2" not in repr(StreamOptions(proxy="http://user:hunter2@127.0.0.1:3128"))


# -- a SOCKS5 proxy (``cambist[socks]``) --------------------------------------------------


@pytest.fixture
def socks() -> Iterator[Socks5Proxy]:
    p = Socks5Proxy()
    yield p
    p.close()


def socks_environment(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The environment names ``url`` as the proxy for everything (as ``ALL_PROXY`` does)."""
    for name in ("NO_PROXY", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("ALL_PROXY", url)
    monkeypatch.setenv("all_proxy", url)


def test_rest_goes_through_a_socks_proxy_the_environment_names_sync(
    ex: HashKeyExchange, socks: Socks5Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    socks_environment(monkeypatch, socks.url)
    with HashKey(**ex.client_options()) as hk:
        balances = hk.account.get_balances()  # signed (after a server-time call)
    assert balances.balances and socks.targets == [exchange_target(ex.url)]


@pytest.mark.anyio
async def test_rest_goes_through_a_socks_proxy_the_environment_names_async(
    ex: HashKeyExchange, socks: Socks5Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The asyncio client's own lean transport speaks HTTP proxies only: with a SOCKS proxy
    # named it calls through httpx, as the blocking client does (it used to refuse).
    socks_environment(monkeypatch, socks.url)
    async with AsyncHashKey(**ex.client_options()) as hk:
        balances = await hk.account.get_balances()
        await hk.account.get_balances()  # the same kept-alive connection
    assert balances.balances and socks.targets == [exchange_target(ex.url)]


def test_one_asyncio_client_through_a_socks_proxy_serves_loop_after_loop(
    ex: HashKeyExchange, socks: Socks5Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An httpx pool is bound to the event loop that opened it: the client makes one per
    # loop, as its lean transport serves asyncio.run after asyncio.run.
    socks_environment(monkeypatch, socks.url)
    hk = AsyncHashKey(**ex.client_options())
    first = asyncio.run(hk.misc.get_server_time())
    second = asyncio.run(hk.misc.get_server_time())
    asyncio.run(hk.aclose())
    assert first.server_time <= second.server_time
    assert socks.targets == [exchange_target(ex.url)] * 2  # one connection per loop


@pytest.mark.anyio
async def test_no_proxy_exempts_the_exchange_from_a_socks_proxy(
    ex: HashKeyExchange, socks: Socks5Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    socks_environment(monkeypatch, socks.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with AsyncHashKey(**ex.client_options()) as hk:
        await hk.misc.get_server_time()
        transport = hk._http
    assert socks.targets == []  # direct, on the lean transport: no SOCKS support needed
    assert type(transport).__name__ == "LeanTransport"
