"""Descriptions of an exchange and its endpoints: plain data the generated code declares.

Nothing here does I/O. ``Endpoint`` objects double as the machine-readable registry
(``cambist.<exchange>.ENDPOINTS``).
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

if TYPE_CHECKING:
    from cambist._runtime.limits import Budget, Learn, WeightRule

T = TypeVar("T")

ParamsIn = Literal["query", "form", "json"]


@dataclass(frozen=True, slots=True)
class Param:
    """One request parameter.

    ``name`` is the Python name, ``wire_name`` the name sent (default: ``name``); ``type`` the
    spec's type text (``"decimal"``, ``"list[string]"``, ``"OrderSide"``); ``kind`` the encoding
    it selects (default: ``type``, as for every primitive).
    ``required`` is True, False, or the document's condition text (a conditional param,
    optional for the client; the endpoint's ``rules`` check what can be checked).
    ``minimum``/``maximum`` are inclusive bounds, ``exclusive_minimum``/``exclusive_maximum``
    strict ones; ``max_items`` caps a list; ``pattern`` is a regex the whole text (each item of
    a list) must match. All are checked before sending.
    """

    name: str
    type: str
    wire_name: str = ""
    kind: str = ""
    required: bool | str = False
    enum: builtins.type[enum.Enum] | None = None
    item_kind: str | None = None
    minimum: int | str | None = None
    maximum: int | str | None = None
    in_query: bool = False
    body: bool = False
    to_wire: Callable[[Any], Any] | None = None
    prefix: str | None = None
    exclusive_minimum: int | str | None = None
    exclusive_maximum: int | str | None = None
    max_items: int | None = None
    pattern: str | None = None
    json_text: bool = False
    """Sent as the compact JSON text of the value (lists, input models) in one query or
    form parameter, e.g. Binance's ``orders=[{...},{...}]``."""

    def __post_init__(self) -> None:
        if not self.wire_name:
            object.__setattr__(self, "wire_name", self.name)
        if not self.kind:
            object.__setattr__(self, "kind", self.type)

    @property
    def key(self) -> str:
        """The param's key in a call's values: its wire name, or, for a prefixed param that
        shares its wire name with another (Bibox's ``id`` / ``c:`` + client id), its own name."""
        return self.name if self.prefix else self.wire_name


@dataclass(frozen=True, slots=True)
class Rule:
    """A check across params, run before sending.

    ``kind`` is ``one_of`` (at least one of ``params`` is set), ``exclusive`` (at most one),
    or ``require`` (``params[0]`` is set when ``when_param`` has one of ``when_values``).
    """

    kind: Literal["one_of", "exclusive", "require"]
    params: tuple[str, ...]
    when_param: str | None = None
    when_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[T]):
    """One REST endpoint: everything the runtime needs to call it and parse its answer."""

    name: str
    method: str
    path: str
    security: str
    weight: int | str | None
    safe: bool
    params: tuple[Param, ...] = ()
    params_in: ParamsIn = "query"
    rules: tuple[Rule, ...] = ()
    parse: Callable[[Any], T] | None = None
    fast: Callable[[bytes], tuple[T, object]] | None = None
    """The msgspec fast path: the answer's bytes -> (model, the error-code field's value or
    None); raises on anything unusual (the general converters then read the answer)."""
    response: str | None = None
    client_order_id: str | None = None
    item_errors: bool = False
    """A list answer's items may each be the exchange's error object (a refused item of a
    batch): read as the errors they are, in their places (spec ``item_errors``)."""
    source: str | None = None
    base: str | None = None
    """The environment URL key of the endpoint's own host (``rest_<name>``); None: ``rest``."""


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One row of the exchange's error table."""

    code: str
    kind: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class AfterRateLimit:
    """What the exchange's document prescribes after a 429 or a rate-limit code, for one kind
    of endpoint (``safe`` or ``unsafe`` to resend; the spec's ``rate_limits``).

    ``resend``: the client waits and resends by itself (within ``max_retries`` and the call's
    deadline); False: it raises :class:`~cambist.errors.RateLimitError` at once.
    ``wait``: seconds to wait when the answer has no ``Retry-After`` (the error's
    ``retry_after``); None: the retry policy's backoff.
    """

    resend: bool = True
    wait: float | None = None


@dataclass(frozen=True, slots=True)
class Security:
    api_key: bool = False
    signed: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers every request of this security type sends (the document's samples')."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """An exchange's metadata, from its spec's ``exchange.yaml``."""

    id: str
    name: str
    environments: Mapping[str, Mapping[str, str]]
    security: Mapping[str, Security]
    auth_scheme: str  # a key of cambist._runtime.signing.SIGNERS
    api_key_header: str
    signature_param: str | None = None
    signature_header: str | None = None
    expire_header: str | None = None
    timestamp_param: str | None = None
    recv_window_param: str | None = None
    recv_window_max: int | None = None
    json_body_signed: bool = True
    server_time_path: str | None = None
    server_time_field: str | None = None
    numbers: Literal["strings", "numbers"] = "strings"
    envelope_code: str | None = None
    envelope_message: str | None = None
    envelope_data: str | None = None
    envelope_required: bool = False
    error_code_field: str = "code"
    error_message_field: str = "msg"
    success_codes: frozenset[str] = frozenset()
    errors: tuple[ErrorCode, ...] = ()
    status_messages: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    status_kinds: Mapping[int, str] = field(default_factory=dict)
    rate_limit_safe: AfterRateLimit = AfterRateLimit()
    rate_limit_unsafe: AfterRateLimit = AfterRateLimit()
    ban_seconds: float | None = None
    client_order_ids: Literal["hex", "digits"] = "hex"
    api_key_env: str | None = None
    api_secret_env: str | None = None
    secret_headers: tuple[str, ...] = ()
    """Headers and params that carry credentials (``exchange.secrets`` in the spec): their
    values are masked in every log line."""
    secret_params: tuple[str, ...] = ()
    budgets: tuple[Budget, ...] = ()
    """The document's rate limits (``rate_limits.budgets``): what the governor spends from."""
    weight_rules: tuple[WeightRule, ...] = ()
    """Weights that depend on a param (``rate_limits.weights``)."""
    learn_limits: Learn | None = None
    """Where the exchange reports its own limits (``rate_limits.learn``)."""

    def after_rate_limit(self, safe: bool) -> AfterRateLimit:
        """The document's rule after a rate limit, for an endpoint ``safe`` to resend or not."""
        return self.rate_limit_safe if safe else self.rate_limit_unsafe
