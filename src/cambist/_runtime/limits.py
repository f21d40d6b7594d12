"""An exchange's documented rate limits, as plain data (the spec's ``rate_limits.budgets``
and ``rate_limits.weights``). The client's governor (:mod:`.governor`) spends from them before
sending; the local exchanges (``cambist.testing``) enforce them when asked to. Nothing here
does I/O or imports anything heavy: the generated ``_config`` modules build these."""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from cambist._runtime.endpoint import Endpoint


@dataclass(frozen=True, slots=True)
class Budget:
    """At most ``limit`` units per ``interval`` seconds (fixed windows of that length, aligned
    on the epoch), ``per`` API key or per IP. ``cost``: ``request`` spends 1 per call,
    ``weight`` the endpoint's weight. ``names`` / ``exclude`` (globs) and ``keyed`` pick the
    endpoints that spend from it. ``suspend``: how long the exchange suspends a caller who
    exceeds it; ``header``: the answer's header with the server's own count of the window;
    ``source``: where the document says so."""

    name: str
    per: Literal["ip", "key"]
    limit: int
    interval: float
    cost: Literal["request", "weight"] = "request"
    names: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    keyed: bool | None = None
    suspend: float | None = None
    header: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.per not in ("ip", "key"):
            raise ValueError(f"Budget.per must be 'ip' or 'key', got {self.per!r}")
        if self.cost not in ("request", "weight"):
            raise ValueError(f"Budget.cost must be 'request' or 'weight', got {self.cost!r}")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"Budget.limit must be an int >= 1, got {self.limit!r}")
        if not 0 < self.interval < math.inf:
            raise ValueError(f"Budget.interval must be > 0 seconds, got {self.interval!r}")
        for attr in ("names", "exclude"):
            globs = getattr(self, attr)
            if isinstance(globs, str) or not all(isinstance(g, str) for g in globs):
                raise TypeError(
                    f"Budget.{attr} must be a tuple of endpoint names or globs, got {globs!r}"
                )
            object.__setattr__(self, attr, tuple(globs))

    def applies(self, endpoint: str, keyed: bool) -> bool:
        """Does a call of ``endpoint`` (sending the API key or not) spend from this budget?"""
        if self.per == "key" and not keyed:
            return False
        if self.keyed is not None and self.keyed != keyed:
            return False
        if self.names and not any(fnmatch.fnmatchcase(endpoint, g) for g in self.names):
            return False
        return not any(fnmatch.fnmatchcase(endpoint, g) for g in self.exclude)


def check_names(budgets: Iterable[Budget], endpoints: Iterable[str]) -> None:
    """Every endpoint name or glob of a user's budget matches an endpoint of the exchange
    (a misspelt one would leave the calls it meant unbudgeted)."""
    known = list(endpoints)
    for budget in budgets:
        for glob in (*budget.names, *budget.exclude):
            if not any(fnmatch.fnmatchcase(name, glob) for name in known):
                close = difflib.get_close_matches(glob, known, n=3)
                hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise ValueError(f"Budget {budget.name!r}: {glob!r} names no endpoint{hint}")


@dataclass(frozen=True, slots=True)
class WeightRule:
    """An endpoint whose weight depends on a param: ``values`` (the value as sent -> weight),
    ``absent`` (the param not sent), ``otherwise`` (any other value; default: the largest)."""

    endpoint: str
    param: str
    values: Mapping[str, int] = field(default_factory=dict)
    absent: int | None = None
    otherwise: int | None = None

    def weight(self, values: Mapping[str, object]) -> int:
        value = values.get(self.param)
        if value is None:
            if self.absent is not None:
                return self.absent
        else:
            text = value.value if hasattr(value, "value") else value
            found = self.values.get(str(text))
            if found is not None:
                return found
        if self.otherwise is not None:
            return self.otherwise
        return max(self.values.values(), default=1)


_NUMBERS = re.compile(r"\d+")


def call_weight(
    ep: Endpoint[Any], values: Mapping[str, object], rules: Mapping[str, WeightRule]
) -> int:
    """The weight one call of ``ep`` with ``values`` (wire name -> value) spends: the spec's
    number; for a rule (text), its ``weights`` entry, else the largest number the text names;
    1 when the document gives none."""
    weight = ep.weight
    if isinstance(weight, int):
        return weight
    rule = rules.get(ep.name)
    if rule is not None:
        return rule.weight(values)
    if isinstance(weight, str):
        return max((int(n) for n in _NUMBERS.findall(weight)), default=1)
    return 1


UNITS = {"SECOND": (1, "S"), "MINUTE": (60, "M"), "HOUR": (3600, "H"), "DAY": (86400, "D")}


@dataclass(frozen=True, slots=True)
class Learn:
    """Where the exchange reports its own limits (the spec's ``rate_limits.learn``):
    ``field`` of ``endpoint``'s answer, a list of limiters in Binance's format
    (``rateLimitType``, ``interval``, ``intervalNum``, ``limit``); ``kinds`` gives each
    limiter type the budget it becomes (its ``header`` with ``{n}{u}`` for the interval)."""

    endpoint: str
    field: str
    kinds: Mapping[str, Budget]

    def budgets(self, answer: object) -> list[Budget]:
        """The budgets ``answer`` (the endpoint's decoded JSON) reports; unknown limiter
        types and malformed entries are skipped."""
        rows = answer.get(self.field) if isinstance(answer, dict) else None
        out = []
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, dict):
                continue
            kind = self.kinds.get(str(row.get("rateLimitType")))
            unit = UNITS.get(str(row.get("interval")))
            n, limit = row.get("intervalNum"), row.get("limit")
            if kind is None or unit is None or not isinstance(n, int) or not isinstance(limit, int):
                continue
            if n < 1 or limit < 1:
                continue
            letter = f"{n}{unit[1]}"
            header = (
                kind.header.replace("{n}", str(n)).replace("{u}", unit[1]) if kind.header else None
            )
            out.append(
                Budget(
                    name=f"{str(row['rateLimitType']).lower()}_{letter.lower()}",
                    per=kind.per,
                    limit=limit,
                    interval=n * unit[0],
                    cost=kind.cost,
                    names=kind.names,
                    exclude=kind.exclude,
                    keyed=kind.keyed,
                    header=header,
                    source=f"{self.endpoint}: {self.field}",
                )
            )
        return out


def merge_reported(declared: tuple[Budget, ...], reported: list[Budget]) -> tuple[Budget, ...]:
    """The budgets once the exchange reported its own (:meth:`Learn.budgets`): a reported
    limiter with a declared budget's header (and interval) sets that budget's limit; another
    is added, unless its name is taken."""
    import dataclasses

    budgets = list(declared)
    at = {b.header: i for i, b in enumerate(budgets) if b.header}
    for b in reported:
        i = at.get(b.header) if b.header else None
        if i is not None and budgets[i].interval == b.interval:
            budgets[i] = dataclasses.replace(budgets[i], limit=b.limit)
        elif all(b.name != other.name for other in budgets):
            budgets.append(b)
    return tuple(budgets)
