"""BingX, Bibox and Binance Options: the documents' signing examples, envelopes, error payloads
and HTTP rules, through the real clients and a loopback server."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from cambist import errors
from cambist._runtime.clock import ServerClock
from cambist._runtime.core import CallOptions
from cambist._runtime.endpoint import Endpoint
from cambist._runtime.retry import RetryPolicy
from cambist._runtime.signing import Credentials, total_params
from cambist.bibox import Bibox
from cambist.binance_options import BinanceOptions
from cambist.bingx import BingX
from tests.conftest import API_KEY, API_SECRET
from tests.exchanges import EXCHANGES, verify
from tests.loopback import LoopbackServer, Reply

# -- BingX ------------------------------------------------------------------------------------

BINGX_SECRET = "UuGuyEGt6ZEkpUObCYCmIfh0elYsZVh80jlYwpJuRZEw70t6vomMH7Sjmf94ztSI"
BINGX_PARAMS = "quoteOrderQty=20&side=BUY&symbol=ETHUSDT&timestamp=1649404670162&type=MARKET"


def test_bingx_signing_examples() -> None:
    creds = Credentials("k", BINGX_SECRET)
    expected = "428a3c383bde514baff0d10d3c20e5adfaacaf799e324546dafe5ccc480dd827"
    assert creds.sign(total_params(BINGX_PARAMS, b"")) == expected  # query string
    assert creds.sign(total_params("", BINGX_PARAMS.encode())) == expected  # request body
    mixed = total_params(
        "quoteOrderQty=20&side=BUY&symbol=ETHUSDT", b"timestamp=1649404670162&type=MARKET"
    )
    assert creds.sign(mixed) == "94e0b4925060a615e1e372d4c929015d4b59d3c89067dc0beeafcfb33a6d8d10"


def test_bingx_request_reproduces_the_query_example(server: LoopbackServer) -> None:
    server.route("GET", "/openApi/spot/v1/trade/order", {"code": 0, "msg": "", "data": {}})
    with BingX(api_key="k", api_secret=BINGX_SECRET, base_url=server.url) as bx:
        bx._core.clock = ServerClock(now=lambda: 1649404670.162)
        params = {"quoteOrderQty": 20, "side": "BUY", "symbol": "ETHUSDT"}
        bx.request(
            "GET",
            "/openApi/spot/v1/trade/order",
            params={**params, "type": "MARKET"},
            security="USER_DATA",
        )
    sent = server.requests_to("/openApi/spot/v1/trade/order")[-1]
    assert sent.query.startswith("quoteOrderQty=20&side=BUY&symbol=ETHUSDT&type=MARKET&timestamp=")
    assert verify(bx._core.exchange, sent, BINGX_SECRET)
    assert sent.headers["x-bx-apikey"] == "k"


@pytest.mark.parametrize("wrapped", [False, True])
def test_bingx_accepts_bare_and_wrapped_answers(server: LoopbackServer, wrapped: bool) -> None:
    bare = {
        "ipRestrict": False,
        "createTime": 1657872000000,
        "permitsUniversalTransfer": True,
        "enableReading": True,
        "enableFutures": False,
        "enableSpotAndMarginTrading": True,
    }
    body = {"code": 0, "msg": "", "data": bare} if wrapped else bare
    server.route("GET", "/openApi/v1/account/apiRestrictions", body)
    with BingX(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url) as bx:
        perms = bx.account.get_api_permissions()
    assert perms.create_time == 1657872000000 and perms.enable_reading is True


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (100001, errors.AuthenticationError),
        (100202, errors.InsufficientBalanceError),
        (100400, errors.InvalidRequestError),
        (100440, errors.InvalidRequestError),
        (100500, errors.ServerError),
        (100503, errors.ServerError),
    ],
)
def test_bingx_errors_in_http_200(server: LoopbackServer, code: int, cls: type) -> None:
    server.route(
        "GET", "/openApi/v1/account/apiRestrictions", {"code": code, "msg": "refused", "data": {}}
    )
    with BingX(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url) as bx:
        bx._core.retry = RetryPolicy(max_retries=0)
        with pytest.raises(cls) as info:
            bx.account.get_api_permissions()
    assert info.value.code == code and info.value.status_code == 200


def test_bingx_transfer_by_get_is_never_resent(server: LoopbackServer) -> None:
    """Universal transfer moves funds with a GET: the spec marks it unsafe."""
    server.queue("GET", "/openApi/api/v3/get/asset/transfer", Reply(502, b""))
    with BingX(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url) as bx:
        from cambist.bingx import ENDPOINTS

        ep = next(e for e in ENDPOINTS if e.name == "wallet.transfer")
        assert ep.method == "GET" and ep.safe is False
        with pytest.raises(errors.ExecutionStatusUnknownError):
            bx.wallet.transfer(type="FUND_SFUTURES", asset="USDT", amount=Decimal("1.5"))
    assert len(server.requests_to("/openApi/api/v3/get/asset/transfer")) == 1


# -- Bibox ------------------------------------------------------------------------------------


def test_bibox_signs_query_or_exact_body_in_headers(server: LoopbackServer) -> None:
    server.route("GET", "/api/v4/userdata/accounts", [])
    server.route("POST", "/api/v4/userdata/order", {"i": 14, "I": "1", "m": "BTC_USDT"})
    with Bibox(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url) as bb:
        bb.user.list_accounts(asset=["BTC"])
        with pytest.raises(errors.ResponseParseError):
            bb.user.create_order(
                symbol="BTC_USDT",
                side="sell",
                type="limit",
                quantity=Decimal("1E-8"),
                price=Decimal("1E+5"),
            )
    exchange = bb._core.exchange
    get, post = server.received
    assert get.query == "asset=BTC"
    assert verify(exchange, get, API_SECRET) and verify(exchange, post, API_SECRET)
    assert get.headers["bibox-api-key"] == API_KEY
    assert abs(int(get.headers["bibox-expire-time"]) - (time.time() * 1000 + 5000)) < 2000
    body = json.loads(post.body)
    assert body["quantity"] == "0.00000001" and body["price"] == "100000"
    assert body["client_order_id"].isdigit()  # Bibox wants an int64 as a string
    assert "signature" not in post.query


def test_bibox_numbers_stay_exact(server: LoopbackServer) -> None:
    server.route(
        "GET",
        "/api/v4/userdata/accounts",
        b'[{"s": "BTC", "a": -100.43850000, "h": 123456789012345678901234.567890}]',
    )
    with Bibox(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url) as bb:
        raw = bb.with_raw_response.user.list_accounts()
    (account,) = raw.parsed
    assert str(account.available) == "-100.43850000"  # the exact text, trailing zeros kept
    assert account.frozen == Decimal("123456789012345678901234.567890")


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (-2001, errors.AuthenticationError),
        (-3004, errors.OrderNotFoundError),
        (-2104, errors.TimestampError),
    ],
)
def test_bibox_error_payload(server: LoopbackServer, code: int, cls: type) -> None:
    server.route("GET", "/api/v4/userdata/accounts", {"error": code, "message": "no"}, status=400)
    bb = Bibox(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url)
    with bb, pytest.raises(cls) as info:
        bb.user.list_accounts()
    assert info.value.code == code and info.value.message == "no"


# -- Binance Options --------------------------------------------------------------------------

BN_SECRET = "YtP1BudNOWZE1ag5uzCkh4hIC7qSmQOu797r5EJBFGhxBYivjj8HIX0iiiPof5yG"
BN_PARAMS = "symbol=BTC-210129-40000-C&side=BUY&type=LIMIT&timeInForce=GTC"


def test_binance_signing_examples(server: LoopbackServer) -> None:
    creds = Credentials("k", BN_SECRET)
    # Examples 1 and 2 print the signature of quantity=0.01, not of the quantity=1 shown
    full = f"{BN_PARAMS}&quantity=0.01&price=2000&recvWindow=5000&timestamp=1611825601400"
    expected_1_2 = "7c12045972f6140e765e0f2b67d28099718df805732676494238f50be830a7d7"
    assert creds.sign(total_params(full, b"")) == expected_1_2
    with BinanceOptions(
        api_key="k", api_secret=BN_SECRET, base_url=server.url, recv_window=5000, time_sync=False
    ) as bn:
        bn._core.clock = ServerClock(now=lambda: 1611825601.400)
        core = bn._core
        ep: Endpoint[None] = Endpoint(
            name="x",
            method="POST",
            path="/eapi/v1/order",
            security="TRADE",
            weight=1,
            safe=False,
            params_in="form",
        )
        query = [tuple(p.split("=")) for p in BN_PARAMS.split("&")]
        request = core.build_request(
            ep,
            core.exchange.security["TRADE"],
            query,  # type: ignore[arg-type]
            [("quantity", "0.01"), ("price", "2000")],
            None,
            CallOptions(),
        ).to_httpx()
    assert request.content.endswith(  # Example 3, mixed, reproduces as printed
        b"&signature=fa6045c54fb02912b766442be1f66fab619217e551a4fb4f8a1ee000df914d8e"
    )
    assert request.headers["x-mbx-apikey"] == "k"


def _binance(server: LoopbackServer) -> BinanceOptions:
    client = BinanceOptions(
        api_key=API_KEY, api_secret=API_SECRET, base_url=server.url, time_sync=False
    )
    client._core.retry = RetryPolicy(backoff_base=0.001)
    return client


def _order(bn: BinanceOptions) -> object:
    return bn.trade.create_order(
        symbol="BTC-210129-40000-C",
        side="BUY",
        type="LIMIT",
        quantity=Decimal("0.01"),
        price=Decimal(2000),
        time_in_force="GTC",
    )


def test_binance_503_rules(server: LoopbackServer) -> None:
    order_path = "/eapi/v1/order"
    sample = EXCHANGES[3].sample(next(e for e in EXCHANGES[3].endpoints() if e.path == order_path))
    server.route("POST", order_path, sample)
    with _binance(server) as bn:
        # "Unknown error...": the order may exist: never resent
        server.queue(
            "POST",
            order_path,
            Reply(
                503,
                {
                    "code": -1000,
                    "msg": "Unknown error, please check your request or try again later.",
                },
            ),
        )
        with pytest.raises(errors.ExecutionStatusUnknownError) as info:
            _order(bn)
        assert info.value.client_order_id
        assert len(server.requests_to(order_path)) == 1
        # "Service Unavailable." and "Internal error; ...": failures, safe to send again
        server.queue(
            "POST",
            order_path,
            Reply(503, {"code": -1001, "msg": "Service Unavailable."}),
            Reply(
                503,
                {
                    "code": -1001,
                    "msg": "Internal error; unable to process your request. Please try again.",
                },
            ),
        )
        assert _order(bn) is not None
        sent = server.requests_to(order_path)[1:]
        assert len(sent) == 3
        assert len({r.params["clientOrderId"] for r in sent}) == 1


def test_binance_limits_headers_and_bans(server: LoopbackServer) -> None:
    headers = {"X-MBX-USED-WEIGHT-1M": "1200", "X-MBX-ORDER-COUNT-10S": "5", "Retry-After": "30"}
    server.queue(
        "GET",
        "/eapi/v1/exchangeInfo",
        Reply(429, {"code": -1003, "msg": "Too many requests"}, headers=headers),
    )
    with _binance(server) as bn:
        bn._core.retry = RetryPolicy(max_retries=0)
        bn._core.governor = None  # it would hold the budget for the Retry-After: not sent
        with pytest.raises(errors.RateLimitError) as info:
            bn.market.get_exchange_info()
        assert info.value.retry_after == 30
        assert info.value.rate_limits["x-mbx-used-weight-1m"] == "1200"
        assert info.value.rate_limits["x-mbx-order-count-10s"] == "5"
        server.queue("GET", "/eapi/v1/exchangeInfo", Reply(403, b"<html>WAF</html>"))
        with pytest.raises(errors.RateLimitError, match="WAF"):  # the WAF limit
            bn.market.get_exchange_info()
        server.queue(
            "GET",
            "/eapi/v1/exchangeInfo",
            Reply(418, {"code": -1003, "msg": "banned"}, headers={"Retry-After": "600"}),
        )
        with pytest.raises(errors.IPBannedError) as banned:
            bn.market.get_exchange_info()
        assert banned.value.until is not None
        with pytest.raises(errors.IPBannedError):  # remembered: nothing sent
            bn.market.get_exchange_info()
        assert len(server.requests_to("/eapi/v1/exchangeInfo")) == 3


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_bibox_post_and_delete_params_go_in_the_signed_json_body(mode: str) -> None:
    """Bibox signs and reads a POST / DELETE request's JSON body, never its query string:
    extra_params join the body (signed with it), and request() sends a JSON body with
    params_in="json"; the local exchange does not read an unsigned query string there."""
    from cambist.bibox import AsyncBibox
    from cambist.testing import BiboxExchange
    from tests.test_faults_rest import Driver

    order = {"symbol": "BTC_USDT", "side": "buy", "type": "limit", "price": "1000"}
    path = "/api/v4/userdata/order"
    with BiboxExchange(seed=1) as ex, Driver(mode, (Bibox, AsyncBibox), **ex.client_options()) as d:
        d(lambda c: c.user.create_order(**order, quantity="0.01", extra_params={"x": 1}))
        placed = [c for c in ex.calls if c.path == path and c.method == "POST"]
        assert placed[-1].query == "" and json.loads(placed[-1].body)["x"] == 1
        assert json.loads(placed[-1].body)["quantity"] == "0.01"
        body = {**order, "quantity": Decimal("0.02"), "post_only": False}
        raw = d(lambda c: c.request("POST", path, params=body, security="SIGNED", params_in="json"))
        assert raw["Q"] == Decimal("0.02") and raw["o"] is False
        sent = json.loads(ex.calls[-1].body)
        assert sent == {**order, "quantity": "0.02", "post_only": False}
        assert ex.calls[-1].headers["Content-Type"] == "application/json"
        with pytest.raises(errors.InvalidRequestError, match="No parameter given"):
            d(lambda c: c.request("POST", path, params=body, security="SIGNED"))  # query: unsigned
        deleted = d(
            lambda c: c.request(
                "DELETE", path, params={"id": str(raw["i"])}, security="SIGNED", params_in="json"
            )
        )
        assert deleted["S"] == "cancelled"
        assert len(ex.balances) and len(d(lambda c: c.user.list_orders(symbol="BTC_USDT"))) == 1


def test_bibox_client_order_ids_take_the_c_prefix(server: LoopbackServer) -> None:
    sample = EXCHANGES[2].sample(
        next(e for e in EXCHANGES[2].endpoints() if e.name == "user.cancel_order")
    )
    server.route("DELETE", "/api/v4/userdata/order", sample)
    server.route("GET", "/api/v4/userdata/order", sample)
    with Bibox(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url) as bb:
        bb.user.cancel_order(client_order_id="123")
        bb.user.cancel_order(order_id="14245272657638034")
        bb.user.get_order(client_order_id="123")
        with pytest.raises(errors.RequestValidationError, match="one of order_id / client"):
            bb.user.cancel_order()
        with pytest.raises(errors.RequestValidationError, match="only one of"):
            bb.user.cancel_order(order_id="1", client_order_id="2")
    first, second, third = server.received
    assert json.loads(first.body) == {"id": "c:123"}
    assert json.loads(second.body) == {"id": "14245272657638034"}
    assert third.query == "id=c%3A123"
    assert verify(bb._core.exchange, first, API_SECRET)


def test_document_samples_parse_exactly(routed_all: LoopbackServer) -> None:
    with Bibox(api_key=API_KEY, api_secret=API_SECRET, base_url=routed_all.url) as bb:
        ledger = bb.user.list_ledger()
    assert ledger[0].entry_id == 1125899906842648350  # above 2**53, exact
    assert str(ledger[0].amount) == "0.003" and str(ledger[0].balance) == "10.009"
    with BingX(api_key=API_KEY, api_secret=API_SECRET, base_url=routed_all.url) as bx:
        history = bx.wallet.list_transfers(type="FUND_SFUTURES")
    first = history.rows[0]
    assert first.transfer_id == 1067594500957016069
    assert str(first.amount) == "-100.00000000000000000000"  # the sign and every digit kept


@pytest.fixture
def routed_all(server: LoopbackServer) -> LoopbackServer:
    for case in EXCHANGES[1:]:
        for ep in case.endpoints():
            server.route(ep.method, ep.path, case.sample(ep))
    return server
