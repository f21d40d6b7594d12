"""Secrets out of every log line cambist emits or causes: one logging filter.

What is secret is declared in each spec (``exchange.secrets``: the headers and params that
carry credentials, e.g. the API-key header, the signature, the listen key) and registered
here when a client of that exchange signs its first request (:func:`protect`). Two rules
mask a log line's text:

- by name: ``<name>=<value>`` (a query string), ``<name>: <value>`` (a header line as
  ``websockets`` logs its handshake) and the quoted forms (``'<name>': '<value>'``,
  ``(b'<name>', b'<value>')``) have the value replaced by ``***``, for every secret name;
- by value: the values registered with :func:`secret` (API keys, listen keys, the Bibox
  handshake signature) are replaced wherever they appear (a listen key in a URL path).

The filter sits on the loggers of cambist and of the libraries it drives: ``cambist``
(``cambist.http``: the asyncio transport's request lines), ``httpx``, ``httpcore``
(``httpcore.connection``, ``.http11``, ...) and ``websockets`` (``websockets.client``,
``.server``, ...). A logging filter runs only on the logger it is
attached to, not on records propagating from children, so it is attached to each of them.
The message is formatted, masked and stored back (``args`` cleared), and an exception's
traceback text is masked the same way, before any handler sees the record.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cambist._runtime.endpoint import Exchange

MASK = "***"
LOGGERS = (
    "cambist",
    "cambist.http",
    "cambist.streams",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "websockets",
    "websockets.client",
    "websockets.server",
)
"""The loggers masked, and the prefixes of any other logger masked as well."""
_PREFIXES = ("cambist", "httpx", "httpcore", "websockets")
_MAX_VALUES = 4096
_MIN_VALUE = 6  # shorter values would mask ordinary words


class SecretFilter(logging.Filter):
    """Masks secret params, headers and values in a record's message and traceback."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self._values: dict[str, None] = {}  # insertion-ordered: the oldest drop first
        self._by_name: re.Pattern[str] | None = None
        self._by_value: re.Pattern[str] | None = None

    def add_names(self, names: Iterable[str]) -> None:
        with self._lock:
            new = self._names | {n for n in names if n}
            if new == self._names:
                return
            self._names = new
            alternatives = "|".join(re.escape(n) for n in sorted(new, key=len, reverse=True))
            # the value may open with a quote, or with b and a quote (a bytes repr: b'...');
            # a ``b`` not followed by a quote is the value's own first character, masked too
            self._by_name = re.compile(
                rf"(?<![\w-])((?:{alternatives})[\"']?\s*[:=,]\s*(?:b?[\"'])?)"
                rf"([^\s&\"',;)\]}}]+)",
                re.IGNORECASE,
            )

    def add_value(self, value: str) -> None:
        if len(value) < _MIN_VALUE:
            return
        with self._lock:
            if value in self._values:
                return
            self._values[value] = None
            while len(self._values) > _MAX_VALUES:
                del self._values[next(iter(self._values))]
            ordered = sorted(self._values, key=len, reverse=True)
            self._by_value = re.compile("|".join(re.escape(v) for v in ordered))

    def mask(self, text: str) -> str:
        """``text`` with every secret it shows replaced by ``***``."""
        by_value, by_name = self._by_value, self._by_name
        if by_value is not None:
            text = by_value.sub(MASK, text)
        if by_name is not None:
            text = by_name.sub(rf"\1{MASK}", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as usual
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


FILTER = SecretFilter()
"""The one filter: every masked logger carries it."""


def install() -> None:
    """Attach :data:`FILTER` to cambist's, httpx's, httpcore's and websockets' loggers
    (those named in :data:`LOGGERS` and any other already created under them)."""
    names = set(LOGGERS) | {
        name
        for name in list(logging.Logger.manager.loggerDict)
        if name.split(".", 1)[0] in _PREFIXES
    }
    for name in names:
        logger = logging.getLogger(name)
        if FILTER not in logger.filters:
            logger.addFilter(FILTER)


def protect(exchange: Exchange) -> None:
    """Mask the headers and params ``exchange``'s spec declares secret in every log line."""
    FILTER.add_names((*exchange.secret_headers, *exchange.secret_params))
    install()


def masked_repr(value: object) -> str:
    """A model field's repr when it carries a secret (a listen key): ``'***'``."""
    return "None" if value is None else repr(MASK)


def secret(value: str | None) -> None:
    """Mask ``value`` (an API key, a listen key, a fixed signature) wherever it is logged."""
    if value:
        FILTER.add_value(value)


ENV_VAR = "CAMBIST_LOG"
_LEVELS = {
    # CAMBIST_LOG value -> (level, loggers given the handler)
    "info": (logging.INFO, ("cambist", "httpx")),
    "debug": (logging.DEBUG, ("cambist", "httpx", "httpcore", "websockets")),
}
_HANDLER: logging.Handler | None = None


def configure_from_env() -> None:
    """``CAMBIST_LOG=debug`` (or ``info``): log to stderr without configuring anything else.

    ``info``: cambist's own lines (retries, clock resyncs, reconnections) and one line per
    request (httpx's, or ``cambist.http``'s from the asyncio client's own transport);
    ``debug``: also cambist's debug lines, httpcore's connection log and the websockets
    frames. One handler, carrying :data:`FILTER`, so every line is masked, however
    it got there. Unset or empty: nothing changes (configure ``logging`` yourself). Called
    when a client is built; a second call changes nothing.
    """
    global _HANDLER
    import os

    value = os.environ.get(ENV_VAR, "").strip().lower()
    if not value or _HANDLER is not None:
        return
    if value not in _LEVELS:
        import warnings

        warnings.warn(
            f"{ENV_VAR}={value!r} is not one of {', '.join(_LEVELS)}; ignored",
            stacklevel=3,
        )
        return
    level, names = _LEVELS[value]
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(FILTER)  # masks what reaches it from any logger below these
    install()
    for name in names:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
    _HANDLER = handler
