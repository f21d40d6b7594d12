"""The document's worked signing examples reproduce, through the real client and server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cambist._runtime.clock import ServerClock
from cambist._runtime.core import CallOptions
from cambist._runtime.endpoint import Endpoint
from cambist._runtime.signing import Credentials, total_params
from cambist.hashkey import HashKey
from tests.loopback import LoopbackServer

# hashkey.txt, "Signature Authentication" (the curl samples' key, the openssl command's secret)
DOC_KEY = "tAQfOrPIZAhym0qHISRt8EFvxPemdBm5j5WMlkm3Ke9aFp0EGWC2CGM8GHV4kCYW"
DOC_SECRET = "lH3ELTNiFxCQTmi9pPcWWikhsjO04Yoqw3euoHUuOLC3GYBW64ZqzQsiOEHXQS76"
DOC_TIMESTAMP_S = 1538323200.0
ALL_PARAMS = "symbol=ETHBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
SIG_1_2 = "5f2750ad7589d1d40757a55342e621a44037dad23b5128cc70e18ec1d1c3f4c6"
SIG_3 = "885c9e3dd89ccd13408b25e6d54c2330703759d7494bea6dd5a3d1fd16ba3afa"
PARAMS = dict(p.split("=") for p in ALL_PARAMS.split("&"))


@pytest.fixture
def doc_client(server: LoopbackServer) -> Iterator[HashKey]:
    """A client with the document's credentials, clock fixed at the example's timestamp."""
    server.route("POST", "/api/v1/spot/order", {})
    with HashKey(
        api_key=DOC_KEY,
        api_secret=DOC_SECRET,
        base_url=server.url,
        recv_window=5000,
        time_sync=False,
    ) as client:
        client._core.clock = ServerClock(now=lambda: DOC_TIMESTAMP_S)
        yield client


def test_signature_over_strings() -> None:
    creds = Credentials(DOC_KEY, DOC_SECRET)
    signed = f"{ALL_PARAMS}&recvWindow=5000&timestamp=1538323200000"
    assert creds.sign(total_params(signed, b"")) == SIG_1_2
    assert creds.sign(total_params("", signed.encode())) == SIG_1_2
    mixed = total_params(
        "symbol=ETHBTC&side=BUY&type=LIMIT&timeInForce=GTC",
        b"quantity=1&price=0.1&recvWindow=5000&timestamp=1538323200000",
    )
    assert creds.sign(mixed) == SIG_3


def test_example_1_query_string(doc_client: HashKey, server: LoopbackServer) -> None:
    doc_client.request("POST", "/api/v1/spot/order", params=PARAMS, security="TRADE")
    sent = server.requests_to("/api/v1/spot/order")[-1]
    assert sent.query == f"{ALL_PARAMS}&recvWindow=5000&timestamp=1538323200000&signature={SIG_1_2}"
    assert sent.body == b""
    assert sent.headers["x-hk-apikey"] == DOC_KEY


def test_example_2_request_body(doc_client: HashKey, server: LoopbackServer) -> None:
    doc_client.request(
        "POST", "/api/v1/spot/order", params=PARAMS, security="TRADE", params_in="form"
    )
    sent = server.requests_to("/api/v1/spot/order")[-1]
    assert sent.query == ""
    assert sent.body.decode() == (
        f"{ALL_PARAMS}&recvWindow=5000&timestamp=1538323200000&signature={SIG_1_2}"
    )
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"


def test_example_3_mixed_query_and_body(doc_client: HashKey, server: LoopbackServer) -> None:
    """totalParams = query string immediately followed by the body, no '&' between."""
    core = doc_client._core
    ep: Endpoint[None] = Endpoint(
        name="example",
        method="POST",
        path="/api/v1/spot/order",
        security="TRADE",
        weight=1,
        safe=False,
        params_in="form",
    )
    query = [(k, PARAMS[k]) for k in ("symbol", "side", "type", "timeInForce")]
    body = [(k, PARAMS[k]) for k in ("quantity", "price")]
    request = core.build_request(
        ep, core.exchange.security["TRADE"], query, body, None, CallOptions()
    ).to_httpx()
    assert request.url.query.decode() == "symbol=ETHBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    assert request.content == (
        b"quantity=1&price=0.1&recvWindow=5000&timestamp=1538323200000&signature=" + SIG_3.encode()
    )


def test_batch_orders_sign_query_then_json_body(hk: HashKey, server: LoopbackServer) -> None:
    """The recorded decision (spec: auth.json_body_signed): the JSON body is covered."""
    from cambist.hashkey.models import BatchOrderRequest

    hk.spot.create_batch_orders(
        orders=[BatchOrderRequest(symbol="BTCUSD", side="SELL", type="MARKET", quantity=1)]
    )
    sent = server.requests_to("/api/v1.1/spot/batchOrders")[-1]
    query, _, signature = sent.query.rpartition("&signature=")
    assert query.startswith("timestamp=")
    expected = Credentials("k", "test-api-secret-abcdefghijklmnop").sign(query.encode() + sent.body)
    assert signature == expected
