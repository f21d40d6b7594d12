"""How a request leaves: the request the core builds (:class:`Outgoing`), the answer a
transport hands back, and the httpx transports under the clients.

The core builds a plain :class:`Outgoing` (method, exact URL, headers, body, timeout), not an
``httpx.Request``: building one parses the whole signed URL again, which cost more than the
rest of a call. Each transport turns it into what it sends:

- :class:`HttpxTransport` / :class:`AsyncHttpxTransport`: an ``httpx.Client`` /
  ``httpx.AsyncClient`` (the blocking client's default, and any ``http_client=`` a user
  passes, with whatever transport, proxy or verification it was built with);
- :class:`cambist._runtime.http11.LeanTransport`: the asyncio client's default, a lean
  HTTP/1.1 client over asyncio (with many calls in flight httpx's pool rescans every
  connection for each request; README: Performance). It answers with an :class:`Answer`.

Every transport raises httpx's exception classes, so the core's retry rules, its TLS check
and its error mapping are one code for all. Whatever is costly and not always needed is
made on first use: the HTTP client itself, the SSL context (by the first ``https``
request, then shared by every client).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    import httpx

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
            _httpx_url(self.url),
            headers=self.headers,
            content=self.content,
            extensions={"timeout": httpx.Timeout(self.timeout).as_dict()},
        )

    def __repr__(self) -> str:  # the URL may hold a signature: not shown
        return f"<Outgoing {self.method} {self.url.partition('?')[0]}>"


_ENCODED = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=:@/-]*").fullmatch
"""A path or query already percent-encoded (what the core writes): nothing to re-quote."""
_ORIGINS: dict[str, Any] = {}  # scheme://host[:port] -> httpx's parse of it


def _httpx_url(url: str) -> httpx.URL | str:
    """``url`` as an ``httpx.URL``, parsing only its origin (once per origin): the core
    wrote its path and query encoded, and httpx's parser would walk the whole signed query
    again (half of what building an ``httpx.Request`` costs). Anything unusual is left to
    httpx (returned as the string)."""
    import httpx

    start = url.find("://")
    slash = url.find("/", start + 3) if start > 0 else -1
    if slash < 0:
        return url
    path, sep, query = url[slash:].partition("?")
    if not (_ENCODED(path) and _ENCODED(query)):
        return url
    origin = _ORIGINS.get(url[:slash])
    if origin is None:
        if len(_ORIGINS) >= 64:  # a client's few hosts; beyond that, parse as usual
            return url
        origin = _ORIGINS[url[:slash]] = httpx.URL(url[:slash])._uri_reference
    parsed = httpx.URL.__new__(httpx.URL)
    parsed._uri_reference = origin._replace(path=path, query=query if sep else None)
    return parsed


class Answer:
    """An answer from the lean transport, read the way the core reads an
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

    def __init__(self, client: httpx.Client | None, *, tls: bool = True) -> None:
        self._client = client
        self._owned = client is None
        self._closed = False
        self._tls = tls  # may a request of this client be https? (False: no SSL context)
        self._lock = threading.Lock()  # one httpx.Client, even when threads make the first calls

    @property
    def is_closed(self) -> bool:
        return self._closed or (self._client is not None and self._client.is_closed)

    def send(self, request: Outgoing) -> httpx.Response:
        client = self._client
        if client is None:
            client = self._open()
        return client.send(request.to_httpx())

    def _open(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._client is None:
                # A client whose URLs are all http never opens TLS (no redirect is followed):
                # it needs no SSL context (building one reads the CA bundle: ~20 ms).
                verify = ssl_context() if self._tls else False
                self._client = httpx.Client(verify=verify)
            return self._client

    def close(self) -> None:
        if self._owned:
            self._closed = True
            if self._client is not None:
                self._client.close()


class AsyncHttpxTransport:
    """An ``httpx.AsyncClient``: a user's (any transport it was built with; they close it),
    or, with ``make``, the asyncio client's own where the lean transport cannot go (a SOCKS
    proxy in the environment: see :func:`environment_socks_proxy`), closed with the client.
    An own one is made per event loop (an httpx pool is bound to the loop that opened it),
    so one client serves ``asyncio.run`` after ``asyncio.run``, as the lean transport does."""

    def __init__(
        self,
        client: httpx.AsyncClient | None,
        *,
        make: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self._client = client
        self._make = make
        self._loop: object = None
        self._closed = False

    @property
    def is_closed(self) -> bool:
        if self._make is not None:
            return self._closed
        return self._client is not None and self._client.is_closed

    async def send(self, request: Outgoing) -> httpx.Response:
        client = self._client
        if self._make is not None:
            import asyncio

            loop = asyncio.get_running_loop()
            if client is None or loop is not self._loop:  # (the old loop's pool is gone)
                client = self._client = self._make()
                self._loop = loop
        assert client is not None
        return await client.send(request.to_httpx())

    async def aclose(self) -> None:
        if self._make is None:
            return  # a user's client: theirs to close
        import asyncio

        self._closed = True
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()


def environment_proxy(scheme: str, host: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy URL (with its scheme) the environment names for a ``scheme`` URL to
    ``host`` (``proxies``: ``urllib.request.getproxies_environment()``), as httpx reads it:
    ``HTTP(S)_PROXY``, else ``ALL_PROXY``; None when there is none or ``NO_PROXY`` exempts
    the host."""
    import urllib.request

    proxy = proxies.get(scheme) or proxies.get("all")
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not proxy or bypass(host, proxies):
        return None
    return proxy if "://" in proxy else "http://" + proxy


def environment_socks_proxy(urls: Iterable[str]) -> str | None:
    """The SOCKS5 proxy the environment names for any of ``urls`` (``ALL_PROXY=socks5://...``
    or ``HTTP(S)_PROXY``; ``NO_PROXY`` honoured), else None. The asyncio client's lean
    transport speaks HTTP proxies only; with a SOCKS5 proxy named, its own transport is an
    ``httpx.AsyncClient`` instead, as the blocking client's is (httpx speaks SOCKS5 with
    ``cambist[socks]``). Other schemes are left to the lean transport, which refuses them
    with a clear error."""
    import urllib.request
    from urllib.parse import urlsplit

    proxies = urllib.request.getproxies_environment()
    for url in urls:
        parts = urlsplit(url)
        proxy = environment_proxy(parts.scheme, parts.hostname or "", proxies)
        scheme = proxy.partition("://")[0].lower() if proxy else ""
        if scheme in ("socks5", "socks5h"):
            return scheme
    return None
