"""Checks of the client options, made when a client is built: a wrong type or value is
refused there, naming the option, instead of failing on the first retry or being sent."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cambist._runtime.endpoint import Exchange


def _name(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def optional_str(option: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{option} must be a str or None, got {_name(value)}")


def number(option: str, value: object, *, zero: bool = False, infinite: bool = False) -> None:
    """A real number of seconds (not a bool): ``timeout=30`` or ``30.0``, never ``"30"``;
    above 0 and finite (``zero``: 0 too; ``infinite``: ``math.inf`` too; never NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{option} must be a number of seconds, got {_name(value)}")
    if not ((value >= 0 if zero else value > 0) and (infinite or math.isfinite(value))):
        what = ("non-negative" if zero else "positive") + ("" if infinite else ", finite")
        raise ValueError(f"{option} must be a {what} number of seconds, got {value!r}")


def call_timeout(endpoint: str, value: object) -> None:
    """A call's own ``timeout=`` (not None): checked as the client option ``timeout`` is,
    with its message, raised as the call's other bad arguments are
    (:class:`~cambist.errors.RequestValidationError`, naming the endpoint and the param)."""
    try:
        number("timeout", value)
    except (TypeError, ValueError) as exc:
        from cambist.errors import RequestValidationError

        raise RequestValidationError(str(exc), endpoint=endpoint, param="timeout") from None


def whole(option: str, value: object, *, minimum: int | None = None) -> int:
    """An ``int`` (not a bool, not ``"3"``) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{option} must be an int, got {_name(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{option} must be at least {minimum}, got {value}")
    return value


def random_source(option: str, value: object) -> None:
    """A ``random.Random`` (or a subclass: a fake with a fixed ``random()``)."""
    import random

    if not isinstance(value, random.Random):
        raise TypeError(f"{option} must be a random.Random, got {_name(value)}")


def flag(option: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{option} must be True or False, got {_name(value)}")


def url_map(option: str, value: object, keys: list[str]) -> None:
    """A mapping of the exchange's URL keys (``ws_urls={"ws": ...}``) to URL strings."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise TypeError(f"{option} must be a mapping of URL key to URL, got {_name(value)}")
    for key, url in value.items():
        if key not in keys:
            known = ", ".join(map(repr, keys)) or "none"
            raise ValueError(f"{option}: unknown key {key!r}; this exchange has {known}")
        if not isinstance(url, str):
            raise TypeError(f"{option}[{key!r}] must be a URL string, got {_name(url)}")


def instance(option: str, value: object, cls: type, what: str) -> None:
    if value is not None and not isinstance(value, cls):
        raise TypeError(f"{option} must be {what} or None, got {_name(value)}")


def check_base(
    exchange: Exchange,
    *,
    api_key: object,
    api_secret: object,
    environment: object,
    base_url: object,
    timeout: object,
    max_retries: object,
    recv_window: object,
    time_sync: object,
    ws_urls: object,
    rest_urls: object,
    retry: object,
    clock: object,
) -> None:
    """Refuse what ``BaseClient.__init__`` cannot use (``TypeError`` / ``ValueError``
    naming the option)."""
    from cambist._runtime.clock import Clock
    from cambist.errors import RequestValidationError

    for option, value in (("api_key", api_key), ("api_secret", api_secret)):
        optional_str(option, value)
    optional_str("base_url", base_url)
    if environment is not None and not isinstance(environment, str):
        raise TypeError(f"environment must be a str, got {_name(environment)}")
    number("timeout", timeout)
    if max_retries is not None:
        whole("max_retries", max_retries, minimum=0)
    if recv_window is not None and whole("recv_window", recv_window) <= 0:
        raise RequestValidationError(  # a ValueError
            f"recv_window must be a positive number of ms, got {recv_window}",
            endpoint=exchange.id,
            param="recv_window",
        )
    check_recv_window(exchange, recv_window)  # type: ignore[arg-type]
    flag("time_sync", time_sync)
    urls = {k for env in exchange.environments.values() for k in env}
    url_map("ws_urls", ws_urls, sorted(k for k in urls if k.startswith("ws")))
    url_map("rest_urls", rest_urls, sorted(k for k in urls if k.startswith("rest_")))
    if retry is not None:  # (the retry module loads with the first call otherwise)
        from cambist._runtime.retry import RetryPolicy

        instance("retry", retry, RetryPolicy, "a cambist.options.RetryPolicy")
    instance("clock", clock, Clock, "a cambist.options.Clock")


def check_recv_window(exchange: Exchange, recv_window: int | None) -> None:
    """Refuse a ``recv_window`` client option the exchange's document does not allow."""
    limit = exchange.recv_window_max
    if recv_window is not None and limit is not None and not 0 < recv_window <= limit:
        from cambist.errors import RequestValidationError

        raise RequestValidationError(
            f"recv_window must be between 1 and {limit} ms, got {recv_window}",
            endpoint=exchange.id,
            param="recv_window",
        )
