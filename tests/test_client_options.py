"""Typed client construction (issue 14, item 1): explicit keywords generated from the
runtime's one signature, a type checker refusing a misspelt or mistyped option, and the
runtime refusing a bad value when the client is built (sync and async)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from cambist._runtime import client as runtime_client
from cambist.bibox import AsyncBibox, Bibox
from cambist.bingx import AsyncBingX, BingX
from cambist.errors import RequestValidationError
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.options import RetryPolicy
from cambist.testing import HashKeyExchange
from codegen import clientopts

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "typing_checks" / "bad_options.py"


def bad_lines() -> set[int]:
    lines = BAD.read_text(encoding="utf-8").splitlines()
    return {n for n, line in enumerate(lines, 1) if re.search(r"\)  # bad: ", line)}


# -- type checkers ----------------------------------------------------------------------


def test_mypy_strict_refuses_each_bad_option_and_nothing_else() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(BAD)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    flagged = {int(m.group(1)) for m in re.finditer(r"bad_options\.py:(\d+): error", result.stdout)}
    assert flagged == bad_lines(), result.stdout


def test_pyright_refuses_each_bad_option_and_nothing_else() -> None:
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent))
    if pyright is None:
        pytest.fail("pyright is a dev dependency: pip install -e '.[dev]'")
    result = subprocess.run(
        [pyright, "--outputjson", "--pythonpath", sys.executable, str(BAD)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    flagged = {
        d["range"]["start"]["line"] + 1
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    }
    assert flagged == bad_lines(), report["generalDiagnostics"]


# -- the generated signature comes from the runtime's -----------------------------------


def test_generated_keywords_are_the_runtime_signature() -> None:
    import inspect

    base = [
        n
        for n, p in inspect.signature(runtime_client.BaseClient.__init__).parameters.items()
        if p.kind is p.KEYWORD_ONLY
    ]
    for cls in (HashKey, AsyncHashKey, Bibox, AsyncBibox):
        names = list(inspect.signature(cls.__init__).parameters)[1:]
        expected = [n for n in base if n != "rest_urls" or cls in (Bibox, AsyncBibox)]
        assert names == [*expected, "http_client"], cls
    hints = {
        n: p.annotation.replace("'", '"')
        for n, p in inspect.signature(HashKey.__init__).parameters.items()
        if n != "self"
    }
    assert hints["environment"] == 'Literal["production", "sandbox"] | None'
    assert hints["ws_urls"] == 'Mapping[Literal["ws"], str] | None'
    assert hints["http_client"] == "httpx.Client | None"
    assert inspect.signature(AsyncHashKey.__init__).parameters["http_client"].annotation == (
        "httpx.AsyncClient | None"
    )
    doc = BingX.__doc__ or ""
    assert "at most 60000" in doc and "BINGX_API_KEY" in doc


def test_an_option_added_to_the_runtime_reaches_every_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = runtime_client.BaseClient.__init__

    def with_governor(self: Any, *, governor: bool = False, **options: Any) -> None:
        """Args:
        governor: Pace calls by the exchange's documented limits.
        """
        original(self, **options)

    import inspect

    params = list(inspect.signature(original).parameters.values())
    new = inspect.Parameter("governor", inspect.Parameter.KEYWORD_ONLY, default=False)
    with_governor.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*params, new.replace(annotation="bool")]
    )
    with_governor.__doc__ = (original.__doc__ or "").replace(
        "Args:\n", "Args:\n            governor: Pace calls by the exchange's documented limits.\n"
    )
    monkeypatch.setattr(runtime_client.BaseClient, "__init__", with_governor)
    clientopts.client_options.cache_clear()
    try:
        from codegen.generate import ExchangeRenderer
        from codegen.spec import load_all

        for spec in load_all(ROOT / "specs", ROOT):
            text = ExchangeRenderer(spec, ROOT).files()[f"cambist/{spec.id}/_client.py"]
            assert text.count("governor: bool = False,") == 2, spec.id  # sync and async
            assert text.count("governor=governor,") == 2, spec.id
            assert "governor: Pace calls by the exchange's documented limits." in text
    finally:
        monkeypatch.undo()
        clientopts.client_options.cache_clear()


def test_an_undocumented_runtime_option_stops_the_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import inspect

    original = runtime_client.BaseClient.__init__

    def undocumented(self: Any, **options: Any) -> None:
        original(self, **options)

    params = list(inspect.signature(original).parameters.values())
    extra = inspect.Parameter(
        "mystery", inspect.Parameter.KEYWORD_ONLY, default=1, annotation="int"
    )
    undocumented.__signature__ = inspect.Signature([*params, extra])  # type: ignore[attr-defined]
    undocumented.__doc__ = original.__doc__
    monkeypatch.setattr(runtime_client.BaseClient, "__init__", undocumented)
    clientopts.client_options.cache_clear()
    try:
        with pytest.raises(clientopts.OptionsError, match="'mystery' has no Args entry"):
            clientopts.client_options(False)
    finally:
        monkeypatch.undo()
        clientopts.client_options.cache_clear()


# -- values refused when the client is built --------------------------------------------

BAD_VALUES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"max_retries": "3"}, TypeError, "max_retries must be an int, got '3' (str)"),
    ({"max_retries": -1}, ValueError, "max_retries must be at least 0, got -1"),
    ({"max_retries": True}, TypeError, "max_retries must be an int"),
    ({"recv_window": "abc"}, TypeError, "recv_window must be an int, got 'abc' (str)"),
    ({"recv_window": 0}, RequestValidationError, "recv_window must be a positive number"),
    ({"timeout": "10"}, TypeError, "timeout must be a number of seconds, got '10' (str)"),
    ({"timeout": 0}, ValueError, "timeout must be a positive, finite number"),
    ({"timeout": float("inf")}, ValueError, "timeout must be a positive, finite number"),
    ({"environment": "sandbx"}, ValueError, "unknown environment 'sandbx'"),
    ({"environment": 1}, TypeError, "environment must be a str"),
    ({"api_key": b"k"}, TypeError, "api_key must be a str or None"),
    ({"time_sync": "no"}, TypeError, "time_sync must be True or False"),
    (
        {"ws_urls": {"wss": "ws://x"}},
        ValueError,
        "ws_urls: unknown key 'wss'; this exchange has 'ws'",
    ),
    ({"ws_urls": {"ws": 1}}, TypeError, "ws_urls['ws'] must be a URL string"),
    ({"retry": 3}, TypeError, "retry must be a cambist.options.RetryPolicy"),
    ({"clock": object()}, TypeError, "clock must be a cambist.options.Clock"),
]


@pytest.mark.parametrize("cls", [HashKey, AsyncHashKey], ids=["sync", "async"])
@pytest.mark.parametrize(("options", "error", "message"), BAD_VALUES, ids=lambda v: str(v)[:40])
def test_bad_values_are_refused_when_the_client_is_built(
    cls: Any, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        cls(**options)
    assert message in str(caught.value)
    name = next(iter(options))
    assert name in str(caught.value)  # the message names the option


@pytest.mark.parametrize("cls", [Bibox, AsyncBibox], ids=["sync", "async"])
def test_rest_urls_take_the_specs_keys_only(cls: Any) -> None:
    with pytest.raises(ValueError, match="rest_urls: unknown key 'rest_x'; this exchange has"):
        cls(rest_urls={"rest_x": "http://x"})
    with pytest.raises(TypeError, match="rest_urls"):  # HashKey: no endpoint host of its own
        HashKey(rest_urls={"rest_domains": "http://x"})  # type: ignore[call-arg]


def test_http_client_of_the_wrong_kind_is_refused() -> None:
    with httpx.Client() as sync_http, pytest.raises(TypeError, match=r"an httpx\.AsyncClient"):
        AsyncHashKey(http_client=sync_http)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"http_client must be an httpx\.Client or None"):
        HashKey(http_client=httpx.AsyncClient())  # type: ignore[arg-type]


def test_recv_window_above_the_documents_cap_is_refused_sync_and_async() -> None:
    for cls in (BingX, AsyncBingX):
        with pytest.raises(RequestValidationError, match="between 1 and 60000"):
            cls(recv_window=60001)


def test_max_retries_given_as_an_int_is_used_sync(hx: HashKeyExchange) -> None:
    hx.fail("market.get_depth", status=503, times=1)
    with HashKey(**hx.client_options(), max_retries=1, retry=None) as hk:
        hk.market.get_depth(symbol="BTCUSDT")
    assert [c.endpoint.name for c in hx.calls if c.endpoint].count("market.get_depth") == 2


@pytest.mark.anyio
async def test_max_retries_given_as_an_int_is_used_async(hx: HashKeyExchange) -> None:
    hx.fail("market.get_depth", status=503, times=2)
    async with AsyncHashKey(**hx.client_options(), max_retries=0) as hk:
        with pytest.raises(Exception, match=r"503|Server"):
            await hk.market.get_depth(symbol="BTCUSDT")
    assert [c.endpoint.name for c in hx.calls if c.endpoint].count("market.get_depth") == 1


@pytest.fixture
def hx() -> Any:
    with HashKeyExchange() as ex:
        yield ex


# -- RetryPolicy values: refused when the policy is made, not on the first retry ---------

BAD_RETRY: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"max_retries": -1}, ValueError, "RetryPolicy.max_retries must be at least 0, got -1"),
    ({"max_retries": "2"}, TypeError, "RetryPolicy.max_retries must be an int, got '2' (str)"),
    ({"max_retries": 2.0}, TypeError, "RetryPolicy.max_retries must be an int, got 2.0"),
    ({"max_retries": True}, TypeError, "RetryPolicy.max_retries must be an int"),
    ({"backoff_base": "1"}, TypeError, "RetryPolicy.backoff_base must be a number of seconds"),
    ({"backoff_base": -1}, ValueError, "RetryPolicy.backoff_base must be a non-negative, finite"),
    ({"backoff_base": math.inf}, ValueError, "RetryPolicy.backoff_base must be a non-negative"),
    ({"backoff_base": math.nan}, ValueError, "RetryPolicy.backoff_base must be a non-negative"),
    ({"backoff_max": None}, TypeError, "RetryPolicy.backoff_max must be a number of seconds"),
    ({"backoff_max": -0.5}, ValueError, "RetryPolicy.backoff_max must be a non-negative"),
    ({"max_retry_after": "60"}, TypeError, "RetryPolicy.max_retry_after must be a number"),
    ({"max_retry_after": -1.0}, ValueError, "RetryPolicy.max_retry_after must be a non-negative"),
    ({"rng": None}, TypeError, "RetryPolicy.rng must be a random.Random, got None"),
]


@pytest.mark.parametrize(("fields", "error", "message"), BAD_RETRY, ids=lambda v: str(v)[:40])
def test_bad_retry_policy_values_are_refused_when_the_policy_is_made(
    fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        RetryPolicy(**fields)
    assert message in str(caught.value)
    with pytest.raises(error):  # nor can a valid policy be turned into a bad one
        dataclasses.replace(RetryPolicy(), **fields)


def test_retry_policy_edge_values_are_accepted() -> None:
    policy = RetryPolicy(max_retries=0, backoff_base=0, backoff_max=math.inf, max_retry_after=0)
    assert policy.delay(1) is None  # 0 retries: never retry
    policy = RetryPolicy(max_retries=1, backoff_base=0, max_retry_after=math.inf)
    assert policy.delay(1) == 0.0
    assert policy.delay(1, retry_after=1e9) == 1e9  # no cap on Retry-After (the timeout bounds it)


def test_a_zero_backoff_policy_retries_a_503_at_once_sync(hx: HashKeyExchange) -> None:
    hx.fail("market.get_depth", status=503, times=1)
    policy = RetryPolicy(max_retries=1, backoff_base=0)
    with HashKey(**{**hx.client_options(), "retry": policy}) as hk:
        hk.market.get_depth(symbol="BTCUSDT")
    assert [c.endpoint.name for c in hx.calls if c.endpoint].count("market.get_depth") == 2


@pytest.mark.anyio
async def test_a_zero_backoff_policy_retries_a_503_at_once_async(hx: HashKeyExchange) -> None:
    hx.fail("market.get_depth", status=503, times=1)
    policy = RetryPolicy(max_retries=1, backoff_base=0)
    async with AsyncHashKey(**{**hx.client_options(), "retry": policy}) as hk:
        await hk.market.get_depth(symbol="BTCUSDT")
    assert [c.endpoint.name for c in hx.calls if c.endpoint].count("market.get_depth") == 2


# -- a call's own timeout: checked as the client option is, before anything is sent -------

BAD_CALL_TIMEOUTS: list[tuple[object, str]] = [
    (-1, "timeout must be a positive, finite number of seconds, got -1"),
    (0, "timeout must be a positive, finite number of seconds, got 0"),
    (math.inf, "timeout must be a positive, finite number of seconds, got inf"),
    (math.nan, "timeout must be a positive, finite number of seconds, got nan"),
    ("1", "timeout must be a number of seconds, got '1' (str)"),
    (True, "timeout must be a number of seconds, got True (bool)"),
]


def _sent(hx: HashKeyExchange) -> int:
    return len([c for c in hx.calls if c.endpoint])


def _same_as_the_client_option(timeout: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        HashKey(timeout=timeout)  # type: ignore[arg-type]
    assert message in str(caught.value)


@pytest.mark.parametrize(("timeout", "message"), BAD_CALL_TIMEOUTS, ids=repr)
def test_a_bad_call_timeout_is_refused_before_sending_sync(
    hx: HashKeyExchange, timeout: Any, message: str
) -> None:
    _same_as_the_client_option(timeout, message)
    with HashKey(**hx.client_options()) as hk:
        with pytest.raises(RequestValidationError) as caught:
            hk.market.get_depth(symbol="BTCUSDT", timeout=timeout)
        assert str(caught.value) == f"market.get_depth: {message}"
        assert caught.value.param == "timeout"
        with pytest.raises(RequestValidationError, match="timeout must be"):
            hk.with_raw_response.market.get_depth(symbol="BTCUSDT", timeout=timeout)
        with pytest.raises(RequestValidationError, match=r"account\.list_trades: timeout must"):
            next(hk.account.iter_trades(timeout=timeout))
        with pytest.raises(RequestValidationError, match=r"request GET /quote/v1/depth: timeout"):
            hk.request("GET", "/quote/v1/depth", params={"symbol": "BTCUSDT"}, timeout=timeout)
    assert _sent(hx) == 0


@pytest.mark.anyio
@pytest.mark.parametrize(("timeout", "message"), BAD_CALL_TIMEOUTS, ids=repr)
async def test_a_bad_call_timeout_is_refused_before_sending_async(
    hx: HashKeyExchange, timeout: Any, message: str
) -> None:
    async with AsyncHashKey(**hx.client_options()) as hk:
        with pytest.raises(RequestValidationError) as caught:
            await hk.market.get_depth(symbol="BTCUSDT", timeout=timeout)
        assert str(caught.value) == f"market.get_depth: {message}"
        assert caught.value.param == "timeout"
        with pytest.raises(RequestValidationError, match="timeout must be"):
            await hk.with_raw_response.market.get_depth(symbol="BTCUSDT", timeout=timeout)
        with pytest.raises(RequestValidationError, match=r"account\.list_trades: timeout must"):
            await anext(hk.account.iter_trades(timeout=timeout))
        with pytest.raises(RequestValidationError, match=r"request GET /quote/v1/depth: timeout"):
            await hk.request(
                "GET", "/quote/v1/depth", params={"symbol": "BTCUSDT"}, timeout=timeout
            )
    assert _sent(hx) == 0


def test_a_good_call_timeout_is_used_sync(hx: HashKeyExchange) -> None:
    with HashKey(**hx.client_options()) as hk:
        assert hk.market.get_depth(symbol="BTCUSDT", timeout=5).bids
        assert hk.market.get_depth(symbol="BTCUSDT", timeout=0.5).bids
    assert _sent(hx) == 2


@pytest.mark.anyio
async def test_a_good_call_timeout_is_used_async(hx: HashKeyExchange) -> None:
    async with AsyncHashKey(**hx.client_options()) as hk:
        assert (await hk.market.get_depth(symbol="BTCUSDT", timeout=5)).bids
        assert (await hk.market.get_depth(symbol="BTCUSDT", timeout=0.5)).bids
    assert _sent(hx) == 2


BAD_REQUESTS = [
    # (arguments of request(), the param blamed, text the error must show)
    (
        {"security": "USERDATA"},
        "security",
        "must be one of NONE, TRADE, USER_DATA, USER_STREAM, MARKET_DATA, got 'USERDATA'",
    ),
    ({"method": "FETCH"}, "method", "must be one of GET, POST, PUT, DELETE, PATCH, got 'FETCH'"),
    ({"params_in": "body"}, "params_in", "must be one of query, form, json, got 'body'"),
    ({"params_in": "JSON"}, "params_in", "must be one of query, form, json, got 'JSON'"),
    ({"params_in": "json", "params": {"a": 1}}, "params_in", "a GET's params go in the query"),
    ({"params_in": "form"}, "params_in", "a GET's params go in the query"),
    ({"path": "api/v1/account"}, "path", "must be a str starting with '/'"),
    ({"params": [("a", 1)]}, "params", "must be a mapping of name to value, or None, got list"),
    ({"safe": "yes"}, "safe", "must be True, False or None, got 'yes'"),
    ({"timeout": 0}, "timeout", "timeout must be a positive, finite number of seconds, got 0"),
]


def _request_args(changes: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    given = {"method": "GET", "path": "/api/v1/account", "security": "USER_DATA", **changes}
    return (given.pop("method"), given.pop("path")), given


@pytest.mark.parametrize(("changes", "param", "text"), BAD_REQUESTS)
def test_request_refuses_a_bad_argument_before_sending_sync(
    hx: HashKeyExchange, changes: dict[str, Any], param: str, text: str
) -> None:
    args, kwargs = _request_args(changes)
    with HashKey(**hx.client_options(), max_retries=0) as hk:
        with pytest.raises(RequestValidationError) as caught:
            hk.request(*args, **kwargs)
        assert caught.value.param == param and text in str(caught.value)
        assert hx.calls == []  # nothing sent (not even the server-time sync)
        assert "balances" in hk.request("get", "/api/v1/account", security="USER_DATA")


@pytest.mark.anyio
@pytest.mark.parametrize(("changes", "param", "text"), BAD_REQUESTS)
async def test_request_refuses_a_bad_argument_before_sending_async(
    hx: HashKeyExchange, changes: dict[str, Any], param: str, text: str
) -> None:
    args, kwargs = _request_args(changes)
    async with AsyncHashKey(**hx.client_options(), max_retries=0) as hk:
        with pytest.raises(RequestValidationError) as caught:
            await hk.request(*args, **kwargs)
        assert caught.value.param == param and text in str(caught.value)
        assert hx.calls == []
        assert "balances" in await hk.request("GET", "/api/v1/account", security="USER_DATA")


def test_request_names_the_exchanges_own_security_types() -> None:
    with (
        Bibox(api_key="k", api_secret="s") as bb,
        pytest.raises(RequestValidationError, match="must be one of NONE, SIGNED, got 'TRADE'"),
    ):
        bb.request("GET", "/v3/x", security="TRADE")
