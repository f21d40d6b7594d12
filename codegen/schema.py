"""Structural validation of spec YAML, with the file and line of every error.

The YAML is composed into nodes (which know their line) and checked against small
declarative shapes; the result is plain Python data whose dicts and lists remember where
they came from (:class:`LDict`, :class:`LList`), so later semantic checks can point at the
line too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class SpecError(Exception):
    """A spec is invalid; the message starts with ``file:line:``. ``position`` (line, column)
    is where in the text the check failed: of several alternatives (``anyOf``), the one that
    got furthest is the one the author meant."""

    position: tuple[int, int] = (0, 0)


@dataclass
class Where:
    file: str
    line: int
    column: int = 0

    def error(self, message: str) -> SpecError:
        error = SpecError(f"{self.file}:{self.line}: {message}")
        error.position = (self.line, self.column)
        return error


class LDict(dict[str, Any]):
    where: Where
    key_where: dict[str, Where]


class LList(list[Any]):
    where: Where


def where(value: Any, default: Where) -> Where:
    return getattr(value, "where", default)


Check = Callable[[yaml.Node, str], Any]


def _at(node: yaml.Node, file: str) -> Where:
    return Where(file, node.start_mark.line + 1, node.start_mark.column)


_constructor = yaml.constructor.SafeConstructor()


def _scalar_value(node: yaml.Node, file: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise _at(node, file).error(f"expected a single value, got a {_kind(node)}")
    value = _constructor.construct_object(node, deep=True)
    # The constructor remembers every node it built (for anchors, which specs do not use):
    # kept, that held every scalar node of every file ever loaded, with its marks.
    _constructor.constructed_objects.pop(node, None)
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not re.fullmatch(r"-?(0|[1-9][0-9]*)", node.value)
    ):  # YAML 1.1 reads 0102 as octal (66), 0x1F, 1_000 ...: never what a document means
        raise _at(node, file).error(
            f'YAML reads {node.value} as the number {value}: quote it ("{node.value}") to'
            " keep it as written, or write the number in plain decimal"
        )
    return value


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return "value"


def scalar(*types: type, choices: tuple[Any, ...] | None = None, nullable: bool = False) -> Check:
    names = " or ".join(t.__name__ for t in types)

    def check(node: yaml.Node, file: str) -> Any:
        value = _scalar_value(node, file)
        if value is None and nullable:
            return None
        if isinstance(value, bool) and bool not in types:
            raise _at(node, file).error(f"expected {names}, got {value!r}")
        if not isinstance(value, types):
            raise _at(node, file).error(f"expected {names}, got {value!r}")
        if choices is not None and value not in choices:
            allowed = ", ".join(str(c) for c in choices)
            raise _at(node, file).error(f"{value!r} is not one of: {allowed}")
        return value

    return check


STR = scalar(str)
INT = scalar(int)
BOOL = scalar(bool)


def listof(item: Check) -> Check:
    def check(node: yaml.Node, file: str) -> LList:
        if not isinstance(node, yaml.SequenceNode):
            raise _at(node, file).error(f"expected a list, got a {_kind(node)}")
        out = LList(item(child, file) for child in node.value)
        out.where = _at(node, file)
        return out

    return check


def _pairs(node: yaml.Node, file: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise _at(node, file).error(f"expected a mapping, got a {_kind(node)}")
    seen: set[str] = set()
    pairs = []
    for key_node, value_node in node.value:
        key = _scalar_value(key_node, file)
        key = str(key)
        if key in seen:
            raise _at(key_node, file).error(f"duplicate key {key!r}")
        seen.add(key)
        pairs.append((key, key_node, value_node))
    return pairs


def mapof(value: Check) -> Check:
    def check(node: yaml.Node, file: str) -> LDict:
        out = LDict()
        out.where = _at(node, file)
        out.key_where = {}
        for key, key_node, value_node in _pairs(node, file):
            out[key] = value(value_node, file)
            out.key_where[key] = _at(key_node, file)
        return out

    return check


@dataclass
class Obj:
    """A mapping with known keys: ``required`` must be present, ``optional`` may be; keys
    matching ``extra`` (a regex, with its check) may be too."""

    required: Mapping[str, Check] = field(default_factory=dict)
    optional: Mapping[str, Check] = field(default_factory=dict)
    nullable: bool = False
    extra: tuple[str, Check] | None = None

    def __call__(self, node: yaml.Node, file: str) -> LDict | None:
        if self.nullable and isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            return None
        out = LDict()
        out.where = _at(node, file)
        out.key_where = {}
        for key, key_node, value_node in _pairs(node, file):
            check = self.required.get(key) or self.optional.get(key)
            if check is None and self.extra and re.fullmatch(self.extra[0], key):
                check = self.extra[1]
            if check is None:
                known = ", ".join(sorted([*self.required, *self.optional]))
                raise _at(key_node, file).error(f"unknown key {key!r} (known: {known})")
            out[key] = check(value_node, file)
            out.key_where[key] = _at(key_node, file)
        for key in self.required:
            if key not in out:
                error = out.where.error(f"missing required key {key!r}")
                error.position = (node.end_mark.line + 1, node.end_mark.column)  # all read
                raise error
        return out


def any_of(*checks: Check) -> Check:
    """The first check that accepts the node; otherwise the error of the one that got
    furthest into it (the first of those): a field's bad value is reported as that, not as
    an unknown key of another alternative."""

    def check(node: yaml.Node, file: str) -> Any:
        error: SpecError | None = None
        try:
            for c in checks:
                try:
                    return c(node, file)
                except SpecError as exc:
                    if error is None or exc.position > error.position:
                        error = exc
            assert error is not None
            raise error
        finally:
            # A kept error's traceback holds this frame, which holds the error: a cycle
            # keeping the frames and the file's YAML nodes alive (also when another
            # alternative accepted the node) until a full garbage collection, which then
            # takes over 100 ms. Dropping the error breaks it.
            error = None

    return check


def load(path: Path, shape: Check, display: str) -> Any:
    """Parse ``path`` and check it against ``shape``; errors name ``display`` and the line."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 0
        raise SpecError(f"{display}:{line}: YAML syntax: {exc.problem}") from None
    if node is None:
        raise SpecError(f"{display}:1: the file is empty")
    return shape(node, display)


# -- checks from a JSON Schema ------------------------------------------------------------

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def from_json_schema(schema: Mapping[str, Any], vocabulary: Mapping[str, tuple[str, ...]]) -> Check:
    """The line-aware check for a JSON Schema (the subset the spec format uses: objects with
    ``properties`` / ``required`` / ``patternProperties`` / ``additionalProperties``, arrays,
    scalars with ``enum``, ``anyOf``, ``$ref`` into ``$defs``). An ``enum`` marked
    ``x-cambist-vocabulary: <name>`` takes its choices from ``vocabulary[name]``: the
    runtime's own list (the schema's copy is for editors, kept equal by a test)."""
    defs: dict[str, Check] = {}
    root_defs: Mapping[str, Any] = schema.get("$defs", {})

    def ref(name: str) -> Check:
        if name not in defs:

            def later(node: yaml.Node, file: str) -> Any:
                return defs[name](node, file)

            defs[name] = later  # a placeholder while the definition is built (recursion)
            defs[name] = build(root_defs[name])
        return defs[name]

    def build(s: Mapping[str, Any]) -> Check:
        if "$ref" in s:
            return ref(str(s["$ref"]).rsplit("/", 1)[-1])
        if "anyOf" in s:
            options = list(s["anyOf"])
            nulls = [o for o in options if o.get("type") == "null"]
            rest = [o for o in options if o.get("type") != "null"]
            if nulls and len(rest) == 1 and rest[0].get("type") == "object":
                obj = build(rest[0])
                assert isinstance(obj, Obj)
                return Obj(obj.required, obj.optional, nullable=True, extra=obj.extra)
            return any_of(*(build(o) for o in options))
        kinds = s.get("type")
        names = [kinds] if isinstance(kinds, str) else list(kinds or [])
        if names == ["object"]:
            props = {k: build(v) for k, v in s.get("properties", {}).items()}
            extra = s.get("additionalProperties", True)
            if not props and isinstance(extra, Mapping):
                return mapof(build(extra))
            required = set(s.get("required", []))
            patterns = list(s.get("patternProperties", {}).items())
            return Obj(
                required={k: c for k, c in props.items() if k in required},
                optional={k: c for k, c in props.items() if k not in required},
                extra=(patterns[0][0].strip("^$"), build(patterns[0][1])) if patterns else None,
            )
        if names == ["array"]:
            return listof(build(s["items"]))
        types = tuple(t for name in names if name != "null" for t in _JSON_TYPES[name])
        choices = s.get("enum")
        if "x-cambist-vocabulary" in s:
            choices = vocabulary[s["x-cambist-vocabulary"]]
        return scalar(
            *dict.fromkeys(types),
            choices=tuple(choices) if choices is not None else None,
            nullable="null" in names,
        )

    return build(schema)
