"""``generated/cambist/<exchange>/api.md``: the API reference, from the same parsed spec and
the same signatures as the code (as Stainless SDKs ship an ``api.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cambist._runtime.errormap import KINDS
from codegen.parsed import Endpoint, EnumValue
from codegen.types import Imports

if TYPE_CHECKING:
    from codegen.generate import ExchangeRenderer

_EXCEPTIONS = {kind: cls.__name__ for kind, cls in KINDS.items()}
_EXCEPTIONS["execution_unknown"] = "ExecutionStatusUnknownError"


def _markets(spec: Any) -> str:
    """What ``client.markets()`` loads and which order calls ``check_orders`` checks."""
    from codegen.markets import resolve

    m = resolve(spec)
    if m is None or m.unavailable is not None:
        reason = m.unavailable if m is not None else "The spec declares no markets."
        return f"`client.markets()` raises `MarketsUnavailableError`: {reason}"
    checked = ", ".join(f"`{name}`" for name in m.orders) or "none"
    rules = ", ".join(
        f"`{name}`" for name in m.fields if name not in ("symbol", "base", "quote", "status")
    )
    return (
        f"`client.markets()` / `client.get_market(symbol)` load `cambist.markets.Market`s from "
        f"`{m.endpoint}` (with {rules}); `check_orders=True` checks {checked} before sending."
    )


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _method(r: ExchangeRenderer, ep: Endpoint) -> dict[str, Any]:
    info = r._method(ep, Imports(), "")
    args = [
        f"{p['py']}: {p['annotation']}{' | None = None' if p['optional'] else ''}"
        for p in info["params"]
    ]
    head = f"def {ep.method_name}("
    if args:
        inner = "".join(f"    {a},\n" for a in ["*", *args])
        signature = f"{head}\n{inner}) -> {info['returns']}"
    else:
        signature = f"{head}) -> {info['returns']}"
    returns = info["returns"]
    model = (ep.response.item or ep.response).name if ep.response is not None else None
    link = (
        f"[`{_cell(returns)}`](#{model.lower()})"
        if model in r.spec.models
        else f"`{_cell(returns)}`"
    )
    return {
        "name": ep.method_name,
        "anchor": f"{ep.resource}{ep.method_name}".replace("_", "").lower(),
        "http": f"{ep.http_method} {ep.path}",
        "weight": _cell(ep.weight if ep.weight is not None else "—"),
        "security": ep.security,
        "resend": "safe" if ep.safe else "unsafe",
        "returns_link": link,
        "summary": " ".join((ep.description or ep.summary).split()),
        "signature": signature,
    }


def _iterator(r: ExchangeRenderer, ep: Endpoint) -> dict[str, Any]:
    """The ``iter_*`` method of a paged endpoint: its row and signature."""
    info = r._method(ep, Imports(), "")
    pg = info["paging"]
    args = [
        f"{p['py']}: {p['annotation']}{' | None = None' if p['optional'] else ''}"
        for p in info["params"]
    ]
    inner = "".join(f"    {a},\n" for a in ["*", *args, "max_items: int | None = None"])
    returns = f"Iterator[{pg['item']}]"
    return {
        "name": pg["name"],
        "anchor": f"{ep.resource}{pg['name']}".replace("_", "").lower(),
        "http": f"{ep.http_method} {ep.path}",
        "weight": _cell(f"{ep.weight} a page" if ep.weight is not None else "—"),
        "security": ep.security,
        "resend": "safe" if ep.safe else "unsafe",
        "returns_link": f"`Iterator[`[`{pg['item']}`](#{pg['item'].lower()})`]`",
        "summary": " ".join(f"{pg['summary']} {pg['how']}".split())
        + " (async: `AsyncIterator`, `async for`).",
        "signature": f"def {pg['name']}(\n{inner}) -> {returns}",
    }


def api_markdown(r: ExchangeRenderer) -> str:
    from codegen.generate import render

    spec = r.spec
    resources: dict[str, list[dict[str, Any]]] = {}
    for ep in sorted(spec.endpoints, key=lambda e: (e.resource, e.method_name)):
        resources.setdefault(ep.resource, []).append(_method(r, ep))
        if ep.paging is not None:
            resources[ep.resource].append(_iterator(r, ep))
    for methods in resources.values():
        methods.sort(key=lambda m: str(m["name"]))
    streams = []
    for s in spec.streams:
        channels = [
            {
                "name": c.name,
                "params": ", ".join(f"`{p.py}`" for p in c.params) or "—",
                "event": c.event,
            }
            for c in s.channels
        ]
        streams.append(
            {
                "name": s.name,
                "summary": s.summary,
                "path": s.path,
                "protocol": s.protocol,
                "heartbeat": s.heartbeat,
                "listen_key": s.listen_key is not None,
                "channels": channels,
                "events": s.events,
            }
        )
    imports = Imports()
    models = []
    for m in sorted(spec.models.values(), key=lambda m: m.name):
        if m.input:  # a request model: built by the user, checked before sending
            fields = [
                {
                    "py": p.py,
                    "type": _cell(
                        r.types.py(p.type, imports, param=True)
                        + ("" if p.required is True else " | None")
                    ),
                    "wire": p.wire,
                }
                for p in m.inputs
            ]
        else:
            fields = [
                {
                    "py": f.py,
                    "type": _cell(r.types.py(f.type, imports) + (" | None" if f.optional else "")),
                    "wire": f.wire,
                }
                for f in r._ordered(m)
            ]
        description = " ".join((m.description or "").split())
        models.append({"name": m.name, "description": description, "fields": fields})
    enums = [
        {"name": e.name, "members": ", ".join(_member(v) for v in e.values)}
        for e in sorted(spec.enums.values(), key=lambda e: e.name)
    ]
    errors = [
        {
            "code": row.code,
            "http": row.http or "—",
            "message": _cell(row.message),
            "exception": _EXCEPTIONS.get(row.kind, "APIError"),
        }
        for row in spec.errors
    ]
    limits = spec.exchange.get("rate_limits") or {}
    budgets = []
    for b in limits.get("budgets", []):
        chosen = b.get("endpoints", {})
        which = ", ".join(f"`{n}`" for n in chosen.get("names", [])) or "all"
        if chosen.get("exclude"):
            which += " except " + ", ".join(f"`{n}`" for n in chosen["exclude"])
        if chosen.get("keyed") is not None:
            which += ", keyed" if chosen["keyed"] else ", not keyed"
        extra = []
        if b.get("suspend") is not None:
            extra.append(f"exceeding it suspends for {b['suspend']} s")
        if b.get("header"):
            extra.append(f"follows `{b['header']}`")
        budgets.append(
            {
                "name": b["name"],
                "limit": f"{b['limit']} per {b['interval']} s",
                "per": "API key" if b["per"] == "key" else "IP",
                "cost": "the endpoint's weight" if b.get("cost") == "weight" else "1 per call",
                "endpoints": _cell(which + "".join(f"; {x}" for x in extra)),
                "source": _cell(b["source"]),
            }
        )
    learn = limits.get("learn")
    learned = None
    if learn is not None:
        kinds = ", ".join(f"`{k}`" for k in learn["kinds"])
        learned = (
            f"When `{learn['endpoint']}` answers, the client follows the limits it reports"
            f" (`{learn['field']}`: {kinds}): a limiter with a budget's header sets its limit,"
            " another becomes a budget of its own (`orders_10s`)."
        )
    return render(
        "api.md.jinja",
        budgets=budgets,
        learned=learned,
        markets=_markets(spec),
        source=r.source,
        spec=spec,
        ex=spec.exchange,
        resources=sorted(resources.items()),
        streams=streams,
        models=models,
        enums=enums,
        errors=errors,
    )


def _member(v: EnumValue) -> str:
    """One enum value in the api reference; a received-only value says so."""
    if not v.received_only:
        return f"`{v.value}`"
    instead = f"; send {v.send_instead} instead" if v.send_instead else ""
    return f"`{v.value}` (received only, never sent{instead})"
