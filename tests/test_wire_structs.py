"""Every msgspec wire struct the generator emits is reachable from a fast-path decoder:
no generated code that nothing uses."""

from __future__ import annotations

import importlib
import pkgutil
import typing
from typing import Any

import msgspec
import pytest

EXCHANGES = ["hashkey", "bibox", "bingx", "binance_options"]


def _modules(exchange: str) -> list[Any]:
    package = importlib.import_module(f"cambist.{exchange}._convert")
    return [
        importlib.import_module(f"{package.__name__}.{m.name}")
        for m in pkgutil.iter_modules(package.__path__)
    ]


def _structs_in(annotation: Any) -> set[type[msgspec.Struct]]:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return {annotation}
    return {s for arg in typing.get_args(annotation) for s in _structs_in(arg)}


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_every_wire_struct_is_reachable_from_a_fast_path(exchange: str) -> None:
    emitted: set[type[msgspec.Struct]] = set()
    todo: list[type[msgspec.Struct]] = []
    for module in _modules(exchange):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, msgspec.Struct):
                if value.__module__ == module.__name__:
                    emitted.add(value)
            elif isinstance(value, msgspec.json.Decoder):
                todo.extend(_structs_in(value.type))
    reachable: set[type[msgspec.Struct]] = set()
    while todo:
        struct = todo.pop()
        if struct in reachable:
            continue
        reachable.add(struct)
        # an answer's struct extends the model's wire struct with the error-code field
        todo.extend(b for b in struct.__bases__ if issubclass(b, msgspec.Struct))
        todo = [s for s in todo if s is not msgspec.Struct]
        hints = typing.get_type_hints(struct)
        for hint in hints.values():
            todo.extend(_structs_in(hint))
    assert emitted, "no fast path at all?"
    assert emitted == reachable, sorted(s.__name__ for s in emitted ^ reachable)
