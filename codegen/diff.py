"""``python -m codegen diff <git-ref>``: what changed in the public API between the specs at a
git ref and the working tree, printed as a changelog entry (Markdown).

The comparison is made on the parsed specs, so it speaks the user's language (methods,
arguments, model fields, enum values, error codes, streams) and ignores what does not change
the API (descriptions, notes, formatting). Breaking changes are marked **breaking**: a
removed method, argument, field, enum value or stream; an argument that became required; a
type that changed; an endpoint that is no longer safe to resend is listed as a change.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from cambist._runtime.errormap import normalize_code
from codegen.parsed import ITEM_ERRORS, Endpoint, ErrorRow, Model, Param, Spec
from codegen.spec import load_all


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def specs_at(ref: str, root: Path, into: Path) -> list[Spec]:
    """The specs as they were at ``ref`` (``git archive``), loaded with today's loader."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "specs"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return load_all(into / "specs", into)


def _required(p: Param) -> str:
    return "required" if p.required is True else "optional"


def _params(where: str, old: list[Param], new: list[Param], out: Changes) -> None:
    before = {p.py: p for p in old}
    after = {p.py: p for p in new}
    for name in sorted(after.keys() - before.keys()):
        p = after[name]
        mark = " (**breaking**: required)" if p.required is True else ""
        out.added.append(f"`{where}`: argument `{name}: {p.type.text()}`{mark}")
    for name in sorted(before.keys() - after.keys()):
        out.removed.append(f"`{where}`: argument `{name}` (**breaking**)")
    for name in sorted(before.keys() & after.keys()):
        a, b = before[name], after[name]
        if a.type.text() != b.type.text():
            out.changed.append(
                f"`{where}`: argument `{name}` is `{b.type.text()}`, was `{a.type.text()}` "
                "(**breaking**)"
            )
        if _required(a) != _required(b):
            mark = " (**breaking**)" if b.required is True else ""
            out.changed.append(
                f"`{where}`: argument `{name}` is {_required(b)}, was {_required(a)}{mark}"
            )
        if a.wire != b.wire:
            wires = f"`{b.wire}`, was `{a.wire}`"
            out.changed.append(f"`{where}`: argument `{name}` is sent as {wires}")
        if _checks(a) != _checks(b):
            checks = f"{_checks(b) or 'unchecked'} (was {_checks(a) or 'unchecked'})"
            out.changed.append(f"`{where}`: argument `{name}` before sending: {checks}")


def _checks(p: Param) -> str:
    """What a param's value is checked against before sending (bounds, caps, pattern)."""
    checks = [
        ("min", p.minimum),
        ("exclusive_min", p.exclusive_minimum),
        ("max", p.maximum),
        ("exclusive_max", p.exclusive_maximum),
        ("max_items", p.max_items),
        ("pattern", p.pattern),
    ]
    return ", ".join(f"{key} `{value}`" for key, value in checks if value is not None)


def _endpoints(old: dict[str, Endpoint], new: dict[str, Endpoint], out: Changes) -> None:
    for name in sorted(new.keys() - old.keys()):
        ep = new[name]
        out.added.append(f"`{name}()`: `{ep.http_method} {ep.path}`")
    for name in sorted(old.keys() - new.keys()):
        out.removed.append(f"`{name}()` (**breaking**)")
    for name in sorted(old.keys() & new.keys()):
        a, b = old[name], new[name]
        for label, x, y in (
            ("HTTP", f"{a.http_method} {a.path}", f"{b.http_method} {b.path}"),
            ("security", a.security, b.security),
            ("weight", a.weight, b.weight),
            ("resend", "safe" if a.safe else "unsafe", "safe" if b.safe else "unsafe"),
        ):
            if x != y:
                out.changed.append(f"`{name}()`: {label} `{y}`, was `{x}`")
        ta, tb = _returns(a), _returns(b)
        if ta != tb:
            out.changed.append(f"`{name}()` returns `{tb}`, was `{ta}` (**breaking**)")
        _params(f"{name}()", a.params, b.params, out)
    # an endpoint that pages has an iter_* method beside it (``paging:``)
    iters_a = {f"{e.resource}.{e.iter_name}": e for e in old.values() if e.paging is not None}
    iters_b = {f"{e.resource}.{e.iter_name}": e for e in new.values() if e.paging is not None}
    for name in sorted(iters_b.keys() - iters_a.keys()):
        out.added.append(f"`{name}()`: walks every page of `{iters_b[name].name}()`")
    for name in sorted(iters_a.keys() - iters_b.keys()):
        out.removed.append(f"`{name}()` (**breaking**)")


def _models(old: dict[str, Model], new: dict[str, Model], out: Changes) -> None:
    for name in sorted(new.keys() - old.keys()):
        out.added.append(f"model `{name}`")
    for name in sorted(old.keys() - new.keys()):
        out.removed.append(f"model `{name}` (**breaking**)")
    for name in sorted(old.keys() & new.keys()):
        a, b = old[name], new[name]
        if a.input or b.input:
            _params(name, a.inputs, b.inputs, out)
            continue
        before = {f.py: f for f in a.fields}
        after = {f.py: f for f in b.fields}
        order_a = [f.py for f in a.fields if f.py in after]
        order_b = [f.py for f in b.fields if f.py in before]
        if a.row and b.row and order_a != order_b:  # a NamedTuple: unpacked by position
            out.changed.append(
                f"`{name}` (a row) has its fields in the order {', '.join(order_b)},"
                f" was {', '.join(order_a)} (**breaking**)"
            )
        for f in sorted(after.keys() - before.keys()):
            out.added.append(f"`{name}.{f}`: `{after[f].type.text()}`")
        for f in sorted(before.keys() - after.keys()):
            out.removed.append(f"`{name}.{f}` (**breaking**)")
        for f in sorted(before.keys() & after.keys()):
            x, y = before[f], after[f]
            if x.type.text() != y.type.text():
                out.changed.append(
                    f"`{name}.{f}` is `{y.type.text()}`, was `{x.type.text()}` (**breaking**)"
                )
            if x.optional != y.optional:
                now = "may be absent (None)" if y.optional else "always present"
                mark = " (**breaking**)" if y.optional else ""
                out.changed.append(f"`{name}.{f}` {now}{mark}")


def _errors(old: list[ErrorRow], new: list[ErrorRow], out: Changes) -> None:
    """Error rows by code, as the runtime reads them (``"0001"`` and ``1`` are one code); a
    code with several rows (told apart by their messages) is compared row by row."""

    def by_code(rows: list[ErrorRow]) -> dict[str, list[ErrorRow]]:
        found: dict[str, list[ErrorRow]] = {}
        for row in rows:
            found.setdefault(normalize_code(row.code), []).append(row)
        return found

    def label(row: ErrorRow, rows: list[ErrorRow]) -> str:
        return f"error code `{row.code}`" + (f" ({row.message!r})" if len(rows) > 1 else "")

    before, after = by_code(old), by_code(new)
    for code in sorted(after.keys() - before.keys()):
        out.added += [f"{label(r, after[code])} ({r.kind})" for r in after[code]]
    for code in sorted(before.keys() - after.keys()):
        out.removed += [label(r, before[code]) for r in before[code]]
    for code in sorted(before.keys() & after.keys()):
        a, b = before[code], after[code]
        if len(a) == 1 and len(b) == 1:
            if a[0].kind != b[0].kind:
                out.changed.append(
                    f"error code `{b[0].code}` raises as {b[0].kind}, was {a[0].kind}"
                )
            continue
        was = {r.message: r for r in a}
        now = {r.message: r for r in b}
        for message in sorted(now.keys() - was.keys()):
            out.added.append(
                f"error code `{now[message].code}` ({message!r}) ({now[message].kind})"
            )
        for message in sorted(was.keys() - now.keys()):
            out.removed.append(f"error code `{was[message].code}` ({message!r})")
        for message in sorted(was.keys() & now.keys()):
            x, y = was[message], now[message]
            if x.kind != y.kind:
                out.changed.append(
                    f"error code `{y.code}` ({message!r}) raises as {y.kind}, was {x.kind}"
                )


def compare(old: Spec, new: Spec) -> Changes:
    out = Changes()
    _endpoints({e.name: e for e in old.endpoints}, {e.name: e for e in new.endpoints}, out)
    _models(old.models, new.models, out)
    for name in sorted(new.enums.keys() - old.enums.keys()):
        out.added.append(f"enum `{name}`")
    for name in sorted(old.enums.keys() - new.enums.keys()):
        out.removed.append(f"enum `{name}` (**breaking**)")
    for name in sorted(old.enums.keys() & new.enums.keys()):
        before = {v.value: v for v in old.enums[name].values}
        after = {v.value: v for v in new.enums[name].values}
        for v in sorted(after.keys() - before.keys(), key=str):
            out.added.append(f"`{name}` value `{v}`")
        for v in sorted(before.keys() - after.keys(), key=str):
            out.removed.append(f"`{name}` value `{v}` (**breaking**)")
        for v in sorted(before.keys() & after.keys(), key=str):
            x, y = before[v], after[v]
            if x.name != y.name:
                out.changed.append(
                    f"`{name}.{y.name}` (value `{v}`) was `{name}.{x.name}` (**breaking**)"
                )
            if x.received_only != y.received_only:
                out.changed.append(
                    f"`{name}` value `{v}` is received only: refused as an argument (**breaking**)"
                    if y.received_only
                    else f"`{name}` value `{v}` may be sent (was received only)"
                )
    _errors(old.errors, new.errors, out)
    streams_a = {s.name: s for s in old.streams}
    streams_b = {s.name: s for s in new.streams}
    for name in sorted(streams_b.keys() - streams_a.keys()):
        out.added.append(f"stream `streams.{name}()`")
    for name in sorted(streams_a.keys() - streams_b.keys()):
        out.removed.append(f"stream `streams.{name}()` (**breaking**)")
    for name in sorted(streams_a.keys() & streams_b.keys()):
        channels_a = {c.name: c for c in streams_a[name].channels}
        channels_b = {c.name: c for c in streams_b[name].channels}
        for c in sorted(channels_b.keys() - channels_a.keys()):
            out.added.append(f"`streams.{name}()`: `subscribe_{c}`")
        for c in sorted(channels_a.keys() - channels_b.keys()):
            out.removed.append(f"`streams.{name}()`: `subscribe_{c}` (**breaking**)")
        for c in sorted(channels_a.keys() & channels_b.keys()):
            was, now = channels_a[c], channels_b[c]
            _params(f"streams.{name}().subscribe_{c}()", was.params, now.params, out)
            if was.event != now.event:
                out.changed.append(
                    f"`streams.{name}().subscribe_{c}()` pushes `{now.event}`, was `{was.event}`"
                    " (**breaking**)"
                )
        events_a = {e.type: e.event for e in streams_a[name].events}
        events_b = {e.type: e.event for e in streams_b[name].events}
        for t in sorted(events_b.keys() - events_a.keys()):
            out.added.append(f"`streams.{name}()`: `{t}` pushes as `{events_b[t]}`")
        for t in sorted(events_a.keys() - events_b.keys()):
            out.removed.append(
                f"`streams.{name}()`: `{t}` pushes as `{events_a[t]}`"
                " (now a RawEvent, **breaking**)"
            )
        for t in sorted(events_a.keys() & events_b.keys()):
            if events_a[t] != events_b[t]:
                out.changed.append(
                    f"`streams.{name}()`: `{t}` pushes as `{events_b[t]}`, was `{events_a[t]}`"
                    " (**breaking**)"
                )
    return out


def changelog(old: list[Spec], new: list[Spec], ref: str) -> str:
    """The changes as a changelog entry: one section per exchange, Added/Changed/Removed."""
    before = {s.id: s for s in old}
    after = {s.id: s for s in new}
    lines = [f"## Unreleased (API changes since `{ref}`)", ""]
    for ex in sorted(after.keys() - before.keys()):
        lines += [f"### `cambist.{ex}`", "", f"- Added: the exchange ({after[ex].client})", ""]
    for ex in sorted(before.keys() - after.keys()):
        lines += [f"### `cambist.{ex}`", "", "- Removed: the exchange (**breaking**)", ""]
    for ex in sorted(before.keys() & after.keys()):
        changes = compare(before[ex], after[ex])
        if not changes:
            continue
        lines += [f"### `cambist.{ex}`", ""]
        for title, items in (
            ("Added", changes.added),
            ("Changed", changes.changed),
            ("Removed", changes.removed),
        ):
            if items:
                lines += [f"#### {title}", "", *(f"- {item}" for item in items), ""]
    if len(lines) == 2:
        lines += ["No API changes.", ""]
    return "\n".join(lines)


def run(ref: str, root: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        old = specs_at(ref, root, Path(tmp))
    return changelog(old, load_all(root / "specs", root), ref)


def _returns(ep: Endpoint) -> str:
    """What the method returns, as the spec types it (an ``item_errors`` list's items may be
    errors too: refused, or of unknown outcome)."""
    if ep.response is None:
        return "None"
    text = ep.response.text()
    if ep.item_errors and ep.response.item is not None:
        return f"list[{' | '.join((ep.response.item.text(), *ITEM_ERRORS))}]"
    return text
