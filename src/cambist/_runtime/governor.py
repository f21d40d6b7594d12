"""The rate-limit governor: before a call is sent, spend its cost from every budget the
exchange's document declares for it (:class:`~cambist._runtime.limits.Budget`); when one is
empty, wait for its next window or raise.

One pure decision (:func:`verdict`: which counters a spend touches, whether they have room,
how long to wait) and two stores of counters: :class:`LocalStore`, in this process (shared
by the clients on one clock), and :class:`RedisStore`, shared by every process that names
the same Redis, where one Lua script checks and spends every counter of a call atomically.
:meth:`Governor.spend` is a flow (like :meth:`Core.flow`): it yields :class:`Io` when Redis
must be asked and ``Sleep`` when it waits, so the sync and the async driver both run it.

Counters are fixed windows of the budget's interval, aligned on the epoch of the server's
clock (the client's estimate of it), keyed
``cambist:rl:<exchange>:<host hash>:<budget>:<scope>:<window>`` where the scope is the IP
label or a hash of the API key (never the key), and the host that of the REST URL.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import weakref
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from cambist import errors
from cambist._runtime.core import Action, Io, Sleep
from cambist._runtime.limits import Budget, call_weight, merge_reported

if TYPE_CHECKING:
    from cambist._runtime.clock import Clock, ServerClock
    from cambist._runtime.endpoint import Endpoint, Exchange
    from cambist.ratelimit import RateLimits

log = logging.getLogger("cambist")
T = TypeVar("T")

REDIS_RETRY_SECONDS = 30.0
"""After Redis could not be reached, how long the client counts in-process before asking it
again."""
LATE_CAP = 2.0
"""At most this many seconds of observed lateness widen the margin (a call that took
longer, e.g. a timeout, says little about where the next request will land)."""
RECENT_CALLS = 32
"""How many recent calls' durations the margin follows (their median: a slow link moves it,
one slow answer, e.g. a heavy query, does not)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One budget a call spends from: its counter prefix and its effective limit."""

    budget: Budget
    prefix: str
    limit: int


@dataclass(frozen=True, slots=True)
class Spend:
    """One counter a spend touches: ``key``, its ``limit``, the ``cost``, the window's end
    (server seconds) and how long the counter must live (ms)."""

    key: str
    limit: int
    cost: int
    ends: float
    ttl_ms: int
    budget: str


def plan(
    entries: tuple[Entry, ...],
    costs: tuple[int, ...],
    now: float,
    late: float,
    early: float = 0.0,
) -> list[Spend]:
    """The counters a call touches at server time ``now``: for each budget, every window the
    server may count it in. The request reaches the server up to ``late`` seconds after
    ``now`` (time in flight; the clock's uncertainty), or, by that uncertainty (``early``),
    seemingly before it: near a window's edge it counts in both windows. A full window makes
    the call wait until the request can no longer land in it."""
    out = []
    for entry, cost in zip(entries, costs, strict=True):
        interval = entry.budget.interval
        ttl = int((interval * 2 + late + early) * 1000) + 1000
        first = math.floor((now - early) / interval)
        last = math.floor((now + late) / interval)
        for w in range(first, last + 1):
            out.append(
                Spend(
                    f"{entry.prefix}:{w}",
                    entry.limit,
                    cost,
                    (w + 1) * interval + early,
                    ttl,
                    entry.budget.name,
                )
            )
    return out


def verdict(items: list[Spend], used: list[int], now: float) -> tuple[float, str]:
    """Whether the spend fits: ``(0.0, "")``, or the seconds to wait for the fullest counter
    and its budget's name. A counter has room when ``used + cost <= limit``; an empty one
    takes any cost (a call heavier than a whole window still goes, alone)."""
    wait, name = 0.0, ""
    for item, count in zip(items, used, strict=True):
        if count > 0 and count + item.cost > item.limit:
            left = max(item.ends - now, 1e-3)
            if left > wait:
                wait, name = left, item.budget
    return wait, name


def held(
    holds: Mapping[str, tuple[float, str]], entries: tuple[Entry, ...], now: float
) -> tuple[float, str]:
    """The longest hold still running on ``entries``' budgets: ``(seconds, budget)``."""
    wait, name = 0.0, ""
    for e in entries:
        until, budget = holds.get(e.prefix, (0.0, ""))
        if until - now > wait:
            wait, name = until - now, budget
    return wait, name


class LocalStore:
    """Counters in this process (a lock keeps them right across threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._ends: dict[str, float] = {}
        self._holds: dict[str, tuple[float, str]] = {}  # prefix -> (until, budget)

    def try_spend(
        self, items: list[Spend], now: float, holds: tuple[Entry, ...] = ()
    ) -> tuple[float, str]:
        with self._lock:
            if self._holds:
                wait, name = held(self._holds, holds, now)
                if name:
                    return wait, name
            counts = self._counts
            wait, name = verdict(items, [counts.get(i.key, 0) for i in items], now)
            if not name:
                for item in items:
                    counts[item.key] = counts.get(item.key, 0) + item.cost
                    self._ends[item.key] = item.ends
                if len(counts) > 512:
                    self._prune(now)
            return wait, name

    def held(self, entries: tuple[Entry, ...], now: float) -> tuple[float, str]:
        """The longest hold of this process still running on ``entries``' budgets."""
        with self._lock:
            return held(self._holds, entries, now) if self._holds else (0.0, "")

    def hold(self, entries: tuple[Entry, ...], until: float) -> None:
        """The exchange refused (429) with a ``Retry-After``: these budgets stay closed until
        then (sending on would earn a ban)."""
        with self._lock:
            for e in entries:
                if until > self._holds.get(e.prefix, (0.0, ""))[0]:
                    self._holds[e.prefix] = (until, e.budget.name)

    def raise_to(self, key: str, value: int, ends: float) -> None:
        """The server counts ``value`` in this window: never count less."""
        with self._lock:
            if value > self._counts.get(key, 0):
                self._counts[key] = value
                self._ends[key] = ends

    def count(self, key: str) -> int:
        return self._counts.get(key, 0)

    def _prune(self, now: float) -> None:
        for key in [k for k, end in self._ends.items() if end < now]:
            del self._ends[key]
            self._counts.pop(key, None)


_SHARED: weakref.WeakKeyDictionary[Any, LocalStore] = weakref.WeakKeyDictionary()
_SHARED_STRONG: dict[int, tuple[Any, LocalStore]] = {}
_SHARED_LOCK = threading.Lock()


def local_store(clock: object) -> LocalStore:
    """The in-process counters of every client on ``clock``: clients on one clock share
    them (a fake clock in a test gets counters of its own)."""
    with _SHARED_LOCK:
        try:
            store = _SHARED.get(clock)
            if store is None:
                store = _SHARED[clock] = LocalStore()
            return store
        except TypeError:  # a clock that takes no weak reference (the system clock)
            held = _SHARED_STRONG.get(id(clock))
            if held is None or held[0] is not clock:
                held = _SHARED_STRONG[id(clock)] = (clock, LocalStore())
            return held[1]


# KEYS: the counters, then one hold key per budget; ARGV: the number of counters, then limit,
# cost, ttl (ms) for each counter. A running hold wins: returns {-index of its budget, its
# ms left}. Else every counter has room, or none is touched: returns the 1-based indices of
# the full ones (empty: spent).
SPEND_SCRIPT = """
local n = tonumber(ARGV[1])
for j = n + 1, #KEYS do
  local left = redis.call('PTTL', KEYS[j])
  if left > 0 then return {n - j, left} end
end
local full = {}
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  local limit = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  if used > 0 and used + cost > limit then full[#full + 1] = i end
end
if #full == 0 then
  for i = 1, n do
    redis.call('INCRBY', KEYS[i], ARGV[3 * i])
    redis.call('PEXPIRE', KEYS[i], ARGV[3 * i + 1])
  end
end
return full
"""

# KEYS: counters; ARGV: the server's count and the ttl (ms) for each: raise, never lower.
RAISE_SCRIPT = """
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tonumber(ARGV[2 * i - 1]) > used then
    redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i])
  end
end
return 0
"""


def _args(items: list[Spend]) -> list[int]:
    return [len(items)] + [v for i in items for v in (i.limit, i.cost, i.ttl_ms)]


def _keys(items: list[Spend], entries: tuple[Entry, ...]) -> list[str]:
    return [i.key for i in items] + [f"{e.prefix}:hold" for e in entries]


class RedisStore:
    """Counters in Redis (the ``redis`` library: its sync client for a blocking client, its
    asyncio client for an asyncio one), each spend one atomic script.

    Every operation waits for Redis at most ``timeout`` seconds, or less when the call's
    deadline is nearer (``within``): the asyncio client cancels the wait; the blocking
    client, whose socket timeout is fixed per connection, uses a client whose timeout is the
    time left rounded down to a :data:`TIMEOUT_STEP` (a few at most, each made once)."""

    TIMEOUT_STEP = 0.05

    def __init__(self, url: str, timeout: float = 1.0) -> None:
        try:
            import redis  # noqa: F401
        except ImportError:
            raise ImportError(
                "RateLimits(redis=...) needs the redis library: pip install cambist[redis]"
            ) from None
        self.url = url
        self.timeout = timeout
        self._sync: dict[float, Any] = {}  # socket timeout -> (client, scripts)
        self._sync_lock = threading.Lock()
        self._async: Any = None
        self._async_loop: Any = None

    def _bound(self, within: float | None) -> float:
        """The socket timeout for an operation that must end ``within`` seconds."""
        if within is None or within >= self.timeout:
            return self.timeout
        step = self.TIMEOUT_STEP
        return max(math.floor(within / step) * step, step / 5)

    def _client(self, within: float | None = None) -> Any:
        timeout = self._bound(within)
        found = self._sync.get(timeout)
        if found is None:
            import redis

            with self._sync_lock:
                found = self._sync.get(timeout)
                if found is None:
                    found = self._sync[timeout] = self._connect(redis.Redis, timeout)
        return found

    async def _within(self, within: float | None, aw: Awaitable[T]) -> T:
        if within is None or within >= self.timeout:
            return await aw
        import asyncio

        return await asyncio.wait_for(aw, max(within, self.TIMEOUT_STEP / 5))

    def _aclient(self) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._async is not None and self._async_loop is not loop:
            self._async = None  # its connections belong to another (perhaps closed) loop
        if self._async is None:
            import redis.asyncio

            self._async_loop = loop
            self._async = self._connect(redis.asyncio.Redis, self.timeout)
        return self._async

    def _connect(self, redis_class: Any, timeout: float) -> tuple[Any, Any, Any]:
        """A client of ``redis_class`` (sync or asyncio) and its two registered scripts."""
        client = redis_class.from_url(
            self.url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        return client, client.register_script(SPEND_SCRIPT), client.register_script(RAISE_SCRIPT)

    def spend(
        self, items: list[Spend], entries: tuple[Entry, ...], within: float | None = None
    ) -> list[int]:
        _, script, _ = self._client(within)
        return [int(i) for i in script(keys=_keys(items, entries), args=_args(items))]

    async def aspend(
        self, items: list[Spend], entries: tuple[Entry, ...], within: float | None = None
    ) -> list[int]:
        _, script, _ = self._aclient()
        found = await self._within(within, script(keys=_keys(items, entries), args=_args(items)))
        return [int(i) for i in found]

    def hold(self, entries: tuple[Entry, ...], ms: int, within: float | None = None) -> None:
        client, _, _ = self._client(within)
        for e in entries:
            client.set(f"{e.prefix}:hold", 1, px=ms)

    async def ahold(self, entries: tuple[Entry, ...], ms: int, within: float | None = None) -> None:
        client, _, _ = self._aclient()

        async def run() -> None:
            for e in entries:
                await client.set(f"{e.prefix}:hold", 1, px=ms)

        await self._within(within, run())

    def raise_to(
        self, keys: list[str], values: list[int], ttl_ms: list[int], within: float | None = None
    ) -> None:
        _, _, script = self._client(within)
        script(keys=keys, args=[v for pair in zip(values, ttl_ms, strict=True) for v in pair])

    async def araise_to(
        self, keys: list[str], values: list[int], ttl_ms: list[int], within: float | None = None
    ) -> None:
        _, _, script = self._aclient()
        args = [v for pair in zip(values, ttl_ms, strict=True) for v in pair]
        await self._within(within, script(keys=keys, args=args))

    def close(self) -> None:
        with self._sync_lock:
            clients, self._sync = list(self._sync.values()), {}
        for client, _, _ in clients:
            client.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async[0].aclose()
            self._async = None


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.exceptions.RedisError, OSError)  # unreachable, refused, timed out, failing


def _timed_out(exc: BaseException) -> bool:
    import redis

    return isinstance(exc, TimeoutError | redis.exceptions.TimeoutError)


class _DeadlinePassed(Exception):
    """Redis did not answer a spend within the call's deadline (shorter than the store's own
    timeout): the call times out; Redis is not taken for down (it had less time than that)."""


Flow = Generator[Action, Any, None]


class Governor:
    """The budgets of one client: what each call spends, and where it is counted."""

    def __init__(
        self,
        exchange: Exchange,
        options: RateLimits,
        *,
        api_key: str | None,
        clock: Clock,
        server_clock: ServerClock,
        base_url: str = "",
    ) -> None:
        key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16] if api_key else None
        del api_key  # a traceback with locals (a bad budget below) shows only its hash
        budgets = tuple(exchange.budgets) + tuple(options.budgets)
        names = [b.name for b in budgets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rate_limits: budget {twice[0]!r} is declared twice")
        unknown = set(options.limits) - set(names)
        if unknown:
            known = ", ".join(repr(b.name) for b in budgets) or "none"
            raise ValueError(
                f"rate_limits: unknown budget {sorted(unknown)[0]!r}; {exchange.name} has {known}"
            )
        self.exchange = exchange
        self.options = options
        self.clock = clock
        self.server_clock = server_clock
        self.now = server_clock.seconds
        self.margin = float(options.margin)
        self.late = self.margin
        """How late a request may reach the server after its spend: the margin, or longer
        when recent calls took longer (see :meth:`took`)."""
        self._took: list[float] = []  # the recent calls' durations, a ring once full
        self._next = 0
        self.raise_at_once = options.on_empty == "raise"
        self._scopes = {"ip": f"ip-{options.ip}", "key": f"key-{key_id}"}
        # one deployment's budgets (production, sandbox, a local exchange) apart from another's
        host = hashlib.sha256(urlsplit(base_url).netloc.encode()).hexdigest()[:8]
        self._base = f"cambist:rl:{exchange.id}:{host}"
        self._rules = {r.endpoint: r for r in exchange.weight_rules}
        self._entries: dict[tuple[str, bool], tuple[Entry, ...]] = {}
        self.local = local_store(clock)
        self.redis = RedisStore(options.redis) if options.redis else None
        self._redis_down_until = -math.inf
        self._warned = False
        self._declared = budgets
        self.budgets = budgets
        self.headers = tuple((b, b.header) for b in budgets if b.header)
        learn = exchange.learn_limits
        self.learns = learn.endpoint if learn is not None else None
        """The endpoint whose answer reports the exchange's own limits (or None)."""

    def learn(self, content: bytes) -> None:
        """Follow the limits the exchange reports (``Exchange.learn_limits``): a reported
        limiter whose header is a budget's sets its limit (unless ``RateLimits.limits``
        overrides it); another becomes a budget of its own (``orders_10s``)."""
        learn = self.exchange.learn_limits
        if learn is None:
            return
        import orjson

        try:
            reported = learn.budgets(orjson.loads(content))
        except ValueError:
            return
        if not reported:
            return
        self.budgets = merge_reported(self._declared, reported)
        self.headers = tuple((b, b.header) for b in self.budgets if b.header)
        self._entries = {}
        log.debug(
            "rate limits from %s: %s",
            learn.endpoint,
            ", ".join(f"{b.name}={b.limit}/{b.interval:g}s" for b in self.budgets),
        )

    def entries(self, ep: Endpoint[Any], keyed: bool) -> tuple[Entry, ...]:
        """The budgets a call of ``ep`` spends from (computed once per endpoint)."""
        found = self._entries.get((ep.name, keyed))
        if found is None:
            found = self._entries[(ep.name, keyed)] = tuple(
                self._entry(b) for b in self.budgets if b.applies(ep.name, keyed)
            )
        return found

    def _entry(self, budget: Budget) -> Entry:
        limit = self.options.limits.get(budget.name, budget.limit)
        limit = max(1, math.floor(limit * self.options.share))
        scope = self._scopes[budget.per]
        prefix = f"{self._base}:{budget.name}:{scope}"
        return Entry(budget, prefix, limit)

    def spend(
        self,
        ep: Endpoint[Any],
        values: Mapping[str, object],
        keyed: bool,
        deadline: float,
    ) -> Flow:
        """Spend a call's cost before it is sent: returns when spent (after waiting for a
        window, where allowed); raises :class:`BudgetExhaustedError` otherwise."""
        entries = self.entries(ep, keyed)
        if not entries:
            return
        weight: int | None = None
        costs = []
        for e in entries:
            if e.budget.cost == "weight":
                if weight is None:
                    weight = call_weight(ep, values, self._rules)
                costs.append(weight)
            else:
                costs.append(1)
        cost_tuple = tuple(costs)
        spent: set[str] = set()
        while True:
            now = self.now()
            early = self.server_clock.uncertainty
            items = [
                i
                for i in plan(entries, cost_tuple, now, self.late + early, early)
                if i.key not in spent
            ]
            if not items:  # every window the request may land in is paid for
                return
            if self.redis is not None and self.clock.monotonic() >= self._redis_down_until:
                # a hold this process learnt while Redis was down is not in Redis: it still runs
                wait, name = self.local.held(entries, now)
                if not name:
                    try:
                        wait, name = yield self._redis_spend(entries, items, now, deadline)
                    except _DeadlinePassed:
                        raise errors.APITimeoutError(
                            "the rate-limit store (Redis) did not answer within the call's"
                            " timeout; not sent",
                            endpoint=ep.name,
                        ) from None
                if not name:
                    # spent; but time moved during the round trip (and a busy event loop):
                    # plan again, and pay for any window the request may now land in too
                    spent.update(i.key for i in items)
                    continue
            else:
                wait, name = self.local.try_spend(items, now, entries)
                if not name:
                    return  # no I/O between this spend and the send
            left = deadline - self.clock.monotonic()
            if self.raise_at_once or wait >= left:
                why = "" if self.raise_at_once else f" (the call's deadline is {left:.2f}s away)"
                raise errors.BudgetExhaustedError(
                    f"rate limit budget {name!r} is used up for {wait:.3f}s more{why}; not sent",
                    endpoint=ep.name,
                    budget=name,
                    retry_after=wait,
                )
            yield Sleep(wait)

    def _redis_spend(
        self, entries: tuple[Entry, ...], items: list[Spend], now: float, deadline: float
    ) -> Io:
        store = self.redis
        assert store is not None
        within = deadline - self.clock.monotonic()  # Redis may take no longer than the call
        bounded = within < store.timeout

        def done(full: list[int]) -> tuple[float, str]:
            if full and full[0] < 0:  # a hold: {-index of the budget, ms left}
                return full[1] / 1000.0, entries[-full[0] - 1].budget.name
            used = [0] * len(items)
            for i in full:  # only the full ones matter for the verdict
                used[i - 1] = items[i - 1].limit
            return verdict(items, used, now)

        async def aspend() -> tuple[float, str]:
            return done(await store.aspend(items, entries, within))

        return self._redis_io(
            lambda: done(store.spend(items, entries, within)),
            aspend,
            lambda: self.local.try_spend(items, now, entries),
            bounded,
        )

    def _redis_io(
        self,
        run: Callable[[], T],
        arun: Callable[[], Awaitable[T]],
        otherwise: Callable[[], T],
        bounded: bool = False,
    ) -> Io:
        """An :class:`Io` asking Redis (``run`` / ``arun``, by driver); if Redis fails, the
        client counts in-process for a while (:meth:`_fall_back`) and ``otherwise`` answers.
        ``bounded``: the call's deadline, nearer than the store's timeout, bounds the wait;
        a timeout then raises :class:`_DeadlinePassed`."""

        def failed(exc: BaseException) -> T:
            if bounded and _timed_out(exc):
                raise _DeadlinePassed from exc
            self._fall_back(exc)
            return otherwise()

        def sync() -> T:
            try:
                return run()
            except _redis_errors() as exc:
                return failed(exc)

        async def asyn() -> T:
            try:
                return await arun()
            except _redis_errors() as exc:
                return failed(exc)

        return Io(sync, asyn)

    def _fall_back(self, exc: BaseException) -> None:
        self._redis_down_until = self.clock.monotonic() + REDIS_RETRY_SECONDS
        if not self._warned:
            self._warned = True
            log.warning(
                "rate limits: Redis cannot be reached (%s); counting in this process only,"
                " trying Redis again every %.0fs",
                type(exc).__name__,
                REDIS_RETRY_SECONDS,
            )

    def took(self, seconds: float) -> None:
        """A call answered ``seconds`` after its spend: its request reached the server
        somewhere in between. The margin follows the median of the recent calls' durations
        (up to :data:`LATE_CAP`): on a slow link a request spent near a window's end is also
        counted in the next window, where the server may count it."""
        recent = self._took
        if len(recent) < RECENT_CALLS:
            recent.append(seconds)
        else:  # (threads of one blocking client may race here: a lost sample at worst)
            i = self._next
            self._next = (i + 1) % RECENT_CALLS
            recent[i] = seconds
        median = sorted(recent)[len(recent) // 2]
        self.late = max(self.margin, min(median, LATE_CAP))

    def hold(self, ep: Endpoint[Any], keyed: bool, seconds: float) -> Flow:
        """The exchange answered 429 with ``Retry-After`` (another program spent the budget,
        or the limits differ from the document's): every budget of the call stays closed for
        ``seconds``, in every client that shares the counts, so none keeps going into a ban."""
        entries = self.entries(ep, keyed)
        if not entries or seconds <= 0:
            return
        self.local.hold(entries, self.now() + seconds)
        store = self.redis
        if store is None or self.clock.monotonic() < self._redis_down_until:
            return
        ms = max(1, int(seconds * 1000))
        yield self._redis_io(
            lambda: store.hold(entries, ms), lambda: store.ahold(entries, ms), lambda: None
        )

    def observe(self, headers: Mapping[str, str]) -> Flow:
        """Follow the server's own counters (``Budget.header``): never count less than it."""
        if not self.headers:
            return
        now = self.now()
        keys, values, ttls = [], [], []
        for budget, header in self.headers:
            text = headers.get(header)
            text = text.strip() if text is not None else ""
            if not (text.isascii() and text.isdigit()):  # (isdigit alone takes '²')
                continue
            value = int(text)
            entry = self._entry(budget)
            window = math.floor(now / budget.interval)
            key = f"{entry.prefix}:{window}"
            ends = (window + 1) * budget.interval
            self.local.raise_to(key, value, ends)
            keys.append(key)
            values.append(value)
            ttls.append(int((budget.interval * 2 + self.margin) * 1000) + 1000)
        store = self.redis
        if not keys or store is None or self.clock.monotonic() < self._redis_down_until:
            return
        yield self._redis_io(
            lambda: store.raise_to(keys, values, ttls),
            lambda: store.araise_to(keys, values, ttls),
            lambda: None,
        )

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
            self.redis.close()
