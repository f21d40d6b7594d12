"""How a request leaves: the request the core builds (:class:`Outgoing`), the answer a
transport hands back, and the transports under the clients.

The core builds a plain :class:`Outgoing` (method, exact URL, headers, body, timeout), not an
``httpx.Request``: building one parses the whole signed URL again, which cost more than the
rest of a call. Each transport turns it into what its library sends:

- :class:`HttpxTransport` / :class:`AsyncHttpxTransport`: an ``httpx.Client`` /
  ``httpx.AsyncClient`` (the blocking client's default, and any ``http_client=`` a user
  passes, with whatever transport, proxy or verification it was built with);
- :class:`AiohttpTransport`: the asyncio client's default, one ``aiohttp`` session. With
  many calls in flight, httpx's connection pool rescans every connection for each request
  and its layers cost several times what aiohttp's do (README: Performance).

Both raise httpx's exception classes (aiohttp's are translated), so the core's retry rules,
its TLS check and its error mapping are one code for every transport. Whatever is costly and
not always needed is made on first use: the HTTP client itself, the SSL context (only for an
``https`` URL, then shared by every client), ``aiohttp``.
"""

from __future__ import annotations

import functools
import logging
import re
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    import aiohttp
    import httpx

log = logging.getLogger("cambist.http")
"""One INFO line per request sent by the aiohttp transport, as httpx logs its own."""

DEFAULT_HEADERS = {"Accept": "application/json", "User-Agent": "cambist/0.1"}


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One SSL context for every client, built when the first HTTPS request needs it
    (building one costs ~20 ms): httpx's (certifi's CA bundle, ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` honoured)."""
    import httpx

    return httpx.create_ssl_context()


class Outgoing:
    """A request exactly as it is sent: ``url`` holds the encoded (and signed) query."""

    __slots__ = ("content", "headers", "method", "timeout", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        timeout: float,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.content = content
        self.timeout = timeout  # seconds; the call's deadline bounds it

    def to_httpx(self) -> httpx.Request:
        import httpx

        return httpx.Request(
            self.method,
            self.url,
            headers=self.headers,
            content=self.content,
            extensions={"timeout": httpx.Timeout(self.timeout).as_dict()},
        )

    def __repr__(self) -> str:  # the URL may hold a signature: not shown
        return f"<Outgoing {self.method} {self.url.partition('?')[0]}>"


class Answer:
    """An answer from the aiohttp transport, read the way the core reads an
    ``httpx.Response`` (``status_code``, ``content``, ``headers``, ``reason_phrase``);
    :meth:`to_httpx` gives the ``httpx.Response`` a user sees (``with_raw_response``)."""

    __slots__ = ("_headers", "content", "raw_headers", "reason_phrase", "request", "status_code")

    def __init__(
        self,
        status_code: int,
        reason_phrase: str,
        raw_headers: tuple[tuple[bytes, bytes], ...],
        content: bytes,
        request: Outgoing,
    ) -> None:
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.raw_headers = raw_headers
        self.content = content
        self.request = request
        self._headers: httpx.Headers | None = None

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            import httpx

            self._headers = httpx.Headers(list(self.raw_headers))
        return self._headers

    def to_httpx(self) -> httpx.Response:
        import httpx

        response = httpx.Response(
            self.status_code,
            headers=self.headers,
            request=self.request.to_httpx(),
            extensions={"reason_phrase": self.reason_phrase.encode()},
        )
        # The body is already decoded (gzip...): set it as read, not re-decoded.
        response._content = self.content
        return response


def as_httpx(response: Any) -> httpx.Response:
    """The ``httpx.Response`` of any transport's answer."""
    return response.to_httpx() if type(response) is Answer else response


# -- httpx --------------------------------------------------------------------------------


class HttpxTransport:
    """An ``httpx.Client``: the user's (left open for them to close), or one of its own,
    created at the first call."""

    def __init__(self, client: httpx.Client | None) -> None:
        self._client = client
        self._owned = client is None
        self._closed = False

    @property
    def is_closed(self) -> bool:
        return self._closed or (self._client is not None and self._client.is_closed)

    def send(self, request: Outgoing) -> httpx.Response:
        client = self._client
        if client is None:
            import httpx

            client = self._client = httpx.Client(verify=ssl_context())
        return client.send(request.to_httpx())

    def close(self) -> None:
        if self._owned:
            self._closed = True
            if self._client is not None:
                self._client.close()


class AsyncHttpxTransport:
    """A user's ``httpx.AsyncClient`` (any transport it was built with); they close it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @property
    def is_closed(self) -> bool:
        return self._client.is_closed

    async def send(self, request: Outgoing) -> httpx.Response:
        return await self._client.send(request.to_httpx())

    async def aclose(self) -> None:
        pass  # the user's client: theirs to close


# -- aiohttp ------------------------------------------------------------------------------


class AiohttpTransport:
    """The asyncio client's default: one ``aiohttp.ClientSession`` (a pool of up to 100
    connections), opened at the first call (it belongs to that call's event loop).

    As httpx's client: no redirects followed, gzip/deflate answers decoded, proxies from the
    environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``: read once, as
    httpx reads them), the certifi CA bundle. Not kept: cookies (no exchange API uses them).
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._proxies: dict[str, str] | None = None  # from the environment, once
        self._proxy_for: dict[str, tuple[Any, Any]] = {}  # scheme://host -> (proxy, auth)
        self._aiohttp: Any = None
        self._url: Any = None  # yarl.URL

    @property
    def is_closed(self) -> bool:
        return self._closed

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp
        import yarl

        self._aiohttp = aiohttp
        self._url = yarl.URL
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100),
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Content-Type",),  # only the one the core sets, if any
            auto_decompress=True,
            trust_env=False,  # the environment's proxies are read once, below
        )
        return self._session

    def _proxy(self, url: str) -> tuple[Any, Any]:
        """The environment's proxy for ``url``'s host (and its credentials), or None."""
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        found = self._proxy_for.get(key)
        if found is None:
            if self._proxies is None:
                self._proxies = urllib.request.getproxies_environment()
            proxies = self._proxies
            scheme, host = origin[0].rstrip(":"), origin[2].rsplit(":", 1)[0].strip("[]")
            proxy = proxies.get(scheme) or proxies.get("all")
            bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
            if proxy and bypass(host, proxies):
                proxy = None
            found = (None, None)
            if proxy:
                parsed = self._url(proxy if "://" in proxy else f"http://{proxy}")
                if parsed.scheme not in ("http", "https"):
                    log.warning("proxy %s is not an http:// proxy: not used", parsed.scheme)
                else:
                    auth = None
                    if parsed.user is not None:
                        auth = self._aiohttp.BasicAuth(parsed.user, parsed.password or "")
                    found = (parsed.with_user(None), auth)
            self._proxy_for[key] = found
        return found

    async def send(self, request: Outgoing) -> Answer:
        session = self._session or self._open()
        aiohttp = self._aiohttp
        url = request.url
        proxy, proxy_auth = self._proxy(url)
        extra: dict[str, Any] = {}
        if url.startswith("https:"):
            extra["ssl"] = ssl_context()
        if proxy is not None:
            extra["proxy"] = proxy
            extra["proxy_auth"] = proxy_auth
        failure: BaseException
        try:
            async with session.request(
                request.method,
                self._url(url, encoded=True),  # exactly the bytes signed: no re-quoting
                headers=request.headers,
                data=request.content,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=request.timeout),
                **extra,
            ) as response:
                content = await response.read()
                answer = Answer(
                    response.status,
                    response.reason or "",
                    response.raw_headers,
                    content,
                    request,
                )
        except aiohttp.ClientError as exc:
            failure = exc
        except TimeoutError as exc:  # the attempt's time ran out after sending
            failure = exc
        else:
            if log.isEnabledFor(logging.INFO):
                log.info(
                    'HTTP Request: %s %s "HTTP/1.1 %d %s"',
                    request.method,
                    url,
                    answer.status_code,
                    answer.reason_phrase,
                )
            return answer
        # Raised here, outside the except block, so that aiohttp's exception (whose text may
        # hold the signed URL) is not chained; only a TLS failure keeps its cause.
        error, cause = _as_httpx_error(failure, aiohttp)
        raise error from cause

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()


_QUERY = re.compile(r"\?\S*")


def _as_httpx_error(exc: BaseException, aiohttp: Any) -> tuple[Exception, BaseException | None]:
    """httpx's exception for an aiohttp failure (what the core's retry rules read: a failure
    before sending is retried on any endpoint, after sending only on a safe one), and the
    cause to chain: a refused certificate's ``ssl`` error (what ``tls_failure`` finds)."""
    import httpx

    text = _QUERY.sub("", str(exc)) or type(exc).__name__  # no signed query in a message
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return httpx.ConnectError(text), exc.certificate_error
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout("timed out connecting"), None
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientProxyConnectionError):
        return httpx.ConnectError(text), None
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout("timed out waiting for the answer"), None
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(text), None
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(text), None
    return httpx.ReadError(text), None  # sent, no (whole) answer
