"""The client option ``rate_limits=RateLimits(...)``: how a client governs its own request
rate against the limits each exchange's document gives (declared in its spec).

Before sending, a client spends the call's cost (1, or the endpoint's weight) from every
budget the call falls under (per API key, per IP, per kind of endpoint). When one is empty
the client waits for its next window, within the call's ``timeout``, or raises
:class:`~cambist.errors.BudgetExhaustedError` (``on_empty="raise"``); nothing is sent then.

```python
from cambist.hashkey import HashKey
from cambist.ratelimit import RateLimits

HashKey(rate_limits=RateLimits(share=0.5))                  # two bots on one key: half each
HashKey(rate_limits=RateLimits(on_empty="raise"))           # never wait: raise at once
HashKey(rate_limits=RateLimits(redis="redis://127.0.0.1:6379/0"))  # one budget for every process
HashKey(rate_limits=RateLimits(enabled=False))              # off
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cambist._runtime.limits import Budget

__all__ = ["Budget", "RateLimits"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class RateLimits:
    """How a client governs its rate (the client option ``rate_limits=``; default: on, with
    the limits of the exchange's document).

    Attributes:
        enabled: False: spend nothing, never wait (the exchange's own 429s still apply).
        share: The part of every limit this client may use, in (0, 1]: 0.5 for two clients
            sharing one key or one IP without a shared store (at least 1 unit per window).
        on_empty: ``"wait"`` for the budget's next window (within the call's ``timeout``;
            a wait past it raises), or ``"raise"``:
            :class:`~cambist.errors.BudgetExhaustedError` at once. Nothing is sent.
        limits: Overrides of the documented limits, by budget name (``{"weight": 6000}``
            for an account with a higher tier); the names are the spec's (``api.md``).
        redis: A Redis URL (``redis://host:6379/0``; needs ``pip install cambist[redis]``):
            the budgets live there, shared by every process and client that names it.
            When Redis cannot be reached the client counts in its own process (logged once)
            and tries Redis again later.
        budgets: Budgets of your own (:class:`Budget`), beside the document's: a limit
            the document gives no figure for, such as Binance's order counts from your
            account's ``get_exchange_info().rate_limits``, e.g. ``Budget(name="orders_10s",
            per="key", limit=50, interval=10, names=("trade.create_order",),
            header="X-MBX-ORDER-COUNT-10S")``.
        ip: A label for the IP (or egress) the client's requests leave from: per-IP budgets
            are shared by the clients with the same label.
        margin: Seconds before a window ends in which a call also counts against the next
            window, so that a request in flight when the window turns cannot overfill the
            next one on the server. The least: when recent calls took longer from spend to
            answer (a slow link), the median of the last 32 (up to 2 s) is used instead.
    """

    enabled: bool = True
    share: float = 1.0
    on_empty: Literal["wait", "raise"] = "wait"
    limits: Mapping[str, int] = field(default_factory=dict)
    redis: str | None = None
    budgets: Sequence[Budget] = ()
    ip: str = "default"
    margin: float = 0.25

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise TypeError(f"RateLimits.enabled must be True or False, got {self.enabled!r}")
        share = self.share
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise TypeError(f"RateLimits.share must be a number, got {share!r}")
        if not (0 < share <= 1 and math.isfinite(share)):
            raise ValueError(f"RateLimits.share must be in (0, 1], got {share!r}")
        if self.on_empty not in ("wait", "raise"):
            raise ValueError(
                f"RateLimits.on_empty must be 'wait' or 'raise', got {self.on_empty!r}"
            )
        if not isinstance(self.limits, Mapping):
            raise TypeError(f"RateLimits.limits must be a mapping, got {self.limits!r}")
        for name, limit in self.limits.items():
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"RateLimits.limits[{name!r}] must be an int >= 1, got {limit!r}")
        if self.redis is not None and not isinstance(self.redis, str):
            raise TypeError("RateLimits.redis must be a Redis URL (str) or None")
        if self.redis is not None and not self.redis.startswith(REDIS_SCHEMES):
            raise ValueError(  # (the URL is not shown: it may carry a password)
                "RateLimits.redis must be a Redis URL (redis://host:6379/0, rediss://..."
                " or unix:///path)"
            )
        if isinstance(self.budgets, str | Budget) or not all(
            isinstance(b, Budget) for b in self.budgets
        ):
            raise TypeError("RateLimits.budgets must be a sequence of cambist.ratelimit.Budget")
        object.__setattr__(self, "budgets", tuple(self.budgets))
        if not isinstance(self.ip, str) or not self.ip:
            raise TypeError(f"RateLimits.ip must be a non-empty str, got {self.ip!r}")
        margin = self.margin
        if (
            isinstance(margin, bool)
            or not isinstance(margin, int | float)
            or not (0 <= margin < math.inf)
        ):
            raise ValueError(f"RateLimits.margin must be a number >= 0, got {margin!r}")

    def __repr__(self) -> str:  # the Redis URL may carry a password
        redis = "'***'" if self.redis else "None"
        return (
            f"RateLimits(enabled={self.enabled}, share={self.share}, "
            f"on_empty={self.on_empty!r}, limits={dict(self.limits)!r}, redis={redis}, "
            f"budgets={tuple(b.name for b in self.budgets)!r}, "
            f"ip={self.ip!r}, margin={self.margin})"
        )
