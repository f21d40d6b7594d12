"""Every HashKey endpoint, called sync and async against a loopback server: the request sent
(method, path, params by wire name, API-key header, signature) and the model parsed."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

import pytest

import cambist.hashkey.models as models
from cambist._runtime.endpoint import Endpoint, Param
from cambist.hashkey import ENDPOINTS, AsyncHashKey, HashKey
from tests.conftest import API_KEY, verify_hmac
from tests.loopback import LoopbackServer


def _sample(p: Param) -> tuple[Any, str | None]:
    """A value for ``p`` and the text it must arrive as (None: not compared as text)."""
    kind = p.item_kind if p.kind == "list" else p.kind
    if kind == "model":
        cls = getattr(models, p.type.removeprefix("list[").removesuffix("]"))
        from cambist.hashkey._convert import spot

        prefix = f"_{cls.__name__.upper()}"
        fields = getattr(spot, f"{prefix}_FIELDS")
        item = cls(**_fill(fields, getattr(spot, f"{prefix}_RULES", ())))
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
    else:
        value, text = f"v-{p.wire_name}", f"v-{p.wire_name}"
    if p.kind == "list":
        return [value, value], f"{text},{text}"
    return value, text


def _fill(params: tuple[Param, ...], rules: tuple[Any, ...]) -> dict[str, Any]:
    """Python name -> value for the required params, plus what the rules require."""
    by_wire = {p.wire_name: p for p in params}
    chosen = {p.wire_name for p in params if p.required is True}
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


def _check_request(server: LoopbackServer, ep: Endpoint[Any], kwargs: dict[str, Any]) -> None:
    received = server.requests_to(ep.path)[-1]
    assert received.method == ep.method
    security = {"NONE": (False, False), "USER_STREAM": (True, False), "MARKET_DATA": (True, False)}
    keyed, signed = security.get(ep.security, (True, True))
    assert (received.headers.get("x-hk-apikey") == API_KEY) is keyed
    params = received.params
    if signed:
        assert verify_hmac(received), f"{ep.name}: signature does not verify"
        assert params["timestamp"].isdigit()
    else:
        assert "signature" not in params
    for p in ep.params:
        if p.name not in kwargs or p.body:
            continue
        expected = _sample(p)[1]
        assert params[p.wire_name] == expected, f"{ep.name}: {p.wire_name}"
    body_param = next((p for p in ep.params if p.body), None)
    if body_param is not None:
        import json

        sent = json.loads(received.body)
        assert isinstance(sent, list) and sent and all(isinstance(i, dict) for i in sent)
        assert received.headers["content-type"] == "application/json"
    coid = next((p for p in ep.params if p.wire_name == ep.client_order_id), None)
    if coid is not None and coid.name not in kwargs:
        assert len(params[coid.wire_name]) == 32  # filled in by the client: uuid4 hex


def _check_result(ep: Endpoint[Any], result: Any) -> None:
    if ep.response is None:
        assert result is None
        return
    name = ep.response.removeprefix("list[").removesuffix("]")
    cls = getattr(models, name)
    if ep.response.startswith("list["):
        assert isinstance(result, list) and all(isinstance(r, cls) for r in result)
    else:
        assert isinstance(result, cls)


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda ep: ep.name)
def test_every_endpoint_sync(ep: Endpoint[Any], hk: HashKey, server: LoopbackServer) -> None:
    resource, method = ep.name.split(".")
    kwargs = _arguments(ep)
    result = getattr(getattr(hk, resource), method)(**kwargs)
    _check_request(server, ep, kwargs)
    _check_result(ep, result)


@pytest.mark.anyio
@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda ep: ep.name)
async def test_every_endpoint_async(
    ep: Endpoint[Any], ahk: AsyncHashKey, server: LoopbackServer
) -> None:
    resource, method = ep.name.split(".")
    kwargs = _arguments(ep)
    result = await getattr(getattr(ahk, resource), method)(**kwargs)
    _check_request(server, ep, kwargs)
    _check_result(ep, result)


def test_registry_is_complete() -> None:
    assert len(ENDPOINTS) == 41
    names = {ep.name for ep in ENDPOINTS}
    assert len(names) == 41
    assert {(ep.method, ep.path) for ep in ENDPOINTS} >= {
        ("POST", "/api/v1.1/spot/order"),
        ("POST", "/api/v1.1/spot/batchOrders"),
        ("GET", "/quote/v1/depth"),
        ("DELETE", "/api/v1/userDataStream"),
    }
    for ep in ENDPOINTS:
        assert ep.method in ("GET", "POST", "PUT", "DELETE")
        assert ep.security in ("NONE", "TRADE", "USER_DATA", "USER_STREAM", "MARKET_DATA")
        assert ep.weight is None or isinstance(ep.weight, int | str)
        for p in ep.params:
            assert p.name.isidentifier() and p.wire_name and isinstance(p.type, str)
            assert p.required in (True, False) or isinstance(p.required, str)
        resource, method = ep.name.split(".")
        assert callable(getattr(getattr(HashKey, resource).func(HashKey()), method))
