"""Binance Options: every example answer parses exactly, and the spec's models name every field
the examples carry (a sample field the spec lacks would be dropped silently)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from cambist.binance_options import ENDPOINTS, BinanceOptions
from cambist.binance_options.models import (
    BlockTradeStatus,
    CodeMessage,
    DownloadLink,
    DownloadStatus,
    Kline,
    Liquidity,
    NewOrder,
    Order,
    OrderBook,
    OrderStatus,
    PriceLevel,
    RecentTrade,
    TradeSide,
    UserBlockTrade,
)
from codegen.spec import Spec, TypeRef, load_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "binance_options" / "examples"
SPEC: Spec = load_spec(ROOT / "specs" / "binance_options", ROOT)


def _example(method: str, path: str) -> bytes:
    return (EXAMPLES / f"{method}_{path.strip('/').replace('/', '_')}.json").read_bytes()


def _parse(name: str, body: bytes | None = None) -> Any:
    ep = next(e for e in ENDPOINTS if e.name == name)
    body = _example(ep.method, ep.path) if body is None else body
    with BinanceOptions(time_sync=False) as client:
        return client._core.parse(ep, body, client._core._decode(body))


def _leaves(value: Any) -> list[Any]:
    if attrs.has(type(value)):
        return [x for f in attrs.fields(type(value)) for x in _leaves(getattr(value, f.name))]
    if isinstance(value, list | tuple):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _unknown_fields(value: Any, t: TypeRef, where: str) -> list[str]:
    """Keys of ``value`` that the spec's model for ``t`` does not name (recursively)."""
    if t.item is not None:
        return [x for i, v in enumerate(value) for x in _unknown_fields(v, t.item, f"{where}[{i}]")]
    model = SPEC.models.get(t.name)
    if model is None:
        return []
    if model.row:
        assert isinstance(value, list) and len(value) <= len(model.fields), where
        return [
            x
            for f, v in zip(model.fields, value, strict=False)
            for x in _unknown_fields(v, f.type, f"{where}.{f.wire}")
        ]
    assert isinstance(value, dict), where
    fields = {f.wire: f for f in model.fields}
    out = [f"{where}.{k}" for k in value if k not in fields]
    for key, v in value.items():
        if key in fields and v is not None:
            out += _unknown_fields(v, fields[key].type, f"{where}.{key}")
    return out


WITH_RESPONSE = [ep for ep in SPEC.endpoints if ep.response is not None]


@pytest.mark.parametrize("ep", WITH_RESPONSE, ids=lambda e: e.name)
def test_every_example_parses_without_floats(ep: Any) -> None:
    result = _parse(ep.name)
    assert result is not None
    assert not any(isinstance(leaf, float) for leaf in _leaves(result))


@pytest.mark.parametrize("ep", WITH_RESPONSE, ids=lambda e: e.name)
def test_the_spec_names_every_field_of_the_example(ep: Any) -> None:
    sample = json.loads(_example(ep.http_method, ep.path))
    assert ep.response is not None
    assert _unknown_fields(sample, ep.response, ep.name) == []


@pytest.mark.parametrize("ep", [e for e in SPEC.endpoints if e.response is None], ids=str)
def test_empty_answers_are_empty_objects(ep: Any) -> None:
    assert json.loads(_example(ep.http_method, ep.path)) == {}
    assert _parse(ep.name) is None


def test_every_endpoint_has_an_example() -> None:
    names = {f"{e.http_method}_{e.path.strip('/').replace('/', '_')}.json" for e in SPEC.endpoints}
    assert names == {p.name for p in EXAMPLES.glob("*.json")}


def test_book_klines_and_trades_exact() -> None:
    book = _parse("market.get_order_book")
    assert isinstance(book, OrderBook) and book.time == 1762780909676 and book.last_update_id == 361
    assert book.bids[0] == PriceLevel(Decimal("1000.000"), Decimal("0.1000"))
    assert str(book.asks[0].price) == "1900.000"
    (kline,) = _parse("market.get_klines")
    assert isinstance(kline, Kline)
    assert kline.open_time == 1762779600000 and kline.close_time == 1762780499999
    assert kline.close == Decimal("1300.000") and kline.trade_count == 1
    assert kline.taker_buy_quote_volume == Decimal("130.0000000") and kline.ignore == "0"
    (trade,) = _parse("market.get_recent_trades")
    assert isinstance(trade, RecentTrade) and trade.side is TradeSide.SELL
    assert trade.quote_qty == Decimal("130") and trade.trade_id == 1
    (old,) = _parse("market.get_historical_trades")
    assert old.id == 1 and old.trade_id == 159244329455993  # ids sent as JSON strings


def test_orders_exact() -> None:
    ack = _parse("trade.create_order")
    assert isinstance(ack, NewOrder) and ack.order_id == 4611875134427365377
    assert ack.create_date == 1611825601400 and ack.status is None and ack.mmp is False
    cancelled = _parse("trade.cancel_order")
    assert isinstance(cancelled, Order)
    assert cancelled.create_date == 1592465880683 and cancelled.create_time is None
    assert cancelled.status is OrderStatus.ACCEPTED and cancelled.client_order_id == ""
    (open_order,) = _parse("trade.get_open_orders")
    assert open_order.status is OrderStatus.NEW and open_order.avg_price == Decimal("0")


def test_a_result_answer_to_new_order_parses() -> None:
    """The connector's RESULT-shaped sample (newOrderRespType=RESULT) fits NewOrder too."""
    body = json.dumps(
        {
            "orderId": 4611875134427365377,
            "symbol": "BTC-200730-9000-C",
            "price": "100",
            "quantity": "1",
            "executedQty": "0",
            "fee": 0,
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "reduceOnly": False,
            "postOnly": False,
            "createTime": 1592465880683,
            "updateTime": 1566818724722,
            "status": "NEW",
            "avgPrice": "0",
            "source": "API",
            "clientOrderId": "",
            "priceScale": 2,
            "quantityScale": 2,
            "optionSide": "CALL",
            "quoteAsset": "USDT",
            "mmp": False,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
    ).encode()
    order = _parse("trade.create_order", body)
    assert isinstance(order, NewOrder) and order.fee == Decimal(0)
    assert order.self_trade_prevention_mode is not None
    assert order.self_trade_prevention_mode.value == "EXPIRE_MAKER"


def test_acknowledgements_with_a_success_code() -> None:
    """{"code": "0" | 0 | 200, "msg": "success"} is an answer, not an error (success_codes)."""
    for name in (
        "trade.cancel_all_orders",
        "trade.cancel_all_orders_by_underlying",
        "trade.sign_tradfi_contract",
    ):
        answer = _parse(name)
        assert isinstance(answer, CodeMessage) and answer.msg == "success"
        assert answer.code in (0, 200)


def test_block_trades_read_json_numbers_exactly() -> None:
    (trade,) = _parse("block_trade.get_user_trades")
    assert isinstance(trade, UserBlockTrade) and trade.parent_order_id == 4675011431944499201
    (leg,) = trade.legs
    assert leg.order_price == Decimal("2.8") and leg.fee == Decimal("0.336")
    assert leg.order_status is OrderStatus.FILLED and leg.liquidity is Liquidity.TAKER
    created = _parse("block_trade.create_order")
    assert created.status is BlockTradeStatus.RECEIVED and created.create_time is None


def test_download_link_while_processing() -> None:
    link = _parse("account.get_transaction_history_download_link")
    assert isinstance(link, DownloadLink) and link.status is DownloadStatus.PROCESSING
    assert link.is_expired is None and link.expiration_timestamp == -1 and link.url == ""
