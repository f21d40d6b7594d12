"""The pure parts of a call, tested with no HTTP: the retry decision, backoff bounds,
Retry-After parsing, and the sequence of actions ``Core.flow`` yields."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cambist import errors
from cambist._runtime.core import CallOptions, Core, Flow, Send, Sleep
from cambist._runtime.retry import (
    Decision,
    RetryPolicy,
    Verdict,
    backoff,
    decide,
    parse_retry_after,
)
from cambist.hashkey import HashKey
from cambist.hashkey.resources import misc, spot

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
SAMPLES = Path(__file__).resolve().parent.parent / "specs" / "hashkey" / "examples"


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def _api(cls: type[errors.APIError], **kw: Any) -> errors.APIError:
    return cls("m", status_code=kw.pop("status_code", 500), endpoint="e", **kw)


# -- Retry-After ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("Wed, 02 Dec 2026 12:00:30 GMT", 30.0),  # an HTTP date, 30 s ahead
        ("Wed, 02 Dec 2026 11:59:00 GMT", 0.0),  # a date in the past: no wait
        ("-5", None),  # negative: not a valid header, ignored
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_parsing(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


# -- backoff and the policy -------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999999])
def test_backoff_stays_within_jitter_bounds(attempt: int, draw: float) -> None:
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    delay = backoff(attempt, 0.5, 8.0, FixedRandom(draw))
    assert ceiling / 2 <= delay <= ceiling
    assert delay == pytest.approx(ceiling / 2 + draw * ceiling / 2)


@pytest.mark.parametrize("attempt", [64, 1026, 10**6])
def test_backoff_of_a_stream_reconnecting_for_hours_stays_at_its_cap(attempt: int) -> None:
    # max_reconnects=None: attempt 1026 came after ~8.5 h of 30 s waits; 2.0 ** 1025 raised
    # OverflowError and ended the stream.
    assert backoff(attempt, 0.5, 30.0, FixedRandom(0.999999)) == pytest.approx(30.0)


def test_policy_gives_up_after_max_retries_and_above_the_retry_after_cap() -> None:
    policy = RetryPolicy(max_retries=2, max_retry_after=60.0, rng=FixedRandom(0.0))
    assert policy.delay(1) == 0.25
    assert policy.delay(2) == 0.5
    assert policy.delay(3) is None  # the third retry is one too many
    assert policy.delay(1, retry_after=60.0) == 60.0
    assert policy.delay(1, retry_after=60.5) is None  # longer than the cap: not waited for


# -- the decision -----------------------------------------------------------------------

POLICY = RetryPolicy(max_retries=2, rng=FixedRandom(0.0))
REQUEST = httpx.Request("GET", "http://127.0.0.1:9/")


@pytest.mark.parametrize(
    ("error", "safe", "expected"),
    [
        # nothing left the machine: any endpoint is resent
        (httpx.ConnectError("refused", request=REQUEST), False, Decision(Verdict.RETRY, 0.25)),
        (httpx.ConnectTimeout("slow", request=REQUEST), False, Decision(Verdict.RETRY, 0.25)),
        (httpx.PoolTimeout("busy", request=REQUEST), False, Decision(Verdict.RETRY, 0.25)),
        # sent, no answer: only a safe endpoint is resent
        (httpx.ReadTimeout("slow", request=REQUEST), True, Decision(Verdict.RETRY, 0.25)),
        (httpx.ReadTimeout("slow", request=REQUEST), False, Decision(Verdict.UNKNOWN)),
        (httpx.RemoteProtocolError("reset", request=REQUEST), False, Decision(Verdict.UNKNOWN)),
        # a 429 proves nothing was done: resent, waiting what the server asked
        (_api(errors.RateLimitError, retry_after=3.0), False, Decision(Verdict.RETRY, 3.0)),
        (_api(errors.RateLimitError), False, Decision(Verdict.RETRY, 0.25)),
        (_api(errors.RateLimitError, retry_after=61.0), True, Decision(Verdict.RAISE)),
        # a ban is never resent
        (_api(errors.IPBannedError, retry_after=1.0), True, Decision(Verdict.RAISE)),
        # 5xx: resent when safe, or when the document says it was not processed
        (_api(errors.ServerError), True, Decision(Verdict.RETRY, 0.25)),
        (_api(errors.ServerError), False, Decision(Verdict.RAISE)),
        (_api(errors.ServerError, not_processed=True), False, Decision(Verdict.RETRY, 0.25)),
        # a refusal is final
        (_api(errors.InvalidRequestError, status_code=400), True, Decision(Verdict.RAISE)),
        (_api(errors.AuthenticationError, status_code=401), True, Decision(Verdict.RAISE)),
    ],
)
def test_decide(error: BaseException, safe: bool, expected: Decision) -> None:
    assert decide(POLICY, 1, error, safe=safe) == expected


def test_decide_stops_after_the_last_retry() -> None:
    error = httpx.ConnectError("refused", request=REQUEST)
    assert decide(POLICY, 2, error, safe=True).verdict is Verdict.RETRY
    assert decide(POLICY, 3, error, safe=True) == Decision(Verdict.RAISE)


# -- the flow, action by action ---------------------------------------------------------


@pytest.fixture
def core() -> Iterator[Core]:
    with HashKey(api_key="k", api_secret="s", base_url="http://127.0.0.1:9") as client:
        client._core.retry = RetryPolicy(max_retries=2, rng=FixedRandom(0.0))
        yield client._core


def _answer(request: httpx.Request, status: int, body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers=headers, request=request)


def _time(request: httpx.Request) -> httpx.Response:
    return _answer(request, 200, b'{"serverTime": 1700000000000}')


def run(flow: Flow[Any], answers: list[Any]) -> tuple[list[str], Any]:
    """Drive ``flow`` like a driver: each Send gets the next answer (a function of the
    request, or an exception to throw in); returns the actions as text and the result."""
    actions: list[str] = []
    try:
        action = next(flow)
        while True:
            if isinstance(action, Sleep):
                actions.append(f"sleep {action.seconds}")
                action = flow.send(None)
                continue
            assert isinstance(action, Send)
            request = action.request.to_httpx()  # what an httpx client is sent
            actions.append(f"{request.method} {request.url.path}")
            answer = answers.pop(0)
            if isinstance(answer, BaseException):
                action = flow.throw(answer)
            else:
                action = flow.send(answer(request))
    except StopIteration as stop:
        assert not answers, "answers left over"
        return actions, stop.value


def test_flow_success_is_one_send(core: Core) -> None:
    flow = core.flow(misc._GET_SERVER_TIME, {}, CallOptions())
    actions, result = run(flow, [_time])
    assert actions == ["GET /api/v1/time"]
    assert result.server_time == 1700000000000


def test_flow_retries_a_safe_call_after_a_5xx(core: Core) -> None:
    flow = core.flow(misc._GET_SERVER_TIME, {}, CallOptions())
    actions, result = run(flow, [lambda r: _answer(r, 502, b"bad gateway"), _time])
    assert actions == ["GET /api/v1/time", "sleep 0.25", "GET /api/v1/time"]
    assert result.server_time == 1700000000000


def _order_values() -> dict[str, object]:
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}


def _order(request: httpx.Request) -> httpx.Response:
    return _answer(request, 200, (SAMPLES / "POST_api_v1.1_spot_order.json").read_bytes())


def test_flow_resends_an_order_after_a_429_with_the_same_client_order_id() -> None:
    # Binance's document lets an order be resent after a 429 (HashKey's says stop)
    from cambist.binance_options import BinanceOptions
    from cambist.binance_options.resources import trade

    sample = SAMPLES.parent.parent / "binance_options" / "examples" / "POST_eapi_v1_order.json"
    with BinanceOptions(api_key="k", api_secret="s", base_url="http://127.0.0.1:9") as client:
        core = client._core
    core.retry = RetryPolicy(max_retries=2, rng=FixedRandom(0.0))
    core.time_sync = False
    core.governor = None  # the retry policy alone (time does not move here)
    sent: list[httpx.Request] = []

    def limited(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _answer(
            request, 429, b'{"code":-1003,"msg":"Too many requests"}', **{"Retry-After": "3"}
        )

    def ok(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _answer(request, 200, sample.read_bytes())

    values = {
        "symbol": "BTC-200730-9000-C",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "1",
        "price": "5",
        "timeInForce": "GTC",
    }
    actions, result = run(
        core.flow(trade._CREATE_ORDER, values, CallOptions()),
        [
            limited,
            ok,
        ],
    )
    assert actions == ["POST /eapi/v1/order", "sleep 3.0", "POST /eapi/v1/order"]
    ids = [dict(httpx.QueryParams(r.content.decode()))["clientOrderId"] for r in sent]
    assert ids[0] == ids[1]
    assert result.order_id


def test_flow_resyncs_the_clock_once_after_a_rejected_timestamp(core: Core) -> None:
    rejected = b'{"code":"-1021","msg":"Timestamp for this request is outside of the recvWindow"}'
    flow = core.flow(spot._CREATE_ORDER, _order_values(), CallOptions())
    actions, _ = run(flow, [_time, lambda r: _answer(r, 400, rejected), _time, _order])
    assert actions == [
        "GET /api/v1/time",  # first signed call: the clock is synced
        "POST /api/v1.1/spot/order",
        "GET /api/v1/time",  # rejected timestamp: resync, then the same order again
        "POST /api/v1.1/spot/order",
    ]


def test_flow_raises_unknown_status_for_an_order_sent_without_answer(core: Core) -> None:
    core.time_sync = False
    flow = core.flow(spot._CREATE_ORDER, _order_values(), CallOptions())
    with pytest.raises(errors.ExecutionStatusUnknownError) as caught:
        run(flow, [httpx.ReadTimeout("no answer", request=REQUEST)])
    assert caught.value.client_order_id
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


@pytest.mark.parametrize("how", ["close", "cancel"])
def test_a_call_cancelled_during_the_clock_sync_lets_the_next_call_sync(
    core: Core, how: str
) -> None:
    import asyncio

    flow = core.flow(spot._CREATE_ORDER, _order_values(), CallOptions())
    first = next(flow)
    assert isinstance(first, Send) and first.request.to_httpx().url.path == "/api/v1/time"
    assert core.clock.syncing
    if how == "close":
        flow.close()  # the driver dropped the call (GeneratorExit)
    else:
        with pytest.raises(asyncio.CancelledError):
            flow.throw(asyncio.CancelledError())  # the task was cancelled while sending
    assert not core.clock.syncing
    assert core.clock.due(core.time_sync_interval)
    again = core.flow(spot._CREATE_ORDER, _order_values(), CallOptions())
    assert next(again).request.to_httpx().url.path == "/api/v1/time"
