"""Turning a call's arguments into wire values, checking them first. Pure functions.

Decimals go out in plain notation (``Decimal("1E-7")`` is sent as ``0.0000001``), enums by
value, booleans as ``true``/``false``, lists comma-separated. Anything the document forbids
raises :class:`RequestValidationError` before a byte is sent.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from cambist._runtime.endpoint import Endpoint, Param, Rule
from cambist.errors import RequestValidationError


class _Invalid(Exception):
    """A value is wrong; the caller adds the endpoint and param names."""


def decimal_text(value: object) -> str:
    """Plain-notation text of a Decimal, int or numeric string; floats are refused."""
    if isinstance(value, bool | float):
        raise _Invalid(f"expected a Decimal, int or str, got {type(value).__name__}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _Invalid(f"{value!r} is not a decimal number") from None
    else:
        raise _Invalid(f"expected a Decimal, int or str, got {type(value).__name__}")
    if not number.is_finite():
        raise _Invalid(f"{value!r} is not a finite number")
    text = format(number, "f")
    return "0" if text in ("-0", "-0.0") else text


def _check_range(p: Param, value: object) -> None:
    number = Decimal(value) if not isinstance(value, Decimal) else value  # type: ignore[arg-type]
    if p.minimum is not None and number < Decimal(p.minimum):
        raise _Invalid(f"must be at least {p.minimum}, got {value}")
    if p.maximum is not None and number > Decimal(p.maximum):
        raise _Invalid(f"must be at most {p.maximum}, got {value}")
    if p.exclusive_minimum is not None and number <= Decimal(p.exclusive_minimum):
        raise _Invalid(f"must be greater than {p.exclusive_minimum}, got {value}")
    if p.exclusive_maximum is not None and number >= Decimal(p.exclusive_maximum):
        raise _Invalid(f"must be less than {p.exclusive_maximum}, got {value}")


def _has_range(p: Param) -> bool:
    return (
        p.minimum is not None
        or p.maximum is not None
        or p.exclusive_minimum is not None
        or p.exclusive_maximum is not None
    )


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check_pattern(p: Param, text: str) -> None:
    if p.pattern is not None and not _compiled(p.pattern).fullmatch(text):
        raise _Invalid(f"{text!r} does not match {p.pattern}")


def _check_items(p: Param, value: object) -> list[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise _Invalid(f"expected a list, got {type(value).__name__}")
    items = list(value)
    if p.max_items is not None and len(items) > p.max_items:
        raise _Invalid(f"at most {p.max_items} items, got {len(items)}")
    return items


def received_only_text(enum_cls: type[enum.Enum], value: object, instead: str) -> str:
    """Why a value the exchange only reports (spec ``received_only``) is refused, and what to
    send instead (``cambist.data`` says the same for request models)."""
    hint = f"; send {instead} instead" if instead else ""
    return (
        f"{value!r} is received only: the exchange reports this {enum_cls.__name__} but"
        f" never takes it in a request{hint}"
    )


def _refuse_received_only(enum_cls: type[enum.Enum], value: object, instead: str) -> None:
    raise _Invalid(received_only_text(enum_cls, value, instead))


def _enum_value(enum_cls: type[enum.Enum] | None, value: object) -> str | int:
    if isinstance(value, enum.Enum):
        if enum_cls is not None and not isinstance(value, enum_cls):
            same = enum_cls.__members__.get(value.name)
            if same is None or same.value != value.value:
                raise _Invalid(f"expected a {enum_cls.__name__}, got {type(value).__name__}")
            value = same  # the same member of a sibling enum (BingX: a TransferType of the
            # history taken by the transfer's UniversalTransferType, which lists six of them)
        wire = value._value_
        received: Mapping[object, str] | None = getattr(value, "__received_only__", None)
        if received and wire in received:  # most enums have none: one falsy test
            _refuse_received_only(type(value), wire, received[wire])
        return wire  # type: ignore[no-any-return]
    assert enum_cls is not None
    members: Mapping[Any, Any] = enum_cls._value2member_map_
    member = members.get(value)
    if member is not None and member._name_ in enum_cls.__members__:
        received = getattr(member, "__received_only__", None)
        if received and value in received:
            _refuse_received_only(enum_cls, value, received[value])
        return value  # type: ignore[return-value]
    received = getattr(enum_cls, "__received_only__", None) or {}
    allowed = ", ".join(
        str(m.value) for m in enum_cls.__members__.values() if m.value not in received
    )
    raise _Invalid(f"{value!r} is not one of {allowed}")


def scalar(kind: str, value: object, enum_cls: type[enum.Enum] | None = None) -> str:
    """The wire text of one value of a scalar kind."""
    if kind == "decimal":
        return decimal_text(value)
    if kind in ("int", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"expected an int, got {type(value).__name__}")
        return str(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _Invalid(f"expected a bool, got {type(value).__name__}")
        return "true" if value else "false"
    if kind == "enum":
        return str(_enum_value(enum_cls, value))
    if kind == "any":
        if isinstance(value, Decimal):
            return decimal_text(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value.value if isinstance(value, enum.Enum) else value)
    if kind == "string":
        if isinstance(value, enum.Enum):
            return str(value.value)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise _Invalid(f"expected a str, got {type(value).__name__}")
        return str(value)
    raise _Invalid(f"cannot send a {kind} here")


def json_scalar(kind: str, value: object, enum_cls: type[enum.Enum] | None = None) -> object:
    """A value for a JSON body: decimals as plain-notation strings, enums by value."""
    if kind == "decimal":
        return decimal_text(value)
    if kind == "enum":
        return _enum_value(enum_cls, value)
    if kind in ("int", "long", "bool"):
        scalar(kind, value)
        return value
    return scalar(kind, value, enum_cls)


def param_text(p: Param, value: object) -> str:
    """The wire text of a query or form parameter (lists comma-separated)."""
    if p.kind == "list":
        items = [scalar(p.item_kind or "string", v, p.enum) for v in _check_items(p, value)]
        if not items:
            raise _Invalid("must not be empty")
        for item in items:
            _check_pattern(p, item)
        return ",".join(items)
    text = scalar(p.kind, value, p.enum)
    if _has_range(p):
        _check_range(p, text)
    _check_pattern(p, text)
    return p.prefix + text if p.prefix else text


def check_rules(name: str, rules: Iterable[Rule], values: Mapping[str, object], py: Any) -> None:
    """Apply cross-parameter rules to ``values`` (wire name -> value, None = not sent)."""
    for rule in rules:
        present = [w for w in rule.params if values.get(w) is not None]
        names = " / ".join(py(w) for w in rule.params)
        if rule.kind == "one_of" and not present:
            raise RequestValidationError(f"one of {names} is required", endpoint=name)
        if rule.kind == "exclusive" and len(present) > 1:
            raise RequestValidationError(f"only one of {names} may be sent", endpoint=name)
        if rule.kind == "require" and not present:
            current = values.get(rule.when_param or "")
            if isinstance(current, enum.Enum):
                current = current.value
            if current is not None and str(current) in rule.when_values:
                raise RequestValidationError(
                    f"{names} is required when {py(rule.when_param)} is {current}",
                    endpoint=name,
                    param=py(rule.params[0]),
                )


def encode_params(
    ep: Endpoint[Any],
    values: Mapping[str, object],
    fill_items: Callable[[list[Any]], object] | None = None,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], object]:
    """Validate ``values`` (wire name -> value) and split them into wire form.

    Returns (query pairs, form-or-query pairs for ``params_in``, JSON body or None).
    ``fill_items`` sees the items of a ``json_text`` list before they are written (the client
    fills their client order ids there).
    """
    query: list[tuple[str, str]] = []
    main: list[tuple[str, str]] = []
    body: object = None
    for p in ep.params:
        value = values.get(p.key)
        if value is None:
            if p.required is True:
                raise RequestValidationError(
                    f"{p.name} is required", endpoint=ep.name, param=p.name
                )
            continue
        try:
            if p.body:
                body = json_value(p, value)
            elif p.json_text:
                pair = (p.wire_name, json_text(p, value, fill_items))
                (query if p.in_query or ep.params_in == "query" else main).append(pair)
            elif p.in_query or ep.params_in == "query":
                query.append((p.wire_name, param_text(p, value)))
            elif ep.params_in == "json":
                if body is None:
                    body = {}
                assert isinstance(body, dict)
                body[p.wire_name] = json_value(p, value)
            else:
                main.append((p.wire_name, param_text(p, value)))
        except (_Invalid, RequestValidationError) as exc:  # the latter from an input model's rules
            raise RequestValidationError(
                f"{p.name}: {exc}", endpoint=ep.name, param=p.name
            ) from None
    if ep.rules:
        names = {p.key: p.name for p in ep.params}
        check_rules(ep.name, ep.rules, values, lambda w: names.get(w, w))
    return query, main, body


def json_value(p: Param, value: object) -> object:
    """A param's value in a JSON body (input models through their ``to_wire``)."""
    if p.kind == "list":
        items = _check_items(p, value)
        if p.to_wire is not None:
            return [p.to_wire(v) for v in items]
        out = [json_scalar(p.item_kind or "string", v, p.enum) for v in items]
        for item in out:
            if isinstance(item, str):
                _check_pattern(p, item)
        return out
    if p.to_wire is not None:
        return p.to_wire(value)
    if p.prefix:
        text = scalar(p.kind, value, p.enum)
        _check_pattern(p, text)
        return p.prefix + text
    result = json_scalar(p.kind, value, p.enum)
    if _has_range(p):
        _check_range(p, result)
    if isinstance(result, str):
        _check_pattern(p, result)
    return result


def json_text(
    p: Param, value: object, fill_items: Callable[[list[Any]], object] | None = None
) -> str:
    """A ``json_text`` param's wire text: its JSON value (as in a JSON body: decimals as
    plain-notation strings, exact ints, input models by wire name) written compactly."""
    item = json_value(p, value)
    if isinstance(item, list):
        if not item:
            raise _Invalid("must not be empty")
        if fill_items is not None:
            fill_items(item)
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


def encode_object(
    item: object, model: str, fields: tuple[Param, ...], rules: tuple[Rule, ...] = ()
) -> dict[str, object]:
    """Check an input model and turn it into a JSON object (wire names, None left out)."""
    if all(cls.__name__ != model for cls in type(item).__mro__):
        # a dict or another model: its fields would be read by name, and a dict has none
        raise _Invalid(
            f"expected a {model}, got {type(item).__name__} (build it with {model}(...), or "
            f"from plain data with cambist.data.from_dict({model}, ...))"
        )
    out: dict[str, object] = {}
    values: dict[str, object] = {}
    for p in fields:
        value = getattr(item, p.name)
        values[p.wire_name] = value
        if value is None:
            if p.required is True:
                raise _Invalid(f"{model}.{p.name} is required")
            continue
        try:
            out[p.wire_name] = json_value(p, value)
        except _Invalid as exc:
            raise _Invalid(f"{model}.{p.name}: {exc}") from None
    py = {p.wire_name: p.name for p in fields}
    check_rules(model, rules, values, lambda w: py.get(w, w))
    return out


_PLAIN = re.compile(r"[A-Za-z0-9_.~,-]*").fullmatch
"""Text ``quote(v, safe=",")`` leaves as it is (most values: ids, numbers, symbols): not
passed through ``quote``, which costs ten times the check."""


def urlencode(pairs: Iterable[tuple[str, str]]) -> str:
    """``k=v&k=v`` with values percent-encoded (commas kept, as lists are comma-separated)."""
    return "&".join(f"{k}={v if _PLAIN(v) else quote(v, safe=',')}" for k, v in pairs)
