"""``python -m codegen coverage``: does each spec cover what its source document mentions?

For every exchange whose ``exchange.yaml`` names a ``document`` (kept in ``specs/sources/``),
it lists the REST endpoints the document mentions that the spec lacks, and the spec's
endpoints the document never mentions. A gap is fine only when the spec lists it under
``coverage.ignore`` with a reason; any other gap makes the command exit 1. This is what a
maintainer runs after replacing a document with a newer capture.

A mention is ``METHOD /path`` (optionally with the host), a URL on one of the exchange's REST
hosts, or a match of one of the spec's own ``coverage.patterns`` (for documents that show
paths only inside code samples). Paths match when one ends with the other, so a document
that writes ``/v4/x`` relative to an ``/api`` base matches the spec's ``/api/v4/x``.

An exchange may also name an endpoint list (``coverage.endpoint_list``, a file in
``specs/sources/``): one endpoint a line, ``METHOD /path  source``, where the source says where
the endpoint was found (a client library's file, a page). Every listed method and path must
be an endpoint of the spec (exactly, or ignored by its path with a reason), and every spec
endpoint must be in the list or mentioned by the document (or ignored by its name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from codegen.parsed import Spec

_METHOD_PATH = re.compile(r"\b(GET|POST|PUT|DELETE)\s+'?(?:https?://[^\s/'\"`]+)?(/[^\s'\"`?]+)")
_LIST_LINE = re.compile(r"(GET|POST|PUT|DELETE)\s+(/\S+)(?:\s+(.*))?")
_TRIM = ".,;:)]}>*"


class EndpointListError(ValueError):
    """A line of an endpoint list is not ``METHOD /path  source``."""


@dataclass
class Report:
    exchange: str
    document: str  # the source document's file name, and/or the endpoint list's
    mentioned: set[tuple[str | None, str]] = field(default_factory=set)
    missing: list[tuple[str | None, str]] = field(default_factory=list)  # in the document only
    unmentioned: list[str] = field(default_factory=list)  # in the spec only
    ignored: list[str] = field(default_factory=list)
    listed: dict[tuple[str, str], str] = field(default_factory=dict)  # (method, path) -> source
    unlisted: list[tuple[str, str, str]] = field(default_factory=list)  # in the list only

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unmentioned and not self.unlisted


def _clean(path: str) -> str:
    path = path.split("?")[0].rstrip(_TRIM)
    return path.rstrip("/") or "/"


def mentions(text: str, spec: Spec) -> set[tuple[str | None, str]]:
    """Every (method or None, path) the document mentions."""
    found: set[tuple[str | None, str]] = set()
    for match in _METHOD_PATH.finditer(text):
        found.add((match.group(1), _clean(match.group(2))))
    hosts = {urlsplit(env["rest"]).netloc for env in spec.exchange["environments"].values()}
    for host in hosts:
        for match in re.finditer(rf"https?://{re.escape(host)}(/[^\s'\"`?]+)", text):
            found.add((None, _clean(match.group(1))))
    for pattern in spec.exchange.get("coverage", {}).get("patterns", []):
        for match in re.finditer(pattern, text):
            found.add((None, _clean(match.group(1))))
    # a bare path is the same mention as that path with a method
    with_method = {path for method, path in found if method}
    return {(m, p) for m, p in found if m or p not in with_method}


def read_endpoint_list(path: Path) -> dict[tuple[str, str], str]:
    """``(METHOD, /path) -> source`` for every line of an endpoint list (see the module doc)."""
    listed: dict[tuple[str, str], str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _LIST_LINE.fullmatch(text)
        if match is None:
            raise EndpointListError(f"{path.name}:{number}: not `METHOD /path  source`: {text!r}")
        key = (match.group(1), _clean(match.group(2)))
        if key in listed:
            raise EndpointListError(f"{path.name}:{number}: {key[0]} {key[1]} is listed twice")
        listed[key] = (match.group(3) or "").strip()
    return listed


def _same_path(a: str, b: str) -> bool:
    return a == b or a.endswith(b) or b.endswith(a)


def check_spec(spec: Spec, sources: Path) -> Report | None:
    coverage = spec.exchange.get("coverage", {})
    document = spec.exchange.get("document")
    endpoint_list = coverage.get("endpoint_list")
    if not document and not endpoint_list:
        return None
    text = (sources / document).read_text(encoding="utf-8") if document else ""
    names = " + ".join(n for n in (document, endpoint_list) if n)
    report = Report(spec.id, names, mentions(text, spec) if document else set())
    if endpoint_list:
        report.listed = read_endpoint_list(sources / endpoint_list)
    rules = coverage.get("ignore", [])
    ignored_paths = {_clean(r["path"]): r["reason"] for r in rules if "path" in r}
    ignored_names = {r["endpoint"]: r["reason"] for r in rules if "endpoint" in r}
    for method, path in sorted(report.mentioned, key=lambda m: (m[1], m[0] or "")):
        covered = any(
            _same_path(ep.path, path) and (method is None or method == ep.http_method)
            for ep in spec.endpoints
        )
        if covered:
            continue
        if path in ignored_paths:
            report.ignored.append(f"{method or '*'} {path}: {ignored_paths[path]}")
        else:
            report.missing.append((method, path))
    spec_keys = {(ep.http_method, _clean(ep.path)) for ep in spec.endpoints}
    for (method, path), source in sorted(report.listed.items(), key=lambda m: (m[0][1], m[0][0])):
        if (method, path) in spec_keys:
            continue
        if path in ignored_paths:
            report.ignored.append(f"{method} {path} (listed): {ignored_paths[path]}")
        else:
            report.unlisted.append((method, path, source))
    for ep in spec.endpoints:
        seen = (ep.http_method, _clean(ep.path)) in report.listed or any(
            _same_path(ep.path, path) and (method is None or method == ep.http_method)
            for method, path in report.mentioned
        )
        if seen:
            continue
        if ep.name in ignored_names:
            report.ignored.append(f"{ep.name}: {ignored_names[ep.name]}")
        else:
            report.unmentioned.append(f"{ep.name} ({ep.http_method} {ep.path})")
    return report


def run(specs: list[Spec], sources: Path) -> int:
    """Print a report per exchange; 1 if any gap is not listed in its spec."""
    failed = False
    for spec in specs:
        report = check_spec(spec, sources)
        if report is None:
            print(f"{spec.id}: no document or endpoint list named in exchange.yaml; skipped")
            continue
        status = "ok" if report.ok else "GAPS"
        listed = f", {len(report.listed)} listed" if report.listed else ""
        print(
            f"{spec.id} ({report.document}): {len(spec.endpoints)} endpoints, "
            f"{len(report.mentioned)} mentions{listed}: {status}"
        )
        for method, path in report.missing:
            print(f"  in the document, not in the spec: {method or '(any method)'} {path}")
        for method, path, source in report.unlisted:
            print(f"  in the endpoint list, not in the spec: {method} {path} ({source})")
        where = "the document or the endpoint list" if report.listed else "the document"
        for name in report.unmentioned:
            print(f"  in the spec, not in {where}: {name}")
        for line in report.ignored:
            print(f"  listed in the spec: {line}")
        failed |= not report.ok
    if failed:
        print(
            "Add the missing endpoints to the spec, or list each gap under coverage.ignore in "
            "exchange.yaml with its reason."
        )
    return 1 if failed else 0
