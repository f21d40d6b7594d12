"""No API key, secret, signature or listen key in a repr, a log line or an exception."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from cambist import errors
from cambist._runtime.retry import RetryPolicy
from cambist._runtime.signing import Credentials
from cambist.hashkey import HashKey
from tests.conftest import API_KEY, API_SECRET
from tests.loopback import LoopbackServer, Reply


def _secrets(server: LoopbackServer) -> list[str]:
    signatures = [r.params["signature"] for r in server.received if "signature" in r.params]
    return [API_KEY, API_SECRET, *signatures]


def test_reprs_hide_credentials(hk: HashKey) -> None:
    for text in (repr(hk), str(hk), repr(hk._core.credentials), repr(Credentials("a", "b"))):
        assert API_KEY not in text and API_SECRET not in text
    assert "***" in repr(hk)


def test_logs_and_errors_hide_secrets(
    hk: HashKey, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    hk._core.retry = RetryPolicy(backoff_base=0.001)
    caplog.set_level(logging.DEBUG)
    server.queue(
        "GET",
        "/api/v1/spot/openOrders",
        Reply(503, b""),
        Reply(400, {"code": "0001", "msg": "Incorrect signature"}),
    )
    with pytest.raises(errors.AuthenticationError) as info:
        hk.spot.list_open_orders()
    server.queue("POST", "/api/v1.1/spot/order", Reply(500, b""))
    with pytest.raises(errors.ExecutionStatusUnknownError) as unknown:
        hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", amount=Decimal(1))
    key = hk.user_stream.create_listen_key().listen_key
    hk.user_stream.reset_listen_key(listen_key=key)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request" in logged  # httpx did log the requests...
    shown = [logged, str(info.value), repr(info.value), str(unknown.value), repr(unknown.value)]
    for secret in [*_secrets(server), key]:
        for text in shown:
            assert secret not in text  # ...with signatures and listen keys masked
    assert "signature=***" in logged and "listenKey=***" in logged
