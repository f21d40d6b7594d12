"""The spec format (see ``specs/README.md``): its shapes, and loading a spec folder into
checked objects the generator renders."""

from __future__ import annotations

import itertools
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegen.schema import (
    BOOL,
    INT,
    STR,
    LDict,
    Obj,
    SpecError,
    Where,
    any_of,
    listof,
    load,
    mapof,
    scalar,
)

METHODS = ("GET", "POST", "PUT", "DELETE")
ERROR_KINDS = (
    "authentication",
    "permission",
    "invalid_request",
    "rate_limited",
    "insufficient_balance",
    "order_not_found",
    "timestamp",
    "execution_unknown",
    "server",
    "unavailable",
    "other",
)
PRIMITIVES = ("string", "int", "long", "decimal", "bool", "json")
PROTOCOLS = ("hashkey_v1", "hashkey_v2", "bibox", "push")
HEARTBEATS = ("json_client", "json_server", "ws_ping", "text_server", "none")
NUMBER = scalar(int, float, str)
NOTE = {"note": STR}

EXCHANGE_SHAPE = Obj(
    required={
        "exchange": Obj(
            required={
                "id": STR,
                "name": STR,
                "client": STR,
                "environments": mapof(
                    Obj(
                        required={"rest": STR},
                        # ws: the WebSocket base; exchanges with several hosts add ws_<name>.
                        optional={"ws": STR, "ws_market": STR, "ws_user": STR},
                    )
                ),
                "auth": Obj(
                    required={
                        "scheme": scalar(str, choices=("hmac_params", "hmac_body_header")),
                        "api_key_header": STR,
                    },
                    optional={
                        "signature_param": STR,
                        "signature_header": STR,
                        "expire_header": STR,
                        "timestamp_param": STR,
                        "recv_window_param": STR,
                        "json_body_signed": BOOL,
                        **NOTE,
                    },
                ),
                "security": mapof(Obj(optional={"api_key": BOOL, "signed": BOOL})),
                "response": Obj(
                    required={"error": Obj(required={"code": STR, "message": STR})},
                    optional={
                        "numbers": scalar(str, choices=("strings", "numbers")),
                        "envelope": Obj(
                            required={"code": STR, "data": STR},
                            optional={"message": STR, "required": BOOL},
                            nullable=True,
                        ),
                        "success_codes": listof(scalar(str, int)),
                        "status_messages": mapof(mapof(scalar(str, choices=ERROR_KINDS))),
                        **NOTE,
                    },
                ),
            },
            optional={
                "document": STR,
                "client_order_ids": scalar(str, choices=("hex", "digits")),
                "credentials_env": Obj(required={"api_key": STR, "api_secret": STR}),
                "server_time": Obj(required={"path": STR, "field": STR}),
                "coverage": Obj(
                    optional={
                        "endpoint_list": STR,
                        "patterns": listof(STR),
                        "ignore": listof(
                            any_of(
                                Obj(required={"path": STR, "reason": STR}),
                                Obj(required={"endpoint": STR, "reason": STR}),
                            )
                        ),
                    }
                ),
                **NOTE,
            },
        ),
    },
    optional={
        "errors": listof(
            Obj(
                required={
                    "code": scalar(str, int),
                    "kind": scalar(str, choices=ERROR_KINDS),
                    "message": STR,
                },
                optional={"http": INT, "description": STR, **NOTE},
            )
        ),
    },
)

PARAM_KEYS = {
    "description": STR,
    "py_name": STR,
    "default": scalar(str, int, float, bool),
    "min": NUMBER,
    "max": NUMBER,
    "example": scalar(str, int, float, bool),
    "body": BOOL,
    "in": scalar(str, choices=("query",)),
    "prefix": STR,
    **NOTE,
}
PARAM_SHAPE = Obj(
    required={"name": STR, "type": STR, "required": scalar(bool, str)},
    optional=PARAM_KEYS,
)
FIELD_SHAPE = Obj(
    required={"name": STR, "type": STR},
    optional={"description": STR, "py_name": STR, "optional": BOOL, **NOTE},
)
RULE_SHAPE = any_of(
    Obj(required={"one_of": listof(STR)}),
    Obj(required={"exclusive": listof(STR)}),
    Obj(required={"require": STR, "when": mapof(listof(scalar(str, int)))}),
)
ENUM_VALUE = any_of(
    scalar(str, int),
    Obj(required={"value": scalar(str, int)}, optional={"name": STR, "description": STR, **NOTE}),
)
CHANNEL_SHAPE = Obj(
    required={"name": STR, "summary": STR, "topic": STR, "event": STR},
    optional={
        "description": STR,
        "source": STR,
        "params": listof(PARAM_SHAPE),
        "book": Obj(
            required={
                "mode": scalar(str, choices=("snapshot", "incremental")),
                "bids": STR,
                "asks": STR,
                "version": STR,
            },
            optional=NOTE,
        ),
        **NOTE,
    },
)
STREAM_SHAPE = Obj(
    required={
        "name": STR,
        "summary": STR,
        "source": STR,
        "path": STR,
        "protocol": scalar(str, choices=PROTOCOLS),
    },
    optional={
        "description": STR,
        "base": STR,
        "heartbeat": Obj(
            required={"kind": scalar(str, choices=HEARTBEATS), "interval": NUMBER},
            optional={"timeout": NUMBER, **NOTE},
        ),
        "listen_key": Obj(
            required={
                "create": STR,
                "extend": STR,
                "delete": STR,
                "field": STR,
                "param": STR,
                "lifetime": INT,
            },
            optional=NOTE,
        ),
        "handshake_auth": Obj(
            required={"api_key_header": STR}, optional={"sign_header": STR, **NOTE}
        ),
        "event_field": STR,
        "events": listof(
            Obj(required={"type": STR, "event": STR}, optional={"description": STR, **NOTE})
        ),
        "channels": listof(CHANNEL_SHAPE),
        **NOTE,
    },
)
SECTION_SHAPE = Obj(
    optional={
        "streams": listof(STREAM_SHAPE),
        "endpoints": listof(
            Obj(
                required={
                    "name": STR,
                    "summary": STR,
                    "source": STR,
                    "method": scalar(str, choices=METHODS),
                    "path": STR,
                    "security": STR,
                },
                optional={
                    "description": STR,
                    "weight": scalar(int, str),
                    "resend": scalar(str, choices=("safe", "unsafe")),
                    "params_in": scalar(str, choices=("query", "form", "json")),
                    "client_order_id": STR,
                    "params": listof(PARAM_SHAPE),
                    "rules": listof(RULE_SHAPE),
                    "response": scalar(str, nullable=True),
                    **NOTE,
                },
            )
        ),
        "models": mapof(
            Obj(
                required={"fields": listof(any_of(FIELD_SHAPE, PARAM_SHAPE))},
                optional={
                    "description": STR,
                    "row": BOOL,
                    "input": BOOL,
                    "rules": listof(RULE_SHAPE),
                    **NOTE,
                },
            )
        ),
        "enums": mapof(
            Obj(required={"values": listof(ENUM_VALUE)}, optional={"description": STR, **NOTE})
        ),
    }
)


# -- the checked spec ---------------------------------------------------------------------


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

    @property
    def is_list(self) -> bool:
        return self.item is not None

    def text(self) -> str:
        return f"list[{self.item.text()}]" if self.item else self.name


def parse_type(text: str, where: Where) -> TypeRef:
    text = text.strip()
    match = re.fullmatch(r"list\[(.+)\]", text)
    if match:
        return TypeRef("list", parse_type(match.group(1), where))
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise where.error(f"bad type {text!r} (see specs/README.md: Types)")
    return TypeRef(text)


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


@dataclass
class Model:
    name: str
    group: str
    description: str
    where: Where
    fields: list[Field] = field(default_factory=list)
    inputs: list[Param] = field(default_factory=list)
    row: bool = False
    input: bool = False
    rules: list[Rule] = field(default_factory=list)


@dataclass
class EnumValue:
    value: str | int
    description: str
    name: str


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


@dataclass
class Book:
    mode: str
    bids: tuple[str, ...]
    asks: tuple[str, ...]
    version: tuple[str, ...]


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


def _params(items: list[LDict], file_where: Where) -> list[Param]:
    params: list[Param] = []
    seen: dict[str, Where] = {}
    for p in items:
        w = p.where
        py = p.get("py_name") or snake(p["name"])
        if py in seen:
            raise w.error(f"Python name {py!r} is used twice (also line {seen[py].line})")
        seen[py] = w
        params.append(
            Param(
                wire=p["name"],
                py=py,
                type=parse_type(p["type"], p.key_where["type"]),
                required=p["required"],
                description=p.get("description", ""),
                where=w,
                default=p.get("default"),
                minimum=p.get("min"),
                maximum=p.get("max"),
                body=p.get("body", False),
                in_query=p.get("in") == "query",
                prefix=p.get("prefix"),
            )
        )
    keys = [param.key for param in params]
    for param in params:
        if keys.count(param.key) > 1:
            raise param.where.error(f"wire name {param.wire!r} is used twice; give one a `prefix`")
    return params


def _rules(items: list[LDict], wires: set[str], owner: str) -> list[Rule]:
    rules = []
    for r in items:
        if "one_of" in r or "exclusive" in r:
            kind = "one_of" if "one_of" in r else "exclusive"
            names = list(r[kind])
            rule = Rule(kind, names)
        else:
            if len(r["when"]) != 1:
                raise r.where.error("`when` names exactly one param")
            ((when_param, values),) = r["when"].items()
            names = [r["require"], when_param]
            rule = Rule("require", [r["require"]], when_param, [str(v) for v in values])
        for name in names:
            if name not in wires:
                raise r.where.error(f"rule names {name!r}, which is not a param of {owner}")
        rules.append(rule)
    return rules


def load_spec(folder: Path, root: Path) -> Spec:
    """Load and check ``specs/<exchange>/``; raises :class:`SpecError` with file and line."""

    def display(path: Path) -> str:
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    exchange_file = folder / "exchange.yaml"
    if not exchange_file.exists():
        raise SpecError(f"{display(folder)}: no exchange.yaml")
    head = load(exchange_file, EXCHANGE_SHAPE, display(exchange_file))
    exchange: LDict = head["exchange"]
    errors = [
        ErrorRow(str(e["code"]), e["kind"], e["message"], e.get("http"), e.get("description", ""))
        for e in head.get("errors", [])
    ]
    models: dict[str, Model] = {}
    enums: dict[str, Enum] = {}
    endpoints: list[Endpoint] = []
    groups: list[str] = []
    raw_endpoints: list[tuple[LDict, str]] = []
    raw_streams: list[tuple[LDict, str]] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "exchange.yaml":
            continue
        group = snake(path.stem)
        groups.append(group)
        section = load(path, SECTION_SHAPE, display(path))
        for name, e in section.get("enums", {}).items():
            where = section["enums"].key_where[name]
            _unique(name, where, models, enums)
            values = [_enum_value(v, where) for v in e["values"]]
            names = [v.name for v in values]
            if len(set(names)) != len(names):
                raise where.error(f"{name}: two values get the same member name; give `name`s")
            enums[name] = Enum(name, group, e.get("description", ""), values, where)
        for name, m in section.get("models", {}).items():
            where = section["models"].key_where[name]
            _unique(name, where, models, enums)
            model = Model(
                name,
                group,
                m.get("description", ""),
                where,
                row=m.get("row", False),
                input=m.get("input", False),
            )
            if model.input:
                model.inputs = _params(m["fields"], where)
                model.rules = _rules(m.get("rules", []), {p.wire for p in model.inputs}, name)
            else:
                if "rules" in m:
                    raise where.error("only input models have rules")
                model.fields = _fields(m["fields"])
            models[name] = model
        for e in section.get("endpoints", []):
            raw_endpoints.append((e, group))
        for st in section.get("streams", []):
            raw_streams.append((st, group))
    security = exchange["security"]
    seen: dict[str, Where] = {}
    for e, group in raw_endpoints:
        endpoints.append(_endpoint(e, group, security, seen))
    spec = Spec(exchange["id"], folder, exchange, errors, endpoints, models, enums, groups)
    stream_names: dict[str, Where] = {}
    for st, group in raw_streams:
        spec.streams.append(_stream(st, group, stream_names))
    _check_references(spec)
    for stream in spec.streams:
        _check_stream(spec, stream)
    return spec


def _unique(name: str, where: Where, models: dict[str, Model], enums: dict[str, Enum]) -> None:
    other = models.get(name) or enums.get(name)
    if other is not None:
        raise where.error(f"{name!r} is already defined at {other.where.file}:{other.where.line}")
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
        raise where.error(f"model and enum names are CamelCase identifiers, not {name!r}")


def _enum_value(v: Any, where: Where) -> EnumValue:
    item = v if isinstance(v, dict) else {"value": v}
    value = item["value"]
    name = item.get("name")
    if name is None:
        candidate = re.sub(r"[^0-9A-Za-z]+", "_", str(value)).strip("_").upper()
        if isinstance(value, int) or not candidate.isidentifier():
            raise where.error(f"value {value!r} is not an identifier: give it a `name`")
        name = candidate
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name) or keyword.iskeyword(name):
        raise where.error(f"member name {name!r} must be UPPER_SNAKE_CASE")
    return EnumValue(value, item.get("description", ""), name)


def _fields(items: list[LDict]) -> list[Field]:
    fields: list[Field] = []
    seen: set[str] = set()
    for f in items:
        if "required" in f:
            raise f.where.error("output model fields use `optional`, not `required`")
        py = f.get("py_name") or snake(f["name"])
        if py in seen:
            raise f.where.error(f"Python name {py!r} is used twice")
        seen.add(py)
        fields.append(
            Field(
                f["name"],
                py,
                parse_type(f["type"], f.key_where["type"]),
                f.get("optional", False),
                f.get("description", ""),
                f.where,
            )
        )
    return fields


def _new_name(kind: str, item: LDict, pattern: str, shape: str, seen: dict[str, Where]) -> str:
    """``item``'s name, checked against ``pattern`` and not defined before."""
    name: str = item["name"]
    if not re.fullmatch(pattern, name):
        raise item.where.error(f"{kind} name {name!r} is not {shape}")
    if name in seen:
        raise item.where.error(f"{kind} {name!r} is already defined at line {seen[name].line}")
    seen[name] = item.where
    return name


def _endpoint(e: LDict, group: str, security: LDict, seen: dict[str, Where]) -> Endpoint:
    w = e.where
    pattern = r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*"
    name = _new_name("endpoint", e, pattern, "<resource>.<method> in snake_case", seen)
    if e["security"] not in security:
        raise e.key_where["security"].error(
            f"security {e['security']!r} is not one of {', '.join(security)}"
        )
    method = e["method"]
    if method != "GET" and "resend" not in e:
        raise w.error(f"{name}: a {method} endpoint must say `resend: safe` or `unsafe`")
    params_in = e.get("params_in", "query")
    if method == "GET" and params_in != "query":
        raise w.error(f"{name}: GET params go in the query string")
    params = _params(e.get("params", []), w)
    wires = {p.key for p in params}
    bodies = [p for p in params if p.body]
    if bodies and (params_in != "json" or len(bodies) > 1):
        raise bodies[0].where.error("one `body: true` param, on a `params_in: json` endpoint")
    response = e.get("response")
    resource, method_name = name.split(".")
    return Endpoint(
        name=name,
        resource=resource,
        method_name=method_name,
        summary=e["summary"],
        description=e.get("description", ""),
        source=e["source"],
        http_method=method,
        path=e["path"],
        security=e["security"],
        weight=e.get("weight"),
        safe=e.get("resend", "safe") == "safe",
        params_in=params_in,
        params=params,
        rules=_rules(e.get("rules", []), wires, name),
        response=parse_type(response, e.key_where["response"]) if response else None,
        client_order_id=e.get("client_order_id"),
        where=w,
        group=group,
    )


def _stream(st: LDict, group: str, seen: dict[str, Where]) -> Stream:
    w = st.where
    name = _new_name("stream", st, r"[a-z][a-z0-9_]*", "snake_case", seen)
    hb = st.get("heartbeat", {"kind": "none", "interval": 30})
    channels: list[Channel] = []
    for c in st.get("channels", []):
        cw = c.where
        if not re.fullmatch(r"[a-z][a-z0-9_]*", c["name"]):
            raise cw.error(f"channel name {c['name']!r} is not snake_case")
        if any(other.name == c["name"] for other in channels):
            raise cw.error(f"channel {c['name']!r} is defined twice in stream {name!r}")
        params = _params(c.get("params", []), cw)
        wires = {p.wire for p in params}
        for placeholder in re.findall(r"\{([^}]*)\}", c["topic"]):
            if placeholder not in wires:
                raise c.key_where["topic"].error(f"topic names {{{placeholder}}}, not a param")
        book = None
        if "book" in c:
            b = c["book"]
            book = Book(b["mode"], *(tuple(b[k].split(".")) for k in ("bids", "asks", "version")))
        channels.append(
            Channel(
                c["name"],
                c["summary"],
                c.get("description", ""),
                c.get("source", st["source"]),
                c["topic"],
                params,
                c["event"],
                book,
                cw,
            )
        )
    if sum(c.book is not None for c in channels) > 1:
        raise w.error(f"stream {name!r}: at most one channel keeps an order book")
    if channels and st["protocol"] == "push":
        raise w.error(f"stream {name!r}: a `push` stream has no channels (use `events`)")
    if "events" in st and "event_field" not in st:
        raise w.error(f"stream {name!r}: `events` need an `event_field` naming the type field")
    lk = st.get("listen_key")
    if lk is not None and "{" + lk["param"] + "}" not in st["path"]:
        raise st.key_where["path"].error(f"path has no {{{lk['param']}}} for the listen key")
    return Stream(
        name=name,
        summary=st["summary"],
        description=st.get("description", ""),
        source=st["source"],
        base=st.get("base", "ws"),
        path=st["path"],
        protocol=st["protocol"],
        heartbeat=hb["kind"],
        interval=float(hb["interval"]),
        timeout=float(hb.get("timeout", hb["interval"])),
        listen_key=lk,
        handshake_auth=st.get("handshake_auth"),
        event_field=st.get("event_field"),
        events=[
            StreamEvent(e["type"], e["event"], e.get("description", ""), e.where)
            for e in st.get("events", [])
        ],
        channels=channels,
        group=group,
        where=w,
    )


def _check_stream(spec: Spec, stream: Stream) -> None:
    """References of a stream: event models, listen-key endpoints, its WebSocket base."""

    def model(name: str, where: Where) -> None:
        m = spec.models.get(name)
        if m is None or m.input or m.row:
            raise where.error(f"event {name!r} is not an output model")

    for c in stream.channels:
        model(c.event, c.where)
        for p in c.params:
            if p.type.is_list or (p.type.name not in PRIMITIVES and p.type.name not in spec.enums):
                raise p.where.error("channel params are primitives or enums")
    for e in stream.events:
        model(e.event, e.where)
    endpoints = {ep.name: ep for ep in spec.endpoints}
    if stream.listen_key is not None:
        lk = stream.listen_key
        for key in ("create", "extend", "delete"):
            if lk[key] not in endpoints:
                raise lk.key_where[key].error(f"{lk[key]!r} is not an endpoint of this spec")
        create = endpoints[lk["create"]]
        answer = spec.models.get(create.response.name) if create.response else None
        if answer is None or all(f.wire != lk["field"] for f in answer.fields):
            raise lk.key_where["field"].error(f"{lk['create']} answers no field {lk['field']!r}")
    bases = {k for env in spec.exchange["environments"].values() for k in env}
    if stream.base not in bases:
        raise stream.where.error(f"base {stream.base!r} is not a URL of the environments")


def _check_references(spec: Spec) -> None:
    def check(t: TypeRef, where: Where, *, input_side: bool) -> None:
        if t.item is not None:
            check(t.item, where, input_side=input_side)
            return
        if t.name in PRIMITIVES or t.name in spec.enums:
            return
        model = spec.models.get(t.name)
        if model is None:
            raise where.error(f"unknown type {t.name!r}: not a primitive, enum or model")
        if input_side and not model.input:
            raise where.error(f"{t.name!r} is sent, so it must be an `input: true` model")
        if not input_side and model.input:
            raise where.error(f"{t.name!r} is an input model; it cannot be received")

    for model in spec.models.values():
        for f in model.fields:
            check(f.type, f.where, input_side=False)
        for p in model.inputs:
            check(p.type, p.where, input_side=True)
    for ep in spec.endpoints:
        for p in ep.params:
            check(p.type, p.where, input_side=True)
        if ep.response is not None:
            check(ep.response, ep.where, input_side=False)
        if ep.client_order_id:
            wires = {p.wire for p in ep.params}
            body = next((p for p in ep.params if p.body), None)
            item = body.type.item if body and body.type.item else None
            body_model = spec.models.get(item.name) if item else None
            if body_model is not None:
                wires |= {p.wire for p in body_model.inputs}
            if ep.client_order_id not in wires:
                raise ep.where.error(
                    f"client_order_id {ep.client_order_id!r} is not a param of {ep.name}"
                )
    for m in spec.models.values():
        if m.row and any(a.optional and not b.optional for a, b in itertools.pairwise(m.fields)):
            raise m.where.error("in a row model only trailing fields may be optional")


def load_all(specs_dir: Path, root: Path) -> list[Spec]:
    return [
        load_spec(d, root)
        for d in sorted(specs_dir.iterdir())
        if d.is_dir() and (d / "exchange.yaml").exists()
    ]
