"""Reading wire values into model values. The generated converters call these.

Decimals are exact: from JSON strings, and from JSON numbers as the exchange wrote them. For
exchanges that send decimals as strings, bodies are decoded with orjson; should a JSON number
with a fraction reach a decimal field, :class:`NeedsExactNumbers` makes the parser decode the
body again with the standard library, which keeps every number's text
(``parse_float=Decimal``), so no value ever passes through a float.
"""

from __future__ import annotations

import enum
import gc
import json
import threading
from collections import deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import orjson

if TYPE_CHECKING:
    from cambist.errors import APIError, ExecutionStatusUnknownError

E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")


class NeedsExactNumbers(Exception):
    """A decimal field got a float: the body must be decoded again, exactly."""


class WireTypeError(Exception):
    """A wire value does not fit its field's type."""


_KEPT_MAX = 1024
"""Unknown values an open enum remembers (beyond its members)."""


class OpenEnum(enum.Enum):
    """An enum that keeps values the spec does not list instead of failing.

    ``OrderStatus("NEW_STATUS")`` returns a member-like object whose ``value`` and ``name``
    are ``"NEW_STATUS"``; it is not among the listed members.

    ``__received_only__`` maps the values the exchange only reports (never takes as input) to
    what to send instead; the request encoder refuses them before sending.
    """

    __received_only__: ClassVar[dict[object, str]] = {}

    def __str__(self) -> str:
        return str(self._value_)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        base = str if issubclass(cls, str) else int if issubclass(cls, int) else None
        if base is None or not isinstance(value, base) or isinstance(value, bool):
            return None
        kept = cls._value2member_map_.get(value)  # msgspec calls _missing_ without looking
        if kept is not None:
            return kept
        member = cast(Any, base).__new__(cls, value)
        member._name_ = str(value)
        member._value_ = value
        # Remember it, so one unknown value is one object (no iteration change: not a member),
        # up to _KEPT_MAX unknown values an enum: a stream of ever-new values stays bounded.
        if len(cls._value2member_map_) - len(cls._member_map_) >= _KEPT_MAX:
            return member
        return cls._value2member_map_.setdefault(value, member)


_seen: dict[str, Decimal] = {}
"""Decimals by their text. Values repeat (a book's levels in push after push, "0", "1"), and a
lookup costs a fraction of building a Decimal; the cache is emptied when it reaches
``_SEEN_MAX`` entries, so memory stays bounded."""
_SEEN_MAX = 16384


def dec(value: object) -> Decimal:
    """A Decimal from a JSON string or number, exactly as written."""
    if type(value) is str:
        found = _seen.get(value)
        if found is not None:
            return found
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise WireTypeError(f"{value!r} is not a decimal") from None
        if len(_seen) >= _SEEN_MAX:
            _seen.clear()
        _seen[value] = result
        return result
    cls = type(value)
    if cls is Decimal:
        return value  # type: ignore[return-value]
    if cls is int:
        return Decimal(value)  # type: ignore[arg-type]
    if cls is float:
        raise NeedsExactNumbers
    raise WireTypeError(f"expected a decimal, got {cls.__name__}")


def opt_dec(value: object) -> Decimal | None:
    """As :func:`dec`, with absent, null and empty-string values read as None."""
    if value is None or value == "":
        return None
    return dec(value)


def integer(value: object) -> int:
    """An exact int from a JSON integer or a string of digits."""
    cls = type(value)
    if cls is int:
        return value  # type: ignore[return-value]
    if cls is str:
        try:
            return int(value)  # type: ignore[call-overload, no-any-return]
        except ValueError:
            raise WireTypeError(f"{value!r} is not an integer") from None
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if cls is float:
        raise NeedsExactNumbers
    raise WireTypeError(f"expected an integer, got {cls.__name__}")


def opt_integer(value: object) -> int | None:
    return None if value is None or value == "" else integer(value)


def string(value: object) -> str:
    """A str; an integer id sent as a JSON number becomes its exact digits."""
    cls = type(value)
    if cls is str:
        return value  # type: ignore[return-value]
    if cls is int or cls is Decimal:
        return str(value)
    if cls is float:
        raise NeedsExactNumbers
    raise WireTypeError(f"expected a string, got {cls.__name__}")


def opt_string(value: object) -> str | None:
    return None if value is None else string(value)


def boolean(value: object) -> bool:
    if value is True or value is False:
        return value
    if value in ("true", "TRUE", "True"):
        return True
    if value in ("false", "FALSE", "False"):
        return False
    raise WireTypeError(f"expected a bool, got {value!r}")


def opt_boolean(value: object) -> bool | None:
    return None if value is None or value == "" else boolean(value)


def enum_member(cls: type[E], value: object) -> E:
    """The member for ``value``; an unknown value is kept (see :class:`OpenEnum`).

    Generated converters try ``members(cls).get(value)`` first (a plain dict look-up) and
    call this only when that misses.
    """
    found = cls._value2member_map_.get(value)
    if found is not None:
        return found  # type: ignore[return-value]
    if issubclass(cls, int) and type(value) is str and value.lstrip("-").isdigit():
        return enum_member(cls, int(value))
    member = cls(value)
    return member


def members(cls: type[E]) -> dict[Any, E]:
    """The value -> member table of an enum, for fast look-ups."""
    return cls._value2member_map_  # type: ignore[return-value]


class _CollectorPause:
    """Automatic garbage collection paused while a large answer is built, then put back as
    it was: a list of models is thousands of new tracked objects (each model and its
    ``__dict__``), all alive and acyclic, and the collector's passes over them while they are
    being made are wasted (11-18% of building 1000 orders with the results kept, measured).

    The switch is process-wide, so nested and concurrent builds share one pause: the first
    to start records whether collection was on and turns it off, the last to finish turns it
    back on only if it was on (never enabling what the program had disabled). Nothing else
    runs in between (no I/O, no await); an exception restores it too."""

    __slots__ = ()
    _lock = threading.Lock()
    _depth = 0
    _was_enabled = False

    def __enter__(self) -> None:
        cls = _CollectorPause
        with cls._lock:
            if cls._depth == 0:
                cls._was_enabled = gc.isenabled()
                gc.disable()
            cls._depth += 1

    def __exit__(self, *exc: object) -> None:
        cls = _CollectorPause
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0 and cls._was_enabled:
                gc.enable()


collector_paused = _CollectorPause()
"""``with collector_paused:`` around building a large answer (see :class:`_CollectorPause`)."""

LARGE_ANSWER = 64 * 1024
"""Bytes from which an answer is built with the collector paused (about a hundred models);
below it the pause is not worth its cost."""


_new = object.__new__
_set = object.__setattr__


def model_from(cls: type[T], values: dict[str, Any]) -> T:
    """A model whose attributes are ``values`` (its fields by name, as a msgspec wire
    struct's ``asdict`` gives them): the fast path builds each model once, without running
    its ``__init__`` (the models are frozen attrs classes with a ``__dict__``, no validators
    and no converters, so the result equals what ``__init__`` would build)."""
    model = _new(cls)
    _set(model, "__dict__", values)
    return model


def models_from(cls: type[T], values: list[dict[str, Any]]) -> list[T]:
    """:func:`model_from` for a list: the loops run in C (no Python frame per model)."""
    if len(values) < 8:  # the C loops' set-up costs more than a few calls
        return [model_from(cls, v) for v in values]
    models = list(map(_new, repeat(cls, len(values))))
    deque(map(_set, models, repeat("__dict__"), values), maxlen=0)
    return models


def nest_models(
    build: Callable[[list[Any]], list[Any]], owners: list[dict[str, Any]], key: str
) -> None:
    """In every owner (a wire struct's ``asdict``), ``owner[key]`` (a list of wire structs,
    or None) becomes its models: all owners' items built by one call of ``build`` (its loops
    in C), not one call per owner (exchange information: 7 filters for each of its symbols),
    then sliced back to their owners."""
    inner = [owner[key] for owner in owners]
    built = build(list(chain.from_iterable(filter(None, inner))))
    start = 0
    for owner, items in zip(owners, inner, strict=True):
        if items is None:
            continue
        end = start + len(items)
        owner[key] = built[start:end]
        start = end


def json_value(raw: Any) -> Any:
    """A ``json`` field the fast path kept raw (``msgspec.Raw``), decoded as the general path
    decodes it (orjson; exact when orjson cannot: an integer beyond 64 bits); an absent
    field (an empty Raw) is None."""
    if not raw:
        return None
    try:
        return orjson.loads(memoryview(raw))
    except orjson.JSONDecodeError:
        return decode_exact(bytes(raw))


def json_exact(raw: Any) -> Any:
    """As :func:`json_value`, for exchanges whose JSON numbers are exact (Decimal)."""
    return decode_exact(bytes(raw)) if raw else None


new_row = tuple.__new__
"""Builds a row (NamedTuple) from a tuple of its values, without a Python-level __new__."""


def opt_enum_member(cls: type[E], value: object) -> E | None:
    return None if value is None or value == "" else enum_member(cls, value)


def items(value: object) -> list[Any]:
    """A JSON array (null reads as empty)."""
    if type(value) is list:
        return value
    if value is None:
        return []
    raise WireTypeError(f"expected an array, got {type(value).__name__}")


def opt_items(value: object) -> list[Any] | None:
    """As :func:`items`, with null (or absent) read as None."""
    return None if value is None else items(value)


def list_of(structure: Callable[[Any], T]) -> Callable[[Any], list[T]]:
    """A parser for a JSON array of what ``structure`` reads."""

    def parse(value: Any) -> list[T]:
        return list(map(structure, items(value)))

    return parse


def items_or_errors(
    structure: Callable[[Any], T],
) -> Callable[[Any], list[T | APIError | ExecutionStatusUnknownError]]:
    """The parser of an answer whose items may each be an error (an endpoint's
    ``item_errors``): the core hands it the items that are not, and puts the errors it built
    from the others back in their places (an item whose code leaves its outcome unknown is
    ExecutionStatusUnknownError, which is not an APIError)."""
    return cast(
        "Callable[[Any], list[T | APIError | ExecutionStatusUnknownError]]", list_of(structure)
    )


def decode_fast(body: str | bytes) -> Any:
    """Decode with orjson; :func:`decode_exact` is the fallback."""
    return orjson.loads(body)


def has_float(value: object) -> bool:
    """Does decoded JSON hold a float anywhere (a number the fast decoding made inexact)?"""
    if type(value) is float:
        return True
    if type(value) is dict:
        return any(map(has_float, value.values()))
    if type(value) is list:
        return any(map(has_float, value))
    return False


def decode_exact(body: str | bytes) -> Any:
    """Decode keeping every JSON number exact: fractions as Decimal, integers as int."""
    return json.loads(body, parse_float=Decimal)
