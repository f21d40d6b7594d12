"""Client and resource bases the generated clients subclass.

Importing this module is cheap: httpx and the request core load when the first client is
built, so ``import cambist.<exchange>`` costs almost nothing.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

from cambist._runtime.markets import AsyncMarkets, SyncMarkets

if TYPE_CHECKING:
    import httpx

    from cambist._runtime.clock import Clock
    from cambist._runtime.core import CallOptions, Core
    from cambist._runtime.credentials import Credentials
    from cambist._runtime.endpoint import Endpoint, Exchange
    from cambist._runtime.http11 import LeanTransport
    from cambist._runtime.markets import MarketBook
    from cambist._runtime.retry import RetryPolicy
    from cambist._runtime.stream import AsyncStream, Portal, SyncStream
    from cambist._runtime.transport import AsyncHttpxTransport, HttpxTransport
    from cambist.ratelimit import RateLimits

T = TypeVar("T")

log = logging.getLogger("cambist")


def _credentials(
    exchange: Exchange, api_key: str | None, api_secret: str | None
) -> Credentials | None:
    """The client's credentials: those given, else the environment's (``*_API_KEY`` /
    ``*_API_SECRET``)."""
    from cambist._runtime.credentials import Credentials

    key = api_key or (os.environ.get(exchange.api_key_env or "") or None)
    if not key:
        return None
    return Credentials(key, api_secret or os.environ.get(exchange.api_secret_env or "") or "")


class _CoreArgs(NamedTuple):
    """The checked options the request core is built from, at the first call."""

    exchange: Exchange
    credentials: Credentials | None
    timeout: float
    recv_window: int | None
    retry: RetryPolicy | None
    max_retries: int | None
    time_sync: bool
    base_urls: dict[str, str]
    rate_limits: RateLimits | None


def _options(
    ep: Endpoint[Any],
    timeout: float | None,
    extra_params: Mapping[str, object] | None,
    extra_headers: Mapping[str, str] | None,
    raw: bool,
) -> CallOptions:
    """A call's own options (made only when one is given: a plain call has none), its
    ``timeout`` checked before anything is sent."""
    from cambist._runtime.core import CallOptions

    if timeout is not None:
        from cambist._runtime.options import call_timeout

        call_timeout(ep.name, timeout)
    return CallOptions(timeout, extra_params, extra_headers, raw)


REQUEST_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
"""The HTTP methods ``request()`` sends (in any case: ``"get"`` is ``GET``)."""
REQUEST_PARAMS_IN = ("query", "form", "json")
"""Where ``request()`` sends ``params``: in the query string, as a form body, or as a JSON
object body (an exchange whose POST / DELETE requests carry and sign a JSON body: Bibox)."""


def _adhoc_call(
    exchange: Exchange,
    method: object,
    path: object,
    params: object,
    security: object,
    params_in: object,
    safe: object,
    timeout: object,
) -> tuple[Endpoint[Any], CallOptions]:
    """The endpoint and options of a ``request()`` call (for endpoints the spec lacks).

    Every argument is checked here, before anything is built or sent: a wrong one raises
    :class:`~cambist.errors.RequestValidationError` naming it and, for a choice, the valid
    values (for ``security``, the exchange's own security types).
    """
    from cambist._runtime.core import CallOptions
    from cambist._runtime.endpoint import Endpoint
    from cambist.errors import RequestValidationError

    def check(ok: bool, param: str, text: str) -> None:
        if not ok:
            raise RequestValidationError(f"{param} {text}", endpoint="request", param=param)

    def one_of(param: str, value: object, valid: tuple[str, ...]) -> None:
        check(value in valid, param, f"must be one of {', '.join(valid)}, got {value!r}")

    check(isinstance(method, str), "method", f"must be a str, got {method!r}")
    assert isinstance(method, str)
    verb = method.upper()
    one_of("method", verb, REQUEST_METHODS)
    check(
        isinstance(path, str) and path.startswith("/"),
        "path",
        f"must be a str starting with '/' (the part after the base URL), got {path!r}",
    )
    assert isinstance(path, str)
    check(
        params is None or isinstance(params, Mapping),
        "params",
        f"must be a mapping of name to value, or None, got {type(params).__name__}",
    )
    one_of("security", security, tuple(exchange.security))
    assert isinstance(security, str)
    one_of("params_in", params_in, REQUEST_PARAMS_IN)
    check(
        verb != "GET" or params_in == "query",
        "params_in",
        f"must be 'query': a GET's params go in the query string (signed there; a GET body is"
        f" neither signed nor read), got {params_in!r}",
    )
    check(
        safe is None or isinstance(safe, bool), "safe", f"must be True, False or None, got {safe!r}"
    )
    ep: Endpoint[Any] = Endpoint(
        name=f"request {verb} {path}",
        method=verb,
        path=path,
        security=security,
        weight=None,
        safe=verb == "GET" if safe is None else bool(safe),
        params_in=params_in,  # type: ignore[arg-type]
        response="json",
    )
    if timeout is not None:
        from cambist._runtime.options import call_timeout

        call_timeout(ep.name, timeout)
    return ep, CallOptions(
        timeout=timeout,  # type: ignore[arg-type]
        extra_params=params,  # type: ignore[arg-type]
    )


def _market_book(
    config_module: str, clock: Clock, check_orders: object, markets_ttl: object
) -> MarketBook:
    """The client's markets (``exchange.markets`` of its spec), options checked."""
    from cambist._runtime.markets import MarketBook
    from cambist._runtime.options import flag, number

    flag("check_orders", check_orders)
    if markets_ttl is not None:
        number("markets_ttl", markets_ttl)
    source = importlib.import_module(config_module.rpartition(".")[0] + "._markets").MARKETS
    return MarketBook(source, markets_ttl, clock.monotonic, bool(check_orders))  # type: ignore[arg-type]


class BaseClient:
    """Configuration shared by the sync and async clients."""

    _config_module: ClassVar[str]
    """The generated module holding the exchange's ``EXCHANGE`` (loaded on first use)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        environment: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
        max_retries: int | None = None,
        recv_window: int | None = None,
        time_sync: bool = True,
        ws_urls: Mapping[str, str] | None = None,
        rest_urls: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        rate_limits: RateLimits | None = None,
        check_orders: bool = False,
        markets_ttl: float | None = 3600.0,
    ) -> None:
        """The client options. The generated clients repeat this signature, typed per
        exchange, from this one source (``codegen/clientopts.py`` reads it, with these
        Args, when it renders ``_client.py``): an option added here appears in every client
        after regenerating. Every value is checked here (``cambist._runtime.options``).

        Args:
            api_key: The API key.
            api_secret: The API secret (only ever used to sign; never sent or shown).
            environment: Which of the exchange's environments to call.
            base_url: Overrides the environment's REST URL (e.g. a local test server).
            timeout: Seconds a call may take in all, retry waits included (a call's own
                ``timeout`` overrides it); a wait that would pass it is not made. A
                positive number.
            max_retries: How often a failed call that is safe to resend is retried
                (overrides ``retry.max_retries``); an int, 0 or more.
            recv_window: The receive window sent with signed calls, in ms (None: the
                exchange's default); a positive int.
            time_sync: Measure the server clock before the first signed call and on a
                rejected timestamp.
            ws_urls: Overrides the environment's WebSocket base URLs, by key.
            rest_urls: Overrides the hosts of endpoints with a host of their own, by key
                (default: the environment's, or ``base_url`` when given).
            retry: The retry policy (``cambist.options.RetryPolicy``): retries, backoff
                bounds, the longest ``Retry-After`` waited for.
            clock: Where time is read and waits happen (``cambist.options.Clock``; a fake
                one in tests).
            rate_limits: The rate-limit governor (``cambist.ratelimit.RateLimits``): on by
                default with the document's limits (the spec's budgets), spending each
                call's cost before sending and waiting (or raising
                ``BudgetExhaustedError``) when a budget is empty; off, a share of each
                limit, wait or raise, a Redis shared by several processes.
            check_orders: Check every order against its market's rules (``client.markets()``,
                loaded on the first order) before sending it: a broken rule raises
                ``MarketRuleError`` and nothing is sent.
            markets_ttl: Seconds ``client.markets()`` keeps the markets before loading them
                again (None: until ``markets(refresh=True)``); a positive number.
        """
        from cambist._runtime.clock import SYSTEM_CLOCK
        from cambist._runtime.options import check_base
        from cambist._runtime.redact import configure_from_env

        configure_from_env()  # CAMBIST_LOG=debug / info
        exchange: Exchange = importlib.import_module(self._config_module).EXCHANGE
        check_base(
            exchange,
            api_key=api_key,
            api_secret=api_secret,
            environment=environment,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            recv_window=recv_window,
            time_sync=time_sync,
            ws_urls=ws_urls,
            rest_urls=rest_urls,
            retry=retry,
            clock=clock,
        )
        if rate_limits is not None:  # (the governor loads with the first call otherwise)
            from cambist._runtime.options import instance
            from cambist.ratelimit import RateLimits

            instance("rate_limits", rate_limits, RateLimits, "a cambist.ratelimit.RateLimits")
        environments = exchange.environments
        if environment is None:
            environment = next(iter(environments))
        if environment not in environments:
            raise ValueError(
                f"unknown environment {environment!r}; choose from {', '.join(environments)}"
            )
        credentials = _credentials(exchange, api_key, api_secret)
        # no local holds a key past here: a traceback with locals of an error below (a bad
        # option; pytest -l, rich) shows this frame's, and the environment's key is in none
        del api_key, api_secret
        self.environment = environment
        self.base_url = (base_url or environments[environment]["rest"]).rstrip("/")
        urls = environments[environment]
        self.ws_urls = {k: v for k, v in urls.items() if k.startswith("ws")} | dict(ws_urls or {})
        self.clock: Clock = clock or SYSTEM_CLOCK
        # Endpoints with their own host (a spec's `base: rest_<name>`): the environment's URL,
        # or base_url when one is given (a proxy or a local exchange serves every path).
        hosts = {
            k: self.base_url if base_url else v for k, v in urls.items() if k.startswith("rest_")
        }
        base_urls = {k: v.rstrip("/") for k, v in (hosts | dict(rest_urls or {})).items()}
        # Every option is checked above; the request core (httpx, encoding, signing, retries)
        # is built by the first call that needs it: a client is ready at once.
        self._core_args = _CoreArgs(
            exchange,
            credentials,
            timeout,
            recv_window,
            retry,
            max_retries,
            time_sync,
            base_urls,
            rate_limits,
        )
        self._built_core: Core | None = None
        self._core_lock = threading.Lock()  # one core, even when threads make the first calls
        self._market_book = _market_book(self._config_module, self.clock, check_orders, markets_ttl)
        if rate_limits is not None:  # built now: the governor checks the budgets given
            self._built_core = self._build_core()

    @property
    def _core(self) -> Core:
        """The request core (:class:`cambist._runtime.core.Core`), built on first use."""
        core = self._built_core
        if core is None:
            with self._core_lock:
                core = self._built_core
                if core is None:
                    core = self._built_core = self._build_core()
        return core

    def _build_core(self) -> Core:
        import dataclasses

        from cambist._runtime.clock import ServerClock
        from cambist._runtime.core import CallOptions, Core
        from cambist._runtime.retry import RetryPolicy

        args = self._core_args
        exchange, credentials = args.exchange, args.credentials
        policy = args.retry or RetryPolicy()
        if args.max_retries is not None:  # the shorthand wins over the policy's own
            policy = dataclasses.replace(policy, max_retries=args.max_retries)
        core = Core(
            exchange,
            base_url=self.base_url,
            credentials=credentials,
            timeout=args.timeout,
            recv_window=args.recv_window,
            retry=policy,
            clock=ServerClock(self.clock.time),
            time_sync=args.time_sync,
            time=self.clock,
        )
        core.base_urls = args.base_urls
        limits = args.rate_limits
        if limits is None:
            from cambist.ratelimit import RateLimits

            limits = RateLimits()
        if limits.budgets:  # a user's own: their endpoint names must be this exchange's
            from cambist._runtime.limits import check_names

            registry = importlib.import_module(self._config_module.replace("_config", "_registry"))
            check_names(limits.budgets, (ep.name for ep in registry.ENDPOINTS))
        if limits.enabled and (exchange.budgets or limits.budgets):
            from cambist._runtime.governor import Governor

            core.governor = Governor(
                exchange,
                limits,
                api_key=credentials.api_key if credentials else None,
                clock=self.clock,
                server_clock=core.clock,
                base_url=self.base_url,
            )
        self._plain_call = CallOptions()  # the options of a call given none: most calls
        return core

    def _ws_url(self, base: str) -> str:
        """A stream's WebSocket base URL (an environment key such as ``ws``)."""
        try:
            return self.ws_urls[base]
        except KeyError:
            raise ValueError(f"no WebSocket URL {base!r}: pass ws_urls={{{base!r}: ...}}") from None

    def _urls(self) -> tuple[str, ...]:
        """Every REST base URL of this client."""
        return (self.base_url, *self._core_args.base_urls.values())

    def _any_https(self) -> bool:
        """May a request of this client be https? (A client whose URLs are all http never
        opens TLS, no redirect being followed: it needs no SSL context, ~20 ms to build.)"""
        return any(u.startswith("https:") for u in self._urls())

    def _ensure_open(self, http: HttpxTransport | AsyncHttpxTransport | LeanTransport) -> None:
        """A call on a closed client fails here, before anything is built or sent."""
        if http.is_closed:
            from cambist.errors import ClientClosedError

            raise ClientClosedError(
                f"{type(self).__name__} is closed: create a new client, or make calls inside"
                " its `with` block (leaving the block closes its connection pool)"
            )

    def __repr__(self) -> str:
        key = "***" if self._core_args.credentials else None
        return (
            f"{type(self).__name__}(environment={self.environment!r}, "
            f"base_url={self.base_url!r}, api_key={key!r})"
        )


class SyncClient(SyncMarkets, BaseClient):
    """A blocking client on one pooled ``httpx.Client`` (yours, if you pass ``http_client``;
    its own is created at the first call)."""

    def __init__(self, *, http_client: httpx.Client | None = None, **options: Any) -> None:
        """The blocking client's own option (the others: :class:`BaseClient`).

        Args:
            http_client: Your own ``httpx.Client`` (pool, proxies, transport); you close it.
        """
        super().__init__(**options)
        from cambist._runtime.transport import HttpxTransport

        if http_client is not None:  # (httpx itself loads with the first call otherwise)
            import httpx

            from cambist._runtime.options import instance

            instance("http_client", http_client, httpx.Client, "an httpx.Client")
        self._http = HttpxTransport(http_client, tls=self._any_https())
        self._stream_portal: Portal | None = None
        self._streams: weakref.WeakSet[SyncStream[Any]] = weakref.WeakSet()

    def _portal(self, stream: SyncStream[Any]) -> Portal:
        """The event loop thread the blocking streams run on (started on first use), for
        ``stream``, which :meth:`close` closes with the client."""
        if self._stream_portal is None:
            from cambist._runtime.stream import Portal

            self._stream_portal = Portal()
        self._streams.add(stream)
        return self._stream_portal

    def _call(self, ep: Endpoint[T], values: Mapping[str, object], opts: CallOptions | None) -> Any:
        """Make the call (``opts`` None: no per-call option given)."""
        from cambist._runtime.drivers import run_sync

        self._ensure_open(self._http)
        if self._market_book.check_orders:
            opts = self._check_orders(ep, values, opts)
        core = self._core
        flow = core.flow(ep, values, opts or self._plain_call)
        return run_sync(flow, self._http.send, self.clock.sleep)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        security: str = "NONE",
        params_in: str = "query",
        safe: bool | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call an endpoint the spec does not cover yet; returns the decoded JSON.

        ``params`` are sent as given (Decimals in plain notation), in the query string,
        (``params_in="form"``) a form body or (``params_in="json"``) a JSON object body, as
        the exchange wants them (Bibox: POST and DELETE sign and read a JSON body);
        ``security`` names one of the exchange's security types (``"NONE"``,
        ``"USER_DATA"``, ...), which decides whether the call is keyed and signed; ``method``
        is GET, POST, PUT, DELETE or PATCH. A wrong argument raises
        :class:`~cambist.errors.RequestValidationError`, naming the valid choices, before
        anything is sent.
        """
        ep, opts = _adhoc_call(
            self._core_args.exchange, method, path, params, security, params_in, safe, timeout
        )
        return self._call(ep, {}, opts)

    def close(self) -> None:
        """Close the client's streams still open (each as its ``with`` block would: listen
        keys deleted while REST still works), the HTTP connection pool (not a pool you passed
        in) and the streams' thread."""
        portal = self._stream_portal
        if portal is not None:
            for stream in list(self._streams):
                try:
                    stream.close()
                except Exception as exc:  # closing the rest matters more
                    log.warning("closing %r with its client failed: %s", stream, type(exc).__name__)
            self._streams.clear()
        self._http.close()  # not a client you passed in
        if portal is not None:
            portal.close()
            self._stream_portal = None
        if self._built_core is not None and self._built_core.governor is not None:
            self._built_core.governor.close()  # (a client never used built no core)

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(AsyncMarkets, BaseClient):
    """An asyncio client: on its own lean HTTP/1.1 connection pool
    (:mod:`cambist._runtime.http11`, the fastest with many calls in flight), or on your own
    ``httpx.AsyncClient`` if you pass one (any httpx transport works)."""

    def __init__(self, *, http_client: httpx.AsyncClient | None = None, **options: Any) -> None:
        """The asyncio client's own option (the others: :class:`BaseClient`).

        Args:
            http_client: Your own ``httpx.AsyncClient`` (pool, proxies, any transport); you
                close it.
        """
        super().__init__(**options)
        self._http: LeanTransport | AsyncHttpxTransport | None = None  # own: at the first call
        if http_client is not None:  # (httpx itself loads with the first call otherwise)
            import httpx

            from cambist._runtime.options import instance
            from cambist._runtime.transport import AsyncHttpxTransport

            instance("http_client", http_client, httpx.AsyncClient, "an httpx.AsyncClient")
            self._http = AsyncHttpxTransport(http_client)
        self._closed = False
        self._run: Callable[..., Awaitable[Any]] | None = None  # the driver, on first use
        self._streams: weakref.WeakSet[AsyncStream[Any]] = weakref.WeakSet()

    def _own_transport(self) -> LeanTransport | AsyncHttpxTransport:
        """The client's own transport, made by its first call (closed if the client is): the
        lean one, or an ``httpx.AsyncClient`` when the environment names a SOCKS proxy,
        which only httpx speaks (with ``cambist[socks]``), as the blocking client does."""
        from cambist._runtime.transport import environment_socks_proxy

        http: LeanTransport | AsyncHttpxTransport
        if self._closed or environment_socks_proxy(self._urls()) is None:
            from cambist._runtime.http11 import LeanTransport

            http = self._http = LeanTransport(closed=self._closed)
            return http
        import httpx

        from cambist._runtime.transport import AsyncHttpxTransport, ssl_context

        verify = ssl_context() if self._any_https() else False
        http = self._http = AsyncHttpxTransport(None, make=lambda: httpx.AsyncClient(verify=verify))
        return http

    def _call(
        self, ep: Endpoint[T], values: Mapping[str, object], opts: CallOptions | None
    ) -> Awaitable[Any]:
        """The call's coroutine (a plain function: one coroutine less per call; ``opts``
        None: no per-call option given)."""
        http = self._http or self._own_transport()
        self._ensure_open(http)
        run = self._run
        if run is None:
            from cambist._runtime.drivers import run_async

            run = self._run = run_async
        core = self._core
        if self._market_book.check_orders:
            return self._checked(ep, values, opts, run, http)
        return run(core.flow(ep, values, opts or self._plain_call), http.send, self.clock.asleep)

    async def _checked(
        self,
        ep: Endpoint[T],
        values: Mapping[str, object],
        opts: CallOptions | None,
        run: Callable[..., Awaitable[Any]],
        http: LeanTransport | AsyncHttpxTransport,
    ) -> Any:
        """The call, once the orders in ``values`` pass their markets' rules (nothing is
        sent otherwise); a markets load first shares the call's timeout."""
        opts = await self._check_orders(ep, values, opts)
        flow = self._core.flow(ep, values, opts or self._plain_call)
        return await run(flow, http.send, self.clock.asleep)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        security: str = "NONE",
        params_in: str = "query",
        safe: bool | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call an endpoint the spec does not cover yet; see :meth:`SyncClient.request`."""
        ep, opts = _adhoc_call(
            self._core_args.exchange, method, path, params, security, params_in, safe, timeout
        )
        return await self._call(ep, {}, opts)

    async def aclose(self) -> None:
        """Close the client's streams still open (each as its ``async with`` block would:
        listen keys deleted while REST still works) and the HTTP connection pool (not a pool
        you passed in)."""
        for stream in list(self._streams):
            try:
                await stream.close()
            except Exception as exc:  # closing the rest matters more
                log.warning("closing %r with its client failed: %s", stream, type(exc).__name__)
        self._streams.clear()
        self._closed = True
        if self._http is not None:
            await self._http.aclose()
        if self._built_core is not None and self._built_core.governor is not None:
            await self._built_core.governor.aclose()  # (a client never used built no core)

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class SyncResource:
    """Base of the generated sync resource classes (``hk.spot``, ``hk.market``, ...)."""

    def __init__(self, client: SyncClient, *, raw: bool = False) -> None:
        self._client = client
        self._raw = raw

    def _request(
        self,
        ep: Endpoint[T],
        values: Mapping[str, object],
        timeout: float | None,
        extra_params: Mapping[str, object] | None,
        extra_headers: Mapping[str, str] | None,
    ) -> T:
        opts = None  # most calls: no per-call option
        if timeout is not None or extra_params or extra_headers or self._raw:
            opts = _options(ep, timeout, extra_params, extra_headers, self._raw)
        return self._client._call(ep, values, opts)  # type: ignore[no-any-return]


class AsyncResource:
    """Base of the generated async resource classes."""

    def __init__(self, client: AsyncClient, *, raw: bool = False) -> None:
        self._client = client
        self._raw = raw

    def _request(
        self,
        ep: Endpoint[T],
        values: Mapping[str, object],
        timeout: float | None,
        extra_params: Mapping[str, object] | None,
        extra_headers: Mapping[str, str] | None,
    ) -> Awaitable[T]:
        """The call's coroutine, which the generated method awaits."""
        opts = None  # most calls: no per-call option
        if timeout is not None or extra_params or extra_headers or self._raw:
            opts = _options(ep, timeout, extra_params, extra_headers, self._raw)
        return self._client._call(ep, values, opts)
