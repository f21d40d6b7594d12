"""Decoding REST answers (issue 12 goal 3): bytes -> typed models with exact Decimals, against
the limit measured side by side: msgspec decoding the same bytes into structs with ``Decimal``
fields (the baseline structs are derived from the same spec models: same fields, wire names,
decimals as ``Decimal``, enums as the SDK's own enum members (as cambist produces them; an
optional enum stays raw, as cambist's wire struct reads it), nested models as structs, rows as
array-like structs). orjson (plain dicts, floats) is shown for context.

Each payload goes through the client's core exactly as an HTTP answer does
(``Core.handle``: the fast path, the error-field check, the fallback), not the decoder alone.
"""

from __future__ import annotations

import functools
import importlib
import json
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import orjson
from _common import goal, report, rounds

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # codegen's spec reader: the baselines' field lists

LIMIT = 1.3
"""Goal 3: at most this many times msgspec + Decimal."""


# -- msgspec + Decimal baselines, derived from the specs ------------------------------------


@functools.cache
def _spec(exchange: str) -> Any:
    from codegen.spec import load_spec

    return load_spec(ROOT / "specs" / exchange, ROOT)


def baseline_type(exchange: str, type_text: str) -> Any:
    """The msgspec type decoding ``type_text`` (``Order``, ``list[Kline]``) of an exchange's
    spec into structs with Decimal fields."""
    from codegen.parsed import TypeRef, parse_type

    spec = _spec(exchange)
    structs: dict[str, Any] = {}
    primitive = {"string": str, "int": int, "long": int, "decimal": Decimal, "bool": bool}

    def build(t: TypeRef) -> Any:
        if t.item is not None:
            return list[build(t.item)]  # type: ignore[misc]
        if t.name in primitive:
            return primitive[t.name]
        if t.name == "json":
            return Any
        if t.name in spec.enums:  # the SDK's own (open) enum: members, as cambist gives
            return getattr(importlib.import_module(f"cambist.{exchange}.models"), t.name)
        if t.name not in structs:
            model = spec.models[t.name]
            fields: list[Any] = []
            for f in model.fields:
                ft = build(f.type)
                if f.optional and f.type.item is None and f.type.name in spec.enums:
                    ft = int if spec.enums[f.type.name].is_int else str  # "" means None
                if f.optional and not model.row:
                    fields.append(
                        (f"f_{f.py}", ft | None, msgspec.field(name=f.wire, default=None))
                    )
                else:
                    fields.append((f"f_{f.py}", ft, msgspec.field(name=f.wire)))
            required = [f for f in fields if len(f) == 3 and f[2].default is msgspec.NODEFAULT]
            optional = [f for f in fields if f not in required]
            structs[t.name] = msgspec.defstruct(
                f"Baseline{t.name}", required + optional, array_like=model.row, kw_only=True
            )
        return structs[t.name]

    return build(parse_type(type_text, None))  # type: ignore[arg-type]


def baseline_decoder(exchange: str, type_text: str) -> Callable[[bytes], Any]:
    return msgspec.json.Decoder(baseline_type(exchange, type_text), strict=False).decode


# -- payloads -------------------------------------------------------------------------------


def orders_body(count: int) -> bytes:
    from server import ORDER

    rng = random.Random(7)
    template = json.loads(ORDER)
    orders = []
    for i in range(count):
        order = dict(template)
        order["orderId"] = str(2108873672953505280 + i)
        order["price"] = f"{rng.randint(80000, 90000)}.{rng.randint(0, 99):02d}"
        order["origQty"] = f"0.{rng.randint(1, 99999):05d}"
        order["executedQty"] = rng.choice(["0", order["origQty"]])
        order["status"] = rng.choice(["NEW", "PARTIALLY_FILLED", "FILLED"])
        order["time"] = str(1766133332319 + i)
        orders.append(order)
    return orjson.dumps(orders)


def klines_body(count: int) -> bytes:
    rng = random.Random(8)
    rows = []
    for i in range(count):
        o = rng.randint(80000, 90000)
        rows.append(
            [
                1766718300000 + i * 60000,
                f"{o}.52",
                f"{o + 5}.1",
                f"{o - 5}.3",
                f"{o}.9",
                f"{rng.random():.5f}",
                1766718359999 + i * 60000,
                f"{rng.random() * 1e4:.7f}",
                rng.randint(1, 500),
                f"{rng.random():.5f}",
                f"{rng.random() * 1e3:.7f}",
            ]
        )
    return orjson.dumps(rows)


def depth_body(levels: int) -> bytes:
    rng = random.Random(9)
    bids = [[f"{87473 - i}.{rng.randint(0, 99):02d}", f"{rng.random():.5f}"] for i in range(levels)]
    asks = [[f"{87474 + i}.{rng.randint(0, 99):02d}", f"{rng.random():.5f}"] for i in range(levels)]
    return orjson.dumps({"t": 1764059245287, "b": bids, "a": asks})


def exchange_info_body(symbols: int) -> bytes:
    """HashKey exchange information: the document's symbol (its sample) repeated under the
    table's wrapper, with the wrapper's untyped (``json``) lists filled."""
    from tests.doc_examples import hashkey_examples

    symbol = hashkey_examples()[("GET", "/api/v1/exchangeInfo")][0]
    out = []
    for i in range(symbols):
        item = dict(symbol)
        item["symbol"] = item["symbolName"] = f"C{i}USDT"
        out.append(item)
    broker = [{"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "100000"}]
    return orjson.dumps(
        {
            "timezone": "UTC",
            "serverTime": "1764059245287",
            "brokerFilters": broker * 3,
            "symbols": out,
            "options": [{"symbol": f"O{i}", "strike": "100"} for i in range(20)],
            "contracts": [{"symbol": f"K{i}", "tick": "0.1"} for i in range(20)],
            "coins": [],
        },
        default=str,
    )


def binance_orders_body(count: int) -> bytes:
    """Binance Options open orders: the document's example order, varied."""
    path = ROOT / "specs" / "binance_options" / "examples" / "GET_eapi_v1_openOrders.json"
    template = json.loads(path.read_bytes())[0]
    rng = random.Random(10)
    orders = []
    for i in range(count):
        order = dict(template)
        order["orderId"] = 4611875134427365377 + i
        order["price"] = f"{rng.randint(100, 999)}.{rng.randint(0, 9)}"
        order["quantity"] = f"{rng.randint(1, 99)}.00"
        orders.append(order)
    return orjson.dumps(orders)


# -- the benchmark --------------------------------------------------------------------------


def _cases() -> list[tuple[str, Any, str, bytes, str]]:
    """(title, client class, endpoint, body, the baseline's type)."""
    from cambist.binance_options import BinanceOptions
    from cambist.hashkey import HashKey

    return [
        ("1000 orders (HashKey)", HashKey, "spot.list_open_orders", orders_body(1000), "Order"),
        ("1000 klines (array rows)", HashKey, "market.list_klines", klines_body(1000), "Kline"),
        ("200-level depth", HashKey, "market.get_depth", depth_body(200), "OrderBook"),
        (
            "exchange information (200 symbols)",
            HashKey,
            "market.get_exchange_info",
            exchange_info_body(200),
            "ExchangeInfo",
        ),
        (
            "1000 Binance Options orders",
            BinanceOptions,
            "trade.get_open_orders",
            binance_orders_body(1000),
            "Order",
        ),
    ]


def bench_decode(n: int) -> None:
    import httpx

    from cambist._runtime.core import CallOptions

    options = CallOptions()
    for title, cls, name, body, model in _cases():
        client = cls(time_sync=False)
        core = client._core
        exchange = {"HashKey": "hashkey", "BinanceOptions": "binance_options"}[cls.__name__]
        endpoints = importlib.import_module(f"cambist.{exchange}").ENDPOINTS
        ep = next(e for e in endpoints if e.name == name)
        is_list = body[:1] == b"["
        baseline = baseline_decoder(exchange, f"list[{model}]" if is_list else model)
        response = httpx.Response(200, content=body)  # what a call hands the client's core
        parsed = core.handle(ep, response, options)
        assert ep.fast is not None and parsed == ep.fast(body)[0], f"{title}: not the fast path"

        def ours(ep: Any = ep, response: httpx.Response = response, core: Any = core) -> float:
            start = time.perf_counter()
            core.handle(ep, response, options)
            return time.perf_counter() - start

        def limit(body: bytes = body, decode: Callable[[bytes], Any] = baseline) -> float:
            start = time.perf_counter()
            decode(body)
            return time.perf_counter() - start

        def plain(body: bytes = body) -> float:
            start = time.perf_counter()
            orjson.loads(body)
            return time.perf_counter() - start

        medians = rounds(
            {
                "msgspec + Decimal (structs)": limit,
                "orjson.loads (dicts, floats)": plain,
                "cambist: bytes -> typed models": ours,
            },
            n,
        )
        report(f"Decode {title} ({len(body):,} bytes)", medians, "msgspec + Decimal (structs)")
        ratio = medians["cambist: bytes -> typed models"] / medians["msgspec + Decimal (structs)"]
        goal(f"decode {title} / msgspec+Decimal", ratio, LIMIT)
        client.close()
