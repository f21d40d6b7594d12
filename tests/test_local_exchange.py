"""cambist.testing: the local exchanges' own checks (answered with the documents' codes),
an order's life over REST and the private stream, fault switches seen by the client as
typed errors, deterministic data, loopback-only listening and the command line."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from cambist.bibox import Bibox
from cambist.binance_options import BinanceOptions
from cambist.errors import (
    APITimeoutError,
    AuthenticationError,
    ExecutionStatusUnknownError,
    InsufficientBalanceError,
    InvalidRequestError,
    IPBannedError,
    OrderNotFoundError,
    RateLimitError,
    TimestampError,
)
from cambist.hashkey import HashKey
from cambist.hashkey.models import AccountUpdate, ExecutionReport, TicketInfo
from cambist.testing import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    EXCHANGES,
    BiboxExchange,
    BinanceOptionsExchange,
    HashKeyExchange,
    LocalExchange,
)


@pytest.fixture
def ex() -> Iterator[HashKeyExchange]:
    with HashKeyExchange(seed=11) as exchange:
        yield exchange


@pytest.fixture
def hk(ex: HashKeyExchange) -> Iterator[HashKey]:
    with HashKey(**ex.client_options(), max_retries=0) as client:
        yield client


# -- the simulator's checks ------------------------------------------------------------------


def test_bad_signature_is_0001(ex: HashKeyExchange) -> None:
    with (
        HashKey(**{**ex.client_options(), "api_secret": "wrong"}) as bad,
        pytest.raises(AuthenticationError) as caught,
    ):
        bad.account.get_balances()
    assert (caught.value.code, caught.value.message) == ("0001", "Incorrect signature")


def test_unknown_api_key_is_0102(ex: HashKeyExchange) -> None:
    with (
        HashKey(**{**ex.client_options(), "api_key": "nobody"}) as bad,
        pytest.raises(AuthenticationError) as caught,
    ):
        bad.account.get_balances()
    assert (caught.value.code, caught.value.message) == ("0102", "Invalid APIKey")


def test_stale_timestamp_is_1021(ex: HashKeyExchange) -> None:
    ex.clock_skew_ms = 60_000  # the exchange's clock runs a minute ahead
    with (
        HashKey(**ex.client_options(), time_sync=False) as client,
        pytest.raises(TimestampError) as caught,
    ):
        client.account.get_balances()
    assert caught.value.code == "-1021"
    with HashKey(**ex.client_options()) as synced:  # measuring the server clock fixes it
        assert synced.account.get_balances().balances


def test_missing_param_is_0001_with_the_name(hk: HashKey) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        hk.request("GET", "/quote/v1/depth")
    assert caught.value.code == "0001"
    assert caught.value.message == "Required field symbol missing or invalid"


def test_invalid_enum_is_1130(hk: HashKey) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        hk.request("GET", "/quote/v1/klines", params={"symbol": "BTCUSDT", "interval": "7m"})
    assert (caught.value.code, caught.value.message) == ("-1130", "Illegal parameter interval")


def test_wrong_security_type_is_refused(hk: HashKey, ex: HashKeyExchange) -> None:
    # USER_DATA needs a signature: sent with the API key only, it is refused.
    with pytest.raises(AuthenticationError) as caught:
        hk.request("GET", "/api/v1/account", security="USER_STREAM")
    assert caught.value.code == "-1002"
    assert "signature" not in ex.calls[-1].query


def test_other_exchanges_answer_with_their_codes() -> None:
    with (
        BiboxExchange() as bx_ex,
        Bibox(**{**bx_ex.client_options(), "api_secret": "x"}) as bx,
        pytest.raises(AuthenticationError) as bibox_error,
    ):
        bx.user.list_accounts()
    assert (bibox_error.value.code, bibox_error.value.message) == (-2006, "Invalid signature")
    with (
        BinanceOptionsExchange() as bn_ex,
        BinanceOptions(**{**bn_ex.client_options(), "api_secret": "x"}, max_retries=0) as bn,
        pytest.raises(AuthenticationError) as binance_error,
    ):
        bn.trade.create_order(
            symbol="BTC-200730-9000-C",
            side="BUY",
            type="LIMIT",
            quantity="0.01",
            price="5",
            time_in_force="GTC",
        )
    assert binance_error.value.code == -1022


# -- an order's life ---------------------------------------------------------------------------


def test_order_life_cycle_over_rest_and_the_private_stream(
    ex: HashKeyExchange, hk: HashKey
) -> None:
    with hk.streams.user() as stream:
        next(stream)  # Connected
        order = hk.spot.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.5", price="50000"
        )
        assert order.status.value == "NEW"
        assert [o.order_id for o in hk.spot.list_open_orders(symbol="BTCUSDT")] == [order.order_id]
        usdt = next(b for b in hk.account.get_balances().balances if b.asset == "USDT")
        assert (usdt.free, usdt.locked) == (Decimal("75000"), Decimal("25000"))
        new = next(stream)
        assert isinstance(new, ExecutionReport) and new.status.value == "NEW"
        assert new.order_id == order.order_id and new.price == Decimal("50000")
        held = next(stream)
        assert isinstance(held, AccountUpdate)
        assert (held.balances[0].free, held.balances[0].locked) == (75000, 25000)

        canceled = hk.spot.cancel_order(order_id=order.order_id)
        assert canceled.status.value == "CANCELED"
        report, account = next(stream), next(stream)
        assert isinstance(report, ExecutionReport) and report.status.value == "CANCELED"
        assert isinstance(account, AccountUpdate)
        assert account.balances[0].free == Decimal("100000")
        assert hk.spot.list_open_orders() == []
        with pytest.raises(OrderNotFoundError):
            hk.spot.cancel_order(order_id=order.order_id)

        asks = ex.market.books["BTCUSDT"].top(20)[1]
        filled = hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="1")
        assert filled.status.value == "FILLED" and filled.executed_qty == 1
        events = [next(stream)]
        while not (isinstance(events[-1], ExecutionReport) and events[-1].status.value == "FILLED"):
            events.append(next(stream))
        events += [next(stream), next(stream)]  # each fill: report, ticketInfo, balances
    # taker fills walk the asks, best first, each a ticketInfo; the last report says FILLED
    tickets = [e for e in events if isinstance(e, TicketInfo)]
    expected, left = [], Decimal(1)
    for price, quantity in asks:
        expected.append((price, min(left, quantity)))
        left -= min(left, quantity)
        if not left:
            break
    assert [(t.price, t.quantity) for t in tickets] == expected
    assert not any(t.is_maker for t in tickets)
    cost = sum(p * q for p, q in expected)
    final = [e for e in events if isinstance(e, ExecutionReport)][-1]
    assert hk.spot.get_order(order_id=filled.order_id).cumulative_quote_qty == cost
    assert final.cumulative_quote_quantity == cost
    assert isinstance(events[-1], AccountUpdate)
    trades = hk.account.list_trades(symbol="BTCUSDT")
    assert [(t.price, t.qty, t.order_id, t.is_buyer) for t in trades] == [
        (p, q, filled.order_id, True) for p, q in expected
    ]
    balances = {b.asset: b for b in hk.account.get_balances().balances}
    assert balances["BTC"].free == Decimal("3")
    assert balances["USDT"].free == Decimal("100000") - cost
    with pytest.raises(InsufficientBalanceError):
        hk.spot.create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="30")


def test_transfers_move_funds(ex: HashKeyExchange, hk: HashKey) -> None:
    hk.account.transfer(
        from_account_id=HashKeyExchange.ACCOUNT_ID,
        to_account_id=HashKeyExchange.SUB_ACCOUNT_ID,
        coin="USDT",
        quantity=Decimal("1500.5"),
    )
    assert ex.balances["spot"]["USDT"] == Decimal("98499.5")
    assert ex.balances["sub"]["USDT"] == Decimal("1500.5")


# -- faults --------------------------------------------------------------------------------


def test_429_with_retry_after_is_a_rate_limit_error(ex: HashKeyExchange, hk: HashKey) -> None:
    ex.fail("market.get_depth", status=429, retry_after=7)
    with pytest.raises(RateLimitError) as caught:
        hk.market.get_depth(symbol="BTCUSDT")
    assert caught.value.retry_after == 7


def test_429_once_is_retried_with_the_same_client_order_id() -> None:
    # Binance backs off and resends after a 429 (HashKey stops: tests/test_faults_rest.py)
    with BinanceOptionsExchange() as bn_ex, BinanceOptions(**bn_ex.client_options()) as bn:
        bn_ex.fail("trade.create_order", status=429, retry_after=0, times=1)
        order = bn.trade.create_order(
            symbol="BTC-220815-50000-C",
            side="BUY",
            type="LIMIT",
            quantity="0.01",
            price="5",
            time_in_force="GTC",
        )
    sent = [c.params.get("clientOrderId") for c in bn_ex.calls if c.path == "/eapi/v1/order"]
    assert order.order_id
    assert len(sent) == 2 and sent[0] and sent[0] == sent[1]


def test_418_is_an_ip_ban(ex: HashKeyExchange, hk: HashKey) -> None:
    ex.fail("*", status=418, retry_after=120)
    with pytest.raises(IPBannedError):
        hk.market.get_depth(symbol="BTCUSDT")


def test_5xx_that_still_executes_is_unknown_status_and_the_order_exists(
    ex: HashKeyExchange, hk: HashKey
) -> None:
    ex.fail("spot.create_order", status=503, execute=True, times=1)
    with pytest.raises(ExecutionStatusUnknownError) as caught:
        hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.1", price="99")
    client_id = caught.value.client_order_id
    assert client_id is not None
    order = hk.spot.get_order(orig_client_order_id=client_id)
    assert order.status.value == "NEW"


def test_dropped_connection_and_latency(ex: HashKeyExchange, hk: HashKey) -> None:
    ex.fail("spot.create_order", drop=True, times=1)
    with pytest.raises(ExecutionStatusUnknownError):
        hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.1")
    ex.fail("market.get_depth", latency=0.5, times=1)
    with pytest.raises(APITimeoutError):
        hk.market.get_depth(symbol="BTCUSDT", timeout=0.1)


def test_stream_faults_are_switchable(ex: HashKeyExchange, hk: HashKey) -> None:
    ex.streams.faults.silent = True
    ex.streams.faults.ping_interval = 0.01
    with hk.streams.user() as stream:
        next(stream)
        time.sleep(0.1)
    assert ex.streams.pongs == []  # a silent server sent no pings to answer


# -- data, listening, command line -------------------------------------------------------------


def snapshot(exchange: HashKeyExchange) -> Any:
    exchange.tick(steps=25)
    return exchange.market.books["BTCUSDT"].top(20), exchange.market.trades["BTCUSDT"]


def test_same_seed_same_data() -> None:
    with HashKeyExchange(seed=5) as a, HashKeyExchange(seed=5) as b, HashKeyExchange(seed=6) as c:
        first, second, other = snapshot(a), snapshot(b), snapshot(c)
    assert first[0] == second[0] and [t.price for t in first[1]] == [t.price for t in second[1]]
    assert first[0] != other[0]


def test_refuses_to_listen_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="not loopback"):
        HashKeyExchange(host="0.0.0.0")


def test_stop_takes_effect_at_once() -> None:
    # socketserver's serve_forever sees a stop only at its next 0.5 s poll: every fixture
    # teardown waited up to half a second (these five stops took 1.5 s).
    took = 0.0
    for _ in range(5):
        exchange = HashKeyExchange().start()
        with HashKey(**exchange.client_options()) as client:  # a kept-alive connection
            client.misc.get_server_time()
            started = time.perf_counter()
            exchange.stop()
            took += time.perf_counter() - started
        with pytest.raises(httpx.ConnectError):  # and it has stopped
            httpx.get(exchange.url + "/api/v1/time")
    assert took < 0.25


def test_many_connections_at_once_are_not_held_back() -> None:
    # socketserver listens with a backlog of 5: the kernel dropped the SYNs of a client
    # opening more connections at once (an asyncio client with a dozen calls in flight) and
    # they arrived a second late, past the rate-limit governor's margin (a 429 in CI).
    from cambist.testing._http import StoppableHTTPServer

    server = StoppableHTTPServer(("127.0.0.1", 0), None)  # listening, not yet accepting
    sockets = []
    try:
        for _ in range(32):
            sock = socket.socket()
            sockets.append(sock)
            sock.settimeout(0.5)
            sock.connect(server.server_address)  # TimeoutError when the backlog is full
    finally:
        for sock in sockets:
            sock.close()
        server.server_close()


@pytest.mark.parametrize("cls", list(EXCHANGES.values()), ids=list(EXCHANGES))
def test_every_endpoint_is_routed_and_answers(cls: type[LocalExchange]) -> None:
    exchange = cls()
    simulated = {ep.name for ep in exchange.http.routes.values() if exchange._simulates(ep)}
    silent = sorted(
        ep.name
        for ep in exchange.http.routes.values()
        if ep.name not in simulated
        and ep.response not in (None, "json")
        and not exchange._example(ep)
    )
    # Every endpoint answers something: simulated, or the document's example.
    assert silent == []
    exchange.portal.close()


def test_serve_command_line() -> None:
    with socket.socket() as probe:  # a free port, handed to the command line
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cambist.testing", "serve", "hashkey", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        assert DEFAULT_API_KEY in proc.stdout.readline()
        answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/time").json()
        assert abs(answer["serverTime"] - time.time() * 1000) < 5000
        with HashKey(
            base_url=f"http://127.0.0.1:{port}",
            api_key=DEFAULT_API_KEY,
            api_secret=DEFAULT_API_SECRET,
        ) as client:
            assert client.account.get_balances().balances
    finally:
        proc.terminate()
        proc.wait(10)


def test_pytest_fixture(hashkey_exchange: HashKeyExchange) -> None:
    with HashKey(**hashkey_exchange.client_options()) as client:
        assert client.market.get_depth(symbol="ETHUSDT").bids[0].price < 3000


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_stop_twice_is_harmless(name: str) -> None:
    exchange = EXCHANGES[name]()
    exchange.start()
    url = exchange.url
    httpx.get(url + "/", timeout=5)  # serving
    exchange.stop()
    exchange.stop()  # raised "Event loop is closed"
    assert exchange.portal.loop.is_closed()
    with pytest.raises(httpx.TransportError):  # stopped for good
        httpx.get(url + "/", timeout=5)
    with EXCHANGES[name]() as again:
        again.stop()  # and leaving the block stops it once more


def test_client_options_before_start_refuses_rather_than_pointing_at_the_real_exchange() -> None:
    """Before ``start()`` there is no address: ``base_url=""`` made the client fall back to
    the real exchange's address, so a test that forgot to start the exchange sent signed
    requests to production."""
    exchange = HashKeyExchange()
    with pytest.raises(RuntimeError, match="not started"):
        exchange.client_options()
    with exchange, HashKey(**exchange.client_options()) as client:
        assert client.base_url == exchange.url


@pytest.mark.parametrize(
    "query",
    [
        "recvWindow=abc",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=Infinity&price=50000",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=NaN&price=50000",
    ],
)
def test_a_malformed_number_is_refused_not_a_dropped_connection(
    ex: HashKeyExchange, query: str
) -> None:
    """``recvWindow=abc`` or a quantity of ``Infinity`` raised inside the server, which
    closed the connection without an answer (to the client: an order of unknown status);
    the exchange answers -1130 "Illegal parameter" naming it (``NaN`` was -1137)."""
    import hmac

    signed = f"{query}&timestamp={ex.now_ms()}"
    signature = hmac.new(DEFAULT_API_SECRET.encode(), signed.encode(), "sha256").hexdigest()
    path = "/api/v1/account" if query.startswith("recv") else "/api/v1.1/spot/order"
    answer = httpx.request(
        "GET" if query.startswith("recv") else "POST",
        f"{ex.url}{path}?{signed}&signature={signature}",
        headers={"X-HK-APIKEY": DEFAULT_API_KEY},
    )
    assert answer.status_code == 400
    name = "recvWindow" if query.startswith("recv") else "quantity"
    assert answer.json() == {"code": "-1130", "msg": f"Illegal parameter {name}"}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, {"code": "0003", "msg": "Rate limit exceeded"}),
        (418, {"code": "0003", "msg": "Rate limit exceeded"}),
        (503, {"code": "-1000", "msg": "An unknown error occurred while processing the request"}),
    ],
)
def test_hashkey_fault_answers_carry_its_own_table_codes(
    ex: HashKeyExchange, status: int, body: dict[str, str]
) -> None:
    """HashKey's codes are strings from its error table; a 429 / 418 answered Binance's
    integer -1003 (not in HashKey's document) and a 5xx the integer -1000."""
    ex.fail("market.get_depth", status=status, times=1)
    answer = httpx.get(f"{ex.url}/quote/v1/depth", params={"symbol": "BTCUSDT"})
    assert (answer.status_code, answer.json()) == (status, body)
