"""The parsed spec: checked objects the generator renders (built by :mod:`codegen.spec`)."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegen.schema import LDict, Where


def snake(name: str) -> str:
    """``clientOrderId`` -> ``client_order_id``; ``24hr`` stays; keywords get a ``_``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    if not text or text[0].isdigit():
        text = "f_" + text
    return text + "_" if keyword.iskeyword(text) else text


@dataclass
class TypeRef:
    """A parsed type: ``name`` is a primitive, enum or model name; ``item`` for lists."""

    name: str
    item: TypeRef | None = None
    where: Where | None = field(default=None, compare=False, repr=False)
    """Where the type is written (its ``type:`` or ``response:`` line)."""

    @property
    def is_list(self) -> bool:
        return self.item is not None

    def text(self) -> str:
        return f"list[{self.item.text()}]" if self.item else self.name


def parse_type(text: str, where: Where) -> TypeRef:
    text = text.strip()
    match = re.fullmatch(r"list\[(.+)\]", text)
    if match:
        return TypeRef("list", parse_type(match.group(1), where), where)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise where.error(f"bad type {text!r} (see specs/README.md: Types)")
    return TypeRef(text, where=where)


@dataclass
class Param:
    wire: str
    py: str
    type: TypeRef
    required: bool | str
    description: str
    where: Where
    default: Any = None
    minimum: Any = None
    maximum: Any = None
    body: bool = False
    in_query: bool = False
    prefix: str | None = None
    exclusive_minimum: Any = None
    exclusive_maximum: Any = None
    max_items: int | None = None
    pattern: str | None = None
    accept_int: bool = False
    json_text: bool = False
    """``encode: json``: the value is sent as compact JSON text in one query/form param."""

    @property
    def key(self) -> str:
        """How rules and the call's values name it (see the runtime's ``Param.key``)."""
        return self.py if self.prefix else self.wire


@dataclass
class Field:
    wire: str
    py: str
    type: TypeRef
    optional: bool
    description: str
    where: Where


@dataclass
class Rule:
    kind: str
    params: list[str]
    when_param: str | None = None
    when_values: list[str] = field(default_factory=list)
    where: Where | None = None


@dataclass
class Model:
    name: str
    group: str
    description: str
    where: Where
    fields: list[Field] = field(default_factory=list)
    inputs: list[Param] = field(default_factory=list)
    row: bool = False
    book_level: bool = False  # a row shaped as the runtime's PriceLevel (its subclass)
    input: bool = False
    rules: list[Rule] = field(default_factory=list)
    bare: str | None = None  # a list field whose single item may come bare (see the format)


@dataclass
class EnumValue:
    value: str | int
    description: str
    name: str
    received_only: bool = False  # the exchange reports it; a request may not carry it
    send_instead: str = ""  # what to send instead (received_only values)


@dataclass
class Enum:
    name: str
    group: str
    description: str
    values: list[EnumValue]
    where: Where

    @property
    def is_int(self) -> bool:
        return all(isinstance(v.value, int) for v in self.values)


@dataclass
class Paging:
    """An endpoint's ``paging:`` (wire names, as in the spec; see ``specs/README.md``)."""

    by: str
    param: str
    limit: str
    size: int | None
    field: str | None
    key: str | None
    direction: str
    items: str | None
    total: str | None
    first: int
    where: Where


ITEM_ERRORS = ("APIError", "ExecutionStatusUnknownError")
"""What an ``item_errors`` item may be instead of its model (classes of ``cambist.errors``):
refused, or of unknown outcome."""


@dataclass
class Endpoint:
    name: str
    resource: str
    method_name: str
    summary: str
    description: str
    source: str
    http_method: str
    path: str
    security: str
    weight: int | str | None
    safe: bool
    params_in: str
    params: list[Param]
    rules: list[Rule]
    response: TypeRef | None
    client_order_id: str | None
    where: Where
    group: str
    base: str | None = None
    paging: Paging | None = None
    item_errors: bool = False
    """Items of the list answer may each be the exchange's error object (spec
    ``item_errors``)."""

    @property
    def iter_name(self) -> str:
        """The paging method: ``list_trades`` -> ``iter_trades``."""
        return "iter_" + self.method_name.removeprefix("list_")


@dataclass
class Book:
    mode: str
    bids: tuple[str, ...]
    asks: tuple[str, ...]
    version: tuple[str, ...]
    first: tuple[str, ...] = ()
    previous: tuple[str, ...] = ()
    snapshot: LDict | None = None
    """sequenced: {endpoint, params, bids, asks, version} (the answer's wire names)."""


@dataclass
class Channel:
    name: str
    summary: str
    description: str
    source: str
    topic: str
    params: list[Param]
    event: str
    book: Book | None
    where: Where
    market: str | None = None  # the param (wire name) holding a market symbol, checked


@dataclass
class StreamEvent:
    type: str
    event: str
    description: str
    where: Where


@dataclass
class Stream:
    name: str
    summary: str
    description: str
    source: str
    base: str
    path: str
    protocol: str
    heartbeat: str
    interval: float
    timeout: float
    listen_key: LDict | None
    handshake_auth: LDict | None
    event_field: str | None
    events: list[StreamEvent]
    channels: list[Channel]
    group: str
    where: Where
    max_connection_age: float | None = None


@dataclass
class ErrorRow:
    code: str
    kind: str
    message: str
    http: int | None
    description: str


@dataclass
class Spec:
    id: str
    folder: Path
    exchange: LDict
    errors: list[ErrorRow]
    endpoints: list[Endpoint]
    models: dict[str, Model]
    enums: dict[str, Enum]
    groups: list[str]
    streams: list[Stream] = field(default_factory=list)

    @property
    def client(self) -> str:
        return str(self.exchange["client"])
