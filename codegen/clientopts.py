"""The client options, read from the runtime: ``BaseClient.__init__`` and the sync and async
clients' own keywords, with their annotations (as source text) and their Args docs.

The generated clients repeat them as explicit keywords (editors complete them, type checkers
catch a misspelling); this is the only list, so an option added to the runtime appears in every
client after regenerating. Per-exchange narrowing (environments, URL keys) is the spec's.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Option:
    name: str
    annotation: str  # source text, names resolvable through ``imports``
    default: str  # source text
    doc: str


class OptionsError(Exception):
    """The runtime's client signature cannot be rendered (an undocumented option...)."""


def _args_doc(func: Any) -> dict[str, str]:
    """The ``Args:`` section of ``func``'s docstring: name -> one-line text."""
    text = inspect.getdoc(func) or ""
    _, _, args = text.partition("Args:\n")
    out: dict[str, str] = {}
    name = None
    for line in textwrap.dedent(args).splitlines():
        if not line.strip():
            break
        m = re.match(r"^(\w+): (.*)$", line)
        if m:
            name = m.group(1)
            out[name] = m.group(2)
        elif name is not None and line.startswith(" "):
            out[name] += " " + line.strip()
        else:
            break
    return out


def _module_imports(module: Any) -> dict[str, str]:
    """Every name a module imports (its ``TYPE_CHECKING`` block included): name -> the import
    statement that brings it."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = alias.asname or alias.name
                as_ = f" as {alias.asname}" if alias.asname else ""
                out[name] = f"from {node.module} import {alias.name}{as_}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                out[alias.asname or alias.name.split(".")[0]] = f"import {alias.name}"
    return out


def names_in(annotation: str) -> set[str]:
    return {
        n.id
        for n in ast.walk(ast.parse(annotation, mode="eval"))
        if isinstance(n, ast.Name) and not hasattr(builtins, n.id)
    }


@functools.cache
def client_options(is_async: bool) -> tuple[tuple[Option, ...], tuple[str, ...]]:
    """The options of the sync (or async) client, in order, and the import lines their
    annotations need."""
    from cambist._runtime import client

    driver = client.AsyncClient if is_async else client.SyncClient
    imports = _module_imports(client)
    options: list[Option] = []
    lines: set[str] = set()
    for func in (client.BaseClient.__init__, driver.__init__):
        docs = _args_doc(func)
        for p in inspect.signature(func).parameters.values():
            if p.kind is not p.KEYWORD_ONLY:
                continue  # self, **options (the driver passes the base's on)
            if p.name not in docs:
                raise OptionsError(f"{func.__qualname__}: option {p.name!r} has no Args entry")
            annotation = p.annotation if isinstance(p.annotation, str) else None
            if annotation is None or p.default is p.empty:
                raise OptionsError(
                    f"{func.__qualname__}: {p.name!r} needs an annotation and a default"
                )
            for name in names_in(annotation):
                if name not in imports:
                    raise OptionsError(f"{p.name}: cannot find where {name!r} is imported from")
                lines.add(imports[name])
            default = repr(p.default)
            ast.literal_eval(default)  # a literal, or the signature cannot be repeated
            options.append(Option(p.name, annotation, default, docs[p.name]))
    return tuple(options), tuple(sorted(lines))


def _literal(values: list[str]) -> str:
    return "Literal[" + ", ".join(f'"{v}"' for v in values) + "]"


def exchange_options(
    ex: dict[str, Any], ws_keys: list[str], rest_keys: list[str], is_async: bool
) -> tuple[list[Option], list[str]]:
    """The options of one exchange's client: the runtime's, narrowed by its spec
    (environments and URL keys as ``Literal``s; no ``rest_urls`` where no endpoint has a host
    of its own), with the spec's facts added to their docs."""
    options, imports = client_options(is_async)
    lines = set(imports)
    envs = list(ex["environments"])
    auth = ex.get("auth", {})
    creds = ex.get("credentials_env") or {}
    cap = auth.get("recv_window_max")
    narrowed: dict[str, tuple[str | None, str]] = {
        "api_key": (
            None,
            f"Sent in the ``{auth['api_key_header']}`` header."
            if auth.get("api_key_header")
            else "",
        ),
        "environment": (
            f"{_literal(envs)} | None",
            f"One of {', '.join(map(repr, envs))} (default {envs[0]!r}).",
        ),
        "ws_urls": (
            f"Mapping[{_literal(ws_keys)}, str] | None" if ws_keys else None,
            f"Keys: {', '.join(map(repr, ws_keys)) or 'none'}.",
        ),
        "rest_urls": (
            f"Mapping[{_literal(rest_keys)}, str] | None" if rest_keys else "",
            f"Keys: {', '.join(map(repr, rest_keys))}." if rest_keys else "",
        ),
        "recv_window": (
            None,
            f"Sent as ``{auth.get('recv_window_param') or 'recvWindow'}``"
            + (f"; at most {cap} (the document's cap)." if cap else "."),
        ),
    }
    out = []
    for o in options:
        annotation, extra = narrowed.get(o.name, (None, ""))
        if annotation == "":
            continue  # not an option of this exchange
        if o.name in ("api_key", "api_secret") and creds:
            var = creds["api_key" if o.name == "api_key" else "api_secret"]
            extra = (extra + f" Default: the environment variable ``{var}``.").strip()
        if annotation is not None:
            lines.add("from typing import Literal")
            lines.add("from collections.abc import Mapping")
        doc = o.doc if not extra else f"{o.doc.rstrip('.')}. {extra}"
        out.append(Option(o.name, annotation or o.annotation, o.default, doc))
    return out, sorted(lines)
