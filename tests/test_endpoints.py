"""Every endpoint of every exchange, called sync and async against a loopback server: the
request sent (method, path, params by wire name, API-key header, signature verified
independently, exact JSON body) and the model parsed from the document's example."""

from __future__ import annotations

import enum
import importlib
import json
import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from cambist._runtime.endpoint import Endpoint, Param
from tests.conftest import API_KEY, API_SECRET
from tests.exchanges import EXCHANGES, Case, verify
from tests.loopback import LoopbackServer

CASES = [(case, ep) for case in EXCHANGES for ep in case.endpoints()]
IDS = [f"{case.id}:{ep.name}" for case, ep in CASES]


def _sample(p: Param) -> tuple[Any, str | None]:
    """A value for ``p`` and the text it must arrive as (None: not compared as text)."""
    kind = p.item_kind if p.kind == "list" else p.kind
    if kind == "model":
        assert p.to_wire is not None
        converters = sys.modules[p.to_wire.__module__]
        name = p.type.removeprefix("list[").removesuffix("]")
        models = importlib.import_module(converters.__name__.replace("._convert.", ".models."))
        prefix = f"_{name.upper()}"
        fields = getattr(converters, f"{prefix}_FIELDS")
        item = getattr(models, name)(**_fill(fields, getattr(converters, f"{prefix}_RULES", ())))
        return ([item] if p.kind == "list" else item), None
    if kind == "enum":
        assert p.enum is not None
        member = next(iter(p.enum))
        value: Any = member
        text = str(member.value)
    elif kind == "decimal":
        # Sent in plain notation, never as 1E-7.
        value, text = Decimal("1E-7"), "0.0000001"
    elif kind in ("int", "long"):
        low = max(int(Decimal(p.minimum)) if p.minimum is not None else 1, 1)
        value, text = low, str(low)
    elif kind == "bool":
        value, text = True, "true"
    elif p.pattern is not None:  # a symbol in the exchange's alphabet
        value = text = next(s for s in ("BTCUSDT", "BTC_USDT") if re.fullmatch(p.pattern, s))
    else:
        value, text = f"v-{p.wire_name}", f"v-{p.wire_name}"
    if p.kind == "list":
        return [value, value], f"{text},{text}"
    return value, text


def _fill(params: tuple[Param, ...], rules: tuple[Any, ...]) -> dict[str, Any]:
    """Python name -> value for the required params, plus what the rules require."""
    by_wire = {p.key: p for p in params}
    chosen = {p.key for p in params if p.required is True}
    for rule in rules:
        if rule.kind == "one_of" and not chosen.intersection(rule.params):
            chosen.add(rule.params[0])
    values = {w: _sample(by_wire[w])[0] for w in chosen}
    for rule in rules:
        if rule.kind == "require" and rule.when_param in values:
            current = values[rule.when_param]
            current = current.value if isinstance(current, enum.Enum) else current
            if str(current) in rule.when_values:
                values[rule.params[0]] = _sample(by_wire[rule.params[0]])[0]
    return {by_wire[w].name: v for w, v in values.items()}


def _arguments(ep: Endpoint[Any]) -> dict[str, Any]:
    return _fill(ep.params, ep.rules)


def _check_request(
    case: Case, server: LoopbackServer, ep: Endpoint[Any], kwargs: dict[str, Any]
) -> None:
    received = server.requests_to(ep.path)[-1]
    assert received.method == ep.method
    exchange = case.exchange()
    security = exchange.security[ep.security]
    header = exchange.api_key_header.lower()
    assert (received.headers.get(header) == API_KEY) is security.api_key
    params = received.params
    if security.signed:
        assert verify(exchange, received, API_SECRET), f"{ep.name}: signature does not verify"
        if exchange.timestamp_param:
            assert params[exchange.timestamp_param].isdigit()
    else:
        assert "signature" not in params
        assert (exchange.signature_header or "-").lower() not in received.headers
    sent_json = json.loads(received.body) if ep.params_in == "json" and received.body else {}
    for p in ep.params:
        if p.name not in kwargs or p.body:
            continue
        if p.json_text:  # the list as compact JSON text in one param
            _check_json_text(p, kwargs[p.name], params[p.wire_name], ep.client_order_id)
            continue
        expected = (p.prefix or "") + str(_sample(p)[1])
        if ep.params_in == "json" and not p.in_query:
            assert p.wire_name in sent_json, f"{ep.name}: {p.wire_name}"
        else:
            assert params[p.wire_name] == expected, f"{ep.name}: {p.wire_name}"
    if ep.params_in == "json" and received.body:
        assert received.headers["content-type"] == "application/json"
    coid = next((p for p in ep.params if p.wire_name == ep.client_order_id), None)
    if coid is not None and coid.name not in kwargs:
        sent = sent_json.get(coid.wire_name) if ep.params_in == "json" else params[coid.wire_name]
        assert sent and len(str(sent)) >= 10  # filled in by the client


def _check_json_text(p: Param, value: list[Any], text: str, coid: str | None) -> None:
    sent = json.loads(text)
    assert text == json.dumps(sent, separators=(",", ":")), f"{p.wire_name}: not compact"
    if p.item_kind != "model":
        expected = [format(v, "f") if isinstance(v, Decimal) else v for v in value]
        assert sent == [getattr(v, "value", v) for v in expected], p.wire_name
        return
    assert p.to_wire is not None and len(sent) == len(value)
    for item, got in zip(value, sent, strict=True):
        wire = p.to_wire(item)
        if coid is not None and wire.get(coid) is None and coid in got:
            assert len(str(got.pop(coid))) >= 10  # filled in by the client
        assert got == wire, p.wire_name


def _check_result(case: Case, ep: Endpoint[Any], result: Any) -> None:
    if ep.response is None:
        assert result is None
        return
    if ep.response == "json":
        assert result is not None
        return
    models = importlib.import_module(f"cambist.{case.id}.models")
    name = ep.response.removeprefix("list[").removesuffix("]")
    cls = getattr(models, name)
    if ep.response.startswith("list["):
        assert isinstance(result, list) and all(isinstance(r, cls) for r in result)
    else:
        assert isinstance(result, cls)


@pytest.fixture
def routed(server: LoopbackServer) -> Iterator[LoopbackServer]:
    """The loopback server, also answering every other exchange's endpoints."""
    for case in EXCHANGES:
        for ep in case.endpoints():
            if (ep.method, ep.path) not in server.routes:
                server.route(ep.method, ep.path, case.sample(ep))
    yield server


@pytest.mark.parametrize(("case", "ep"), CASES, ids=IDS)
def test_every_endpoint_sync(case: Case, ep: Endpoint[Any], routed: LoopbackServer) -> None:
    resource, method = ep.name.split(".")
    kwargs = _arguments(ep)
    with case.sync(routed.url) as client:
        result = getattr(getattr(client, resource), method)(**kwargs)
    _check_request(case, routed, ep, kwargs)
    _check_result(case, ep, result)


@pytest.mark.anyio
@pytest.mark.parametrize(("case", "ep"), CASES, ids=IDS)
async def test_every_endpoint_async(case: Case, ep: Endpoint[Any], routed: LoopbackServer) -> None:
    resource, method = ep.name.split(".")
    kwargs = _arguments(ep)
    async with case.async_(routed.url) as client:
        result = await getattr(getattr(client, resource), method)(**kwargs)
    _check_request(case, routed, ep, kwargs)
    _check_result(case, ep, result)


@pytest.mark.parametrize("case", EXCHANGES, ids=lambda c: c.id)
def test_registry_is_complete(case: Case) -> None:
    endpoints = case.endpoints()
    assert len(endpoints) == case.count
    assert len({ep.name for ep in endpoints}) == case.count
    exchange = case.exchange()
    with case.sync("http://127.0.0.1:9") as client:
        for ep in endpoints:
            assert ep.method in ("GET", "POST", "PUT", "DELETE")
            assert ep.security in exchange.security
            assert ep.weight is None or isinstance(ep.weight, int | str)
            for p in ep.params:
                assert p.name.isidentifier() and p.wire_name and isinstance(p.type, str)
                assert p.required in (True, False) or isinstance(p.required, str)
            resource, method = ep.name.split(".")
            assert callable(getattr(getattr(client, resource), method))
