"""What a first user meets (issue 14, item 10): stream docstrings, a blocking stream's
timeout, the shape of a local book's levels, a subscription to a pair the exchange lacks
(refused by Bibox's server; by the client, from its markets, on HashKey and Binance
Options), and the local exchanges' public surface. On the local exchanges' loopback
servers, sync and async."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest

import cambist.streams
from cambist.bibox import AsyncBibox, Bibox
from cambist.bibox.models import OrderBookUpdate
from cambist.binance_options import AsyncBinanceOptions
from cambist.errors import (
    RequestValidationError,
    StreamError,
    SubscriptionError,
    UnknownMarketError,
)
from cambist.hashkey import AsyncHashKey, HashKey
from cambist.streams import Connected, PriceLevel, StreamOptions
from cambist.testing import (
    BiboxExchange,
    BinanceOptionsExchange,
    BingXExchange,
    HashKeyExchange,
    LocalExchange,
)

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "generated" / "cambist"


@pytest.fixture
def bibox_ex() -> Iterator[BiboxExchange]:
    with BiboxExchange(seed=7) as ex:
        yield ex


# -- docstrings -------------------------------------------------------------------------


def test_stream_docstrings_name_importable_things_and_render_no_stray_fences() -> None:
    texts = {p: p.read_text(encoding="utf-8") for p in GENERATED.glob("*/streams/*.py")}
    assert texts
    for path, text in texts.items():
        for dotted in re.findall(r"``(cambist\.[\w.]+)``", text):  # every name it points to
            module, _, name = dotted.rpartition(".")
            assert hasattr(__import__(module, fromlist=[name]), name), (path, dotted)
        assert "````" not in text, path  # an empty path rendered as an empty literal
    assert "``cambist.streams.StreamOptions``" in texts[GENERATED / "bibox/streams/__init__.py"]
    assert "The root of the ``ws_user`` URL" in (texts[GENERATED / "bibox/streams/user.py"])


# -- SyncStream.next(timeout=) --------------------------------------------------------


def test_blocking_next_timeout_says_what_happened(bibox_ex: BiboxExchange) -> None:
    with Bibox(**bibox_ex.client_options()) as bx, bx.streams.market() as s:
        assert isinstance(s.next(timeout=5), Connected)
        with pytest.raises(TimeoutError) as caught:
            s.next(timeout=0.05)
        with pytest.raises(ValueError, match="timeout must be a non-negative, finite number"):
            s.next(timeout=-1)  # (it timed out at once, as if no event had come)
        with pytest.raises(TypeError, match="timeout must be a number of seconds"):
            s.next(timeout="1")  # type: ignore[arg-type]
    message = str(caught.value)
    assert message == (
        "market: no event within 0.05 s (the stream is still open; call next() again to keep"
        " waiting)"
    )


# -- one level shape for REST and local books -------------------------------------------


def test_local_book_levels_are_price_levels_like_rest_sync(bibox_ex: BiboxExchange) -> None:
    with Bibox(**bibox_ex.client_options()) as bx, bx.streams.market() as s:
        s.subscribe_order_book(symbol="BTC_USDT", depth=20)
        while not isinstance(s.next(timeout=5), OrderBookUpdate):
            pass
        book = s.book(symbol="BTC_USDT", depth=20)
        rest = bx.market.get_order_book(symbol="BTC_USDT")
    best = book.best_bid()
    assert isinstance(best, PriceLevel) and isinstance(best.price, Decimal)
    assert (best.price, best.quantity) == (rest.bids[0].price, rest.bids[0].quantity)
    assert isinstance(rest.bids[0], PriceLevel)  # the REST level is the same shape (a subclass)
    assert book.top(1)[1][0].price == rest.asks[0].price
    price, quantity = best  # still a tuple
    assert (price, quantity) == (best.price, best.quantity)


async def test_local_book_levels_are_price_levels_like_rest_async(bibox_ex: BiboxExchange) -> None:
    async with AsyncBibox(**bibox_ex.client_options()) as bx, bx.streams.market() as s:
        await s.subscribe_order_book(symbol="BTC_USDT", depth=20)
        async with asyncio.timeout(5):
            async for event in s:
                if isinstance(event, OrderBookUpdate):
                    break
        best = s.book(symbol="BTC_USDT", depth=20).best_ask()
        rest = await bx.market.get_order_book(symbol="BTC_USDT")
    assert isinstance(best, PriceLevel)
    assert best == rest.asks[0] and best.quantity == rest.asks[0].quantity


# -- a pair the exchange does not list --------------------------------------------------


def test_unknown_pair_is_refused_sync(bibox_ex: BiboxExchange) -> None:
    with Bibox(**bibox_ex.client_options()) as bx, bx.streams.market() as s:
        with pytest.raises(SubscriptionError) as caught:
            s.subscribe_trades(symbol="NOPE_USDT")
        s.subscribe_trades(symbol="BTC_USDT")  # the stream goes on
    assert caught.value.code == -3002 and caught.value.channel == "trades NOPE_USDT"
    assert "Specified trading pair does not exist" in str(caught.value)


async def test_unknown_pair_is_refused_async(bibox_ex: BiboxExchange) -> None:
    async with AsyncBibox(**bibox_ex.client_options()) as bx, bx.streams.market() as s:
        with pytest.raises(SubscriptionError) as caught:
            await s.subscribe_order_book(symbol="NOPE_USDT", depth=20)
        with pytest.raises(ValueError, match="not subscribed"):  # no book kept for it
            s.book(symbol="NOPE_USDT", depth=20)
    assert caught.value.code == -3002


# HashKey and Binance Options answer no subscription to a symbol they do not list (their
# documents give no answer): the client checks the symbol against its markets first.


@pytest.fixture
def hashkey_ex() -> Iterator[HashKeyExchange]:
    with HashKeyExchange(seed=7) as ex:
        yield ex


def sent_naming(ex: LocalExchange, symbol: str) -> list[str]:
    """The frames the exchange's streams received that name ``symbol``."""
    return [text for _, text in ex.streams.received if symbol.lower() in text.lower()]


def markets_loads(ex: LocalExchange) -> int:
    return sum(1 for c in ex.calls if c.endpoint and c.endpoint.name.endswith("exchange_info"))


def test_an_unlisted_symbol_is_refused_before_subscribing_sync(
    hashkey_ex: HashKeyExchange,
) -> None:
    with HashKey(**hashkey_ex.client_options()) as hk, hk.streams.public() as s:
        with pytest.raises(UnknownMarketError) as caught:
            s.subscribe_trade(symbol="BTCUSDX")
        s.subscribe_trade(symbol="BTCUSDT")  # listed: the stream goes on
        s.subscribe_depth(symbol="ETHUSDT")
        hashkey_ex.streams.wait_subscribed("public", "depth:ETHUSDT")
    assert str(caught.value) == "subscribe_trade: no market 'BTCUSDX'; did you mean 'BTCUSDT'?"
    assert caught.value.close_matches == ["BTCUSDT"] and caught.value.param == "symbol"
    assert sent_naming(hashkey_ex, "BTCUSDX") == []  # nothing sent for it
    assert markets_loads(hashkey_ex) == 2  # by the first check, again for the miss (once)


async def test_an_unlisted_symbol_is_refused_before_subscribing_async(
    hashkey_ex: HashKeyExchange,
) -> None:
    async with AsyncHashKey(**hashkey_ex.client_options()) as hk, hk.streams.public_v1() as s:
        with pytest.raises(UnknownMarketError, match="no market 'ETHUSDX'"):
            await s.subscribe_depth(symbol="ETHUSDX")
        await s.subscribe_depth(symbol="ETHUSDT")
        await asyncio.to_thread(hashkey_ex.streams.wait_subscribed, "public_v1", "depth:ETHUSDT")
    assert sent_naming(hashkey_ex, "ETHUSDX") == []


async def test_binance_option_symbols_are_checked_in_any_case() -> None:
    with BinanceOptionsExchange(seed=7) as ex:
        async with AsyncBinanceOptions(**ex.client_options()) as bn, bn.streams.public() as s:
            await s.subscribe_book_ticker(symbol="btc-220815-50000-c")  # listed, lower case
            with pytest.raises(UnknownMarketError) as caught:
                await s.subscribe_ticker(symbol="BTC-220815-50001-C")
            await s.subscribe_trade(symbol="btcusdt")  # an underlying: not a market, not checked
        assert caught.value.close_matches[0] == "BTC-220815-50000-C"
        assert sent_naming(ex, "BTC-220815-50001-C") == []
        assert sent_naming(ex, "btc-220815-50000-c@bookTicker") and sent_naming(ex, "btcusdt@")


def test_check_symbols_false_subscribes_to_any_symbol(hashkey_ex: HashKeyExchange) -> None:
    with (
        HashKey(**hashkey_ex.client_options()) as hk,
        hk.streams.public(StreamOptions(check_symbols=False)) as s,
    ):
        s.subscribe_trade(symbol="BTCUSDX")
        hashkey_ex.streams.wait_subscribed("public", "trade:BTCUSDX")
    assert markets_loads(hashkey_ex) == 0


def test_markets_that_cannot_load_leave_the_subscription_unchecked(
    hashkey_ex: HashKeyExchange, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on: REST is down
        closed.bind(("127.0.0.1", 0))
        rest = f"http://127.0.0.1:{closed.getsockname()[1]}"
    options = {**hashkey_ex.client_options(), "base_url": rest, "max_retries": 0}
    with (
        caplog.at_level("WARNING", logger="cambist.streams"),
        HashKey(**options) as hk,
        hk.streams.public() as s,
    ):
        s.subscribe_trade(symbol="BTCUSDT")  # the stream does not depend on REST
        hashkey_ex.streams.wait_subscribed("public", "trade:BTCUSDT")
    (line,) = [r.getMessage() for r in caplog.records if "unchecked" in r.getMessage()]
    assert "could not be loaded to check trade symbols (APIConnectionError)" in line


def test_misuse_is_reported_before_the_markets_are_loaded(hashkey_ex: HashKeyExchange) -> None:
    with HashKey(**hashkey_ex.client_options()) as hk:
        s = hk.streams.public()  # never opened
        with pytest.raises(StreamError, match="never opened"):
            s.subscribe_trade(symbol="BTCUSDX")
        with s, pytest.raises(RequestValidationError, match="does not match"):
            s.subscribe_depth(symbol="btcusdt")  # the document's symbols are capitals, as REST
    assert markets_loads(hashkey_ex) == 0 and sent_naming(hashkey_ex, "btcusdt") == []


class NewListing(HashKeyExchange):
    """Trades SOLUSDT, but lists it in exchange information only once ``listed``."""

    symbols: ClassVar[dict[str, Decimal]] = {**HashKeyExchange.symbols, "SOLUSDT": Decimal(150)}
    listed = False

    def _on_market__get_exchange_info(self, p: dict[str, object]) -> object:
        answer = super()._on_market__get_exchange_info(p)
        if not self.listed:
            answer["symbols"] = [i for i in answer["symbols"] if i["symbol"] != "SOLUSDT"]
        return answer


def test_a_symbol_listed_since_the_markets_loaded_reloads_them_once() -> None:
    with NewListing(seed=7) as ex, HashKey(**ex.client_options()) as hk, hk.streams.public() as s:
        s.subscribe_trade(symbol="BTCUSDT")  # loads the markets: no SOLUSDT yet
        ex.listed = True  # listed since (Binance lists new options every day)
        s.subscribe_trade(symbol="SOLUSDT")  # unknown to the cache: reloaded, found
        ex.streams.wait_subscribed("public", "trade:SOLUSDT")
        with pytest.raises(UnknownMarketError):
            s.subscribe_trade(symbol="SOLUSDX")  # no second reload within the minute
    assert markets_loads(ex) == 2


class Refusing:
    """A REST port that accepts each connection, waits, then closes it unanswered."""

    def __init__(self, delay: float) -> None:
        import socket
        import threading

        self.accepted = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._delay = delay
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import time

        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.accepted += 1
            time.sleep(self._delay)
            conn.close()

    def close(self) -> None:
        self._server.close()


def test_markets_that_cannot_load_leave_subscriptions_unchecked_for_a_while(
    hashkey_ex: HashKeyExchange, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    rest = Refusing(delay=0.3)
    options = {**hashkey_ex.client_options(), "base_url": rest.url, "max_retries": 0}
    try:
        with (
            caplog.at_level("WARNING", logger="cambist.streams"),
            HashKey(**options) as hk,
            hk.streams.public() as s,
        ):
            threads = [  # at once: they share the one load, and its failure
                threading.Thread(target=getattr(s, f"subscribe_{ch}"), kwargs={"symbol": "BTCUSDT"})
                for ch in ("trade", "depth", "bbo")
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            s.subscribe_realtimes(symbol="ETHUSDT")  # later: unchecked at once, no new load
            for key in ("trade:BTCUSDT", "depth:BTCUSDT", "bbo:BTCUSDT", "realtimes:ETHUSDT"):
                hashkey_ex.streams.wait_subscribed("public", key)
    finally:
        rest.close()
    assert rest.accepted == 1
    (line,) = [r.getMessage() for r in caplog.records if "unchecked" in r.getMessage()]
    assert "could not be loaded to check" in line and "(APIConnectionError)" in line


async def test_a_closed_client_leaves_its_streams_symbols_unchecked(
    hashkey_ex: HashKeyExchange,
) -> None:
    hk = AsyncHashKey(**hashkey_ex.client_options())
    await hk.aclose()  # REST closed; a stream of it still works, as without the check
    async with hk.streams.public() as s:
        await s.subscribe_trade(symbol="BTCUSDT")
        await asyncio.to_thread(hashkey_ex.streams.wait_subscribed, "public", "trade:BTCUSDT")


# -- the local exchanges' public surface ------------------------------------------------

COMMON = {
    "balances",
    "calls",
    "clear_faults",
    "client_options",
    "expire_listen_keys",
    "fail",
    "id",
    "mark_price",
    "now_ms",
    "start",
    "stop",
    "symbols",
    "tick",
    "trade",
}
PUBLIC: dict[type[LocalExchange], set[str]] = {
    HashKeyExchange: COMMON | {"ACCOUNT_ID", "SUB_ACCOUNT_ID"},
    BiboxExchange: COMMON | {"push_user"},
    BingXExchange: COMMON | {"push_user"},
    BinanceOptionsExchange: COMMON,
}


@pytest.mark.parametrize("cls", list(PUBLIC), ids=lambda c: c.__name__)
def test_local_exchange_lists_only_its_documented_names(cls: type[LocalExchange]) -> None:
    public = {n for n in dir(cls) if not n.startswith("_")}
    assert public == PUBLIC[cls]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing your code", 1)[1].split("\n## ", 1)[0]
    for name in public:
        assert f"`{name}" in section or f".{name}" in section, name


def test_stream_types_are_importable_from_cambist_streams() -> None:
    assert cambist.streams.PriceLevel is PriceLevel
    assert "StreamOptions" in cambist.streams.__all__
