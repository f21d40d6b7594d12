"""Models to plain data and back: ``to_dict``, ``to_json``, ``from_dict``, ``from_json``.

Models are data with no methods; these module-level functions convert any model of any
exchange (and lists of them)::

    from cambist.data import from_dict, to_dict, to_json

    to_dict(order)                    # {"order_id": "1", "price": "85000.5", "side": "BUY", ...}
    to_dict(order, wire_names=True)   # {"orderId": "1", "price": "85000.5", ...}: as the exchange
    to_json(book)                     # decimals as exact strings, enums as their values
    from_dict(BatchOrderRequest, {"symbol": "BTCUSDT", "side": "BUY", ...})   # checked

Conversions run on cattrs converters (one for Python names, one for wire names) configured
from each exchange's spec: the generated ``cambist.<exchange>._plain`` gives every model's wire
names and the checks of its request models. Rules, in both directions:

- ``Decimal`` <-> its exact text in plain notation (``Decimal("1E-7")`` is ``"0.0000001"``);
  reading takes a ``str``, an ``int`` or a ``Decimal``, never a ``float`` (not exact).
- Enums <-> their values; a value the spec does not list is kept in a received model (as
  parsing does), refused in a request model.
- Rows (NamedTuples such as book levels, klines) <-> objects keyed by field name; with
  ``wire_names=True``, arrays as the exchange sends them. Reading accepts either form.
- ``None`` stays ``None`` (``null``); ints, strings and bools are taken as they are, of their
  own type only.
- Request models (``input: true`` in the spec, e.g. HashKey's ``BatchOrderRequest``) refuse
  unknown keys and pass the checks they pass before being sent (required fields, enum values,
  ranges, the spec's rules).

Errors from ``from_dict`` / ``from_json`` are :class:`~cambist.errors.RequestValidationError`,
listing every problem with its path: ``"'BYU' is not one of BUY, SELL @ $[1].side"``.
"""

from __future__ import annotations

import enum
import functools
import importlib
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
import cattrs.cols
import cattrs.v
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from cambist._runtime.encode import received_only_text
from cambist.errors import RequestValidationError

__all__ = ["from_dict", "from_json", "to_dict", "to_json"]

T = TypeVar("T")


def to_dict(model: object, *, wire_names: bool = False) -> Any:
    """``model`` as plain data: a dict for a model (rows: a dict, or with ``wire_names`` the
    array the exchange sends), a list for a list; ready for ``json.dumps``.

    ``wire_names=True`` keys fields by the exchange's names (``orderId``) rather than the
    Python ones (``order_id``).
    """
    return _converter(wire_names).unstructure(model)


def to_json(model: object, *, wire_names: bool = False, indent: int | None = None) -> str:
    """``model`` as JSON text (see :func:`to_dict`); decimals are JSON strings, exactly."""
    return json.dumps(to_dict(model, wire_names=wire_names), indent=indent, ensure_ascii=False)


def from_dict(cls: type[T], data: object, *, wire_names: bool = False) -> T:
    """Build ``cls`` (a model, a row, or e.g. ``list[BatchOrderRequest]``) from plain data.

    Keys are Python names, or the exchange's with ``wire_names=True``. Raises
    :class:`~cambist.errors.RequestValidationError` naming every problem and its path.
    """
    try:
        return _converter(wire_names).structure(data, cls)
    except Exception as exc:
        if not isinstance(exc, cattrs.BaseValidationError | _Bad | ValueError | TypeError):
            raise
        problems = cattrs.transform_error(exc, path="$", format_exception=_format)
        first = problems[0].rpartition(" @ ")[2] if problems else "$"
        raise RequestValidationError(
            "; ".join(problems), endpoint=f"from_dict({_type_name(cls)})", param=first
        ) from None


def from_json(cls: type[T], text: str | bytes, *, wire_names: bool = False) -> T:
    """As :func:`from_dict`, from JSON text; JSON numbers are read exactly (no float)."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise RequestValidationError(
            f"not JSON: {exc}", endpoint=f"from_json({_type_name(cls)})"
        ) from None
    return from_dict(cls, data, wire_names=wire_names)


# -- the converters ------------------------------------------------------------------------


class _Bad(ValueError):
    """A value does not fit; the message is shown as it is, with the path appended."""


def _format(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, _Bad):
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


def _type_name(t: object) -> str:
    """``BatchOrderRequest``, ``list[BatchOrderRequest]``: names without their modules."""
    return t.__name__ if isinstance(t, type) else re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", str(t))


@functools.cache
def _tables(module: str) -> Any:
    """The generated ``cambist.<exchange>._plain`` of a model's module, or None."""
    package, found, _ = module.partition(".models")
    if not found or not package.startswith("cambist."):
        return None
    try:
        return importlib.import_module(f"{package}._plain")
    except ImportError:
        return None


def _wire_names(cls: type) -> Mapping[str, str]:
    tables = _tables(cls.__module__)
    return tables.WIRE_NAMES.get(cls.__name__, {}) if tables is not None else {}


def _check(cls: type) -> Callable[[Any], object] | None:
    tables = _tables(cls.__module__)
    if tables is None:
        return None
    return tables.checks().get(cls.__name__)  # type: ignore[no-any-return]


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    text = format(value, "f")
    return "0" if text in ("-0", "-0.0") else text


def _plain_str(value: str) -> str:
    """A ``str`` as it is, a ``str`` enum's member as its value (a plain ``str``)."""
    return value.value if isinstance(value, enum.Enum) else value


def _decimal(value: object, _: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise _Bad(f"{value!r} is not a decimal number") from None
    if isinstance(value, float):
        raise _Bad(f"{value!r} is a float, which is not exact: give a str or a Decimal")
    raise _Bad(f"expected a decimal (str, int or Decimal), got {type(value).__name__}")


def _exactly(kind: type) -> Callable[[object, Any], Any]:
    """A hook taking values of ``kind`` only (bool is not an int here); it also gets the
    ``str`` and ``int`` enums, whose classes derive from ``kind``."""

    def structure(value: object, type_: Any) -> Any:
        if type_ is not kind and _is_enum(type_):
            return _open_member(value, type_)
        if type(value) is not kind and not (
            isinstance(value, kind) and not isinstance(value, bool | enum.Enum)
        ):
            raise _Bad(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


def _is_enum(t: object) -> bool:
    return isinstance(t, type) and issubclass(t, enum.Enum)


def _open_member(value: object, t: type[enum.Enum]) -> enum.Enum:
    """A received model's enum: a value the spec does not list is kept (as parsing does)."""
    if isinstance(value, t):
        return value
    try:
        return t(value)
    except (ValueError, TypeError):
        raise _Bad(f"{value!r} is not a {t.__name__} value") from None


def _choice(t: object) -> tuple[type[enum.Enum], bool] | None:
    """``E | Literal[...]`` (``| None``), a request model's enum field: (E, None allowed)."""
    if typing.get_origin(t) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(t)
    enums = [a for a in args if _is_enum(a)]
    rest = [a for a in args if not _is_enum(a) and a is not type(None)]
    if len(enums) != 1 or any(typing.get_origin(a) is not typing.Literal for a in rest):
        return None
    return enums[0], type(None) in args


def _decimal_like(t: object) -> bool:
    """``DecimalLike`` (``Decimal | int | str``, maybe ``| None``): a request model's decimal."""
    if typing.get_origin(t) not in (typing.Union, types.UnionType):
        return False
    return {a for a in typing.get_args(t) if a is not type(None)} == {Decimal, int, str}


def _decimal_like_hook(t: Any) -> Callable[[object, object], Any]:
    optional = type(None) in typing.get_args(t)

    def structure(value: object, _: object) -> Decimal | None:
        return None if value is None and optional else _decimal(value, Decimal)

    return structure


def _listed_member(enum_cls: type[enum.Enum], value: object) -> enum.Enum:
    member = value if isinstance(value, enum_cls) else enum_cls._value2member_map_.get(value)
    received: Mapping[object, str] = getattr(enum_cls, "__received_only__", None) or {}
    if member is None or member._name_ not in enum_cls.__members__:
        allowed = ", ".join(
            str(m.value) for m in enum_cls.__members__.values() if m.value not in received
        )
        raise _Bad(f"{value!r} is not one of {allowed}")
    if member._value_ in received:  # the spec's received_only: refused as sending refuses it
        raise _Bad(received_only_text(enum_cls, member._value_, received[member._value_]))
    return member


def _choice_hook(t: Any) -> Callable[[object, object], Any]:
    found = _choice(t)
    assert found is not None
    enum_cls, nullable = found

    def structure(value: object, _: object) -> Any:
        if value is None and nullable:
            return None
        return _listed_member(enum_cls, value)

    return structure


def _is_list(t: object) -> bool:
    return typing.get_origin(t) is list


def _is_model(t: object) -> bool:
    return isinstance(t, type) and attrs.has(t)


def _build(wire: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True)

    # -- out -------------------------------------------------------------------------------
    conv.register_unstructure_hook(Decimal, _decimal_text)
    # cattrs looks a class up by single dispatch before any predicate hook, and it registers
    # ``str`` (as is) there: a ``str`` enum (``class OrderStatus(str, OpenEnum)``) finds that
    # along its MRO and would come out as the member itself. The ``str`` hook gives its value.
    conv.register_unstructure_hook(str, _plain_str)
    conv.register_unstructure_hook_func(_is_enum, lambda member: member.value)
    conv.register_unstructure_hook_factory(  # a request model's `E | Literal[...]` field
        lambda t: _choice(t) is not None,
        lambda _: lambda v: v.value if isinstance(v, enum.Enum) else v,
    )

    def renames(cls: type) -> dict[str, Any]:
        """cattrs overrides putting the spec's wire names on ``cls``'s fields."""
        names = _wire_names(cls) if wire else {}
        return {py: override(rename=w) for py, w in names.items() if w != py}

    def model_out(cls: type) -> Callable[[Any], dict[str, Any]]:
        return make_dict_unstructure_fn(cls, conv, **renames(cls))

    conv.register_unstructure_hook_factory(_is_model, model_out)
    if wire:
        conv.register_unstructure_hook_func(
            cattrs.cols.is_namedtuple, lambda row: [conv.unstructure(v) for v in row]
        )
    else:
        conv.register_unstructure_hook_factory(
            cattrs.cols.is_namedtuple,
            lambda cls: cattrs.cols.namedtuple_dict_unstructure_factory(cls, conv),
        )

    # -- in --------------------------------------------------------------------------------
    conv.register_structure_hook(Decimal, _decimal)
    for kind in (int, str, bool):
        conv.register_structure_hook(kind, _exactly(kind))
    conv.register_structure_hook(enum.Enum, _open_member)
    conv.register_structure_hook_factory(lambda t: _choice(t) is not None, _choice_hook)
    conv.register_structure_hook_factory(_decimal_like, _decimal_like_hook)

    def list_in(t: Any) -> Callable[[object, object], Any]:
        base = cattrs.cols.list_structure_factory(t, conv)

        def structure(value: object, type_: object) -> Any:
            if isinstance(value, str | bytes | Mapping):
                raise _Bad(f"expected a list, got {type(value).__name__}")
            return base(value, type_)

        return structure

    conv.register_structure_hook_factory(_is_list, list_in)

    def row_in(cls: type[tuple[Any, ...]]) -> Callable[[object, object], Any]:
        by_name = cattrs.cols.namedtuple_dict_structure_factory(cls, conv)
        # cattrs' positional factory reads the raw (string) annotations: resolve them first
        fields: Any = tuple.__class_getitem__(tuple(typing.get_type_hints(cls).values()))
        positional = conv.get_structure_hook(fields)

        def structure(value: object, type_: Any) -> Any:
            if isinstance(value, Mapping):
                return by_name(value, type_)
            if isinstance(value, str | bytes):
                raise _Bad(f"expected an object or an array, got {type(value).__name__}")
            return cls(*positional(value, fields))

        return structure

    conv.register_structure_hook_factory(cattrs.cols.is_namedtuple, row_in)

    def model_in(cls: type) -> Callable[[Any, Any], Any]:
        check = _check(cls)
        base: Callable[[Any, Any], Any] = make_dict_structure_fn(
            cls,
            conv,
            # a request model refuses unknown keys (a misspelt "pirce" is not dropped); a
            # received one ignores them, as parsing ignores fields the exchange adds
            _cattrs_forbid_extra_keys=check is not None,
            **renames(cls),
        )
        if check is None:
            return base

        def structure(value: object, type_: Any) -> Any:
            if not isinstance(value, Mapping):
                raise _Bad(f"expected an object, got {type(value).__name__}")
            item = base(value, type_)
            try:
                check(item)
            except Exception as exc:  # the encoder's own refusal, whatever its class
                raise _Bad(str(exc).removeprefix(f"{cls.__name__}: ")) from None
            return item

        return structure

    conv.register_structure_hook_factory(_is_model, model_in)
    return conv


@functools.cache
def _converter(wire: bool) -> cattrs.Converter:
    return _build(wire)
