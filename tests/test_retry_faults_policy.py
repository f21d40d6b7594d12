"""The pure retry decision under faults, with no HTTP: the spec's rule after a rate limit,
the call's deadline, a refused TLS certificate, Retry-After on a 5xx; and the error map's
spec-declared statuses and ban lengths."""

from __future__ import annotations

import dataclasses
import ssl
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cambist import errors
from cambist._runtime.endpoint import AfterRateLimit
from cambist._runtime.errormap import ErrorMap
from cambist._runtime.retry import DEFAULT_BAN_SECONDS, Decision, Verdict, decide, tls_failure
from cambist.binance_options._config import EXCHANGE as BINANCE
from cambist.hashkey._config import EXCHANGE as HASHKEY
from cambist.options import RetryPolicy
from tests.test_retry_policy import FixedRandom

POLICY = RetryPolicy(max_retries=2, rng=FixedRandom(0.0))
REQUEST = httpx.Request("GET", "https://127.0.0.1:9/")
STOP = AfterRateLimit(resend=False)


def _api(cls: type[errors.APIError], **kw: Any) -> errors.APIError:
    return cls("m", status_code=kw.pop("status_code", 500), endpoint="e", **kw)


def _tls_error() -> httpx.ConnectError:
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
    try:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]", request=REQUEST) from cause
    except httpx.ConnectError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "safe", "kw", "expected"),
    [
        # the document says stop after a rate limit: raised, whatever Retry-After says
        (
            _api(errors.RateLimitError, retry_after=1.0),
            True,
            {"after_limit": STOP},
            Decision(Verdict.RAISE),
        ),
        (_api(errors.RateLimitError), False, {"after_limit": STOP}, Decision(Verdict.RAISE)),
        # the document's wait, when the answer has no Retry-After
        (
            _api(errors.RateLimitError),
            False,
            {"after_limit": AfterRateLimit(wait=5.0)},
            Decision(Verdict.RETRY, 5.0),
        ),
        # the deadline: a wait that reaches it is not made (the wait is reported)
        (
            _api(errors.RateLimitError, retry_after=6.0),
            False,
            {"remaining": 1.0},
            Decision(Verdict.RAISE, 6.0),
        ),
        (
            _api(errors.RateLimitError, retry_after=6.0),
            False,
            {"remaining": 6.0},
            Decision(Verdict.RAISE, 6.0),
        ),
        (
            _api(errors.RateLimitError, retry_after=6.0),
            False,
            {"remaining": 6.5},
            Decision(Verdict.RETRY, 6.0),
        ),
        (_api(errors.ServerError), True, {"remaining": 0.1}, Decision(Verdict.RAISE, 0.25)),
        (
            httpx.ConnectError("refused", request=REQUEST),
            True,
            {"remaining": 0.2},
            Decision(Verdict.RAISE, 0.25),
        ),
        # Retry-After on a 5xx is honoured
        (_api(errors.ServerError, retry_after=4.0), True, {}, Decision(Verdict.RETRY, 4.0)),
        (_api(errors.ServerError, retry_after=61.0), True, {}, Decision(Verdict.RAISE)),
        (
            _api(errors.ServerError, retry_after=4.0, not_processed=True),
            False,
            {},
            Decision(Verdict.RETRY, 4.0),
        ),
        # a ban: never, whatever the rule
        (
            _api(errors.IPBannedError, retry_after=1.0),
            True,
            {"after_limit": AfterRateLimit()},
            Decision(Verdict.RAISE),
        ),
        # a refused certificate will not fix itself, even though nothing was sent
        (_tls_error(), True, {}, Decision(Verdict.RAISE)),
        (_tls_error(), False, {}, Decision(Verdict.RAISE)),
    ],
)
def test_decide_under_faults(
    error: BaseException, safe: bool, kw: dict[str, Any], expected: Decision
) -> None:
    assert decide(POLICY, 1, error, safe=safe, **kw) == expected


def test_tls_failure_follows_the_cause_chain() -> None:
    assert isinstance(tls_failure(_tls_error()), ssl.SSLCertVerificationError)
    assert tls_failure(httpx.ConnectError("refused", request=REQUEST)) is None
    plain = ssl.SSLError(1, "EOF occurred in violation of protocol")  # may be transient
    try:
        raise httpx.ConnectError("eof", request=REQUEST) from plain
    except httpx.ConnectError as exc:
        assert tls_failure(exc) is None


def test_a_ban_is_not_a_rate_limit() -> None:
    assert not issubclass(errors.IPBannedError, errors.RateLimitError)


# -- the error map: what the specs declare ------------------------------------------------


def _build(exchange: Any, status: int, safe: bool = True, **headers: str) -> Any:
    return ErrorMap(exchange).build(
        endpoint="e",
        status=status,
        code=None,
        message="",
        headers=httpx.Headers(headers),
        body=b"",
        safe=safe,
        now=datetime(2026, 1, 1, tzinfo=UTC).timestamp(),
    )


def test_status_kinds_come_from_the_spec() -> None:
    assert type(_build(BINANCE, 403)) is errors.RateLimitError  # "the WAF Limit"
    assert type(_build(HASHKEY, 403)) is errors.PermissionDeniedError


def test_the_documents_wait_after_a_rate_limit_fills_retry_after() -> None:
    assert _build(HASHKEY, 429, safe=False).retry_after == 60  # orders: "wait 1 minute"
    assert _build(HASHKEY, 429, safe=False, **{"Retry-After": "7"}).retry_after == 7
    assert _build(HASHKEY, 429, safe=True).retry_after is None
    assert _build(BINANCE, 429, safe=False).retry_after is None


def test_a_ban_without_retry_after_lasts_the_specs_length() -> None:
    banned = _build(BINANCE, 418)
    assert banned.retry_after == 120
    assert banned.until == datetime(2026, 1, 1, 0, 2, tzinfo=UTC)
    assert _build(HASHKEY, 418).retry_after == DEFAULT_BAN_SECONDS
    assert _build(HASHKEY, 418, **{"Retry-After": "30"}).retry_after == 30
    unstated = dataclasses.replace(BINANCE, ban_seconds=None)
    assert _build(unstated, 418).retry_after == DEFAULT_BAN_SECONDS


def test_5xx_retry_after_is_read() -> None:
    assert _build(BINANCE, 502, **{"Retry-After": "4"}).retry_after == 4


def test_a_status_kind_must_name_an_http_status(tmp_path: Any) -> None:
    import shutil
    from pathlib import Path

    from codegen.schema import SpecError
    from codegen.spec import load_spec

    root = Path(__file__).resolve().parent.parent
    folder = tmp_path / "binance_options"
    shutil.copytree(root / "specs" / "binance_options", folder)
    spec_file = folder / "exchange.yaml"
    spec_file.write_text(spec_file.read_text().replace('"403": rate_limited', "WAF: rate_limited"))
    with pytest.raises(SpecError, match=r"exchange.yaml:\d+: 'WAF' is not an HTTP status"):
        load_spec(folder, tmp_path)
    spec_file.write_text(spec_file.read_text().replace("WAF: rate_limited", '"403": throttled'))
    with pytest.raises(SpecError, match="'throttled' is not one of"):
        load_spec(folder, tmp_path)
