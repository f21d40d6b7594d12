"""Loading a spec folder: YAML checked against :mod:`codegen.shapes`, then the semantic
checks (references, names, rules), into :mod:`codegen.parsed` objects."""

from __future__ import annotations

import difflib
import fnmatch
import itertools
import keyword
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codegen.parsed import (
    Book,
    Channel,
    Endpoint,
    Enum,
    EnumValue,
    ErrorRow,
    Field,
    Model,
    Paging,
    Param,
    Rule,
    Spec,
    Stream,
    StreamEvent,
    TypeRef,
    parse_type,
    snake,
)
from codegen.schema import (
    LDict,
    LList,
    SpecError,
    Where,
    load,
)
from codegen.schema import (
    where as where_of,
)
from codegen.shapes import (
    EXCHANGE_SHAPE,
    PRIMITIVES,
    SECTION_SHAPE,
)
from codegen.spec_types.exchange import ExchangeSpec
from codegen.spec_types.section import SectionSpec

_PY_NAME = re.compile(r"[a-z][a-z0-9_]*")

RESERVED_ARGS = ("self", "timeout", "extra_params", "extra_headers")
"""Arguments every generated method takes besides the spec's params (``self`` and the
per-call options): a param's Python name must differ."""

PAGING_ARGS = ("max_items", "iterate", "aiterate")
"""More names an ``iter_*`` method uses (its own argument, the walkers it calls)."""


def _py_name(item: LDict) -> str:
    """The Python name of a param or field: its ``py_name`` (checked), else the wire name in
    snake_case."""
    if "py_name" not in item:
        return snake(item["name"])
    py: str = item["py_name"]
    if not _PY_NAME.fullmatch(py) or keyword.iskeyword(py):
        raise item.key_where["py_name"].error(
            f"py_name {py!r} is not a snake_case Python identifier (lower case, digits and _,"
            " not a keyword)"
        )
    return py


def _check_reserved(params: list[Param], owner: str, reserved: tuple[str, ...]) -> None:
    for param in params:
        if param.py in reserved:
            raise param.where.error(
                f"{owner}: the Python name {param.py!r} is taken by the generated method's own"
                f" `{param.py}` argument; give the param a `py_name`"
            )


def _params(items: list[LDict], file_where: Where) -> list[Param]:
    params: list[Param] = []
    seen: dict[str, Where] = {}
    for p in items:
        w = p.where
        py = _py_name(p)
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
                exclusive_minimum=p.get("exclusive_min"),
                exclusive_maximum=p.get("exclusive_max"),
                max_items=p.get("max_items"),
                pattern=p.get("pattern"),
                accept_int=p.get("accept_int", False),
                json_text=p.get("encode") == "json",
            )
        )
        _check_param_keys(params[-1], p)
    keys = [param.key for param in params]
    for param in params:
        if param.json_text and (param.body or param.prefix):
            raise param.where.error("`encode: json` is for a query or form param (not a body)")
        if keys.count(param.key) > 1:
            raise param.where.error(f"wire name {param.wire!r} is used twice; give one a `prefix`")
    return params


def _leaf(t: TypeRef) -> TypeRef:
    while t.item is not None:
        t = t.item
    return t


def _check_param_keys(param: Param, p: LDict) -> None:
    """The optional checks a param declares fit its type."""
    if param.max_items is not None and not param.type.is_list:
        raise p.key_where["max_items"].error("`max_items` is for list params")
    string = _leaf(param.type).name == "string"
    for key in ("pattern", "accept_int"):
        if key in p and not string:
            raise p.key_where[key].error(f"`{key}` is for string params")
    if param.pattern is not None:
        try:
            re.compile(param.pattern)
        except re.error as exc:
            raise p.key_where["pattern"].error(f"bad pattern: {exc}") from None
    numeric = param.type.name in ("int", "long", "decimal")
    for key in ("min", "max", "exclusive_min", "exclusive_max"):
        if key in p and not numeric:
            raise p.key_where[key].error(f"`{key}` is for int, long and decimal params")


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
            if not values:
                raise r.where.error(f"`when` lists no value of {when_param!r}")
            rule = Rule("require", [r["require"]], when_param, [str(v) for v in values])
        rule.where = r.where
        for name in names:
            if name not in wires:
                raise r.where.error(f"rule names {name!r}, which is not a param of {owner}")
        rules.append(rule)
    return rules


def lines(value: object) -> Any:
    """A loaded mapping or list with its positions (:class:`LDict` / :class:`LList`): the typed
    shapes (``codegen.spec_types``, generated from the schema) say what it holds, this says
    where each part was written."""
    assert isinstance(value, LDict | LList), type(value)
    return value


def load_spec(folder: Path, root: Path) -> Spec:
    """Load and check ``specs/<exchange>/``; raises :class:`SpecError` with file and line."""

    def display(path: Path) -> str:
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    exchange_file = folder / "exchange.yaml"
    if not exchange_file.exists():
        raise SpecError(
            f"{display(folder)}: no exchange.yaml: an exchange folder's spec files are read"
            " only with one (see specs/README.md)"
        )
    head: ExchangeSpec = load(exchange_file, EXCHANGE_SHAPE, display(exchange_file))
    exchange = lines(head["exchange"])
    for table in ("status_messages", "status_kinds"):
        statuses = exchange["response"].get(table, {})
        for status in statuses:
            if not re.fullmatch(r"[1-5][0-9][0-9]", str(status)):
                raise statuses.key_where[status].error(f"{status!r} is not an HTTP status")
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
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".yml", ".yaml") and path.suffix != ".yaml":
            raise SpecError(
                f"{display(path)}:1: a spec file's name ends in .yaml; this one is ignored"
            )
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "exchange.yaml":
            continue
        group = snake(path.stem)
        groups.append(group)
        section: SectionSpec = load(path, SECTION_SHAPE, display(path))
        for name, declared in section.get("enums", {}).items():
            where = lines(section["enums"]).key_where[name]
            _unique(name, where, models, enums)
            values = [_enum_value(v, where) for v in declared["values"]]
            names = [v.name for v in values]
            if len(set(names)) != len(names):
                raise where.error(f"{name}: two values get the same member name; give `name`s")
            enums[name] = Enum(name, group, declared.get("description", ""), values, where)
        for name, m in section.get("models", {}).items():
            where = lines(section["models"]).key_where[name]
            _unique(name, where, models, enums)
            model = Model(
                name,
                group,
                m.get("description", ""),
                where,
                row=m.get("row", False),
                book_level=m.get("book_level", False),
                input=m.get("input", False),
                bare=m.get("bare"),
            )
            if model.input:
                for f in lines(m["fields"]):
                    if "required" not in f:  # it read as an output field
                        raise f.where.error(
                            "an input model's fields are params: give `required` (true, false"
                            " or the document's condition)"
                            + (", not `optional`" if "optional" in f else "")
                        )
                model.inputs = _params(lines(m["fields"]), where)
                _check_reserved(model.inputs, name, ("self",))
                rules = lines(m.get("rules", LList()))
                model.rules = _rules(rules, {p.wire for p in model.inputs}, name)
            else:
                if "rules" in m:
                    raise where.error("only input models have rules")
                model.fields = _fields(lines(m["fields"]))
            models[name] = model
        raw_endpoints += [(lines(e), group) for e in section.get("endpoints", [])]
        raw_streams += [(lines(st), group) for st in section.get("streams", [])]
    security = exchange["security"]
    seen: dict[str, Where] = {}
    for e, group in raw_endpoints:
        endpoints.append(_endpoint(e, group, security, seen))
    spec = Spec(exchange["id"], folder, exchange, errors, endpoints, models, enums, groups)
    stream_names: dict[str, Where] = {}
    for st, group in raw_streams:
        spec.streams.append(_stream(st, group, stream_names))
    _check_examples(spec, display)
    _check_references(spec)
    _check_rule_values(spec)
    _check_resource_names(spec)
    _check_paging(spec)
    for stream in spec.streams:
        _check_stream(spec, stream)
    _apply_patterns(spec)
    _check_bases(spec)
    _check_bare(spec)
    _check_ids(spec)
    _check_secrets(spec, lines(head).where)
    _check_budgets(spec)
    from codegen.markets import resolve

    resolve(spec)  # exchange.markets names the spec's endpoints, fields and params
    return spec


def _all_params(spec: Spec) -> list[Param]:
    out = [p for ep in spec.endpoints for p in ep.params]
    out += [p for m in spec.models.values() for p in m.inputs]
    out += [p for st in spec.streams for c in st.channels for p in c.params]
    return out


def _apply_patterns(spec: Spec) -> None:
    """``exchange.patterns``: the pattern of every string param of that wire name that does
    not give its own."""
    patterns = spec.exchange.get("patterns", {})
    for wire, pattern in patterns.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise patterns.key_where[wire].error(f"bad pattern: {exc}") from None
    for p in _all_params(spec):
        if p.pattern is None and p.wire in patterns and _leaf(p.type).name == "string":
            p.pattern = patterns[p.wire]


def _check_bases(spec: Spec) -> None:
    for ep in spec.endpoints:
        if ep.base is None:
            continue
        for env, urls in spec.exchange["environments"].items():
            if not ep.base.startswith("rest_") or ep.base not in urls:
                raise ep.where.error(f"base {ep.base!r} is not a rest_<name> URL of {env!r}")


def _check_bare(spec: Spec) -> None:
    for m in spec.models.values():
        if m.bare is None:
            continue
        f = next((f for f in m.fields if f.wire == m.bare), None)
        item = f.type.item if f is not None else None
        if f is None or f.optional or item is None or item.name not in spec.models:
            raise m.where.error(f"bare: {m.bare!r} is not a required list-of-models field")


_ID = re.compile(r".*_ids?")


def _check_ids(spec: Spec) -> None:
    """Within an exchange, an id a model returns is accepted where that id is a param: an
    int id needs an int param (or a string param with `accept_int`), a string id a string."""
    returned: dict[str, tuple[str, Field, Model]] = {}
    for m in spec.models.values():
        for f in m.fields:
            kind = _leaf(f.type).name
            if _ID.fullmatch(f.py) and kind in ("string", "int", "long"):
                returned.setdefault(f"{f.py}:{kind}", (kind, f, m))
    for p in _all_params(spec):
        kind = _leaf(p.type).name
        if not _ID.fullmatch(p.py) or p.prefix:
            continue
        for field_kind, f, m in returned.values():
            if f.py.removesuffix("s") != p.py.removesuffix("s"):
                continue
            ints = field_kind in ("int", "long")
            ok = (kind in ("int", "long")) if ints else kind == "string"
            if ints and kind == "string" and p.accept_int:
                ok = True
            if not ok:
                raise p.where.error(
                    f"{p.py} takes {kind}, but {m.name}.{f.py} ({f.where.file}:{f.where.line}) "
                    f"is a {field_kind}: a value a model returns must be accepted here"
                    + (" (add `accept_int: true`)" if ints and kind == "string" else "")
                )


def _check_secrets(spec: Spec, where: Where) -> None:
    """Every header and param that carries a credential is declared secret (so its value is
    masked in log lines): the API-key header, the signature, handshake headers, listen keys."""
    ex = spec.exchange
    auth = ex["auth"]
    declared = ex.get("secrets", {})
    at = ex.key_where.get("secrets", ex.key_where.get("auth", where))
    needed = [("headers", auth["api_key_header"], auth.key_where["api_key_header"])]
    needed += [("headers", auth[k], auth.key_where[k]) for k in ("signature_header",) if k in auth]
    needed += [("params", auth[k], auth.key_where[k]) for k in ("signature_param",) if k in auth]
    if "signature_param" not in auth and auth["scheme"] == "hmac_params":
        needed.append(("params", "signature", auth.where))  # the signer's default name
    for st in spec.streams:
        ha = st.handshake_auth
        if ha is not None:
            needed += [("headers", ha[k], ha.key_where[k]) for k in ha if k.endswith("_header")]
        if st.listen_key is not None:
            needed.append(("params", st.listen_key["param"], st.listen_key.key_where["param"]))
    for kind, name, found_at in needed:
        if name not in declared.get(kind, []):
            raise at.error(
                f"{name!r} carries a credential ({found_at.file}:{found_at.line}): "
                f"list it under exchange.secrets.{kind} so log lines mask it"
            )


def _check_budgets(spec: Spec) -> None:
    """``rate_limits``: budget names are unique, every endpoint glob names an endpoint, and
    a weight rule names an endpoint and one of its params."""
    limits = spec.exchange.get("rate_limits")
    if not limits:
        return
    names = [ep.name for ep in spec.endpoints]
    seen: set[str] = set()
    for b in limits.get("budgets", []):
        if b["name"] in seen:
            raise b.where.error(f"budget {b['name']!r} is declared twice")
        seen.add(b["name"])
        chosen = b.get("endpoints", {})
        for key in ("names", "exclude"):
            for glob in chosen.get(key, []):
                if not fnmatch.filter(names, glob):
                    at = chosen.key_where[key]  # the list's line, not the budget's first
                    raise at.error(f"endpoints.{key}: {glob!r} matches no endpoint")
    by_name = {ep.name: ep for ep in spec.endpoints}
    learn = limits.get("learn")
    if learn is not None:
        if learn["endpoint"] not in by_name:
            raise learn.where.error(f"learn: no endpoint {learn['endpoint']!r}")
        for kind in learn["kinds"].values():
            chosen = kind.get("endpoints", {})
            for key in ("names", "exclude"):
                for glob in chosen.get(key, []):
                    if not fnmatch.filter(names, glob):
                        at = chosen.key_where[key]
                        raise at.error(f"learn: {glob!r} matches no endpoint")
    for w in limits.get("weights", []):
        ep = by_name.get(w["endpoint"])
        if ep is None:
            raise w.where.error(f"weights: no endpoint {w['endpoint']!r}")
        if all(p.wire != w["param"] for p in ep.params):
            raise w.where.error(f"weights: {w['endpoint']} has no param {w['param']!r}")


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
    received_only = item.get("received_only", False)
    send_instead = item.get("send_instead", "")
    if send_instead and not received_only:
        raise where_of(v, where).error(
            f"value {value!r}: `send_instead` needs `received_only: true`"
        )
    return EnumValue(value, item.get("description", ""), name, received_only, send_instead)


def _fields(items: list[LDict]) -> list[Field]:
    fields: list[Field] = []
    seen: set[str] = set()
    for f in items:
        if "required" in f:
            raise f.where.error("output model fields use `optional`, not `required`")
        py = _py_name(f)
        if py == "self":
            raise f.where.error("a field's Python name cannot be 'self'; give it a `py_name`")
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
        other = seen[name]
        raise item.where.error(f"{kind} {name!r} is already defined at {other.file}:{other.line}")
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
    _check_reserved(params, name, RESERVED_ARGS + (PAGING_ARGS if "paging" in e else ()))
    wires = {p.key for p in params}
    bodies = [p for p in params if p.body]
    if bodies and (params_in != "json" or len(bodies) > 1):
        raise bodies[0].where.error("one `body: true` param, on a `params_in: json` endpoint")
    response = e.get("response")
    resource, method_name = name.split(".")
    paging = None
    if "paging" in e:
        pg = e["paging"]
        paging = Paging(
            by=pg["by"],
            param=pg["param"],
            limit=pg["limit"],
            size=pg.get("size"),
            field=pg.get("field"),
            key=pg.get("key"),
            direction=pg.get("direction", "down"),
            items=pg.get("items"),
            total=pg.get("total"),
            first=pg.get("first", 1),
            where=pg.where,
        )
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
        item_errors=e.get("item_errors", False),
        where=w,
        group=group,
        base=e.get("base"),
        paging=paging,
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
        _check_reserved(params, f"{name}.{c['name']}", ("self",))
        wires = {p.wire for p in params}
        for placeholder in re.findall(r"\{([^}]*)\}", c["topic"]):
            if placeholder not in wires:
                raise c.key_where["topic"].error(f"topic names {{{placeholder}}}, not a param")
        market = c.get("market")
        if market is not None and market not in wires:
            raise c.key_where["market"].error(f"market names {market!r}, not a param")
        book = None
        if "book" in c:
            b = c["book"]
            bids, asks, version = (tuple(b[k].split(".")) for k in ("bids", "asks", "version"))
            book = Book(b["mode"], bids, asks, version)
            sequenced = ("first", "previous", "snapshot")
            if (b["mode"] == "sequenced") != all(k in b for k in sequenced) or (
                b["mode"] != "sequenced" and any(k in b for k in sequenced)
            ):
                raise c.key_where["book"].error(
                    "a `sequenced` book needs first, previous and snapshot (and only it has them)"
                )
            if b["mode"] == "sequenced":
                book.first = tuple(b["first"].split("."))
                book.previous = tuple(b["previous"].split("."))
                book.snapshot = b["snapshot"]
                for value in b["snapshot"].get("params", {}).values():
                    found = re.fullmatch(r"\{([^|}]*)(?:\|(.*))?\}", str(value))
                    if found and found.group(1) not in wires:
                        raise c.key_where["book"].error(f"snapshot names {value}, not a param")
                    if found and found.group(2) not in (None, "upper"):
                        raise c.key_where["book"].error(
                            f"snapshot {value}: the only filter is |upper"
                        )
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
                market,
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
        max_connection_age=(
            float(st["max_connection_age"]) if "max_connection_age" in st else None
        ),
    )


def _check_stream(spec: Spec, stream: Stream) -> None:
    """References of a stream: event models, listen-key endpoints, its WebSocket base."""

    def model(name: str, where: Where) -> None:
        m = spec.models.get(name)
        if m is None or m.input or m.row:
            raise where.error(f"event {name!r} is not an output model")

    for c in stream.channels:
        model(c.event, c.where)
        snap = c.book.snapshot if c.book is not None else None
        if snap is not None:
            ep = next((e for e in spec.endpoints if e.name == snap["endpoint"]), None)
            if ep is None:
                raise snap.key_where["endpoint"].error(f"{snap['endpoint']!r} is not an endpoint")
            answer = spec.models.get(ep.response.name) if ep.response else None
            wires = {f.wire for f in answer.fields} if answer is not None else set()
            for key in ("bids", "asks", "version"):
                if snap[key] not in wires:
                    raise snap.key_where[key].error(f"{ep.name} answers no field {snap[key]!r}")
            sent = {p.wire for p in ep.params}
            for name in snap.get("params", {}):
                if name not in sent:
                    raise snap.key_where["params"].error(f"{name!r} is not a param of {ep.name}")
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
        expired = lk.get("expired_event")
        if expired is not None and expired not in {e.type for e in stream.events}:
            raise lk.key_where["expired_event"].error(
                f"expired_event {expired!r} is not an event type of this stream"
            )
    bases = {k for env in spec.exchange["environments"].values() for k in env}
    if stream.base not in bases:
        raise stream.where.error(f"base {stream.base!r} is not a URL of the environments")


def paged_items(spec: Spec, ep: Endpoint) -> tuple[Model, Field | None]:
    """The model of the items a paged endpoint lists, and the answer's field holding them
    (None when the answer is the list itself)."""
    pg = ep.paging
    assert pg is not None
    answer = ep.response
    holder: Field | None = None
    if pg.items is not None:
        model = spec.models.get(answer.name) if answer is not None else None
        holder = next((f for f in model.fields if f.wire == pg.items), None) if model else None
        if holder is None:
            raise pg.where.error(f"items: {ep.name} answers no object with a field {pg.items!r}")
        answer = holder.type
    item = answer.item if answer is not None else None
    model = spec.models.get(item.name) if item is not None else None
    if model is None:
        where = "its `items` field" if holder else "the answer"
        raise pg.where.error(f"{where} is not a list of models; say which field holds it: `items`")
    return model, holder


def _check_paging(spec: Spec) -> None:
    """``paging:``: its params exist, its fields are fields of the listed items."""
    for ep in spec.endpoints:
        pg = ep.paging
        if pg is None:
            continue
        w = pg.where
        if not ep.safe:
            raise w.error(f"{ep.name} is not safe to resend: only reads are paged")
        params = {p.key: p for p in ep.params}
        for name in (pg.param, pg.limit):
            if name not in params:
                raise w.error(f"paging names {name!r}, which is not a param of {ep.name}")
        limit = params[pg.limit]
        if limit.type.text() not in ("int", "long"):
            raise w.error(f"limit: {pg.limit!r} is not an int param")
        if pg.size is None:
            size = limit.maximum if limit.maximum is not None else limit.default
            if size is None:
                raise w.error(f"give `size`: {pg.limit!r} has no documented max or default")
            pg.size = int(size)
        model, holder = paged_items(spec, ep)
        fields = {f.wire: f for f in model.fields}
        if pg.by in ("id", "time"):
            if pg.field is None:
                raise w.error(f"by: {pg.by} needs `field`: the items' field the bound follows")
            ids = ("int", "long", "string")
            checked = [(pg.field, ids if pg.by == "id" else ids[:2])]
            if pg.key is not None:
                checked.append((pg.key, ids))
            for name, kinds in checked:
                f = fields.get(name)
                if f is None or f.optional or f.type.text() not in kinds:
                    raise w.error(
                        f"{name!r} is not a required {' or '.join(kinds)} field of {model.name}"
                    )
        else:
            for key, value in (("field", pg.field), ("key", pg.key)):
                if value is not None:
                    raise w.error(f"by: {pg.by} takes no `{key}`")
            if params[pg.param].type.text() not in ("int", "long"):
                raise w.error(f"param: {pg.param!r} is not an int param")
        if pg.total is not None:
            answer = spec.models[ep.response.name] if holder and ep.response else None
            total = next((f for f in answer.fields if f.wire == pg.total), None) if answer else None
            if total is None or total.type.text() not in ("int", "long"):
                raise w.error(f"total: {pg.total!r} is not an int field of {ep.name}'s answer")
        taken = {e.method_name for e in spec.endpoints if e.resource == ep.resource}
        if ep.iter_name in taken:
            raise w.error(f"{ep.resource}.{ep.iter_name} is already an endpoint's method")


def example_name(ep: Endpoint) -> str:
    """The file in ``specs/<exchange>/examples/`` holding ``ep``'s example answer."""
    return f"{ep.http_method}_{ep.path.strip('/').replace('/', '_')}.json"


def _check_examples(spec: Spec, display: Callable[[Path], str]) -> None:
    """Every example answer is an endpoint's: a file no endpoint matches (a path renamed, an
    endpoint removed, a typo) would be dropped without a word."""
    folder = spec.folder / "examples"
    if not folder.is_dir():
        return
    names = {example_name(ep) for ep in spec.endpoints}
    for path in sorted(folder.glob("*.json")):
        if path.name not in names:
            raise SpecError(
                f"{display(path)}:1: no endpoint answers with this example"
                " (<METHOD>_<path>.json, the path's / as _): rename it or remove it"
            )


def _check_rule_values(spec: Spec) -> None:
    """A rule's ``when`` values are values of its param's enum (a misspelt one never
    matches, so the rule would never apply)."""
    owners = [(ep.params, ep.rules) for ep in spec.endpoints]
    owners += [(m.inputs, m.rules) for m in spec.models.values() if m.input]
    for params, rules in owners:
        by_key = {p.key: p for p in params}
        for rule in rules:
            if rule.when_param is None:
                continue
            enum = spec.enums.get(_leaf(by_key[rule.when_param].type).name)
            if enum is None:
                continue
            allowed = [str(v.value) for v in enum.values]
            for value in rule.when_values:
                if value not in allowed:
                    assert rule.where is not None
                    raise rule.where.error(
                        f"when: {value!r} is not a value of {rule.when_param}'s enum"
                        f" {enum.name} ({', '.join(allowed)})"
                    )


def _check_resource_names(spec: Spec) -> None:
    """A resource's classes (``order`` -> ``Order``, ``AsyncOrder``) share their module with
    the models its methods return: the names must differ."""
    types = {*spec.models, *spec.enums}
    for ep in spec.endpoints:
        clash = "".join(part.capitalize() for part in ep.resource.split("_"))
        if clash in types:
            raise ep.where.error(
                f"resource {ep.resource!r} would be a class named like the type {clash!r}: "
                "rename the resource (e.g. a plural: orders)"
            )


def _check_references(spec: Spec) -> None:
    def check(t: TypeRef, where: Where, *, input_side: bool) -> None:
        if t.item is not None:
            check(t.item, where, input_side=input_side)
            return
        if t.name in PRIMITIVES or t.name in spec.enums:
            return
        where = t.where or where
        model = spec.models.get(t.name)
        if model is None:
            known = [*PRIMITIVES, *spec.enums, *spec.models]
            close = difflib.get_close_matches(t.name, known, n=3, cutoff=0.75)
            close += [k for k in known if k.lower() == t.name.lower() and k not in close]
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            raise where.error(f"unknown type {t.name!r}: not a primitive, enum or model{hint}")
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
        if ep.item_errors:
            t = ep.response
            if (
                t is None
                or t.item is None
                or t.item.item is not None
                or t.item.name not in (spec.models)
            ):
                raise ep.where.error("item_errors: true needs a response that is a list of a model")
        if ep.client_order_id:
            wires = {p.wire for p in ep.params}
            body = next((p for p in ep.params if p.body or p.json_text), None)
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
        shape = [(f.py, f.type.text(), f.optional) for f in m.fields]
        if m.book_level and (
            not m.row or shape != [("price", "decimal", False), ("quantity", "decimal", False)]
        ):
            raise m.where.error(
                "book_level: true needs a row model of exactly `price` and `quantity` decimals"
                " (the shape of cambist.streams.PriceLevel, which local books return)"
            )


def load_all(specs_dir: Path, root: Path) -> list[Spec]:
    """Every exchange folder of ``specs_dir``: a folder holding spec files (``*.yaml``,
    ``*.yml``) is one, and must have an ``exchange.yaml`` (``schema/`` and ``sources/``
    hold none)."""
    return [
        load_spec(d, root)
        for d in sorted(specs_dir.iterdir())
        if d.is_dir() and any(p.suffix.lower() in (".yaml", ".yml") for p in d.iterdir())
    ]
