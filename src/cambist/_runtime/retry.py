"""The retry policy: pure decisions, no I/O.

- A failure before the request left (connect error, connect or pool timeout) is retried on
  any endpoint: nothing reached the exchange.
- After sending, only endpoints the spec marks ``safe`` are resent (on connection errors,
  timeouts and 5xx); an ``unsafe`` one raises :class:`ExecutionStatusUnknownError`.
- A 429 (or a rate-limit code) and a rejected timestamp prove nothing was carried out: any
  endpoint may be resent, with the same client order id.
- A 418 (IP ban) is never retried.
- Delays grow exponentially with jitter; a server's Retry-After is honoured, and one longer
  than ``max_retry_after`` is not waited for.
"""

from __future__ import annotations

import enum
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from cambist import errors

# Failures that prove the request never left: safe to resend on any endpoint.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or None: do not retry."""
        if attempt > self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return backoff(attempt, self.backoff_base, self.backoff_max, self.rng)


class Verdict(enum.Enum):
    RETRY = "retry"  # wait Decision.delay seconds, then resend
    RAISE = "raise"  # give up: raise the error as it is
    UNKNOWN = "unknown"  # sent, outcome unknown: raise ExecutionStatusUnknownError


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0


RAISE = Decision(Verdict.RAISE)


def decide(policy: RetryPolicy, attempt: int, error: BaseException, *, safe: bool) -> Decision:
    """What to do after ``error`` ended try number ``attempt`` (1-based) of an endpoint that
    is ``safe`` to resend or not: the module docstring's rules, as a pure function."""
    if isinstance(error, httpx.TransportError):
        if not safe and not isinstance(error, NOT_SENT):
            return Decision(Verdict.UNKNOWN)
        wait = None
    elif isinstance(error, errors.IPBannedError):
        return RAISE
    elif isinstance(error, errors.RateLimitError):
        wait = error.retry_after
    elif isinstance(error, errors.ServerError) and (safe or error.not_processed):
        wait = None
    else:
        return RAISE
    delay = policy.delay(attempt, wait)
    return RAISE if delay is None else Decision(Verdict.RETRY, delay)


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**(attempt-1)``,
    capped at ``cap`` (``attempt`` is 1-based)."""
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + rng.random() * ceiling / 2


_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (a date in the past is 0).
    Anything else (negative, ``nan``, text) is None: the header is ignored."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
