"""Stream pushes: the msgspec fast path (``Channel.fast``) and the general converters
(``Channel.parse``) read every push the same, the engine takes the fast path for every
channel's pushes and falls back to the general converters for the unusual, and a book takes
the parsed event's values (the same book as from the raw push).

Pushes come from three sources: the documents' samples (as the other stream tests quote
them), the local exchanges' own push builders, and samples generated from every push model of
every spec (each field of its type, optional fields present or absent), so every channel of
every stream is covered.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cambist._runtime import convert
from cambist._runtime.book import OrderBook
from cambist._runtime.streamdef import Channel, StreamDef
from cambist._runtime.wire import make_subscription
from cambist._runtime.ws import StreamEngine
from cambist.streams import RawEvent, StreamOptions
from codegen.parsed import Spec, TypeRef
from codegen.spec import load_all
from tests.test_streams import V1_KLINE, V2_BBO, V2_REALTIMES

ROOT = Path(__file__).resolve().parent.parent
SPECS: list[Spec] = load_all(ROOT / "specs", ROOT)


def _definition(spec: Spec, stream: str) -> StreamDef:
    module = importlib.import_module(f"cambist.{spec.id}.streams.{stream}")
    definition: StreamDef = getattr(module, stream.upper())
    return definition


CHANNELS = [
    (spec, stream.name, c.name, c.event)
    for spec in SPECS
    for stream in spec.streams or []
    for c in stream.channels
]


def _id(item: tuple[Spec, str, str, str]) -> str:
    return f"{item[0].id}:{item[1]}.{item[2]}"


# -- samples generated from the models ----------------------------------------------------


def _sample(spec: Spec, t: TypeRef, rng: random.Random, optional_odds: float) -> Any:
    if t.item is not None:
        return [_sample(spec, t.item, rng, optional_odds) for _ in range(rng.randint(0, 3))]
    name = t.name
    if name == "string":
        return f"s{rng.randint(0, 10**6)}"
    if name in ("int", "long"):
        return rng.choice([rng.randint(0, 2**40), 0, 2**62 + rng.randint(0, 99)])
    if name == "decimal":
        return rng.choice(["0", "1", "0.00000001", f"{rng.randint(0, 10**6)}.{rng.randint(0, 99)}"])
    if name == "bool":
        return rng.random() < 0.5
    if name == "json":
        return rng.choice([{"k": [1, "x", None]}, "text", 7, None, [True]])
    if name in spec.enums:
        return rng.choice(spec.enums[name].values).value
    model = spec.models[name]
    if model.row:
        return [_sample(spec, f.type, rng, optional_odds) for f in model.fields]
    out = {}
    for f in model.fields:
        if f.optional and rng.random() < optional_odds:
            continue  # absent
        out[f.wire] = _sample(spec, f.type, rng, optional_odds)
    return out


def _general(spec: Spec, text: str) -> Any:
    numbers = spec.exchange["response"].get("numbers", "strings") == "numbers"
    return convert.decode_exact(text) if numbers else convert.decode_fast(text)


@pytest.mark.parametrize("item", CHANNELS, ids=[_id(c) for c in CHANNELS])
def test_every_channel_has_a_fast_path_that_reads_as_the_general_one(
    item: tuple[Spec, str, str, str],
) -> None:
    spec, stream, channel_name, event = item
    channel = _definition(spec, stream).channels[channel_name]
    assert channel.fast is not None, "every channel's pushes take the fast path"
    rng = random.Random(f"{spec.id}.{stream}.{channel_name}")
    for round_ in range(40):
        sample = _sample(spec, TypeRef(event), rng, optional_odds=round_ % 3 / 2)
        text = json.dumps(sample)
        assert channel.fast(text) == channel.parse(_general(spec, text)), text
        assert channel.fast(text.encode()) == channel.parse(_general(spec, text))


EVENTS = [
    (spec, stream.name, e.type, e.event)
    for spec in SPECS
    for stream in spec.streams or []
    for e in stream.events
]


@pytest.mark.parametrize("item", EVENTS, ids=[_id(e) for e in EVENTS])
def test_every_typed_event_takes_the_fast_path_and_reads_as_the_general_one(
    item: tuple[Spec, str, str, str],
) -> None:
    spec, stream, kind, event = item
    definition = _definition(spec, stream)
    assert definition.event_field is not None
    if kind not in definition.fast_events:
        pytest.skip(f"{event} has no msgspec decoder (a row, or a field it cannot read)")
    rng = random.Random(f"{spec.id}.{stream}.{kind}")
    for round_ in range(20):
        sample = _sample(spec, TypeRef(event), rng, optional_odds=round_ % 3 / 2)
        sample[definition.event_field] = kind
        text = json.dumps(sample)
        fast = StreamEngine(
            definition, base_url="ws://x", credentials=None, rest=None, options=StreamOptions()
        )
        assert fast._on_fast(text) == [], text  # taken by the fast path
        general = StreamEngine(
            _general_only(definition),
            base_url="ws://x",
            credentials=None,
            rest=None,
            options=StreamOptions(),
        )
        general._on_frame(text)
        assert list(fast._events) == list(general._events)
        assert type(fast._events[0]) is not RawEvent


# -- the documents' samples and the local exchanges' pushes ---------------------------------


def _engine(definition: StreamDef, channel: Channel, values: dict[str, object]) -> Any:
    engine = StreamEngine(
        definition, base_url="ws://unused", credentials=None, rest=None, options=StreamOptions()
    )
    engine._register(make_subscription(definition, channel, values))
    return engine


def _general_only(definition: StreamDef) -> StreamDef:
    """The same stream with no fast path: every push decoded in full, general converters."""
    channels = {k: dataclasses.replace(c, fast=None) for k, c in definition.channels.items()}
    return dataclasses.replace(definition, channels=channels, fast_events={})


def _both(
    definition: StreamDef, name: str, values: dict[str, object], frames: list[str], book: bool
) -> tuple[Any, Any]:
    """Each frame through an engine with the fast path and one without."""
    engines = []
    for d in (definition, _general_only(definition)):
        engine = _engine(d, d.channels[name], values)
        key = next(iter(engine._subs))
        if book:
            engine.books[key] = OrderBook()
        for frame in frames:
            if d is definition:  # the fast path takes every one of these
                assert engine._on_fast(frame) is not None, frame
            else:
                engine._on_frame(frame)
        engines.append(engine)
    return engines[0], engines[1]


def _book_state(engine: Any) -> Any:
    (book,) = engine.books.values()
    return book.synced, book.version, book.bids, book.asks


def test_document_samples_take_the_fast_path_and_read_the_same() -> None:
    from cambist.hashkey.streams.public import PUBLIC
    from cambist.hashkey.streams.public_v1 import PUBLIC_V1

    for definition, name, values, frame in (
        (PUBLIC_V1, "kline", {"symbol": "BTCUSDT", "interval": "1m"}, V1_KLINE),
        (PUBLIC, "bbo", {"symbol": "ETHUSDT"}, V2_BBO),
        (PUBLIC, "realtimes", {"symbol": "BTCUSDT"}, V2_REALTIMES),
    ):
        fast, general = _both(definition, name, values, [frame], book=False)
        assert list(fast._events) == list(general._events)
        assert type(fast._events[0]) is not RawEvent


def _local_frames() -> dict[str, list[str]]:
    """Pushes the local exchanges build for their streams (the same code serves them)."""
    from cambist.testing import BiboxExchange, HashKeyExchange

    hk = HashKeyExchange()
    bibox = BiboxExchange()
    frames: dict[str, list[str]] = {"v2": [], "v1": [], "bibox": []}
    for _ in range(30):
        hk.market.step("BTCUSDT")
        frames["v2"].append(json.dumps(hk._depth_v2("BTCUSDT")))
        frames["v1"].append(json.dumps(hk._depth_v1("BTCUSDT", False)))
    pair = next(iter(bibox.market.books))
    frames["bibox"].append(
        json.dumps({"stream": f"{pair}.order_book.20", "data": bibox._book(pair, 20)})
    )
    return frames


def test_depth_books_take_the_events_values_and_match_the_general_path() -> None:
    from cambist.bibox.streams.market import MARKET
    from cambist.hashkey.streams.public import PUBLIC
    from cambist.hashkey.streams.public_v1 import PUBLIC_V1

    frames = _local_frames()
    for definition, values, key in (
        (PUBLIC, {"symbol": "BTCUSDT"}, "v2"),
        (PUBLIC_V1, {"symbol": "BTCUSDT"}, "v1"),
    ):
        fast, general = _both(definition, "depth", values, frames[key], book=True)
        assert list(fast._events) == list(general._events)
        assert _book_state(fast) == _book_state(general)
        synced, _, bids, asks = _book_state(fast)
        assert synced and bids and asks and isinstance(bids[0].price, Decimal)
    pair = json.loads(frames["bibox"][0])["stream"].split(".")[0]
    first = json.loads(frames["bibox"][0])["data"]
    best_bid = first["b"][0][0]
    change = json.dumps(  # an increment: the best bid's quantity changes, one level removed
        {
            "stream": f"{pair}.order_book.20",
            "data": {
                "i": "999",
                "t": "1",
                "b": [[best_bid, "7.5"]],
                "a": [[first["a"][1][0], "0"]],
            },
        }
    )
    fast, general = _both(
        MARKET, "order_book", {"symbol": pair, "depth": 20}, [frames["bibox"][0], change], True
    )
    assert list(fast._events) == list(general._events)
    assert _book_state(fast) == _book_state(general)
    assert _book_state(fast)[2][0].quantity == Decimal("7.5")


def test_book_readers_follow_a_shared_prefix_once() -> None:
    """A book's values read from the event in one call: paths sharing a prefix with a list
    index (HashKey V1's ``data[0]``) follow it once, then one ``attrgetter``; other shapes
    take the getters in turn; an empty list raises (the stream resynchronises its book)."""
    from types import SimpleNamespace

    from cambist._runtime.book import event_getter
    from cambist._runtime.ws import _reader

    def reader(*paths: tuple[str | int, ...]) -> Any:
        return _reader(tuple(map(event_getter, paths)), paths)

    event = SimpleNamespace(
        data=[SimpleNamespace(bids=[1], asks=[2], version="7", inner=SimpleNamespace(v=3))],
        other=[SimpleNamespace(x=4)],
    )
    v1 = reader(("data", 0, "bids"), ("data", 0, "asks"), ("data", 0, "version"))
    assert v1.__name__ == "read_after" and v1(event) == ([1], [2], "7")
    nested = reader(("data", 0, "inner", "v"), ("data", 0, "bids"))
    assert nested.__name__ == "read_after" and nested(event) == (3, [1])
    apart = reader(("data", 0, "bids"), ("other", 0, "x"))  # no common prefix
    assert apart.__name__ == "read" and apart(event) == ([1], 4)
    index_after = reader(("data", 0, "bids", 0), ("data", 0, "asks", 0))
    assert index_after.__name__ == "read" and index_after(event) == (1, 2)
    with pytest.raises(IndexError):
        v1(SimpleNamespace(data=[]))


def test_unusual_pushes_never_crash_and_fall_back() -> None:
    """An unknown enum value and an extra field stay on the fast path; a missing required
    field or an unreadable decimal falls back to the general converters (a RawEvent)."""
    from cambist.hashkey.models import KlineUpdateV1
    from cambist.hashkey.streams.public_v1 import PUBLIC_V1

    values: dict[str, object] = {"symbol": "BTCUSDT", "interval": "1m"}
    extra = V1_KLINE.replace('"f": true', '"f": true, "brandNew": {"x": [1]}')
    fast, general = _both(PUBLIC_V1, "kline", values, [extra], book=False)
    assert list(fast._events) == list(general._events)
    assert isinstance(fast._events[0], KlineUpdateV1)
    missing_optional = V1_KLINE.replace(', "shared": false', "")
    fast, general = _both(PUBLIC_V1, "kline", values, [missing_optional], book=False)
    assert fast._events[0] == general._events[0] and fast._events[0].shared is None
    for odd in (
        V1_KLINE.replace('"c": "88888.01", ', ""),  # a required field missing
        V1_KLINE.replace('"c": "88888.01"', '"c": "not a number"'),
    ):
        engine = _engine(PUBLIC_V1, PUBLIC_V1.channels["kline"], values)
        assert engine._on_fast(odd) is None  # refused by the fast path ...
        engine._on_frame(odd)  # ... read by the general path: delivered raw, not lost
        assert [type(e) for e in engine._events] == [RawEvent]


def _replace_key(value: Any, key: str, new: object) -> int:
    """Set every ``key`` in nested objects to ``new``; how many were set."""
    count = 0
    if isinstance(value, dict):
        for k in value:
            if k == key:
                value[k] = new
                count += 1
            else:
                count += _replace_key(value[k], key, new)
    elif isinstance(value, list):
        count = sum(_replace_key(v, key, new) for v in value)
    return count


def test_unknown_enum_in_a_push_stays_on_the_fast_path() -> None:
    from cambist.binance_options.streams.public import PUBLIC

    spec = next(s for s in SPECS if s.id == "binance_options")
    channel = PUBLIC.channels["trade"]
    sample = _sample(spec, TypeRef(channel_event(spec, "public", "trade")), random.Random(1), 0)
    assert _replace_key(sample, "S", "SOMETHING_NEW") == 1  # the trade's side (OrderSide)
    text = json.dumps(sample)
    assert channel.fast is not None
    event = channel.fast(text)
    assert event == channel.parse(convert.decode_exact(text))
    assert "SOMETHING_NEW" in repr(event)


def channel_event(spec: Spec, stream: str, channel: str) -> str:
    return next(
        c.event
        for s in spec.streams or []
        if s.name == stream
        for c in s.channels
        if c.name == channel
    )


def test_frames_are_routed_by_their_head_only_when_the_head_alone_routes_them() -> None:
    """``fast_route`` remembers a push's head (its text before ``"data"``) and routes later
    pushes with that head by one lookup; a head that does not decide the route on its own
    (``"data"`` inside a value, a routing field after the payload) is never remembered, so
    every JSON frame routes exactly as a full skim (``route``) would, the first time and after.
    A frame that is not JSON may be routed by its head, but the channel's decoder then refuses
    it and the general path reports it."""
    from cambist._runtime.wire import Binance, HashKeyV1, HashKeyV2

    v2 = HashKeyV2()
    good = [
        '{"topic":"depth","params":{"symbol":"A"},"data":{"x":1}}',
        '{"topic":"depth","params":{"symbol":"B"},"data":{"x":1}}',
        b'{"topic":"depth","params":{"symbol":"A"},"data":{"x":2}}',
        '{"topic": "trade", "params": {"symbol": "A"}, "data": [1]}',
    ]
    odd = [
        '{"topic":"depth","params":{"kind":"data","symbol":"A"},"data":{}}',
        '{"topic":"depth","params":{"kind":"data","symbol":"B"},"data":{}}',
        '{"topic":"depth","params":"data"}',
        '"data"',
        '{"data":{"x":1}}',
    ]
    for _ in range(2):  # the first time (skimmed) and again (remembered or skimmed again)
        for frame in good + odd:
            assert v2.fast_route(frame) == v2.route(frame), frame
    assert v2.fast_route(odd[0]) == ("depth", frozenset({("kind", "data"), ("symbol", "A")}))
    assert v2.fast_route(odd[1]) == ("depth", frozenset({("kind", "data"), ("symbol", "B")}))
    assert sorted(map(str, v2._routes)) == sorted(
        {str(f[: f.find(b'"data"' if type(f) is bytes else '"data"')]) for f in good}
    )

    from cambist.hashkey.streams.public import PUBLIC

    engine = _engine(PUBLIC, PUBLIC.channels["depth"], {"symbol": "BTCUSDT"})
    engine._proto = v2
    cut = '{"topic":"depth","params":{"symbol":"BTCUSDT"},"data":{"s":"BTCUSDT","t":1,"v":"1_1",'
    v2._routes[cut[: cut.find('"data"')]] = ("depth", frozenset({("symbol", "BTCUSDT")}))
    assert engine._on_fast(cut) is None
    engine._on_frame(cut)
    assert type(engine._events[0]).__name__ == "BadFrame"  # reported, as without the head

    v1 = HashKeyV1()  # the symbol after the payload: one head, two routes
    a = '{"topic":"depth","data":[{"b":[]}],"symbol":"A"}'
    b = '{"topic":"depth","data":[{"b":[]}],"symbol":"B"}'
    for _ in range(2):
        assert v1.fast_route(a) == ("depth", "A") and v1.fast_route(b) == ("depth", "B")
    assert not v1._routes

    binance = Binance()  # bounded: old heads are forgotten, routes stay right
    for i in range(1500):
        frame = f'{{"stream":"s{i}@trade","data":{{"e":"trade"}}}}'
        assert binance.fast_route(frame) == f"s{i}@trade"
    assert 0 < len(binance._routes) <= 1024
