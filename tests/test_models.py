"""The models and converters read exactly what the exchange wrote: every document example,
field by field against its spec (Decimals with their digits and exponent, exact ints, enum
members, rows, absent optional fields None), through the general converters and the msgspec
fast path; unknown enum values are kept and extra fields ignored by both."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import orjson
import pytest

from cambist._runtime import convert
from cambist._runtime.core import CallOptions
from cambist._runtime.endpoint import Endpoint
from cambist.bibox import ENDPOINTS as BIBOX_ENDPOINTS
from cambist.bibox import Bibox
from cambist.bibox.models import Fee, Fill, Liquidity
from cambist.bibox.models import Order as BiboxOrder
from cambist.bibox.models import OrderSide as BiboxOrderSide
from cambist.errors import ResponseParseError
from cambist.hashkey import ENDPOINTS, HashKey
from cambist.hashkey.models import (
    DepositStatus,
    Kline,
    Order,
    OrderBook,
    OrderSide,
    OrderStatus,
    OrderType,
    PriceLevel,
    TimeInForce,
)
from codegen.spec import Spec, TypeRef, load_all
from tests.doc_examples import hashkey_examples
from tests.exchanges import EXCHANGES, Case

ROOT = Path(__file__).resolve().parent.parent
SPECS = {spec.id: spec for spec in load_all(ROOT / "specs", ROOT)}

ORDER = ("GET", "/api/v1/spot/order")


def _ep(name: str, endpoints: Any = ENDPOINTS) -> Endpoint[Any]:
    return next(e for e in endpoints if e.name == name)


def _general(ep: Endpoint[Any], body: bytes, client: Any = None) -> Any:
    """The general path: decode, unwrap, the generated ``structure_*`` converters."""
    with client or HashKey(time_sync=False) as c:
        return c._core.parse(ep, body, c._core._decode(body))


def _runtime(ep: Endpoint[Any], body: bytes, client: Any = None) -> Any:
    """What a call returns for this 200 answer: the msgspec fast path where it applies."""
    with client or HashKey(time_sync=False) as c:
        return c._core.handle(ep, httpx.Response(200, content=body), CallOptions())


def _fast(ep: Endpoint[Any], body: bytes, client: Any = None) -> Any:
    """The msgspec fast decoder alone (no fallback)."""
    assert ep.fast is not None
    parsed, code = ep.fast(body)
    assert code is None
    return parsed


PATHS = {"general": _general, "runtime": _runtime, "fast": _fast}


def _parse(name: str, payload: Any, path: str = "general") -> Any:
    return PATHS[path](_ep(name), orjson.dumps(payload, default=str))


def _exact(value: Any, text: str) -> None:
    """A Decimal written exactly as ``text`` (digits and exponent: 0.0 is not 0)."""
    assert type(value) is Decimal, value
    assert value.as_tuple() == Decimal(text).as_tuple(), (value, text)


# -- every document example, field by field against the spec --------------------------------


def _expect(spec: Spec, t: TypeRef, value: Any, wire: Any, where: str) -> int:
    """Check ``value`` (parsed) against ``wire`` (the example, decoded exactly) as the spec
    types it; returns how many values were compared."""
    if wire is None or (wire == "" and t.item is None and t.name != "string"):
        assert value is None, f"{where}: {value!r} for {wire!r}"
        return 1
    if t.item is not None:
        assert isinstance(wire, list), where
        assert isinstance(value, list) and len(value) == len(wire), where
        return sum(
            _expect(spec, t.item, v, w, f"{where}[{i}]")
            for i, (v, w) in enumerate(zip(value, wire, strict=True))
        )
    kind, problem = t.name, f"{where}: {value!r} for {wire!r}"
    if kind == "decimal":
        assert type(value) is Decimal and value.as_tuple() == Decimal(str(wire)).as_tuple(), problem
    elif kind in ("int", "long"):
        assert type(value) is int and value == int(wire), problem
    elif kind == "string":
        assert type(value) is str and value == str(wire), problem
    elif kind == "bool":
        assert type(value) is bool, problem
        assert value is (wire if isinstance(wire, bool) else wire.lower() == "true"), problem
    elif kind == "json":
        assert value == wire, problem
    elif kind in spec.enums:
        assert type(value).__name__ == kind and str(value.value) == str(wire), problem
    else:
        model = spec.models[kind]
        assert type(value).__name__ == kind, problem
        if model.bare and isinstance(wire, dict) and model.bare not in wire:
            wire = {model.bare: [wire]}  # one item sent bare (the spec's `bare`)
        count = 0
        for i, f in enumerate(model.fields):
            if model.row:
                present, item = i < len(wire), wire[i] if i < len(wire) else None
            else:
                present, item = f.wire in wire, wire.get(f.wire)
            assert present or f.optional, f"{where}.{f.wire}: required, not in the example"
            count += _expect(spec, f.type, getattr(value, f.py), item, f"{where}.{f.wire}")
        return count
    return 1


def _model_answers() -> list[tuple[Case, Endpoint[Any]]]:
    return [
        (case, ep)
        for case in EXCHANGES
        for ep in case.endpoints()
        if ep.response not in (None, "json")
    ]


@pytest.mark.parametrize("path", ["general", "runtime"])
@pytest.mark.parametrize(
    ("case", "ep"), _model_answers(), ids=[f"{c.id}:{e.name}" for c, e in _model_answers()]
)
def test_every_document_example_reads_exactly(case: Case, ep: Endpoint[Any], path: str) -> None:
    """Each field of each example as the spec types it: Decimals with the digits and exponent
    written, exact ints (ids above 2**53 too), strs, bools, enum members of the right enum,
    rows in order, absent optional fields None; the envelope (BingX) unwrapped."""
    spec, exchange, body = SPECS[case.id], case.exchange(), case.sample(ep)
    wire = json.loads(body, parse_float=Decimal)
    if exchange.envelope_data and isinstance(wire, dict) and exchange.envelope_code in wire:
        wire = wire[exchange.envelope_data]
    response = next(e for e in spec.endpoints if e.name == ep.name).response
    assert response is not None
    result = PATHS[path](ep, body, case.sync("http://127.0.0.1:9", time_sync=False))
    assert _expect(spec, response, result, wire, ep.name) >= 1


def test_order_example_exact() -> None:
    order = _parse("spot.get_order", hashkey_examples()[ORDER][0])
    assert type(order) is Order
    assert order.order_id == "2108873672953505280"
    assert order.account_id == "1649292498437183232"
    _exact(order.cumulative_quote_qty, "11292.24")
    _exact(order.avg_price, "112922.4")
    _exact(order.stop_price, "0.0")  # as written: not normalised to 0
    assert type(order.time) is int and order.time == 1766133332319
    assert type(order.update_time) is int and order.update_time == 1766133332383
    assert order.status is OrderStatus.FILLED and order.time_in_force is TimeInForce.IOC
    assert order.side is OrderSide.SELL and order.type is OrderType.MARKET
    assert order.is_working is True


def test_depth_and_klines_exact() -> None:
    book = _parse("market.get_depth", hashkey_examples()[("GET", "/quote/v1/depth")][0])
    assert type(book) is OrderBook and book.time == 1764059245287
    assert type(book.bids[0]) is PriceLevel
    assert book.bids[0] == PriceLevel(Decimal("87473.15"), Decimal("0.05805"))
    _exact(book.bids[0].quantity, "0.05805")
    klines = _parse("market.list_klines", hashkey_examples()[("GET", "/quote/v1/klines")][0])
    first = klines[0]
    assert type(first) is Kline and type(first.open_time) is int
    assert first.open_time == 1766718300000
    _exact(first.open, "89037.52")


def test_batch_result_and_int_enum() -> None:
    result = _parse(
        "spot.create_batch_orders",
        hashkey_examples()[("POST", "/api/v1.1/spot/batchOrders")][0],
    )
    assert [r.order.order_id for r in result.result] == [
        "1563289422480390912",
        "1563289422622997248",
    ]
    deposits = _parse(
        "wallet.list_deposits", hashkey_examples()[("GET", "/api/v1/account/depositOrders")][0]
    )
    assert [type(d.status) for d in deposits] == [DepositStatus] * len(deposits)
    assert [d.status.value for d in deposits] == [
        d["status"] for d in hashkey_examples()[("GET", "/api/v1/account/depositOrders")][0]
    ]


# -- what the exchange may change: both converters ------------------------------------------------


@pytest.mark.parametrize("path", ["general", "fast"])
def test_unknown_enum_value_is_kept(path: str) -> None:
    raw = dict(hashkey_examples()[ORDER][0])
    raw["status"] = "PENDING_SOMETHING_NEW"
    order = _parse("spot.get_order", raw, path)
    assert type(order.status) is OrderStatus  # an OrderStatus, not a str
    assert order.status.value == "PENDING_SOMETHING_NEW"
    assert str(order.status) == "PENDING_SOMETHING_NEW"
    assert order.status not in list(OrderStatus)  # not added to the listed members
    assert OrderStatus("PENDING_SOMETHING_NEW") is order.status
    assert order.side is OrderSide.SELL  # the others read as before


@pytest.mark.parametrize("path", ["general", "fast"])
def test_extra_fields_are_ignored(path: str) -> None:
    raw = dict(hashkey_examples()[ORDER][0])
    extra = {**raw, "aFieldAddedLater": {"nested": [1, 2]}, "anotherOne": "0.5"}
    order = _parse("spot.get_order", extra, path)
    assert order == _parse("spot.get_order", raw, path)
    assert not hasattr(order, "a_field_added_later") and not hasattr(order, "another_one")


@pytest.mark.parametrize("path", ["general", "fast"])
def test_absent_optional_fields_are_none(path: str) -> None:
    raw = dict(hashkey_examples()[ORDER][0])
    optional = {  # Order's optional fields, all in the example
        "feeCoin": "fee_coin",
        "feeAmount": "fee_amount",
        "sumFeeAmount": "sum_fee_amount",
        "ordCxlReason": "ord_cxl_reason",
        "stpMode": "stp_mode",
        "cummulativeQuoteQty": "cummulative_quote_qty",
    }
    assert set(optional) <= set(raw)
    full = _parse("spot.get_order", raw, path)
    assert all(getattr(full, py) is not None for py in optional.values())
    order = _parse("spot.get_order", {k: v for k, v in raw.items() if k not in optional}, path)
    assert order == attrs.evolve(full, **dict.fromkeys(optional.values()))


@pytest.mark.parametrize("path", ["general", "runtime"])
def test_absent_required_field_is_a_parse_error(path: str) -> None:
    raw = {k: v for k, v in hashkey_examples()[ORDER][0].items() if k != "orderId"}
    with pytest.raises(ResponseParseError, match="orderId") as info:
        _parse("spot.get_order", raw, path)
    assert info.value.body == orjson.dumps(raw, default=str)


@pytest.mark.parametrize("path", ["general", "runtime", "fast"])
def test_bibox_json_numbers_read_exactly(path: str) -> None:
    """Bibox sends decimals and ids as JSON numbers: read with the digits written (trailing
    zeros kept, never through a float) and ids above 2**53 as exact ints."""
    body = (ROOT / "specs/bibox/examples/GET_api_v4_userdata_order.json").read_bytes()
    order = PATHS[path](_ep("user.get_order", BIBOX_ENDPOINTS), body, Bibox(time_sync=False))
    assert type(order) is BiboxOrder
    assert type(order.order_id) is int and order.order_id == 4611688217450643477
    _exact(order.quantity, "-0.0100")
    _exact(order.price, "10043.8500")
    _exact(order.executed_value, "-100.43850000")
    assert order.create_time == 1643193746043 and order.fill_count == 2
    assert order.side is BiboxOrderSide.SELL and order.client_order_id == ""
    assert order.fills is not None and order.fees is not None
    first = order.fills[0]
    assert type(first) is Fill and first.fill_id == 13 and first.liquidity is Liquidity.MAKER
    _exact(first.price, "10043.85")
    _exact(first.quantity, "-0.009")
    assert first.fee == Fee(asset="USDT", amount=Decimal("0.09039465000"))
    _exact(first.fee.amount, "0.09039465000")
    _exact(order.fees[0].amount, "0.10043850000")


def test_json_numbers_stay_exact() -> None:
    """A decimal sent as a JSON number keeps its exact text; big ids stay exact ints."""
    body = (
        b'{"t": 1764059245287, "b": [[87473.150000000000000000001, 0.05805]],'
        b' "a": [[1e-7, 100000000000000000000000000001]]}'
    )
    ep = next(e for e in ENDPOINTS if e.name == "market.get_depth")
    with HashKey(time_sync=False) as client:
        book = client._core.parse(ep, body, client._core._decode(body))
    assert book.bids[0].price == Decimal("87473.150000000000000000001")
    assert str(book.bids[0].quantity) == "0.05805"
    assert book.asks[0].price == Decimal("1E-7")
    assert book.asks[0].quantity == 100000000000000000000000000001


def test_converter_helpers() -> None:
    assert convert.integer("18446744073709551617") == 2**64 + 1
    assert convert.string(2**63 + 5) == str(2**63 + 5)
    assert convert.opt_dec("") is None and convert.opt_dec(None) is None
    assert convert.dec(" 1") == Decimal("1")
    with pytest.raises(convert.NeedsExactNumbers):
        convert.dec(0.1)
    with pytest.raises(convert.WireTypeError):
        convert.dec({"x": 1})
    with pytest.raises(convert.WireTypeError):
        convert.boolean("maybe")


def test_raw_response(hk: HashKey) -> None:
    raw = hk.with_raw_response.market.get_depth(symbol="BTCUSDT", limit=5)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/json"
    assert raw.content.startswith(b"{")
    assert isinstance(raw.parsed, OrderBook)
    assert raw.rate_limits == {}
    assert hk.market.get_depth(symbol="BTCUSDT") == raw.parsed  # the plain call is unchanged


def test_models_are_frozen() -> None:
    order = _parse("spot.get_order", hashkey_examples()[("GET", "/api/v1/spot/order")][0])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        order.price = Decimal(1)  # type: ignore[misc]


def test_unknown_enum_values_kept_are_bounded() -> None:
    """An open enum remembers unknown values (one object each) up to a bound, so a stream of
    ever-new values cannot grow memory without end; past it, values still read."""
    from cambist._runtime.convert import _KEPT_MAX, OpenEnum

    class Kind(str, OpenEnum):
        A = "A"

    for i in range(_KEPT_MAX + 50):
        assert Kind(f"new-{i}").value == f"new-{i}"
    assert len(Kind._value2member_map_) == 1 + _KEPT_MAX
    assert Kind("new-1") is Kind("new-1")  # remembered
    assert Kind(f"new-{_KEPT_MAX + 10}").value == f"new-{_KEPT_MAX + 10}"  # past the bound
    assert list(Kind) == [Kind.A]
