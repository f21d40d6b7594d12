"""Trust under faults (REST): bans, rate-limit rules from the specs, deadlines, TLS failures,
closed clients, in fake time. Every test runs the blocking and the asyncio client against a
local exchange on loopback (``cambist.testing``)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cambist import errors
from cambist.binance_options import AsyncBinanceOptions, BinanceOptions
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.options import RetryPolicy
from cambist.testing import BinanceOptionsExchange, FakeClock, HashKeyExchange

MODES = ["sync", "async"]
FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.002)


class Driver:
    """One client, blocking or asyncio, called the same way: ``d(lambda c: c.market...)``."""

    def __init__(self, mode: str, pair: tuple[type[Any], type[Any]], **options: Any) -> None:
        self.mode = mode
        self.pair = pair
        self.options = options
        self.runner: asyncio.Runner | None = None

    def __enter__(self) -> Driver:
        if self.mode == "sync":
            self.client = self.pair[0](**self.options)
        else:
            self.runner = asyncio.Runner()

            async def make() -> Any:
                return self.pair[1](**self.options)

            self.client = self.runner.run(make())
        return self

    def __call__(self, fn: Callable[[Any], Any]) -> Any:
        if self.runner is None:
            return fn(self.client)

        async def call() -> Any:
            return await fn(self.client)

        return self.runner.run(call())

    def close(self) -> None:
        if self.runner is None:
            self.client.close()
        else:
            self.runner.run(self.client.aclose())

    def __exit__(self, *exc: object) -> None:
        self.close()
        if self.runner is not None:
            self.runner.close()


@pytest.fixture
def clock() -> FakeClock:
    """Fake time, shared by the client and the local exchange (so recvWindow holds)."""
    return FakeClock()


@pytest.fixture
def hx(clock: FakeClock) -> Iterator[HashKeyExchange]:
    with HashKeyExchange(seed=5, clock=clock) as exchange:
        yield exchange


@pytest.fixture
def bx(clock: FakeClock) -> Iterator[BinanceOptionsExchange]:
    with BinanceOptionsExchange(seed=5, clock=clock) as exchange:
        yield exchange


def _depth(c: Any) -> Any:
    return c.market.get_depth(symbol="BTCUSDT")


def _hk_order(c: Any) -> Any:
    return c.spot.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.1", price="1000"
    )


def _bn_order(c: Any, **kw: Any) -> Any:
    return c.trade.create_order(
        symbol="BTC-220815-50000-C",
        side="BUY",
        type="LIMIT",
        quantity="0.01",
        price="5",
        time_in_force="GTC",
        **kw,
    )


def _sent(ex: Any, path: str) -> int:
    return sum(1 for c in ex.calls if c.path == path)


# -- item 2: a ban is remembered ---------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_ban_is_remembered_until_it_ends(
    mode: str, clock: FakeClock, hx: HashKeyExchange
) -> None:
    hx.fail("*", status=418, retry_after=120, times=1)
    with Driver(mode, (HashKey, AsyncHashKey), **hx.client_options(), clock=clock) as d:
        with pytest.raises(errors.IPBannedError) as first:
            d(_depth)
        assert not first.value.local
        sent = len(hx.calls)
        clock.advance(60)
        for call in (_depth, _hk_order):  # any call on the client: refused here, nothing sent
            with pytest.raises(errors.IPBannedError) as again:
                d(call)
            assert again.value.local
            assert again.value.retry_after == pytest.approx(60)
            assert again.value.until == first.value.until
        assert len(hx.calls) == sent
        clock.advance(61)  # the ban is over: calls go out again
        assert d(_depth).bids
        assert len(hx.calls) == sent + 1


@pytest.mark.parametrize("mode", MODES)
def test_a_ban_without_retry_after_lasts_what_the_spec_says(
    mode: str, clock: FakeClock, bx: BinanceOptionsExchange
) -> None:
    bx.fail("*", status=418, times=1)  # Binance: bans last from 2 minutes (ban_seconds: 120)
    with Driver(
        mode, (BinanceOptions, AsyncBinanceOptions), **bx.client_options(), clock=clock
    ) as d:
        with pytest.raises(errors.IPBannedError) as first:
            d(lambda c: c.market.get_exchange_info())
        assert first.value.retry_after == 120
        clock.advance(119)
        with pytest.raises(errors.IPBannedError):
            d(lambda c: c.market.get_exchange_info())
        clock.advance(2)
        assert d(lambda c: c.market.get_exchange_info())


# -- item 3: what a handler may do -------------------------------------------------------


def test_the_tree_separates_wait_and_retry_from_stop_until() -> None:
    assert not issubclass(errors.IPBannedError, errors.RateLimitError)
    assert issubclass(errors.IPBannedError, errors.APIError)
    assert not issubclass(errors.TLSCertificateError, errors.APIConnectionError)


@pytest.mark.parametrize("mode", MODES)
def test_a_wait_and_retry_handler_does_not_retry_through_a_ban(
    mode: str, clock: FakeClock, hx: HashKeyExchange
) -> None:
    hx.fail("*", status=418, retry_after=600)
    retried = 0
    with (
        Driver(mode, (HashKey, AsyncHashKey), **hx.client_options(), clock=clock) as d,
        pytest.raises(errors.IPBannedError),
    ):
        while True:  # the natural handler
            try:
                d(_depth)
                break
            except errors.RateLimitError:
                retried += 1
                if retried > 3:
                    pytest.fail("retried through a ban")
    assert retried == 0
    assert len(hx.calls) == 1


# -- item 4: what the document prescribes after a 429 ------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, None),
        (400, {"code": "0003", "msg": "Rate limit exceeded"}),
        (400, {"code": "-1015", "msg": "Too many new orders, current limit is 10 orders per 1s"}),
    ],
)
def test_hashkey_stops_after_a_rate_limit(
    mode: str, clock: FakeClock, hx: HashKeyExchange, status: int, body: Any
) -> None:
    hx.fail("*", status=status, body=body)
    with Driver(mode, (HashKey, AsyncHashKey), **hx.client_options(), clock=clock) as d:
        with pytest.raises(errors.RateLimitError) as read:
            d(_depth)
        assert read.value.retry_after is None  # nothing said how long; the caller decides
        with pytest.raises(errors.RateLimitError) as order:
            d(_hk_order)
        assert order.value.retry_after == 60  # "wait 1 minute for the suspended period"
    assert _sent(hx, "/quote/v1/depth") == 1
    assert _sent(hx, "/api/v1.1/spot/order") == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("mode", MODES)
def test_binance_backs_off_and_resends_after_a_429(
    mode: str, clock: FakeClock, bx: BinanceOptionsExchange
) -> None:
    bx.fail("trade.create_order", status=429, retry_after=3, times=1)
    with Driver(
        mode, (BinanceOptions, AsyncBinanceOptions), **bx.client_options(), clock=clock
    ) as d:
        assert d(_bn_order).order_id
    ids = [c.params["clientOrderId"] for c in bx.calls if c.path == "/eapi/v1/order"]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert clock.sleeps == [3.0]


# -- item 5: the timeout is a deadline for the whole call --------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("where", ["call", "client"])
def test_a_wait_past_the_deadline_raises_at_once(
    mode: str, clock: FakeClock, where: str, bx: BinanceOptionsExchange
) -> None:
    bx.fail("trade.create_order", status=429, retry_after=6, times=1)
    options = {**bx.client_options(), "clock": clock}
    if where == "client":
        options["timeout"] = 1.0
    with (
        Driver(mode, (BinanceOptions, AsyncBinanceOptions), **options) as d,
        pytest.raises(errors.RateLimitError) as caught,
    ):
        d(lambda c: _bn_order(c, **({"timeout": 1.0} if where == "call" else {})))
    assert caught.value.retry_after == 6
    assert clock.sleeps == []  # not slept through: the order was not placed 6 s late
    assert _sent(bx, "/eapi/v1/order") == 1
    assert not bx.ledger.orders


@pytest.mark.parametrize("mode", MODES)
def test_a_backoff_past_the_deadline_reports_the_wait(
    mode: str, clock: FakeClock, bx: BinanceOptionsExchange
) -> None:
    bx.fail("market.get_exchange_info", status=429, times=1)  # no Retry-After: backoff
    slow = RetryPolicy(backoff_base=30.0, backoff_max=30.0)
    with (
        Driver(
            mode,
            (BinanceOptions, AsyncBinanceOptions),
            **bx.client_options(),
            clock=clock,
            retry=slow,
        ) as d,
        pytest.raises(errors.RateLimitError) as caught,
    ):
        d(lambda c: c.market.get_exchange_info(timeout=5.0))
    assert caught.value.retry_after is not None and 15 <= caught.value.retry_after <= 30
    assert clock.sleeps == []


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_on_a_5xx_is_honoured(
    mode: str, clock: FakeClock, bx: BinanceOptionsExchange
) -> None:
    unavailable = {
        "code": -1001,
        "msg": "Internal error; unable to process your request. Please try again.",
    }
    bx.fail("market.get_exchange_info", status=503, retry_after=4, body=unavailable, times=1)
    with Driver(
        mode,
        (BinanceOptions, AsyncBinanceOptions),
        **bx.client_options(),
        clock=clock,
        timeout=30.0,
    ) as d:
        assert d(lambda c: c.market.get_exchange_info())
    assert clock.sleeps == [4.0]


@pytest.mark.parametrize("mode", MODES)
def test_the_retry_policy_is_a_client_option(
    mode: str, clock: FakeClock, bx: BinanceOptionsExchange
) -> None:
    bx.fail("market.get_exchange_info", status=429, retry_after=1, times=3)
    policy = RetryPolicy(max_retries=3, max_retry_after=2.0)
    with Driver(
        mode,
        (BinanceOptions, AsyncBinanceOptions),
        **bx.client_options(),
        clock=clock,
        retry=policy,
    ) as d:
        assert d(lambda c: c.market.get_exchange_info())
        assert clock.sleeps == [1.0, 1.0, 1.0]
        bx.fail("market.get_exchange_info", status=429, retry_after=3, times=1)
        with pytest.raises(errors.RateLimitError):  # longer than max_retry_after
            d(lambda c: c.market.get_exchange_info())
    with Driver(
        mode,
        (BinanceOptions, AsyncBinanceOptions),
        **bx.client_options(),
        retry=policy,
        max_retries=0,
    ) as d:
        assert d.client._core.retry.max_retries == 0  # the shorthand wins
        assert d.client._core.retry.max_retry_after == 2.0


# -- item 7: Binance's 403 is the WAF limit ----------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_binance_403_is_a_waf_rate_limit(
    mode: str, clock: FakeClock, bx: BinanceOptionsExchange
) -> None:
    bx.fail("market.get_exchange_info", status=403, body=b"<html>403 WAF</html>")
    with (
        Driver(
            mode,
            (BinanceOptions, AsyncBinanceOptions),
            **bx.client_options(),
            clock=clock,
            max_retries=0,
        ) as d,
        pytest.raises(errors.RateLimitError) as caught,
    ):
        d(lambda c: c.market.get_exchange_info())
    assert caught.value.status_code == 403
    assert not isinstance(caught.value, errors.PermissionDeniedError)


@pytest.mark.parametrize("mode", MODES)
def test_403_elsewhere_stays_a_permission_error(mode: str, hx: HashKeyExchange) -> None:
    hx.fail("market.get_depth", status=403, body={"msg": "forbidden"})
    with (
        Driver(mode, (HashKey, AsyncHashKey), **hx.client_options()) as d,
        pytest.raises(errors.PermissionDeniedError),
    ):
        d(_depth)


# -- item 6: a refused TLS certificate ---------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a certificate: {exc}")
    return cert, key


class TLSServer:
    """A loopback TLS server whose certificate no client trusts; counts handshakes."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_certificate_is_raised_at_once_and_named(
    mode: str, self_signed: tuple[Path, Path]
) -> None:
    server = TLSServer(*self_signed)
    clock = FakeClock()
    try:
        with (
            Driver(
                mode, (HashKey, AsyncHashKey), base_url=server.url, clock=clock, time_sync=False
            ) as d,
            pytest.raises(errors.TLSCertificateError) as caught,
        ):
            d(_depth)
    finally:
        server.close()
    assert "certificate" in str(caught.value).lower()
    assert "self-signed" in str(caught.value) or "self signed" in str(caught.value)
    assert not isinstance(caught.value, errors.APIConnectionError)
    assert clock.sleeps == []  # not retried
    assert server.connections == 1


# -- item 11: fake time ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_long_retry_after_passes_in_fake_time(
    mode: str, clock: FakeClock, bx: BinanceOptionsExchange
) -> None:
    bx.fail("market.get_exchange_info", status=429, retry_after=45, times=1)
    started = time.monotonic()
    with Driver(
        mode,
        (BinanceOptions, AsyncBinanceOptions),
        **bx.client_options(),
        clock=clock,
        timeout=60.0,
    ) as d:
        assert d(lambda c: c.market.get_exchange_info())
    assert clock.sleeps == [45.0]
    assert clock.monotonic() == 45.0
    assert time.monotonic() - started < 5


def test_the_client_reads_time_from_its_clock(hx: HashKeyExchange) -> None:
    clock = FakeClock(start=1_000.0)
    with HashKey(**hx.client_options(), clock=clock) as hk:
        assert hk.clock is clock
        assert hk._core.clock.local_ms() == 1_000_000.0  # the server clock's local side
        hx.fail("*", status=418, retry_after=10, times=1)
        with pytest.raises(errors.IPBannedError) as caught:
            hk.market.get_depth(symbol="BTCUSDT")
        assert caught.value.until is not None
        assert caught.value.until.timestamp() == pytest.approx(1_010.0)


# -- item 12: a call on a closed client --------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_call_on_a_closed_client_says_what_to_do(mode: str, hx: HashKeyExchange) -> None:
    d = Driver(mode, (HashKey, AsyncHashKey), **hx.client_options()).__enter__()
    try:
        assert d(_depth)
        d.close()
        sent = len(hx.calls)
        with pytest.raises(errors.ClientClosedError, match="create a new client") as caught:
            d(_depth)
    finally:
        if d.runner is not None:
            d.runner.close()
    assert isinstance(caught.value, RuntimeError)  # what httpx raised before, still catchable
    assert len(hx.calls) == sent


# -- an internal-error code on an order or a transfer: outcome unknown -------------------


@pytest.mark.parametrize("mode", MODES)
def test_an_internal_error_code_after_a_transfer_or_order_is_execution_unknown(
    mode: str,
) -> None:
    """BingX answers every error with HTTP 200 and a code: its "100500 Internal server error"
    on a transfer is what a 500 is elsewhere, the transfer may have happened; likewise Bibox's
    "-1000 Unknown" after an order. Neither is resent, and each raises
    ExecutionStatusUnknownError (with the order's client id) rather than a ServerError a
    caller could take for "not done". A read-only call is still retried."""
    from cambist.bibox import AsyncBibox, Bibox
    from cambist.bingx import AsyncBingX, BingX
    from cambist.testing import BiboxExchange, BingXExchange

    with (
        BingXExchange(seed=1) as ex,
        Driver(mode, (BingX, AsyncBingX), **ex.client_options(), retry=FAST) as d,
    ):
        before = len(ex.ledger.transfers)
        ex.fail(
            "wallet.transfer",
            status=200,
            body={"code": 100500, "msg": "Internal server error"},
            execute=True,
            times=1,
        )
        with pytest.raises(errors.ExecutionStatusUnknownError) as unknown:
            d(lambda c: c.wallet.transfer(type="FUND_SFUTURES", asset="USDT", amount="5"))
        assert unknown.value.code == 100500 and unknown.value.status_code == 200
        assert _sent(ex, "/openApi/api/v3/get/asset/transfer") == 1
        assert len(ex.ledger.transfers) == before + 1  # it did happen
        ex.fail("wallet.list_transfers", status=200, body={"code": 100500}, times=1)
        assert d(lambda c: c.wallet.list_transfers(type="FUND_SFUTURES")).total == 1
        assert _sent(ex, "/openApi/api/v3/asset/transfer") == 2  # retried

    order = {"symbol": "BTC_USDT", "side": "buy", "type": "limit", "price": "1000"}
    with (
        BiboxExchange(seed=1) as ex,
        Driver(mode, (Bibox, AsyncBibox), **ex.client_options(), retry=FAST) as d,
    ):
        ex.fail(
            "user.create_order",
            status=400,
            body={"error": -1000, "message": "Unknown"},
            execute=True,
            times=1,
        )
        with pytest.raises(errors.ExecutionStatusUnknownError) as unknown:
            d(lambda c: c.user.create_order(**order, quantity="0.01"))
        assert _sent(ex, "/api/v4/userdata/order") == 1
        cid = unknown.value.client_order_id
        assert cid is not None
        found = d(lambda c: c.user.get_order(client_order_id=cid))
        assert found.client_order_id == cid
