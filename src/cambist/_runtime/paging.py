"""Walking every page of a list endpoint: the generated ``iter_*`` methods.

:class:`Pager` is the pure core, written once: it says which params the next request sends
(:meth:`Pager.request`) and, given an answer, which of its items are new and whether another
page follows (:meth:`Pager.take`). :func:`iterate` and :func:`aiterate` are the two thin
drivers, differing only in awaiting the call — as :meth:`Core.flow` serves both clients.

How pages are declared (``paging:`` on an endpoint in the spec, see ``specs/README.md``):

- ``by: id`` / ``by: time``: a cursor. Each request sends a bound (``param``, e.g. HashKey's
  ``toId``, Bibox's ``before``) taken from the items' ``field``: the smallest one seen when
  walking ``down`` (newest first), the largest when walking ``up``. Whether the exchange
  treats the bound as inclusive or exclusive, no item is yielded twice: items at the bound
  already yielded (identified by ``key``) are dropped.
- ``by: page``: page numbers (``param``, from ``first``), ``limit`` items a page.
- ``by: offset``: an offset (``param``) that grows by the items received.

A walk ends on an empty or short page (fewer items than the page size), when ``total`` says
everything was received, or after ``max_items`` items. An answer that cannot move the walk
on (a full page holding only items already yielded; a page equal to the one before) raises
:class:`~cambist.errors.PaginationError`: never a silent endless loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from cambist.errors import PaginationError, RequestValidationError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Paging:
    """How an endpoint pages (from its spec). Param names are the call's value keys (wire
    names); ``field``, ``key``, ``items`` and ``total`` are attribute names of the models."""

    by: Literal["id", "time", "page", "offset"]
    param: str
    limit: str
    size: int  # the page size sent when the caller gives none
    field: str | None = None  # id/time: the items' attribute the bound follows
    key: str | None = None  # id/time: the attribute identifying an item (default: field)
    direction: Literal["down", "up"] = "down"
    items: str | None = None  # the answer's attribute holding the list (None: the answer)
    total: str | None = None  # the answer's attribute counting every item
    first: int = 1  # page: the first page's number


def _position(value: object) -> Any:
    """A cursor value, comparable: ids sent as strings of digits compare as numbers."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


class Pager(Generic[T]):
    """The paging decisions of one walk; no I/O."""

    def __init__(
        self,
        endpoint: str,
        paging: Paging,
        values: Mapping[str, object],
        max_items: int | None,
    ) -> None:
        if max_items is not None and (isinstance(max_items, bool) or max_items < 0):
            raise RequestValidationError(
                f"max_items must be a count (0 or more), got {max_items!r}",
                endpoint=endpoint,
                param="max_items",
            )
        self.endpoint = endpoint
        self.paging = paging
        self.values = {k: v for k, v in values.items() if v is not None}
        size = self.values.setdefault(paging.limit, paging.size)
        # a cursor page of one item may be that item again (an inclusive bound): no progress
        smallest = 2 if paging.by in ("id", "time") else 1
        if isinstance(size, bool) or not isinstance(size, int) or size < smallest:
            raise RequestValidationError(
                f"the page size must be an int of at least {smallest}, got {size!r}",
                endpoint=endpoint,
                param=paging.limit,
            )
        self.size = size
        self.remaining = max_items
        self.done = max_items == 0
        self.pages = 0
        start = self.values.get(paging.param)
        # id/time: the bound sent, and the keys of the items yielded that sit on it
        self.bound: Any = None if start is None else _position(start)
        self.on_bound: set[Any] = set()
        # page/offset: where the next page starts, and the page before
        default = paging.first if paging.by == "page" else 0
        self.number: int = start if isinstance(start, int) else default
        self.previous: list[Any] | None = None

    def request(self) -> dict[str, object] | None:
        """The values of the next call, or None when the walk is over."""
        if self.done:
            return None
        values = dict(self.values)
        if self.paging.by in ("id", "time"):
            if self.bound is not None:
                values[self.paging.param] = self.bound
        else:
            values[self.paging.param] = self.number
        return values

    def take(self, answer: Any) -> list[T]:
        """The new items of an answer, in walking order; decides what comes next."""
        self.pages += 1
        paging = self.paging
        found = getattr(answer, paging.items) if paging.items and answer is not None else answer
        items: list[Any] = list(found or ())
        if paging.by in ("id", "time"):
            new = self._by_cursor(items)
        else:
            new = self._by_number(items, answer)
        if self.remaining is not None:
            new = new[: self.remaining]
            self.remaining -= len(new)
            if self.remaining == 0:
                self.done = True
        return new

    def _stuck(self, why: str) -> PaginationError:
        self.done = True
        return PaginationError(why, endpoint=self.endpoint, page=self.pages)

    def _by_cursor(self, items: list[Any]) -> list[Any]:
        paging = self.paging
        field = paging.field or "id"
        key = paging.key or field
        down = paging.direction == "down"
        items.sort(key=lambda item: _position(getattr(item, field)), reverse=down)
        bound = self.bound
        if bound is None:
            new = items
        else:
            new = []
            for item in items:
                at = _position(getattr(item, field))
                beyond = at < bound if down else at > bound
                if beyond or (at == bound and getattr(item, key) not in self.on_bound):
                    new.append(item)
        if len(items) < self.size:
            self.done = True  # a short (or empty) page is the last
            return new
        if not new:
            raise self._stuck(
                f"a full page ({len(items)} items) held only items already returned, at "
                f"{paging.param}={bound}: the server repeated a page, or more than "
                f"{self.size} items share one {field}; stopped rather than loop"
            )
        edge = _position(getattr(items[-1], field))
        on_edge = {getattr(item, key) for item in items if _position(getattr(item, field)) == edge}
        self.on_bound = self.on_bound | on_edge if edge == bound else on_edge
        self.bound = edge
        return new

    def _by_number(self, items: list[Any], answer: Any) -> list[Any]:
        paging = self.paging
        if items and items == self.previous:
            raise self._stuck(
                f"the answer to {paging.param}={self.number} equals the page before: the "
                f"server ignores {paging.param}; stopped rather than loop"
            )
        self.previous = items
        total = getattr(answer, paging.total, None) if paging.total else None
        if paging.by == "page":
            reached = (self.number - paging.first + 1) * self.size
            self.number += 1
        else:
            self.number += len(items)
            reached = self.number
        if len(items) < self.size or (isinstance(total, int) and reached >= total):
            self.done = True
        return items


def iterate(
    request: Callable[..., Any],
    ep: Any,
    paging: Paging,
    values: Mapping[str, object],
    max_items: int | None,
    timeout: float | None,
    extra_params: Mapping[str, object] | None,
    extra_headers: Mapping[str, str] | None,
) -> Iterator[Any]:
    """Every item of every page, calling ``request`` (a sync resource's ``_request``) once a
    page. Arguments are checked now; pages are fetched as the iterator is consumed."""
    pager: Pager[Any] = Pager(ep.name, paging, values, max_items)

    def walk() -> Iterator[Any]:
        while (page := pager.request()) is not None:
            yield from pager.take(request(ep, page, timeout, extra_params, extra_headers))

    return walk()


def aiterate(
    request: Callable[..., Awaitable[Any]],
    ep: Any,
    paging: Paging,
    values: Mapping[str, object],
    max_items: int | None,
    timeout: float | None,
    extra_params: Mapping[str, object] | None,
    extra_headers: Mapping[str, str] | None,
) -> AsyncIterator[Any]:
    """As :func:`iterate`, for an async resource's ``_request``: ``async for`` the result."""
    pager: Pager[Any] = Pager(ep.name, paging, values, max_items)

    async def walk() -> AsyncIterator[Any]:
        while (page := pager.request()) is not None:
            for item in pager.take(await request(ep, page, timeout, extra_params, extra_headers)):
                yield item

    return walk()
