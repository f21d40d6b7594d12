"""Error mapping, the retry policy, clock-skew recovery: against the loopback server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from cambist import errors
from cambist._runtime.retry import RetryPolicy
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.hashkey.models import OrderSide, OrderType
from tests.conftest import API_KEY, API_SECRET
from tests.loopback import LoopbackServer, Reply

ORDER = "/api/v1.1/spot/order"
OPEN_ORDERS = "/api/v1/spot/openOrders"


@pytest.fixture
def fast(hk: HashKey) -> Iterator[HashKey]:
    """The client, with retry delays of a millisecond."""
    hk._core.retry = RetryPolicy(max_retries=2, backoff_base=0.001, backoff_max=0.002)
    yield hk


def _order(client: HashKey) -> object:
    return client.spot.create_order(
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.01"),
        price=Decimal("85000"),
    )


@pytest.mark.parametrize(
    ("code", "msg", "cls"),
    [
        ("0001", "Incorrect signature", errors.AuthenticationError),
        ("0001", "Required field quantity missing or invalid", errors.InvalidRequestError),
        ("-1002", "Unauthorized operation", errors.AuthenticationError),
        ("-1005", "No permission", errors.PermissionDeniedError),
        ("0211", "Order not found", errors.OrderNotFoundError),
        ("0401", "Insufficient asset", errors.InsufficientBalanceError),
        (-1130, "Illegal parameter 'symbol'", errors.InvalidRequestError),
        ("-99999", "something new", errors.InvalidRequestError),
    ],
)
def test_error_codes_map_to_classes(
    fast: HashKey, server: LoopbackServer, code: object, msg: str, cls: type
) -> None:
    server.queue("GET", OPEN_ORDERS, Reply(400, {"code": code, "msg": msg}))
    with pytest.raises(cls) as info:
        fast.spot.list_open_orders()
    err = info.value
    assert type(err) is cls
    assert err.code == code and err.message == msg and err.status_code == 400
    assert err.endpoint == "spot.list_open_orders"
    assert len(server.requests_to(OPEN_ORDERS)) == 1  # a refusal is not retried


def test_error_in_a_200_body(fast: HashKey, server: LoopbackServer) -> None:
    server.queue("GET", OPEN_ORDERS, Reply(200, {"code": "-1004", "msg": "Bad request"}))
    with pytest.raises(errors.InvalidRequestError, match="Bad request"):
        fast.spot.list_open_orders()


def test_read_is_retried_on_5xx(fast: HashKey, server: LoopbackServer) -> None:
    server.queue("GET", OPEN_ORDERS, Reply(503, b"busy"), Reply(500, {"code": -1001}))
    assert fast.spot.list_open_orders()
    assert len(server.requests_to(OPEN_ORDERS)) == 3


def test_read_gives_up_after_max_retries(fast: HashKey, server: LoopbackServer) -> None:
    server.queue("GET", OPEN_ORDERS, *[Reply(502, b"bad gateway")] * 3)
    with pytest.raises(errors.ServerError) as info:
        fast.spot.list_open_orders()
    assert info.value.status_code == 502
    assert len(server.requests_to(OPEN_ORDERS)) == 3


def test_order_is_not_resent_on_5xx(fast: HashKey, server: LoopbackServer) -> None:
    server.queue("POST", ORDER, Reply(500, {"code": -1001, "msg": "Internal error"}))
    with pytest.raises(errors.ExecutionStatusUnknownError) as info:
        _order(fast)
    sent = server.requests_to(ORDER)
    assert len(sent) == 1
    assert info.value.client_order_id == sent[0].params["newClientOrderId"]
    assert info.value.status_code == 500


def test_unknown_status_code_on_order(fast: HashKey, server: LoopbackServer) -> None:
    server.queue("POST", ORDER, Reply(400, {"code": "-1006", "msg": "Execution status unknown"}))
    with pytest.raises(errors.ExecutionStatusUnknownError, match="Execution status unknown"):
        _order(fast)
    assert len(server.requests_to(ORDER)) == 1


def test_order_timeout_after_sending_is_unknown(fast: HashKey, server: LoopbackServer) -> None:
    server.queue("POST", ORDER, Reply(200, {}, delay=0.5))
    with pytest.raises(errors.ExecutionStatusUnknownError) as info:
        fast.spot.create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="MARKET",
            amount=Decimal(10),
            new_client_order_id="my-id-1",
            timeout=0.1,
        )
    assert info.value.client_order_id == "my-id-1"
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(server.requests_to(ORDER)) == 1


def test_read_timeout_ends_the_call_at_its_deadline(fast: HashKey, server: LoopbackServer) -> None:
    server.queue("GET", OPEN_ORDERS, *[Reply(200, [], delay=0.3)] * 3)
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError):
        fast.spot.list_open_orders(timeout=0.05)  # the whole call's deadline: no time to retry
    assert time.monotonic() - started < 1.0  # bounded by the deadline, not three answers
    assert len(server.requests_to(OPEN_ORDERS)) == 1


def test_429_on_an_order_is_not_resent_on_hashkey(fast: HashKey, server: LoopbackServer) -> None:
    # HashKey: "cease sending requests"; resending after a 429 elsewhere: test_faults_rest.py
    server.queue(
        "POST",
        ORDER,
        Reply(429, {"code": "0003", "msg": "Rate limit exceeded"}, headers={"Retry-After": "0"}),
    )
    with pytest.raises(errors.RateLimitError):
        _order(fast)
    assert len(server.requests_to(ORDER)) == 1


def test_429_retry_after_is_honoured_and_reported(fast: HashKey, server: LoopbackServer) -> None:
    server.queue(
        "GET",
        OPEN_ORDERS,
        *[
            Reply(
                429, {"code": "0003", "msg": "Rate limit exceeded"}, headers={"Retry-After": "3600"}
            )
        ],
    )
    with pytest.raises(errors.RateLimitError) as info:
        fast.spot.list_open_orders()  # an hour is longer than the client will wait
    assert info.value.retry_after == 3600
    assert len(server.requests_to(OPEN_ORDERS)) == 1


def test_418_is_never_retried_and_says_until_when(fast: HashKey, server: LoopbackServer) -> None:
    server.queue(
        "GET",
        OPEN_ORDERS,
        Reply(418, {"code": -1003, "msg": "banned"}, headers={"Retry-After": "120"}),
    )
    before = datetime.now(UTC)
    with pytest.raises(errors.IPBannedError) as info:
        fast.spot.list_open_orders()
    assert info.value.until is not None
    assert 119 <= (info.value.until - before).total_seconds() <= 122
    assert len(server.requests_to(OPEN_ORDERS)) == 1


def test_connection_refused_is_retried_then_raised() -> None:
    with HashKey(
        api_key=API_KEY, api_secret=API_SECRET, base_url="http://127.0.0.1:9", time_sync=False
    ) as hk:
        hk._core.retry = RetryPolicy(max_retries=2, backoff_base=0.001)
        with pytest.raises(errors.APIConnectionError):
            hk.market.get_depth(symbol="BTCUSDT")
        # an order that could not connect was never sent: a connection error, not "unknown"
        with pytest.raises(errors.APIConnectionError):
            _order(hk)


def test_unparseable_success_raises_with_the_body(fast: HashKey, server: LoopbackServer) -> None:
    server.queue("GET", "/quote/v1/depth", Reply(200, {"t": 1, "b": "oops", "a": []}))
    with pytest.raises(errors.ResponseParseError) as info:
        fast.market.get_depth(symbol="BTCUSDT")
    assert info.value.body == b'{"t": 1, "b": "oops", "a": []}'
    server.queue("GET", "/quote/v1/depth", Reply(200, b"<html>"))
    with pytest.raises(errors.ResponseParseError, match="not JSON"):
        fast.market.get_depth(symbol="BTCUSDT")


# -- the server clock -----------------------------------------------------------------------


def _skewed_time(skew_ms: int) -> object:
    return lambda r: Reply(200, {"serverTime": int(time.time() * 1000) + skew_ms})


def test_timestamp_uses_the_server_clock(hk: HashKey, server: LoopbackServer) -> None:
    server.routes[("GET", "/api/v1/time")] = _skewed_time(-60_000)  # server a minute behind
    hk.spot.list_open_orders()
    sent = int(server.requests_to(OPEN_ORDERS)[-1].params["timestamp"])
    assert abs(sent - (time.time() * 1000 - 60_000)) < 2_000
    assert len(server.requests_to("/api/v1/time")) == 1
    hk.spot.list_open_orders()
    assert len(server.requests_to("/api/v1/time")) == 1  # measured once, not per call


def test_rejected_timestamp_resyncs_once_and_resends(hk: HashKey, server: LoopbackServer) -> None:
    hk._core.clock.offset_ms = 0
    hk._core.clock.synced_at = time.time()  # looks fresh, but the server's clock moved
    server.routes[("GET", "/api/v1/time")] = _skewed_time(30_000)
    server.queue(
        "POST",
        ORDER,
        Reply(
            400, {"code": "-1021", "msg": "Timestamp for this request is outside of the recvWindow"}
        ),
    )
    _order(hk)
    first, second = server.requests_to(ORDER)
    assert first.params["newClientOrderId"] == second.params["newClientOrderId"]
    assert int(second.params["timestamp"]) - int(first.params["timestamp"]) > 25_000
    assert len(server.requests_to("/api/v1/time")) == 1


def test_rejected_timestamp_twice_raises(hk: HashKey, server: LoopbackServer) -> None:
    reject = Reply(
        400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow"}
    )
    server.queue("GET", OPEN_ORDERS, reject, reject)
    with pytest.raises(errors.TimestampError):
        hk.spot.list_open_orders()
    assert len(server.requests_to(OPEN_ORDERS)) == 2


def test_clock_offset_from_round_trip_midpoint() -> None:
    from cambist._runtime.clock import ServerClock

    clock = ServerClock(now=lambda: 1000.0)
    clock.update(server_ms=1_000_500, sent_ms=1_000_000.0, received_ms=1_000_200.0)
    assert clock.offset_ms == 400  # 1_000_500 - midpoint 1_000_100
    assert clock.timestamp() == 1_000_400


@pytest.mark.anyio
async def test_async_shares_the_policy(server: LoopbackServer) -> None:
    async with AsyncHashKey(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url) as hk:
        hk._core.retry = RetryPolicy(backoff_base=0.001)
        server.queue("GET", OPEN_ORDERS, Reply(503, b""))
        assert await hk.spot.list_open_orders()
        server.queue("POST", ORDER, Reply(503, b""))
        with pytest.raises(errors.ExecutionStatusUnknownError):
            await hk.spot.create_order(symbol="X", side="BUY", type="MARKET", amount=1)
        assert len(server.requests_to(ORDER)) == 1
