"""The request flow, written once for the sync and the async client.

:meth:`Core.flow` is a generator: it makes every decision (encode, sign, retry, resync the
clock, map errors, parse) and *yields* the two things that need I/O, :class:`Send` and
:class:`Sleep`. The sync driver and the async driver (``drivers.py``) each run it, differing
only in how they send and sleep — as httpx's ``Auth.auth_flow`` serves both its clients.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import orjson

from cambist import errors
from cambist._runtime import convert
from cambist._runtime.clock import SYSTEM_CLOCK, Clock, ServerClock
from cambist._runtime.encode import encode_params, scalar
from cambist._runtime.endpoint import Endpoint, Exchange, Security
from cambist._runtime.errormap import ErrorMap, normalize_code
from cambist._runtime.options import check_recv_window
from cambist._runtime.response import RawResponse
from cambist._runtime.retry import RetryPolicy, Verdict, decide, tls_failure
from cambist._runtime.signing import SIGNERS, Credentials, Draft, SigningContext
from cambist._runtime.transport import DEFAULT_HEADERS, Answer, Outgoing, as_httpx

if TYPE_CHECKING:
    from cambist._runtime.governor import Governor

T = TypeVar("T")
log = logging.getLogger("cambist")


@dataclass(frozen=True, slots=True)
class Send:
    request: Outgoing


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Io:
    """Other I/O a flow needs (the rate-limit governor's Redis): the sync driver calls
    ``run()``, the async one awaits ``arun()``; the value (or error) goes back into the flow."""

    run: Callable[[], Any]
    arun: Callable[[], Awaitable[Any]]


Action = Send | Sleep | Io
Flow = Generator[Action, Any, T]


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Per-call options every generated method accepts."""

    timeout: float | None = None
    extra_params: Mapping[str, object] | None = None
    extra_headers: Mapping[str, str] | None = None
    raw: bool = False


def _hex_id() -> str:
    import uuid  # on first use: an order placed, not an import

    return uuid.uuid4().hex  # 32 characters


def _digits_id() -> str:
    import secrets

    return str(secrets.randbits(62))  # an int64, as a string


_ID_FORMATS: dict[str, Callable[[], str]] = {"hex": _hex_id, "digits": _digits_id}


def _json_extra(value: object) -> object:
    """An ``extra_params`` value in a JSON body: strings, ints, bools and None as JSON has
    them, an enum by its value, anything else (a Decimal) as its text in plain notation."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, str | int):  # (bool is an int)
        return value
    return scalar("any", value)


def _bare(exc: Exception) -> Exception:
    """``exc`` (the HTTP library's error) made fit to be the ``__cause__`` of a cambist error:
    its type and message only. Its traceback's frames hold the signed request (httpx's
    ``request``, the asyncio transport's request head with the API-key header), which a
    traceback with locals (``pytest -l``, rich) prints, and httpx keeps that request on the
    exception itself (``.request``, and in a pickle); its own cause chain has the same frames."""
    exc.__traceback__ = None
    exc.__cause__ = exc.__context__ = None
    exc.__suppress_context__ = True
    if isinstance(exc, httpx.TransportError):
        exc._request = None  # httpx keeps the request here (``.request``)
    return exc


def _why(exc: Exception) -> str:
    return f"HTTP {exc.status_code}" if isinstance(exc, errors.APIError) else type(exc).__name__


class Core:
    """Everything about a request that needs no I/O, for one client."""

    def __init__(
        self,
        exchange: Exchange,
        *,
        base_url: str,
        credentials: Credentials | None,
        timeout: float,
        recv_window: int | None,
        retry: RetryPolicy,
        clock: ServerClock,
        time_sync: bool,
        time_sync_interval: float = 1800.0,
        new_client_order_id: Callable[[], str] | None = None,
        time: Clock = SYSTEM_CLOCK,
    ) -> None:
        check_recv_window(exchange, recv_window)
        self.exchange = exchange
        self.base_url = base_url.rstrip("/")
        self.base_urls: dict[str, str] = {}  # an endpoint's own host, by environment URL key
        self.credentials = credentials
        self.timeout = timeout
        self.recv_window = recv_window
        self.retry = retry
        self.clock = clock
        self.time_sync = time_sync and exchange.server_time_path is not None
        self.time_sync_interval = time_sync_interval
        self.new_client_order_id = new_client_order_id or _ID_FORMATS[exchange.client_order_ids]
        self.time = time  # waits, deadlines, bans (the client option ``clock``)
        self.banned: errors.IPBannedError | None = None  # the last ban, until banned_until
        self.banned_until = 0.0  # on self.time.monotonic()
        self.errors = ErrorMap(exchange)
        self.signer = SIGNERS[exchange.auth_scheme](exchange)
        self._headers = DEFAULT_HEADERS
        self.governor: Governor | None = None  # the rate-limit budgets (client option)

    # -- the flow -----------------------------------------------------------------------

    def flow(self, ep: Endpoint[T], values: Mapping[str, object], opts: CallOptions) -> Flow[Any]:
        """Call ``ep`` with ``values`` (wire name -> value; None = not sent)."""
        wire = ep.client_order_id
        if wire is None:  # most calls: nothing to fill
            ids: tuple[str, ...] = ()
            query, main, body = encode_params(ep, values)
        else:
            values, ids = self._fill_client_order_id(ep, values)
            filled: list[str] = []
            fill = lambda items: filled.extend(self._fill_items(wire, items))  # noqa: E731
            query, main, body = encode_params(ep, values, fill)  # fills json_text items' ids
            if isinstance(body, list):
                ids = self._fill_items(wire, body)
            elif filled:
                ids = tuple(filled)
        if opts.extra_params:
            self._check_extra(ep, opts.extra_params)
            if ep.params_in == "json" and (body is None or isinstance(body, dict)):
                # in the JSON body with the others: the body is what such a request is
                # signed over and read from (Bibox POST / DELETE), not the query string
                body = {**(body or {}), **{k: _json_extra(v) for k, v in opts.extra_params.items()}}
            else:
                extra = [(k, scalar("any", v)) for k, v in opts.extra_params.items()]
                (main if ep.params_in == "form" else query).extend(extra)
        security = self.exchange.security[ep.security]
        credentials = self.credentials
        if (security.api_key or security.signed) and credentials is None:
            raise errors.RequestValidationError(
                f"needs credentials ({ep.security}): pass api_key and api_secret", endpoint=ep.name
            )
        if security.signed and credentials is not None and not credentials.can_sign:
            raise errors.RequestValidationError(
                f"is signed ({ep.security}): pass api_secret with the api_key", endpoint=ep.name
            )
        self._check_ban(ep)
        stamped = security.signed and self.exchange.timestamp_param is not None
        limit = opts.timeout if opts.timeout is not None else self.timeout
        deadline = self.time.monotonic() + limit  # the whole call, retry waits included
        governor = self.governor
        keyed = security.api_key or security.signed
        attempt = 0
        resynced = False
        while True:
            if stamped and self.time_sync and self.clock.due(self.time_sync_interval):
                yield from self._sync_clock(deadline)
            if governor is not None:  # spend from the budgets (may wait; raises when it may not)
                yield from governor.spend(ep, values, keyed, deadline)
            spent = self.time.monotonic()
            left = deadline - spent
            if left <= 0:  # nothing sent this time: a plain timeout, even for an order
                raise errors.APITimeoutError(f"no answer within {limit}s", endpoint=ep.name)
            request = self.build_request(ep, security, query, main, body, opts, left)
            try:
                response: httpx.Response = yield Send(request)
                if governor is not None:
                    governor.took(self.time.monotonic() - spent)
                    if governor.headers:
                        yield from governor.observe(response.headers)
                result = self.handle(ep, response, opts, ids)
                if governor is not None and governor.learns == ep.name:
                    governor.learn(response.content)  # the exchange's own limits
                return result
            except errors.TimestampError:
                if resynced or not stamped or not self.time_sync:
                    raise
                resynced = True
                log.info("%s: timestamp rejected; resyncing the clock", ep.name)
                yield from self._sync_clock(deadline)
                continue
            except errors.IPBannedError as exc:
                self._remember_ban(exc)
                raise
            except (httpx.TransportError, errors.APIError) as exc:
                if governor is not None and isinstance(exc, errors.RateLimitError):
                    yield from governor.hold(ep, keyed, exc.retry_after or 0.0)
                attempt += 1
                decision = decide(
                    self.retry,
                    attempt,
                    exc,
                    safe=ep.safe,
                    after_limit=self.exchange.after_rate_limit(ep.safe),
                    remaining=deadline - self.time.monotonic(),
                )
                if decision.verdict is Verdict.UNKNOWN:
                    raise errors.ExecutionStatusUnknownError(
                        f"{type(exc).__name__} after the request was sent",
                        endpoint=ep.name,
                        client_order_id=",".join(ids) or None,
                    ) from (_bare(exc) if isinstance(exc, httpx.TransportError) else exc)
                if decision.verdict is Verdict.RAISE:
                    if isinstance(exc, httpx.TransportError):
                        error = self._transport_error(ep, exc)  # (reads exc's chain: TLS)
                        raise error from _bare(exc)
                    if isinstance(exc, errors.RateLimitError) and exc.retry_after is None:
                        exc.retry_after = decision.delay or None  # the wait it did not make
                    raise
                log.info("%s: %s; retry %d in %.2fs", ep.name, _why(exc), attempt, decision.delay)
            yield Sleep(decision.delay)

    def _check_extra(self, ep: Endpoint[Any], extra: Mapping[str, object]) -> None:
        """``extra_params`` add what the spec does not have yet; one that names a declared
        parameter would be sent twice, unchecked (another symbol, a price off the tick),
        and one the client writes (timestamp, signature) would break the signature."""
        x = self.exchange
        signed = x.security[ep.security].signed
        own = {x.timestamp_param, x.recv_window_param, x.signature_param} if signed else set()
        for key in extra:
            declared = next((p for p in ep.params if p.wire_name == key), None)
            if declared is not None:
                raise errors.RequestValidationError(
                    f"extra_params {key!r} is a parameter of this method: pass it as "
                    f"{declared.name}=",
                    endpoint=ep.name,
                    param=declared.name,
                )
            if key in own:
                raise errors.RequestValidationError(
                    f"extra_params {key!r} is written by the client (signing)",
                    endpoint=ep.name,
                )

    def _check_ban(self, ep: Endpoint[Any]) -> None:
        """During a ban, a call fails here: nothing is sent (every request may lengthen it)."""
        banned = self.banned
        if banned is None:
            return
        left = self.banned_until - self.time.monotonic()
        if left <= 0:
            self.banned = None
            return
        raise errors.IPBannedError(
            f"IP banned (HTTP {banned.status_code} on {banned.endpoint}) for {left:.0f}s more;"
            " not sent",
            endpoint=ep.name,
            status_code=banned.status_code,
            code=banned.code,
            headers=banned.headers,
            body=banned.body,
            until=banned.until,
            retry_after=left,
            local=True,
        )

    def _remember_ban(self, exc: errors.IPBannedError) -> None:
        wait = exc.retry_after if exc.retry_after is not None else 0.0
        self.banned_until = max(self.banned_until, self.time.monotonic() + wait)
        self.banned = exc
        log.warning("%s: IP banned for %.0fs; calls fail locally until then", exc.endpoint, wait)

    def _fill_client_order_id(
        self, ep: Endpoint[Any], values: Mapping[str, object]
    ) -> tuple[Mapping[str, object], tuple[str, ...]]:
        wire = ep.client_order_id
        if wire is None or not any(p.wire_name == wire and not p.body for p in ep.params):
            return values, ()
        current = values.get(wire)
        if current is not None:
            return values, (str(current),)
        filled = dict(values)
        filled[wire] = new = self.new_client_order_id()
        return filled, (new,)

    def _fill_items(self, wire: str, body: list[Any]) -> tuple[str, ...]:
        ids = []
        for item in body:
            if isinstance(item, dict):
                if item.get(wire) is None:
                    item[wire] = self.new_client_order_id()
                ids.append(str(item[wire]))
        return tuple(ids)

    @staticmethod
    def _transport_error(ep: Endpoint[Any], exc: Exception) -> errors.TransportError:
        bad = tls_failure(exc)
        if bad is not None:
            why = getattr(bad, "verify_message", None) or str(bad)
            return errors.TLSCertificateError(
                f"TLS certificate verification failed ({why}); not retried: a certificate does"
                " not fix itself. Check the URL, the system's CA certificates, or pass"
                " http_client with verify= set",
                endpoint=ep.name,
            )
        cls = errors.APITimeoutError if isinstance(exc, httpx.TimeoutException) else None
        return (cls or errors.APIConnectionError)(
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, endpoint=ep.name
        )

    def _sync_clock(self, deadline: float | None = None) -> Flow[None]:
        """Measure the server clock; a failure keeps the current offset and is logged."""
        clock = self.clock
        timeout = self.timeout
        if deadline is not None:
            timeout = max(min(timeout, deadline - self.time.monotonic()), 0.001)
        clock.syncing = True
        request = Outgoing(
            "GET",
            self.base_url + (self.exchange.server_time_path or ""),
            dict(self._headers),
            None,
            timeout,
        )
        sent = clock.local_ms()
        try:
            response: httpx.Response = yield Send(request)
            received = clock.local_ms()
            data = self._unwrap(convert.decode_fast(response.content))
            server_ms = convert.integer(data[self.exchange.server_time_field or "serverTime"])
        except Exception as exc:  # keep the old offset: a failed sync must not fail the call
            log.warning("server time sync failed: %s: %.200s", type(exc).__name__, exc)
            clock.synced_at = clock.local_ms() / 1000.0
            return
        finally:  # also when the call is cancelled mid-sync: the next call may sync again
            clock.syncing = False
        clock.update(server_ms, sent, received)
        log.debug("server clock offset %d ms", clock.offset_ms)

    # -- building the request -------------------------------------------------------------

    def build_request(
        self,
        ep: Endpoint[Any],
        security: Security,
        query: list[tuple[str, str]],
        main: list[tuple[str, str]],
        body: object,
        opts: CallOptions,
        left: float | None = None,
    ) -> Outgoing:
        """The exact request to send, signed by the exchange's scheme (:mod:`.signing`);
        ``left``: seconds before the call's deadline (bounds the HTTP timeouts)."""
        headers = dict(self._headers)
        headers.update(security.headers)
        if opts.extra_headers:
            headers.update(opts.extra_headers)
        form = list(main) if ep.params_in == "form" else None
        draft = Draft(ep.method, list(query), form, b"", headers)
        if body is not None:
            draft.json = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        if security.api_key or security.signed:
            assert self.credentials is not None
            headers[self.exchange.api_key_header] = self.credentials.api_key
        if security.signed:
            assert self.credentials is not None
            context = SigningContext(self.credentials, self.clock.timestamp, self.recv_window)
            self.signer.sign(draft, context)
        if draft.form:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        qs = draft.query_string()
        content = draft.body()
        base = self.base_urls.get(ep.base, self.base_url) if ep.base else self.base_url
        url = f"{base}{ep.path}?{qs}" if qs else base + ep.path
        seconds = opts.timeout if opts.timeout is not None else self.timeout
        timeout = seconds if left is None or left > seconds else left
        return Outgoing(ep.method, url, headers, content or None, timeout)

    # -- reading the answer ---------------------------------------------------------------

    def handle(
        self,
        ep: Endpoint[T],
        response: httpx.Response | Answer,
        opts: CallOptions,
        ids: tuple[str, ...] = (),
    ) -> Any:
        """The parsed model (or RawResponse), or raise the error the answer means."""
        status = response.status_code
        content = response.content
        if status < 400 and ep.fast is not None and self.exchange.envelope_data is None:
            try:
                if len(content) < convert.LARGE_ANSWER:
                    parsed, code = ep.fast(content)
                else:
                    with convert.collector_paused:  # thousands of new objects, all alive
                        parsed, code = ep.fast(content)
            except Exception:  # anything unusual: the general path decides (and maps errors)
                pass
            else:  # the error field, checked after decoding: an error takes the general path
                if code is None or normalize_code(code) in self.errors.success_codes:
                    return RawResponse(as_httpx(response), parsed) if opts.raw else parsed
        payload: Any = None
        if content:
            try:
                payload = self._decode(content)
            except ValueError:
                if status < 400:
                    raise errors.ResponseParseError(
                        "body is not JSON", endpoint=ep.name, body=content
                    ) from None
        if self._is_error(payload) or (
            # an answer item by item (item_errors) is read item by item whatever its status:
            # raising one error for it would take the items carried out for failures
            status >= 400 and not (ep.item_errors and type(self._unwrap(payload)) is list)
        ):
            raise self._error(ep, response, payload, ids)
        refused: Callable[[int, int, Any], errors.CambistError] | None = None
        if ep.item_errors:

            def refused(index: int, count: int, item: Any) -> errors.CambistError:
                own = ids[index : index + 1] if len(ids) == count else ()  # the item's own id
                return self._error(ep, response, item, own)

        parsed = self.parse(ep, content, payload, refused)
        return RawResponse(as_httpx(response), parsed) if opts.raw else parsed

    def _decode(self, content: bytes) -> Any:
        if self.exchange.numbers == "numbers":
            return convert.decode_exact(content)
        try:
            return convert.decode_fast(content)
        except orjson.JSONDecodeError:  # e.g. an integer beyond 64 bits
            return convert.decode_exact(content)

    def parse(
        self,
        ep: Endpoint[T],
        content: bytes,
        payload: Any,
        refused: Callable[[int, int, Any], errors.CambistError] | None = None,
    ) -> T | Any:
        """The answer's model. ``refused`` (an endpoint with ``item_errors``) builds the error
        of a list item that is the exchange's error object (from its index, the item count
        and the item), kept in that item's place."""
        if ep.parse is None:
            return self._unwrap(payload) if ep.response == "json" else None
        try:
            try:
                return self._read(ep, self._unwrap(payload), refused)
            except convert.NeedsExactNumbers:
                return self._read(ep, self._unwrap(convert.decode_exact(content)), refused)
        except (KeyError, TypeError, ValueError, AttributeError, convert.WireTypeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise errors.ResponseParseError(detail, endpoint=ep.name, body=content) from exc

    def _read(
        self,
        ep: Endpoint[T],
        data: Any,
        refused: Callable[[int, int, Any], errors.CambistError] | None,
    ) -> T | Any:
        assert ep.parse is not None
        if refused is None or type(data) is not list:
            return ep.parse(data)
        count = len(data)
        failed = {i: refused(i, count, x) for i, x in enumerate(data) if self._is_error(x)}
        if not failed:
            return ep.parse(data)
        parsed: Any = ep.parse([item for i, item in enumerate(data) if i not in failed])
        read = iter(parsed)
        return [failed[i] if i in failed else next(read) for i in range(count)]

    def _unwrap(self, payload: Any) -> Any:
        exchange = self.exchange
        data = exchange.envelope_data
        if data is None or not isinstance(payload, dict):
            return payload
        if exchange.envelope_required or exchange.envelope_code in payload:
            return payload.get(data)
        return payload

    def _is_error(self, payload: Any) -> bool:
        if not isinstance(payload, dict):
            return False
        field = self.exchange.error_code_field
        if field not in payload:
            return False
        code = payload[field]
        return code is not None and normalize_code(code) not in self.errors.success_codes

    def _error(
        self,
        ep: Endpoint[Any],
        response: httpx.Response | Answer,
        payload: Any,
        ids: tuple[str, ...],
    ) -> errors.CambistError:
        code = message = None
        if isinstance(payload, dict):
            code = payload.get(self.exchange.error_code_field)
            message = payload.get(self.exchange.error_message_field)
        if message is None:
            message = response.reason_phrase or ""
            if payload is None and response.content:
                message = response.content[:200].decode("utf-8", "replace")
        return self.errors.build(
            endpoint=ep.name,
            status=response.status_code,
            code=code if isinstance(code, str | int) else None,
            message=str(message),
            headers=response.headers,
            body=response.content,
            safe=ep.safe,
            client_order_ids=ids,
            now=self.time.time(),
        )
