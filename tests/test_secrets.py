"""No API key, secret, signature or listen key in a repr, a log line or an exception."""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from cambist import errors
from cambist._runtime.retry import RetryPolicy
from cambist._runtime.signing import Credentials
from cambist.hashkey import HashKey
from tests.conftest import API_KEY, API_SECRET
from tests.loopback import LoopbackServer, Reply

FAST_STREAMS = {"backoff_base": 0.01, "backoff_max": 0.05, "connect_attempts": 1}


def _secrets(server: LoopbackServer) -> list[str]:
    signatures = [r.params["signature"] for r in server.received if "signature" in r.params]
    return [API_KEY, API_SECRET, *signatures]


def test_reprs_hide_credentials(hk: HashKey) -> None:
    for text in (repr(hk), str(hk), repr(hk._core.credentials), repr(Credentials("a", "b"))):
        assert API_KEY not in text and API_SECRET not in text
    assert "***" in repr(hk)


def test_logs_and_errors_hide_secrets(
    hk: HashKey, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    hk._core.retry = RetryPolicy(backoff_base=0.001)
    caplog.set_level(logging.DEBUG)
    server.queue(
        "GET",
        "/api/v1/spot/openOrders",
        Reply(503, b""),
        Reply(400, {"code": "0001", "msg": "Incorrect signature"}),
    )
    with pytest.raises(errors.AuthenticationError) as info:
        hk.spot.list_open_orders()
    server.queue("POST", "/api/v1.1/spot/order", Reply(500, b""))
    with pytest.raises(errors.ExecutionStatusUnknownError) as unknown:
        hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", amount=Decimal(1))
    key = hk.user_stream.create_listen_key().listen_key
    hk.user_stream.reset_listen_key(listen_key=key)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request" in logged  # httpx did log the requests...
    shown = [logged, str(info.value), repr(info.value), str(unknown.value), repr(unknown.value)]
    for secret in [*_secrets(server), key]:
        for text in shown:
            assert secret not in text  # ...with signatures and listen keys masked
    assert "signature=***" in logged and "listenKey=***" in logged


# -- every exchange, every security type, every stream, sync and async -------------------

MASKED_LOGGERS = ("cambist", "httpx", "httpcore", "websockets")


def _exchange_kit(name: str) -> tuple[Any, Any, Any, Any]:
    """(local exchange class, sync client, async client, the generated package)."""
    import importlib

    from cambist.testing import EXCHANGES

    package = importlib.import_module(f"cambist.{name}")
    client = next(n for n in package.__all__ if n.startswith("Async"))
    return EXCHANGES[name], getattr(package, client[5:]), getattr(package, client), package


def _streams(c: Any) -> list[str]:
    streams = getattr(c, "streams", None)
    return [s for s in dir(streams) if not s.startswith("_")] if streams is not None else []


def _chain(exc: BaseException | None) -> list[str]:
    """str and repr of an exception and of every exception it was raised from or during,
    and what a traceback with locals shows of them (the Bibox handshake refused: the stream
    error chained the library's error, and its frames held the key headers)."""
    texts: list[str] = [_frames_shown(exc)]
    while exc is not None:
        texts += [str(exc), repr(exc)]
        exc = exc.__cause__ or exc.__context__
    return texts


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("name", ["hashkey", "bibox", "bingx", "binance_options"])
async def test_no_credential_in_any_log_line_exception_or_repr(
    name: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """API keys, secrets, signatures, listen keys and handshake signatures: masked in every
    DEBUG line of cambist, httpx, httpcore and websockets, absent from every exception (and
    its cause chain) and every client and stream repr."""
    from cambist.streams import Connected, StreamOptions
    from cambist.testing import DEFAULT_API_KEY, DEFAULT_API_SECRET
    from tests.stream_harness import client, opened

    exchange_cls, sync_cls, async_cls, package = _exchange_kit(name)
    config = importlib.import_module(f"cambist.{name}._config").EXCHANGE
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    listen_keys: set[str] = set()
    used_keys: set[str] = set()  # listen keys sent as params or in stream URLs
    bad_secret = "wrong-secret-0123456789"
    with exchange_cls(seed=3) as ex:
        options = ex.client_options()
        async with client(mode, sync_cls, async_cls, **options) as c:
            shown += [repr(c), str(c)]
            for security in config.security:  # one call of every security type
                ep = next((e for e in package.ENDPOINTS if e.security == security), None)
                if ep is None:
                    continue
                call = functools.partial(
                    c.request, ep.method, ep.path, security=security, params_in=ep.params_in
                )
                try:
                    result = await (asyncio.to_thread(call) if mode == "sync" else call())
                except errors.CambistError as exc:
                    shown += _chain(exc)
                else:
                    if isinstance(result, dict) and "listenKey" in result:
                        listen_keys.add(result["listenKey"])
            for stream_name in _streams(c):  # every stream: handshake, listen key, close
                stream = getattr(c.streams, stream_name)(StreamOptions(**FAST_STREAMS))
                shown.append(repr(stream))
                async with opened(mode, stream) as s:
                    assert isinstance(await s.next(), Connected)
                    listen_keys.update(ex.listen_keys)
                    used_keys.update(ex.listen_keys)
                    shown.append(repr(stream) + repr(stream._engine))
        # refusals: a wrong secret over REST and on a handshake, a dead host (a cause chain)
        wrong = {**options, "api_secret": bad_secret, "max_retries": 0}
        async with client(mode, sync_cls, async_cls, **wrong) as c:
            signed = next(e for e in package.ENDPOINTS if config.security[e.security].signed)
            call = functools.partial(
                c.request, signed.method, signed.path, security=signed.security
            )
            with pytest.raises(errors.CambistError) as refused:
                await (asyncio.to_thread(call) if mode == "sync" else call())
            shown += _chain(refused.value)
            for stream_name in _streams(c):
                stream = getattr(c.streams, stream_name)(StreamOptions(**FAST_STREAMS))
                try:
                    async with opened(mode, stream):
                        pass
                except errors.CambistError as exc:
                    shown += _chain(exc)
        dead = {**options, "base_url": "http://127.0.0.1:9", "max_retries": 0}
        async with client(mode, sync_cls, async_cls, **dead) as c:
            call = functools.partial(
                c.request, signed.method, signed.path, security=signed.security
            )
            with pytest.raises(errors.TransportError) as unreachable:
                await (asyncio.to_thread(call) if mode == "sync" else call())
            shown += _chain(unreachable.value)
            assert unreachable.value.__cause__ is not None
        calls = ex.calls
    sent = [
        (call, parse_qs(call.query) | parse_qs(call.body.decode(errors="replace")))
        for call in calls
    ]
    signatures = {v for _, q in sent for v in q.get(config.signature_param or "signature", [])}
    signatures |= {
        c.headers[config.signature_header] for c, _ in sent if config.signature_header in c.headers
    }
    used_keys |= {v for _, q in sent for v in q.get("listenKey", [])}
    listen_keys |= used_keys
    handshake = {
        Credentials(DEFAULT_API_KEY, s).sign(b"") for s in (DEFAULT_API_SECRET, bad_secret)
    }
    secrets = {DEFAULT_API_KEY, DEFAULT_API_SECRET, bad_secret, *signatures, *listen_keys}
    if name == "bibox":
        secrets |= handshake
    assert signatures, "no signed request reached the exchange"
    records = [r for r in caplog.records if r.name.split(".")[0] in MASKED_LOGGERS]
    # the HTTP library's lines: httpx's and httpcore's (blocking client), or the request
    # lines of the asyncio client's own transport (cambist.http)
    expected = {"httpx", "httpcore"} if mode == "sync" else {"cambist.http"}
    expected |= {"websockets"} if name != "binance_options" else set()
    logged = {r.name.split(".")[0] for r in records} | {r.name for r in records}
    assert expected <= logged  # they did log, at DEBUG
    text = caplog.text + "\n".join(r.getMessage() for r in records) + "\n".join(shown)
    for secret in secrets:
        assert secret not in text
    assert "***" in caplog.text
    if name == "bibox":
        assert "> Bibox-Api-Sign: ***" in caplog.text and "> Bibox-Api-Key: ***" in caplog.text
    if used_keys:  # a key sent as a param or in a stream's URL was logged, masked
        assert "listenKey=***" in caplog.text or "/ws/***" in caplog.text


def test_a_credential_the_spec_does_not_declare_secret_fails_validation(tmp_path: Path) -> None:
    import shutil

    from codegen.schema import SpecError
    from codegen.spec import load_all

    folder = tmp_path / "specs" / "fakex"
    shutil.copytree(Path(__file__).parent / "golden" / "specs" / "fakex", folder)
    exchange = folder / "exchange.yaml"
    text = exchange.read_text()
    exchange.write_text(text.replace("params: [signature]", "params: []"))
    with pytest.raises(SpecError, match="'signature' carries a credential") as info:
        load_all(tmp_path / "specs", tmp_path)
    assert str(info.value).startswith("specs/fakex/exchange.yaml:")
    assert "exchange.secrets.params" in str(info.value)


def test_the_filter_masks_names_values_and_tracebacks() -> None:
    from cambist._runtime.redact import SecretFilter

    f = SecretFilter()
    f.add_names(["X-KEY", "signature", "listenKey"])
    f.add_value("a-listen-key-value")
    assert f.mask("GET /x?a=1&signature=abc123&b=2") == "GET /x?a=1&signature=***&b=2"
    assert f.mask("> x-key: the-key") == "> x-key: ***"
    assert f.mask("{'X-KEY': 'the-key'}") == "{'X-KEY': '***'}"
    assert f.mask("[(b'X-KEY', b'the-key')]") == "[(b'X-KEY', b'***')]"
    assert f.mask('{"listenKey": "k1"}') == '{"listenKey": "***"}'
    assert f.mask("GET /ws/a-listen-key-value HTTP/1.1") == "GET /ws/*** HTTP/1.1"
    assert f.mask("presignature=1") == "presignature=1"  # a longer name is not the secret one
    # a value starting with "b" is not a bytes repr: its first character is masked too
    assert f.mask("GET /x?signature=b3f9a0&b=2") == "GET /x?signature=***&b=2"
    assert f.mask("signature: bad5ee") == "signature: ***"
    assert f.mask("{'signature': 'b3f9a0'}") == "{'signature': '***'}"
    assert f.mask('[(b"signature", b"b3f9a0")]') == '[(b"signature", b"***")]'
    assert f.mask("(b'signature', b'b3f9a0')") == "(b'signature', b'***')"
    record = logging.LogRecord("httpx", logging.INFO, "f", 1, "URL %s", ("?signature=s3",), None)
    try:
        raise ValueError("a-listen-key-value")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    f.filter(record)
    assert record.getMessage() == "URL ?signature=***"
    assert record.exc_text is not None and "a-listen-key-value" not in record.exc_text


def test_a_signature_starting_with_b_shows_no_character(
    hk: HashKey, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A hex signature starting with ``b`` was logged as ``signature=b***``: the pattern took
    the ``b`` for a bytes repr's prefix."""
    caplog.set_level(logging.DEBUG)
    for attempt in range(400):  # a hex signature starts with "b" once in 16
        hk.request("GET", "/api/v1/account", params={"n": attempt}, security="USER_DATA")
        signature = server.received[-1].params["signature"]
        if signature.startswith("b"):
            break
    else:
        pytest.fail("no signature starting with b")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert signature not in logged and signature[:-1] not in logged
    assert f"n={attempt}&" in logged  # the signed request was logged...
    assert "signature=***" in logged and "signature=b" not in logged  # ...masked whole


def _frames_shown(exc: BaseException | None) -> str:
    """What a traceback with locals (``pytest -l``, rich) shows of an exception and its
    chain, outside the test itself: every frame's locals, and every exception's attributes."""
    import traceback

    texts: list[str] = []
    while exc is not None:
        texts += [repr(exc), repr(exc.args), repr(vars(exc))]
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            if Path(frame.f_code.co_filename).parent != Path(__file__).parent:
                texts += [f"{name} = {value!r}" for name, value in frame.f_locals.items()]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(texts)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_a_transport_error_cause_holds_no_signed_request(
    mode: str, server: LoopbackServer
) -> None:
    """No answer: the TransportError (and ExecutionStatusUnknownError) was raised from the
    HTTP library's error as it was, whose traceback frames (httpx's ``request``: the signed
    URL; the asyncio transport's request head: the API-key header too) and ``.request``
    showed the signature and the key in a traceback with locals."""
    import pickle

    from cambist.hashkey import AsyncHashKey
    from tests.stream_harness import client

    server.queue("POST", "/api/v1.1/spot/order", Reply(drop=True))
    keys = {"api_key": API_KEY, "api_secret": API_SECRET, "max_retries": 0}
    raised: list[BaseException] = []
    for base_url in ("http://127.0.0.1:9", server.url):  # refused; sent, then dropped
        async with client(mode, HashKey, AsyncHashKey, base_url=base_url, **keys) as c:
            if base_url == server.url:
                call = functools.partial(
                    c.spot.create_order, symbol="BTCUSDT", side="BUY", type="MARKET", amount=1
                )
            else:
                call = functools.partial(c.request, "GET", "/api/v1/account", security="USER_DATA")
            with pytest.raises(errors.CambistError) as info:
                await (asyncio.to_thread(call) if mode == "sync" else call())
            raised.append(info.value)
    assert isinstance(raised[0], errors.APIConnectionError)
    assert isinstance(raised[1], errors.ExecutionStatusUnknownError)
    signatures = [r.params["signature"] for r in server.received if "signature" in r.params]
    assert signatures
    for exc in raised:
        assert exc.__cause__ is not None  # the HTTP library's error: its type and message
        shown = _frames_shown(exc) + repr(pickle.loads(pickle.dumps(exc.__cause__)).__dict__)
        assert "signature=" not in shown and API_KEY not in shown
        assert not any(s in shown for s in signatures)


@pytest.mark.anyio
async def test_a_listen_key_in_a_model_is_masked_in_its_repr() -> None:
    """A listen key alone opens the user stream: the answer that creates it and Binance's
    listenKeyExpired event printed it whole in their reprs (a printed event, a debugger, a
    traceback with locals); the field keeps its value."""
    from cambist.binance_options import AsyncBinanceOptions
    from cambist.binance_options.models.streams import ListenKeyExpired
    from cambist.streams import StreamOptions
    from cambist.testing import EXCHANGES

    for name in ("hashkey", "bingx", "binance_options"):
        _, sync_cls, _, _ = _exchange_kit(name)
        with EXCHANGES[name](seed=3) as ex, sync_cls(**ex.client_options()) as c:
            made = c.user_stream.create_listen_key()
            assert made.listen_key in ex.listen_keys
            assert made.listen_key not in repr(made) and "listen_key='***'" in repr(made)
    with EXCHANGES["binance_options"](seed=3) as ex:
        async with AsyncBinanceOptions(**ex.client_options()) as c:
            stream = c.streams.user(StreamOptions(backoff_base=0.01, backoff_max=0.05))
            async with stream as s:
                key = next(iter(ex.listen_keys))
                ex.expire_listen_keys()
                async with asyncio.timeout(10):
                    async for event in s:
                        if isinstance(event, ListenKeyExpired):
                            break
    assert event.listen_key == key
    assert key not in repr(event) and "listen_key='***'" in repr(event)


@pytest.mark.parametrize(
    "bad",
    [{"markets_ttl": -1}, {"check_orders": "yes"}, {"rate_limits": "budgets"}],
    ids=["markets_ttl", "check_orders", "rate_limits"],
)
def test_a_bad_option_shows_no_credential_of_the_environment(
    bad: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credentials read from the environment were locals of the client's constructor: an
    option refused after they were read showed them in a traceback with locals; the
    rate-limit governor's frame held the API key (a bad budget)."""
    from cambist.ratelimit import RateLimits

    monkeypatch.setenv("HASHKEY_API_KEY", API_KEY)
    monkeypatch.setenv("HASHKEY_API_SECRET", API_SECRET)
    if bad.get("rate_limits"):
        bad = {"rate_limits": RateLimits(limits={"nope": 5})}
    with pytest.raises((TypeError, ValueError)) as info:
        HashKey(**bad)
    shown = _frames_shown(info.value)
    assert API_KEY not in shown and API_SECRET not in shown
    assert HashKey()._core.credentials is not None  # (still read from the environment)
