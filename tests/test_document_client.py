"""Any client can trade against a local exchange, the way moto serves every AWS SDK.

The small clients here follow only the exchanges' documents (plain httpx and each
document's HMAC signing rule; nothing from cambist but the local exchange): they load the
markets and use their rules, read a book and the balances, place, list and cancel an
order, trade and list the trades, and see a broken rule refused with the document's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from cambist.testing import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    BiboxExchange,
    BinanceOptionsExchange,
    HashKeyExchange,
)

D = Decimal


def _sign(text: str) -> str:
    return hmac.new(DEFAULT_API_SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


def _json(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)  # exact, ids as ints


def _on_step(value: Decimal, step: Decimal, up: bool) -> Decimal:
    units = (value / step).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR)
    return units * step


# -- HashKey: "Authentication" — HMAC-SHA256 of totalParams (query string + body), sent as
# the `signature` param; the key in X-HK-APIKEY; every signed call sends `timestamp`.


class HashKeyByTheDocument:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"X-HK-APIKEY": DEFAULT_API_KEY})

    def public(self, path: str, **params: Any) -> Any:
        return _json(self.http.get(path, params=params))

    def signed(self, method: str, path: str, **params: Any) -> httpx.Response:
        params["timestamp"] = int(time.time() * 1000)
        query = urlencode({k: str(v) for k, v in params.items()})
        return self.http.request(method, f"{path}?{query}&signature={_sign(query)}")


@pytest.fixture
def hashkey() -> Iterator[tuple[HashKeyExchange, HashKeyByTheDocument]]:
    with HashKeyExchange() as ex:
        client = HashKeyByTheDocument(ex.url)
        yield ex, client
        client.http.close()


def test_a_client_written_from_the_hashkey_document_trades_on_the_local_exchange(
    hashkey: tuple[HashKeyExchange, HashKeyByTheDocument],
) -> None:
    ex, hk = hashkey
    # Get Exchange Information: the table's wrapper, every simulated symbol with its filters.
    info = hk.public("/api/v1/exchangeInfo")
    assert {"timezone", "serverTime", "symbols", "coins"} <= set(info)
    symbols = {s["symbol"]: s for s in info["symbols"]}
    assert set(symbols) == set(ex.symbols)
    assert {c["coinId"] for c in info["coins"]} >= {"BTC", "ETH", "USDT"}
    btc = symbols["BTCUSDT"]
    assert (btc["baseAsset"], btc["quoteAsset"], btc["status"]) == ("BTC", "USDT", "TRADING")
    filters = {f["filterType"]: f for f in btc["filters"]}
    tick = D(filters["PRICE_FILTER"]["tickSize"])
    step = D(filters["LOT_SIZE"]["stepSize"])
    min_amount = D(filters["TRADE_AMOUNT"]["minAmount"])
    assert (tick, step, min_amount) == (D("0.01"), D("0.0001"), D("1"))
    one = hk.public("/api/v1/exchangeInfo", symbol="ETHUSDT")
    assert [s["symbol"] for s in one["symbols"]] == ["ETHUSDT"]
    coin = hk.public("/api/v1/coinInfo", coinId="BTC")
    assert [c["coinId"] for c in coin["coins"]] == ["BTC"]

    # Get Order book, and the account's balances.
    book = hk.public("/quote/v1/depth", symbol="BTCUSDT", limit=5)
    best_bid, best_ask = D(book["b"][0][0]), D(book["a"][0][0])
    assert best_bid < best_ask and len(book["b"]) == 5
    balances = _json(hk.signed("GET", "/api/v1/account"))["balances"]
    usdt = {b["asset"]: b for b in balances}["USDT"]
    assert D(usdt["free"]) == D("100000")

    # A resting buy made valid with the rules just loaded: on the tick, on the step, worth
    # at least minAmount.
    price = _on_step(best_bid * D("0.9"), tick, up=False)
    quantity = _on_step(min_amount / price * 3, step, up=True)
    placed = hk.signed(
        "POST", "/api/v1.1/spot/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
        quantity=quantity, price=price,
    )  # fmt: skip
    assert placed.status_code == 200, placed.text
    order_id = _json(placed)["orderId"]
    open_orders = _json(hk.signed("GET", "/api/v1/spot/openOrders", symbol="BTCUSDT"))
    assert [o["orderId"] for o in open_orders] == [order_id]
    cancelled = _json(hk.signed("DELETE", "/api/v1/spot/order", orderId=order_id))
    assert cancelled["status"] == "CANCELED"
    assert _json(hk.signed("GET", "/api/v1/spot/openOrders", symbol="BTCUSDT")) == []

    # A marketable buy trades; the account's trade list shows it.
    size = _on_step(min(D(book["a"][0][1]) / 2, D("0.5")), step, up=False)
    taken = hk.signed(
        "POST", "/api/v1.1/spot/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
        quantity=size, price=best_ask, timeInForce="IOC",
    )  # fmt: skip
    assert _json(taken)["status"] == "FILLED", taken.text
    trades = _json(hk.signed("GET", "/api/v1/account/trades", symbol="BTCUSDT"))
    assert [(D(t["price"]), D(t["qty"]), t["isBuyer"]) for t in trades] == [(best_ask, size, True)]

    # Off the tick: refused with the document's code, nothing placed.
    refused = hk.signed(
        "POST", "/api/v1.1/spot/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
        quantity=quantity, price=price + tick / 10,
    )  # fmt: skip
    assert refused.status_code == 400
    assert _json(refused) == {"code": "0209", "msg": "Invalid price precision"}


# -- Bibox: "Authentication" — HMAC-SHA256 of the query string (GET) or of the body (POST,
# DELETE) in Bibox-Api-Sign, the key in Bibox-Api-Key, Content-Type: application/json.


class BiboxByTheDocument:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url + "/api")

    def public(self, path: str, **params: Any) -> Any:
        return _json(self.http.get(path, params=params))

    def signed(self, method: str, path: str, **params: Any) -> httpx.Response:
        headers = {"Content-Type": "application/json", "Bibox-Api-Key": DEFAULT_API_KEY}
        if method == "GET":
            query = urlencode({k: str(v) for k, v in params.items()})
            headers["Bibox-Api-Sign"] = _sign(query)
            return self.http.get(f"{path}?{query}" if query else path, headers=headers)
        body = json.dumps({k: str(v) for k, v in params.items()})
        headers["Bibox-Api-Sign"] = _sign(body)
        return self.http.request(method, path, content=body.encode(), headers=headers)


def test_a_client_written_from_the_bibox_document_trades_on_the_local_exchange() -> None:
    with BiboxExchange() as ex:
        bx = BiboxByTheDocument(ex.url)
        pairs = {p["symbol"]: p for p in bx.public("/v4/marketdata/pairs")}
        assert set(pairs) == set(ex.symbols)
        pair = pairs["BTC_USDT"]
        tick, step = D(pair["price_increment"]), D(pair["quantity_increment"])
        min_value = D(pair["min_order_value"])
        assert (tick, step, min_value, pair["status"]) == (D("0.01"), D("0.0001"), D(1), "tradable")

        book = bx.public("/v4/marketdata/order_book", symbol="BTC_USDT", level=5)
        best_bid, best_ask = D(book["b"][0][0]), D(book["a"][0][0])
        accounts = {a["s"]: a for a in _json(bx.signed("GET", "/v4/userdata/accounts"))}
        assert D(accounts["USDT"]["a"]) == D("100000")

        price = _on_step(best_bid * D("0.9"), tick, up=False)
        quantity = _on_step(min_value / price * 3, step, up=True)
        placed = bx.signed(
            "POST", "/v4/userdata/order", symbol="BTC_USDT", side="buy", type="limit",
            quantity=quantity, price=price,
        )  # fmt: skip
        assert placed.status_code == 200, placed.text
        order_id = _json(placed)["i"]
        assert order_id > 2**53  # an exact int, as the document warns
        listed = _json(bx.signed("GET", "/v4/userdata/orders", symbol="BTC_USDT"))
        assert [o["i"] for o in listed] == [order_id]
        cancelled = bx.signed("DELETE", "/v4/userdata/order", id=order_id)
        assert cancelled.status_code == 200, cancelled.text

        size = _on_step(min(D(book["a"][0][1]) / 2, D("0.5")), step, up=False)
        taken = bx.signed(
            "POST", "/v4/userdata/order", symbol="BTC_USDT", side="buy", type="limit",
            quantity=size, price=best_ask,
        )  # fmt: skip
        assert taken.status_code == 200, taken.text
        fills = _json(bx.signed("GET", "/v4/userdata/fills", symbol="BTC_USDT"))
        assert [(D(f["p"]), D(f["q"])) for f in fills] == [(best_ask, size)]

        refused = bx.signed(
            "POST", "/v4/userdata/order", symbol="BTC_USDT", side="buy", type="limit",
            quantity=step / 10, price=price,
        )  # fmt: skip
        assert refused.status_code == 400
        assert _json(refused)["error"] == -2004
        bx.http.close()


def test_hashkey_account_endpoints_answer_from_the_simulated_accounts(
    hashkey: tuple[HashKeyExchange, HashKeyByTheDocument],
) -> None:
    ex, hk = hashkey
    types = _json(hk.signed("GET", "/api/v1/account/type"))
    assert [a["accountId"] for a in types] == [ex.ACCOUNT_ID, ex.SUB_ACCOUNT_ID]
    assert _json(hk.signed("GET", "/api/v1/account/checkApiKey")) == {
        "accountType": "Master Account"
    }
    vip = _json(hk.signed("GET", "/api/v1/account/vipInfo"))
    assert [r["symbol"] for r in vip["data"]] == list(ex.symbols)


# -- Binance Options: "SIGNED Endpoint security" — HMAC-SHA256 of totalParams (query string
# followed by the request body) as `signature`; the key in X-MBX-APIKEY.


class BinanceByTheDocument:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"X-MBX-APIKEY": DEFAULT_API_KEY})

    def public(self, path: str, **params: Any) -> Any:
        return _json(self.http.get(path, params=params))

    def signed(
        self, method: str, path: str, *, form: bool = False, **params: Any
    ) -> httpx.Response:
        params["timestamp"] = int(time.time() * 1000)
        text = urlencode({k: str(v) for k, v in params.items()})
        if form:  # the body is signed: totalParams = "" + body
            body = f"{text}&signature={_sign(text)}".encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            return self.http.request(method, path, content=body, headers=headers)
        return self.http.request(method, f"{path}?{text}&signature={_sign(text)}")


def test_a_client_written_from_the_binance_document_trades_on_the_local_exchange() -> None:
    with BinanceOptionsExchange() as ex:
        bn = BinanceByTheDocument(ex.url)
        info = bn.public("/eapi/v1/exchangeInfo")
        symbols = {s["symbol"]: s for s in info["optionSymbols"]}
        assert set(symbols) == set(ex.symbols)
        assert [c["underlying"] for c in info["optionContracts"]] == ["BTCUSDT"]
        call = symbols["BTC-220815-50000-C"]
        filters = {f["filterType"]: f for f in call["filters"]}
        tick, step = D(filters["PRICE_FILTER"]["tickSize"]), D(filters["LOT_SIZE"]["stepSize"])
        assert (call["side"], call["strikePrice"], call["status"]) == ("CALL", "50000", "TRADING")

        book = bn.public("/eapi/v1/depth", symbol="BTC-220815-50000-C", limit=10)
        best_bid, best_ask = D(book["bids"][0][0]), D(book["asks"][0][0])
        account = _json(bn.signed("GET", "/eapi/v1/account"))
        assert D(account["asset"][0]["available"]) == D("100000")

        price = _on_step(best_bid * D("0.9"), tick, up=False)
        placed = bn.signed(
            "POST", "/eapi/v1/order", form=True, symbol="BTC-220815-50000-C", side="BUY",
            type="LIMIT", quantity=D("1.5"), price=price, timeInForce="GTC",
        )  # fmt: skip
        assert placed.status_code == 200, placed.text
        order_id = _json(placed)["orderId"]
        listed = _json(bn.signed("GET", "/eapi/v1/openOrders", symbol="BTC-220815-50000-C"))
        assert [o["orderId"] for o in listed] == [order_id]
        held = _json(bn.signed("GET", "/eapi/v1/account"))["asset"][0]
        assert D(held["locked"]) == price * D("1.5")
        gone = bn.signed("DELETE", "/eapi/v1/order", symbol="BTC-220815-50000-C", orderId=order_id)
        assert gone.status_code == 200, gone.text

        taken = bn.signed(
            "POST", "/eapi/v1/order", form=True, symbol="BTC-220815-50000-C", side="BUY",
            type="LIMIT", quantity=step, price=best_ask, timeInForce="IOC",
        )  # fmt: skip
        assert taken.status_code == 200, taken.text
        trades = _json(bn.signed("GET", "/eapi/v1/userTrades", symbol="BTC-220815-50000-C"))
        assert [(D(t["price"]), D(t["quantity"])) for t in trades] == [(best_ask, step)]

        refused = bn.signed(
            "POST", "/eapi/v1/order", form=True, symbol="BTC-220815-50000-C", side="BUY",
            type="LIMIT", quantity=step / 10, price=price, timeInForce="GTC",
        )  # fmt: skip
        assert _json(refused) == {"code": -4030, "msg": "Step size precision is invalid."}
        bn.http.close()
