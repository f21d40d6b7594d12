"""What ``with_raw_response`` returns: the HTTP answer with the parsed model attached."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

_RATE_LIMIT_PREFIXES = ("x-mbx-used-weight", "x-mbx-order-count", "x-ratelimit", "retry-after")


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The rate-limit counters among ``headers`` (used weight, order count, limits), by
    lower-case name."""
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith(_RATE_LIMIT_PREFIXES)}


class RawResponse(Generic[T]):
    """An HTTP answer: ``status_code``, ``headers``, ``content`` (bytes), ``parsed`` (the
    model the plain call returns), ``rate_limits`` and the ``http_response`` itself."""

    __slots__ = ("http_response", "parsed")

    def __init__(self, http_response: httpx.Response, parsed: T) -> None:
        self.http_response = http_response
        self.parsed = parsed

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    @property
    def content(self) -> bytes:
        return self.http_response.content

    @property
    def rate_limits(self) -> dict[str, str]:
        return rate_limit_headers(self.http_response.headers)

    def __repr__(self) -> str:
        return f"<RawResponse [{self.status_code}] {type(self.parsed).__name__}>"


P = ParamSpec("P")


def sync_raw(method: Callable[P, T]) -> Callable[P, RawResponse[T]]:
    """Types a method of a raw-response resource (which returns a RawResponse)."""
    return method  # type: ignore[return-value]


def async_raw(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[RawResponse[T]]]:
    """Types an async method of a raw-response resource."""
    return method  # type: ignore[return-value]
