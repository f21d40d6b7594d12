"""The local exchanges' rate limits (switched on with ``rate_limits=True``): each request
spends from the budgets the exchange's spec declares (its document's limits: per API key,
per IP, by request or by weight), counted in the same fixed windows the client's governor
uses, on the exchange's own clock.

- A request that does not fit is answered 429 with ``Retry-After`` (the budget's
  ``suspend``, e.g. HashKey's one-minute suspension, else the rest of the window); the
  budget stays closed to that caller until then.
- A caller who keeps going on that budget before the ``Retry-After`` is over is banned:
  418 with ``Retry-After`` (the spec's ``ban_seconds``, else 60 s), and every request from
  its IP is answered 418 until the ban ends (Binance: "Repeatedly violating rate limits
  and/or failing to back off after receiving 429s will result in an automated IP ban").
- Budgets with a ``header`` report the caller's count of the window in it on every answer
  (Binance's ``X-MBX-USED-WEIGHT-1M``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cambist._runtime.endpoint import Endpoint, Exchange
from cambist._runtime.limits import call_weight, merge_reported


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the limits say about one request: ``status`` 0 (go on), 429 or 418, the
    ``Retry-After`` seconds and the headers every answer carries."""

    status: int = 0
    retry_after: int = 0
    headers: Mapping[str, str] | None = None


class LimitKeeper:
    """Counts each request against the spec's budgets, per key and per IP."""

    def __init__(self, config: Exchange, now: Callable[[], float], reported: Any = None) -> None:
        self.config = config
        self.now = now
        self.budgets = config.budgets
        """The spec's budgets, and those the exchange reports (``reported``: the answer of
        the spec's ``rate_limits.learn`` endpoint, e.g. Binance's order counts)."""
        if config.learn_limits is not None and reported is not None:
            self.budgets = merge_reported(config.budgets, config.learn_limits.budgets(reported))
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], int] = {}
        self._closed: dict[tuple[str, str], float] = {}  # (budget, scope) -> until
        self._banned: dict[str, float] = {}  # ip -> until
        self._rules = {r.endpoint: r for r in config.weight_rules}
        self.refused: list[tuple[int, str]] = []
        """Every refusal: (status, budget name or "ban")."""

    def spend(
        self, ep: Endpoint[Any], params: Mapping[str, Any], key: str | None, ip: str
    ) -> Verdict:
        config = self.config
        now = self.now()
        keyed = config.security[ep.security].api_key
        with self._lock:
            until = self._banned.get(ip, 0.0)
            if until > now:
                self.refused.append((418, "ban"))
                return Verdict(418, math.ceil(until - now))
            matched = []
            for budget in self.budgets:
                if not budget.applies(ep.name, keyed and key is not None):
                    continue
                scope = ip if budget.per == "ip" else f"key:{key}"
                cost = call_weight(ep, params, self._rules) if budget.cost == "weight" else 1
                window = math.floor(now / budget.interval)
                matched.append((budget, scope, cost, window))
            for budget, scope, cost, window in matched:
                closed = self._closed.get((budget.name, scope), 0.0)
                if closed > now:  # kept going after a 429: an IP ban
                    ban = float(config.ban_seconds or 60.0)
                    self._banned[ip] = now + ban
                    self.refused.append((418, budget.name))
                    return Verdict(418, math.ceil(ban))
                used = self._counts.get((budget.name, scope, window), 0)
                if used > 0 and used + cost > budget.limit:
                    rest = (window + 1) * budget.interval - now
                    wait = budget.suspend if budget.suspend is not None else rest
                    self._closed[(budget.name, scope)] = now + wait
                    self.refused.append((429, budget.name))
                    return Verdict(429, max(1, math.ceil(wait)), self._headers(matched))
            for budget, scope, cost, window in matched:
                k = (budget.name, scope, window)
                self._counts[k] = self._counts.get(k, 0) + cost
            if len(self._counts) > 4096:
                self._counts = {k: v for k, v in self._counts.items() if k[2] >= window - 2}
            return Verdict(headers=self._headers(matched))

    def _headers(self, matched: list[Any]) -> dict[str, str]:
        out = {}
        for budget, scope, _, window in matched:
            if budget.header:
                out[budget.header] = str(self._counts.get((budget.name, scope, window), 0))
        return out
