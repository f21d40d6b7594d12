"""Client and resource bases the generated clients subclass.

Importing this module is cheap: httpx and the request core load when the first client is
built, so ``import cambist.<exchange>`` costs almost nothing.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from cambist._runtime.markets import AsyncMarkets, SyncMarkets

if TYPE_CHECKING:
    import ssl

    import httpx

    from cambist._runtime.clock import Clock
    from cambist._runtime.core import CallOptions, Core
    from cambist._runtime.endpoint import Endpoint, Exchange
    from cambist._runtime.markets import MarketBook
    from cambist._runtime.retry import RetryPolicy
    from cambist._runtime.stream import Portal
    from cambist.ratelimit import RateLimits

T = TypeVar("T")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One SSL context for every client: building one costs ~20 ms."""
    import httpx

    return httpx.create_ssl_context()


def _adhoc_call(
    method: str,
    path: str,
    params: Mapping[str, object] | None,
    security: str,
    params_in: str,
    safe: bool | None,
    timeout: float | None,
) -> tuple[Endpoint[Any], CallOptions]:
    """The endpoint and options of a ``request()`` call (for endpoints the spec lacks)."""
    from cambist._runtime.core import CallOptions
    from cambist._runtime.endpoint import Endpoint

    ep: Endpoint[Any] = Endpoint(
        name=f"request {method.upper()} {path}",
        method=method.upper(),
        path=path,
        security=security,
        weight=None,
        safe=method.upper() == "GET" if safe is None else safe,
        params_in=params_in,  # type: ignore[arg-type]
        response="json",
    )
    return ep, CallOptions(timeout=timeout, extra_params=params)


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
        import dataclasses

        from cambist._runtime.clock import SYSTEM_CLOCK, ServerClock
        from cambist._runtime.core import Core
        from cambist._runtime.options import check_base, instance
        from cambist._runtime.redact import configure_from_env
        from cambist.ratelimit import RateLimits

        configure_from_env()  # CAMBIST_LOG=debug / info
        from cambist._runtime.retry import RetryPolicy
        from cambist._runtime.signing import Credentials

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
        instance("rate_limits", rate_limits, RateLimits, "a cambist.ratelimit.RateLimits")
        environments = exchange.environments
        if environment is None:
            environment = next(iter(environments))
        if environment not in environments:
            raise ValueError(
                f"unknown environment {environment!r}; choose from {', '.join(environments)}"
            )
        api_key = api_key or (os.environ.get(exchange.api_key_env or "") or None)
        api_secret = api_secret or (os.environ.get(exchange.api_secret_env or "") or None)
        self.environment = environment
        self.base_url = (base_url or environments[environment]["rest"]).rstrip("/")
        urls = environments[environment]
        self.ws_urls = {k: v for k, v in urls.items() if k.startswith("ws")} | dict(ws_urls or {})
        policy = retry or RetryPolicy()
        if max_retries is not None:  # the shorthand wins over the policy's own
            policy = dataclasses.replace(policy, max_retries=max_retries)
        self.clock: Clock = clock or SYSTEM_CLOCK
        self._core: Core = Core(
            exchange,
            base_url=self.base_url,
            credentials=Credentials(api_key, api_secret or "") if api_key else None,
            timeout=timeout,
            recv_window=recv_window,
            retry=policy,
            clock=ServerClock(self.clock.time),
            time_sync=time_sync,
            time=self.clock,
        )
        limits = rate_limits or RateLimits()
        if limits.enabled and (exchange.budgets or limits.budgets):
            from cambist._runtime.governor import Governor

            self._core.governor = Governor(
                exchange,
                limits,
                api_key=api_key,
                clock=self.clock,
                server_clock=self._core.clock,
                base_url=self.base_url,
            )
        # Endpoints with their own host (a spec's `base: rest_<name>`): the environment's URL,
        # or base_url when one is given (a proxy or a local exchange serves every path).
        hosts = {
            k: self.base_url if base_url else v for k, v in urls.items() if k.startswith("rest_")
        }
        self._core.base_urls = {
            k: v.rstrip("/") for k, v in (hosts | dict(rest_urls or {})).items()
        }
        self._market_book = _market_book(self._config_module, self.clock, check_orders, markets_ttl)

    def _ws_url(self, base: str) -> str:
        """A stream's WebSocket base URL (an environment key such as ``ws``)."""
        try:
            return self.ws_urls[base]
        except KeyError:
            raise ValueError(f"no WebSocket URL {base!r}: pass ws_urls={{{base!r}: ...}}") from None

    def _ensure_open(self, http: httpx.Client | httpx.AsyncClient) -> None:
        """A call on a closed client fails here, before anything is built or sent."""
        if http.is_closed:
            from cambist.errors import ClientClosedError

            raise ClientClosedError(
                f"{type(self).__name__} is closed: create a new client, or make calls inside"
                " its `with` block (leaving the block closes its connection pool)"
            )

    def __repr__(self) -> str:
        key = "***" if self._core.credentials else None
        return (
            f"{type(self).__name__}(environment={self.environment!r}, "
            f"base_url={self.base_url!r}, api_key={key!r})"
        )


class SyncClient(SyncMarkets, BaseClient):
    """A blocking client on one pooled ``httpx.Client`` (yours, if you pass ``http_client``)."""

    def __init__(self, *, http_client: httpx.Client | None = None, **options: Any) -> None:
        """The blocking client's own option (the others: :class:`BaseClient`).

        Args:
            http_client: Your own ``httpx.Client`` (pool, proxies, transport); you close it.
        """
        super().__init__(**options)
        import httpx

        from cambist._runtime.options import instance

        instance("http_client", http_client, httpx.Client, "an httpx.Client")

        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(verify=_ssl_context())
        self._stream_portal: Portal | None = None

    def _portal(self) -> Portal:
        """The event loop thread the blocking streams run on (started on first use)."""
        if self._stream_portal is None:
            from cambist._runtime.stream import Portal

            self._stream_portal = Portal()
        return self._stream_portal

    def _call(self, ep: Endpoint[T], values: Mapping[str, object], opts: CallOptions) -> Any:
        from cambist._runtime.drivers import run_sync

        self._ensure_open(self._http)
        if self._market_book.check_orders:
            self._check_orders(ep.name, values)
        return run_sync(self._core.flow(ep, values, opts), self._http.send, self.clock.sleep)

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

        ``params`` are sent as given (Decimals in plain notation); ``security`` names one of
        the exchange's security types, which decides whether the call is keyed and signed.
        """
        ep, opts = _adhoc_call(method, path, params, security, params_in, safe, timeout)
        return self._call(ep, {}, opts)

    def close(self) -> None:
        """Close the HTTP connection pool (not a pool you passed in) and the streams' thread."""
        if self._owns_http:
            self._http.close()
        if self._stream_portal is not None:
            self._stream_portal.close()
            self._stream_portal = None
        if self._core.governor is not None:
            self._core.governor.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(AsyncMarkets, BaseClient):
    """An asyncio client on one pooled ``httpx.AsyncClient`` (yours, if you pass one: any
    httpx transport works, e.g. a faster one for many calls in flight)."""

    def __init__(self, *, http_client: httpx.AsyncClient | None = None, **options: Any) -> None:
        """The asyncio client's own option (the others: :class:`BaseClient`).

        Args:
            http_client: Your own ``httpx.AsyncClient`` (pool, proxies, any transport); you
                close it.
        """
        super().__init__(**options)
        import httpx

        from cambist._runtime.options import instance

        instance("http_client", http_client, httpx.AsyncClient, "an httpx.AsyncClient")

        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(verify=_ssl_context())

    async def _call(self, ep: Endpoint[T], values: Mapping[str, object], opts: CallOptions) -> Any:
        from cambist._runtime.drivers import run_async

        self._ensure_open(self._http)
        if self._market_book.check_orders:
            await self._check_orders(ep.name, values)
        return await run_async(
            self._core.flow(ep, values, opts), self._http.send, self.clock.asleep
        )

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
        ep, opts = _adhoc_call(method, path, params, security, params_in, safe, timeout)
        return await self._call(ep, {}, opts)

    async def aclose(self) -> None:
        """Close the HTTP connection pool (not a pool you passed in)."""
        if self._owns_http:
            await self._http.aclose()
        if self._core.governor is not None:
            await self._core.governor.aclose()

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
        from cambist._runtime.core import CallOptions

        opts = CallOptions(timeout, extra_params, extra_headers, self._raw)
        return self._client._call(ep, values, opts)  # type: ignore[no-any-return]


class AsyncResource:
    """Base of the generated async resource classes."""

    def __init__(self, client: AsyncClient, *, raw: bool = False) -> None:
        self._client = client
        self._raw = raw

    async def _request(
        self,
        ep: Endpoint[T],
        values: Mapping[str, object],
        timeout: float | None,
        extra_params: Mapping[str, object] | None,
        extra_headers: Mapping[str, str] | None,
    ) -> T:
        from cambist._runtime.core import CallOptions

        opts = CallOptions(timeout, extra_params, extra_headers, self._raw)
        return await self._client._call(ep, values, opts)  # type: ignore[no-any-return]
