"""``exchange.markets`` (see ``specs/README.md``: Markets): check the mapping from the market
endpoint's answer to ``cambist.markets.Market`` against the spec's models and params, and
render it as ``cambist.<exchange>._markets.MARKETS`` (Python attribute names, resolved here,
so the runtime reads the parsed models without knowing any exchange).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cambist._runtime.markets import WHOLE
from codegen.parsed import Endpoint, Model, Param, Spec, TypeRef
from codegen.schema import LDict, Where

TEXT_FIELDS = ("symbol", "base", "quote", "status")
"""Market attributes read as text (a string or an enum's value)."""
INT_FIELDS = ("price_precision", "quantity_precision")
"""Market attributes read as decimal places (an int, or a step such as ``0.01``)."""
ORDER_KEYS = ("symbol", "side", "type", "price", "quantity", "quote_amount")


@dataclass
class Resolved:
    """``exchange.markets`` with wire names turned into Python attribute names."""

    endpoint: str | None = None
    items: str | None = None
    filters: str | None = None
    filter_type: str | None = None
    active: tuple[str, ...] = ()
    fields: dict[str, tuple[tuple[str | None, str], ...]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: str | None = None


def _model_of(spec: Spec, t: TypeRef | None, where: Where, what: str) -> Model:
    name = t.item.name if t is not None and t.item is not None else (t.name if t else "")
    model = spec.models.get(name)
    if model is None or model.input:
        raise where.error(f"markets: {what} is not a model (or a list of models)")
    return model


def _field(model: Model, wire: str, where: Where) -> Any:
    found = next((f for f in model.fields if f.wire == wire), None)
    if found is None:
        known = ", ".join(f.wire for f in model.fields)
        raise where.error(f"markets: {model.name} has no field {wire!r} (fields: {known})")
    return found


def _check_kind(spec: Spec, name: str, t: TypeRef, where: Where, source: str) -> None:
    kind = t.name
    if name in TEXT_FIELDS:
        ok = kind == "string" or kind in spec.enums
    elif name in INT_FIELDS:
        ok = kind in ("int", "long", "decimal")
    elif name in WHOLE:  # a count, or a time in epoch ms
        ok = kind in ("int", "long")
    else:
        ok = kind in ("decimal", "int", "long")
    if t.is_list or not ok:
        raise where.error(f"markets: fields.{name}: {source!r} is a {t.text()}, not usable here")


def resolve(spec: Spec) -> Resolved | None:
    """The checked mapping, or None when the spec declares no ``markets``."""
    m: LDict | None = spec.exchange.get("markets")
    if m is None:
        return None
    where: Where = spec.exchange.key_where["markets"]
    if "unavailable" in m:
        if set(m) - {"unavailable", "note"}:
            raise where.error("markets: `unavailable` excludes every other key but `note`")
        return Resolved(unavailable=" ".join(str(m["unavailable"]).split()))
    if "endpoint" not in m or "fields" not in m:
        raise where.error("markets: give `endpoint` and `fields` (or `unavailable`)")
    by_name = {ep.name: ep for ep in spec.endpoints}
    ep = by_name.get(m["endpoint"])
    if ep is None:
        raise where.error(f"markets: no endpoint {m['endpoint']!r}")
    out = Resolved(endpoint=ep.name, active=tuple(str(v) for v in m.get("active", [])))
    item = _model_of(spec, ep.response, where, f"{ep.name}'s answer")
    if "items" in m:
        f = _field(item, m["items"], where)
        if f.type.item is None:
            raise where.error(f"markets: items {m['items']!r} is not a list")
        out.items = f.py
        item = _model_of(spec, f.type, where, f"items {m['items']!r}")
    elif ep.response is None or not ep.response.is_list:
        raise where.error(f"markets: {ep.name} answers one object: name its list in `items`")
    filter_model: Model | None = None
    filter_kinds: set[str] | None = None  # the filter types' enum values, when an enum
    if "filters" in m:
        f = _field(item, m["filters"]["field"], where)
        filter_model = _model_of(spec, f.type, where, f"filters {m['filters']['field']!r}")
        out.filters = f.py
        kind_field = _field(filter_model, m["filters"]["type"], where)
        out.filter_type = kind_field.py
        if kind_field.type.name in spec.enums:
            filter_kinds = {str(v.value) for v in spec.enums[kind_field.type.name].values}
    for name, given in m["fields"].items():
        at: Where = m["fields"].key_where.get(name, where)
        sources = [given] if isinstance(given, str) else list(given)
        resolved: list[tuple[str | None, str]] = []
        for source in sources:
            kind, dot, wire = str(source).rpartition(".")
            if dot and filter_model is None:
                raise at.error(f"markets: fields.{name}: {source!r} names a filter: give `filters`")
            if dot and filter_kinds is not None and kind not in filter_kinds:
                raise at.error(f"markets: fields.{name}: no filter type {kind!r}")
            f = _field(filter_model if dot and filter_model else item, wire, at)
            _check_kind(spec, name, f.type, at, str(source))
            resolved.append((kind or None, f.py))
        out.fields[name] = tuple(resolved)
        if name == "status" and f.type.name in spec.enums and out.active:
            values = {str(v.value) for v in spec.enums[f.type.name].values}
            unknown = [v for v in out.active if v not in values]
            if unknown:
                raise where.error(f"markets: active {unknown} not in {f.type.name}")
    for order in m.get("orders", []):
        out.orders[order["endpoint"]] = _order(spec, by_name, order, order.where)
    return out


def _order(spec: Spec, by_name: dict[str, Endpoint], order: LDict, where: Where) -> dict[str, Any]:
    """One ``orders`` entry (``where``: its own line), checked against its endpoint."""
    ep = by_name.get(order["endpoint"])
    if ep is None:
        raise where.error(f"markets: orders: no endpoint {order['endpoint']!r}")
    params: list[Param] = ep.params
    names: dict[str, str] = {p.wire: p.key for p in params}
    inputs = params  # the params naming an order's own values (a batch's: its items' fields)
    out: dict[str, Any] = {"items": None}
    if "items" in order:
        holder = next((p for p in params if p.wire == order["items"]), None)
        model = spec.models.get(holder.type.item.name) if holder and holder.type.item else None
        if holder is None or model is None or not model.input:
            raise where.error(
                f"markets: orders: {ep.name} has no list of input models {order['items']!r}"
            )
        out["items"] = holder.key
        names = {p.wire: p.py for p in model.inputs}  # each item's attribute names
        inputs = model.inputs
    for key in ORDER_KEYS:
        if key in order:
            if order[key] not in names:
                raise where.error(f"markets: orders: {ep.name} has no param {order[key]!r}")
            out[key] = names[order[key]]
    out["market_types"] = tuple(str(v) for v in order.get("market_types", []))
    kind = next((p for p in inputs if "type" in order and p.wire == order["type"]), None)
    enum = spec.enums.get(kind.type.name) if kind is not None else None
    if enum is not None:  # a misspelt market type would check market orders as limit ones
        values = [str(v.value) for v in enum.values]
        for value in out["market_types"]:
            if value.upper() not in {v.upper() for v in values}:
                raise where.error(
                    f"markets: orders: market_types: {value!r} is not a value of"
                    f" {enum.name} ({', '.join(values)})"
                )
    return out


def render(spec: Spec, header: str) -> str:
    """``cambist.<exchange>._markets``: the resolved mapping as a ``MarketSource``."""
    r = resolve(spec) or Resolved(unavailable="The spec declares no markets (exchange.markets).")
    lines = [
        header
        + f'"""{spec.exchange["name"]}: where its markets come from (``exchange.markets``)."""',
        "",
        "from cambist._runtime.markets import MarketSource, OrderParams",
        "",
        "MARKETS = MarketSource(",
        f"    exchange={spec.id!r},",
    ]
    if r.unavailable is not None:
        lines.append(f"    unavailable={r.unavailable!r},")
    else:
        lines += [
            f"    endpoint={r.endpoint!r},",
            f"    items={r.items!r},",
            f"    filters={r.filters!r},",
            f"    filter_type={r.filter_type!r},",
            f"    active={r.active!r},",
            "    fields={",
            *(f"        {k!r}: {v!r}," for k, v in r.fields.items()),
            "    },",
            "    orders={",
        ]
        for name, o in r.orders.items():
            args = ", ".join(f"{k}={v!r}" for k, v in o.items() if v is not None and v != ())
            lines.append(f"        {name!r}: OrderParams(endpoint={name!r}, {args}),")
        lines.append("    },")
    lines.append(")")
    return "\n".join(lines) + "\n"
