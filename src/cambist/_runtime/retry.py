"""The retry policy: pure decisions, no I/O.

- A failure before the request left (connect error, connect or pool timeout) is retried on
  any endpoint: nothing reached the exchange. A refused TLS certificate is not: it will not
  fix itself (:class:`~cambist.errors.TLSCertificateError`).
- After sending, only endpoints the spec marks ``safe`` are resent (on connection errors,
  timeouts and 5xx); an ``unsafe`` one raises :class:`ExecutionStatusUnknownError`.
- A 429 (or a rate-limit code) and a rejected timestamp prove nothing was carried out: any
  endpoint may be resent, with the same client order id, unless the exchange's document
  says to stop (the spec's ``rate_limits``: :class:`AfterRateLimit`, per endpoint kind).
- A 418 (IP ban) is never retried.
- Delays grow exponentially with jitter; a server's Retry-After (on a 429 or a 5xx) is
  honoured, and one longer than ``max_retry_after`` is not waited for.
- A call has a deadline (its ``timeout``): a wait that would pass it is not made; the error
  is raised at once (a rate limit with ``retry_after`` set to the wait refused).
"""

from __future__ import annotations

import enum
import random
import re
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from cambist import errors
from cambist._runtime.endpoint import AfterRateLimit

# Failures that prove the request never left: safe to resend on any endpoint.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


DEFAULT_BAN_SECONDS = 60.0
"""How long a ban is assumed to last when neither the 418 (``Retry-After``) nor the
exchange's spec (``rate_limits.ban_seconds``) says."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a client retries: the client option ``retry=RetryPolicy(...)``.

    ``max_retries``: retries after the first try (0: never retry). ``backoff_base`` /
    ``backoff_max``: the exponential backoff's first ceiling and its cap, in seconds (each
    delay is drawn between half and all of ``backoff_base * 2**(retry-1)``, at most
    ``backoff_max``). ``max_retry_after``: the longest ``Retry-After`` the client waits; a
    longer one is raised at once. Every wait also stays within the call's ``timeout``.
    ``rng``: the jitter's ``random.Random``.

    The values are checked when the policy is made (``TypeError`` / ``ValueError`` naming
    the field): ``max_retries`` an int of at least 0; the seconds numbers of at least 0,
    ``backoff_max`` and ``max_retry_after`` possibly ``math.inf`` (no cap).
    """

    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        """Refuse a value the policy cannot use (``TypeError`` / ``ValueError`` naming the
        field) now, not on the first retry."""
        from cambist._runtime.options import number, random_source, whole

        whole("RetryPolicy.max_retries", self.max_retries, minimum=0)
        number("RetryPolicy.backoff_base", self.backoff_base, zero=True)
        number("RetryPolicy.backoff_max", self.backoff_max, zero=True, infinite=True)
        number("RetryPolicy.max_retry_after", self.max_retry_after, zero=True, infinite=True)
        random_source("RetryPolicy.rng", self.rng)

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
RESEND = AfterRateLimit()


def decide(
    policy: RetryPolicy,
    attempt: int,
    error: BaseException,
    *,
    safe: bool,
    after_limit: AfterRateLimit = RESEND,
    remaining: float | None = None,
) -> Decision:
    """What to do after ``error`` ended try number ``attempt`` (1-based) of an endpoint that
    is ``safe`` to resend or not: the module docstring's rules, as a pure function.

    ``after_limit`` is the exchange's rule after a rate limit for this kind of endpoint;
    ``remaining`` the seconds left before the call's deadline (None: no deadline). A retry
    whose wait would reach the deadline becomes ``Decision(RAISE, delay=<that wait>)``.
    """
    if isinstance(error, httpx.TransportError):
        if tls_failure(error) is not None:
            return RAISE
        if not safe and not isinstance(error, NOT_SENT):
            return Decision(Verdict.UNKNOWN)
        wait = None
    elif isinstance(error, errors.RateLimitError):
        if not after_limit.resend:
            return RAISE
        wait = error.retry_after if error.retry_after is not None else after_limit.wait
    elif isinstance(error, errors.ServerError) and (safe or error.not_processed):
        wait = error.retry_after
    else:  # a refusal, an IP ban: final
        return RAISE
    delay = policy.delay(attempt, wait)
    if delay is None:
        return RAISE
    if remaining is not None and delay >= remaining:
        return Decision(Verdict.RAISE, delay)
    return Decision(Verdict.RETRY, delay)


def tls_failure(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind ``error`` (httpx chains it as the cause
    of a ``ConnectError``), or None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**(attempt-1)``,
    capped at ``cap`` (``attempt`` is 1-based)."""
    # (the exponent stops growing long before a float overflows: a stream reconnecting for
    # hours reaches attempt 1026, where 2.0 ** 1025 raised OverflowError)
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
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
