"""How spec types become Python annotations, converter expressions and param descriptors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from codegen.parsed import Param, Spec, TypeRef, snake

_PY = {
    "string": "str",
    "int": "int",
    "long": "int",
    "decimal": "Decimal",
    "bool": "bool",
    "json": "Any",
}
_RUNTIME = "cambist._runtime.convert"
_CONV = {
    "string": "string",
    "int": "integer",
    "long": "integer",
    "decimal": "dec",
    "bool": "boolean",
}


@dataclass
class Imports:
    """The names a module needs: ``module -> {names}``, plus plain ``import x`` lines."""

    names: dict[str, set[str]] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)  # enum tables: constant -> enum

    def add(self, module: str, name: str) -> str:
        self.names.setdefault(module, set()).add(name)
        return name

    def lines(self, skip_module: str | None = None) -> list[str]:
        out = []
        for module in sorted(self.names):
            if module == skip_module:
                continue
            names = ", ".join(sorted(self.names[module]))
            out.append(f"from {module} import {names}")
        return out


def list_expr(inner: str, item: str, iterable: str) -> str:
    """The list of ``inner`` (an expression of ``item``) over ``iterable``."""
    if inner == item:
        return iterable
    call = re.fullmatch(rf"(\w+)\({item}\)", inner)
    if call:  # one function per element: map() skips the comprehension's bytecode
        return f"list(map({call.group(1)}, {iterable}))"
    return f"[{inner} for {item} in {iterable}]"


class TypeMap:
    """Type questions about one spec, answered for one module at a time (its imports)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.package = f"cambist.{spec.id}"

    def model_module(self, name: str) -> str:
        owner = self.spec.models.get(name) or self.spec.enums[name]
        return f"{self.package}.models.{owner.group}"

    def convert_module(self, name: str) -> str:
        return f"{self.package}._convert.{self.spec.models[name].group}"

    @staticmethod
    def structure_name(model: str) -> str:
        return f"structure_{snake(model)}"

    @staticmethod
    def unstructure_name(model: str) -> str:
        return f"unstructure_{snake(model)}"

    # -- annotations ------------------------------------------------------------------------

    def py(
        self, t: TypeRef, imports: Imports, *, param: bool = False, accept_int: bool = False
    ) -> str:
        """The annotation for a value of type ``t`` (``param``: as a method argument, which
        takes what the runtime accepts: ``DecimalLike`` for decimals, ``str | int`` for a
        string with ``accept_int``)."""
        if t.item is not None:
            inner = self.py(t.item, imports, param=param, accept_int=accept_int)
            if param:
                imports.add("collections.abc", "Sequence")
                return f"Sequence[{inner}]"
            return f"list[{inner}]"
        if t.name in _PY:
            if param and t.name == "decimal":
                return imports.add("cambist.types", "DecimalLike")
            if param and accept_int and t.name == "string":
                return "str | int"
            if t.name == "decimal":
                imports.add("decimal", "Decimal")
            if t.name == "json":
                imports.add("typing", "Any")
            return _PY[t.name]
        imports.add(self.model_module(t.name), t.name)
        if param and t.name in self.spec.enums:
            # received_only values are left out: a type checker flags them in a request
            sendable = [v for v in self.spec.enums[t.name].values if not v.received_only]
            if sendable:
                imports.add("typing", "Literal")
                literals = ", ".join(repr(v.value) for v in sendable)
                siblings = "".join(
                    f" | {imports.add(self.model_module(s), s)}" for s in self._siblings(t.name)
                )
                return f"{t.name}{siblings} | Literal[{literals}]"
        return t.name

    def _siblings(self, name: str) -> list[str]:
        """The spec's other enums listing some of the same values as ``name`` (one's values
        all among the other's: BingX's UniversalTransferType and TransferType), whose members
        the runtime takes for the same-named member of ``name``."""
        own = {v.value for v in self.spec.enums[name].values}
        out = []
        for other, enum in sorted(self.spec.enums.items()):
            values = {v.value for v in enum.values}
            if other != name and own & values and (own <= values or values <= own):
                out.append(other)
        return out

    # -- reading wire values ---------------------------------------------------------------

    def conv(self, t: TypeRef, var: str, imports: Imports, here: str, depth: int = 0) -> str:
        """An expression turning the wire value ``var`` into a value of type ``t``."""
        if t.item is not None:
            item = f"x{depth}" if depth else "x"
            inner = self.conv(t.item, item, imports, here, depth + 1)
            return list_expr(inner, item, f"{imports.add(_RUNTIME, 'items')}({var})")
        if t.name == "json":
            return var
        if t.name in _CONV:
            return f"{imports.add(_RUNTIME, _CONV[t.name])}({var})"
        if t.name in self.spec.enums:
            imports.add(self.model_module(t.name), t.name)
            imports.add(_RUNTIME, "enum_member")
            table = "_" + snake(t.name).upper()
            imports.tables[table] = t.name
            # a dict look-up first; the function only for values it does not know
            return f"{table}.get({var}) or enum_member({t.name}, {var})"
        fn = self.structure_name(t.name)
        if self.convert_module(t.name) != here:
            imports.add(self.convert_module(t.name), fn)
        return f"{fn}({var})"

    def opt_conv(self, t: TypeRef, var: str, imports: Imports, here: str) -> str:
        """As :meth:`conv` for a field that may be absent (or null, or "" for scalars)."""
        if t.item is None and t.name in _CONV:
            return f"{imports.add(_RUNTIME, 'opt_' + _CONV[t.name])}({var})"
        if t.item is None and t.name in self.spec.enums:
            imports.add(self.model_module(t.name), t.name)
            return f"{imports.add(_RUNTIME, 'opt_enum_member')}({t.name}, {var})"
        if t.name == "json":
            return var
        return f"None if (v := {var}) is None else {self.conv(t, 'v', imports, here)}"

    # -- sending ---------------------------------------------------------------------------

    def param_descriptor(self, p: Param, imports: Imports, here: str) -> str:
        """The ``Param(...)`` source for a param or input-model field."""
        t = p.type
        item = t.item
        base = item if item is not None else t
        kind = self.kind(t)
        args = [f"name={p.py!r}"]
        if p.wire != p.py:
            args.append(f"wire_name={p.wire!r}")
        args.append(f"type={t.text()!r}")
        if kind != t.text():
            args.append(f"kind={kind!r}")
        if p.required is not False:
            args.append(f"required={p.required!r}")
        if item is not None:
            args.append(f"item_kind={self.kind(item)!r}")
        if base.name in self.spec.enums:
            imports.add(self.model_module(base.name), base.name)
            args.append(f"enum={base.name}")
        if base.name in self.spec.models:
            fn = self.unstructure_name(base.name)
            if self.convert_module(base.name) != here:
                imports.add(self.convert_module(base.name), fn)
            args.append(f"to_wire={fn}")
        if p.minimum is not None:
            args.append(f"minimum={str(p.minimum)!r}")
        if p.maximum is not None:
            args.append(f"maximum={str(p.maximum)!r}")
        if p.exclusive_minimum is not None:
            args.append(f"exclusive_minimum={str(p.exclusive_minimum)!r}")
        if p.exclusive_maximum is not None:
            args.append(f"exclusive_maximum={str(p.exclusive_maximum)!r}")
        if p.max_items is not None:
            args.append(f"max_items={p.max_items!r}")
        if p.pattern is not None:
            args.append(f"pattern={p.pattern!r}")
        if p.in_query:
            args.append("in_query=True")
        if p.body:
            args.append("body=True")
        if p.prefix:
            args.append(f"prefix={p.prefix!r}")
        if p.json_text:
            args.append("json_text=True")
        return f"Param({', '.join(args)})"

    def kind(self, t: TypeRef) -> str:
        if t.item is not None:
            return "list"
        if t.name in self.spec.enums:
            return "enum"
        if t.name in self.spec.models:
            return "model"
        return t.name


class WireMap:
    """The msgspec fast path: which models can be decoded straight from bytes, and how.

    A model is eligible when every field (recursively) has a msgspec type that reads the
    wire exactly: decimals as ``Decimal``, ints (lax: from digit strings), strings, bools,
    enums (msgspec maps a value to its member, and an unknown value to the open enum's kept
    member; an optional enum is read raw, since its ``""`` means None), ``json`` values as
    ``msgspec.Raw`` (decoded afterwards as the general path decodes them), nested eligible
    models, lists. Enums or models inside rows make a model ineligible: those keep the general
    path only.

    Each model is built once from its wire struct: msgspec fills the struct, ``asdict`` (C)
    gives its fields by Python name, the few values that need it are converted (nested
    models, optional enums, ``json``), and the dict becomes the model's ``__dict__`` (see
    :func:`cambist._runtime.convert.model_from`); the model's ``__init__`` is not run.
    """

    _PRIMITIVE: ClassVar[dict[str, str]] = {
        "string": "str",
        "int": "int",
        "long": "int",
        "decimal": "Decimal",
        "bool": "bool",
    }

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._eligible: dict[str, bool] = {}

    @staticmethod
    def struct_name(model: str) -> str:
        return f"{model}Wire"

    @staticmethod
    def from_wire_name(model: str) -> str:
        return f"from_wire_{snake(model)}"

    @staticmethod
    def from_wire_list_name(model: str) -> str:
        return f"from_wire_{snake(model)}_list"

    @staticmethod
    def _json_list(t: TypeRef) -> bool:
        """``list[json]``: kept raw whole (one Raw, decoded at once), not item by item."""
        return t.item is not None and t.item.item is None and t.item.name == "json"

    def _json_fn(self, imports: Imports) -> str:
        exact = self.spec.exchange["response"].get("numbers", "strings") == "numbers"
        return imports.add("cambist._runtime.convert", "json_exact" if exact else "json_value")

    def eligible(self, name: str) -> bool:
        if name not in self._eligible:
            self._eligible[name] = False  # a cycle is not eligible
            model = self.spec.models[name]
            if model.input:
                ok = False
            elif model.row:
                ok = all(self._leaf(f.type) in self._PRIMITIVE for f in model.fields)
            else:
                ok = all(self._type_ok(f.type) for f in model.fields)
            self._eligible[name] = ok
        return self._eligible[name]

    @staticmethod
    def _leaf(t: TypeRef) -> str:
        while t.item is not None:
            t = t.item
        return t.name

    def _type_ok(self, t: TypeRef) -> bool:
        leaf = self._leaf(t)
        if leaf in self._PRIMITIVE or leaf in self.spec.enums or leaf == "json":
            return True
        return leaf in self.spec.models and self.eligible(leaf)

    def annotation(
        self, t: TypeRef, types: TypeMap, imports: Imports, here: str, optional: bool = False
    ) -> str:
        """The field's type in the wire struct."""
        if self._json_list(t):
            return imports.add("msgspec", "Raw")
        if t.item is not None:
            return f"list[{self.annotation(t.item, types, imports, here)}]"
        if t.name == "json":
            return imports.add("msgspec", "Raw")
        if t.name in self._PRIMITIVE:
            if t.name == "decimal":
                imports.add("decimal", "Decimal")
            return self._PRIMITIVE[t.name]
        if t.name in self.spec.enums:
            if optional:  # read raw: "" means None, as the general converters read it
                return "int" if self.spec.enums[t.name].is_int else "str"
            return imports.add(types.model_module(t.name), t.name)
        model = self.spec.models[t.name]
        if model.row:  # decoded straight into the NamedTuple (measured faster than a tuple
            imports.add(types.model_module(t.name), t.name)  # made one by tuple.__new__)
            return t.name
        struct = self.struct_name(t.name)
        if types.convert_module(t.name) != here:
            imports.add(types.convert_module(t.name), struct)
        return struct

    def optional_value(
        self, t: TypeRef, var: str, types: TypeMap, imports: Imports, here: str
    ) -> str:
        """As :meth:`value`, for a field that may be absent (None), read as the general
        converters read it (an optional enum's "" is None there too)."""
        if t.item is None and t.name in self.spec.enums:
            table = "_" + snake(t.name).upper()  # a dict look-up first, as for required enums:
            imports.tables[table] = t.name  # the function only for None, "" and the unknown
            return f"{table}.get({var}) or {types.opt_conv(t, var, imports, here)}"
        if t.item is None and t.name == "json":
            return self.value(t, var, types, imports, here)  # absent: Raw(), read as None
        if self._json_list(t):  # absent or null: None, as the general converters read it
            opt_items = imports.add("cambist._runtime.convert", "opt_items")
            return f"{opt_items}({self._json_fn(imports)}({var}))"
        expr = self.value(t, var, types, imports, here)
        return expr if expr == var else f"None if {var} is None else {expr}"

    def model_list(self, t: TypeRef, types: TypeMap, imports: Imports, here: str) -> str | None:
        """For a field holding a list of (non-row) models: the ``from_wire_*_list`` that builds
        them (imported), so a list of owners builds all their items in one call; else None."""
        item = t.item
        if item is None or item.item is not None or self._json_list(t):
            return None
        model = self.spec.models.get(item.name)
        if model is None or model.row:
            return None
        fn = self.from_wire_list_name(item.name)
        if types.convert_module(item.name) != here:
            imports.add(types.convert_module(item.name), fn)
        return fn

    def value(
        self, t: TypeRef, var: str, types: TypeMap, imports: Imports, here: str, depth: int = 0
    ) -> str:
        """An expression turning the decoded wire value ``var`` into the model's value."""
        if self._json_list(t):
            items = imports.add("cambist._runtime.convert", "items")
            return f"{items}({self._json_fn(imports)}({var}))"
        item = t.item
        item_model = self.spec.models.get(item.name) if item is not None else None
        one_level = item is not None and item.item is None
        if item is not None and one_level and item_model and not item_model.row:
            fn = self.from_wire_list_name(item.name)  # a list of models: built in one go
            if types.convert_module(item.name) != here:
                imports.add(types.convert_module(item.name), fn)
            return f"{fn}({var})"
        if t.item is not None:
            name = f"x{depth}" if depth else "x"
            inner = self.value(t.item, name, types, imports, here, depth + 1)
            return list_expr(inner, name, var)
        if t.name == "json":
            return f"{self._json_fn(imports)}({var})"
        if t.name in self._PRIMITIVE or t.name in self.spec.enums:
            return var  # an enum is its member already
        if self.spec.models[t.name].row:
            return var
        fn = self.from_wire_name(t.name)
        if types.convert_module(t.name) != here:
            imports.add(types.convert_module(t.name), fn)
        return f"{fn}({var})"
