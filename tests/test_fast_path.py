"""The msgspec fast path and the general converters read every document example the same;
the fast path reads every example but the listed fallbacks, each with its reason."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from cambist._runtime.endpoint import Endpoint
from cambist._runtime.errormap import normalize_code
from tests.exchanges import EXCHANGES, Case

FAST = [(case, ep) for case in EXCHANGES for ep in case.endpoints() if ep.fast is not None]

GENERAL_ONLY: dict[str, str] = {
    "binance_options:trade.create_batch_orders": "item_errors: an item may be an error object,"
    " which the general path reads into its error (a batch is at most ten items)",
    "binance_options:trade.cancel_batch_orders": "item_errors, as create_batch_orders",
}
"""Endpoints answering a model that have no fast decoder, and why."""

FALLBACKS = {
    "hashkey:market.get_exchange_info": "the document's sample is one bare symbol (the spec's "
    "`bare: symbols`), which the fast decoder refuses; the general path wraps it in `symbols`",
    "hashkey:wallet.list_withdrawals": 'the example\'s arriveQuantity is "" (a withdrawal '
    "still in progress), which the fast decimal refuses; the general path reads it as None",
}
"""Endpoints whose document example the fast decoder refuses (so the general path reads it),
and why. Any other example must take the fast path."""


SUCCESS = {"0", "200"}  # the success codes of the exchanges with a fast path


def _id(case: Case, ep: Endpoint[Any]) -> str:
    return f"{case.id}:{ep.name}"


def _fast(ep: Endpoint[Any], body: bytes) -> Any:
    assert ep.fast is not None
    parsed, code = ep.fast(body)
    assert code is None or normalize_code(code) in SUCCESS  # a success answer
    return parsed


def _general(case: Case, ep: Endpoint[Any], body: bytes) -> Any:
    with case.sync("http://127.0.0.1:9", time_sync=False) as client:
        core = client._core
        return core.parse(ep, body, core._decode(body))


def test_every_model_answer_has_a_fast_decoder_but_the_listed_ones() -> None:
    general = {
        _id(case, ep)
        for case in EXCHANGES
        for ep in case.endpoints()
        if ep.fast is None and ep.response not in (None, "json")
    }
    assert general == set(GENERAL_ONLY)


@pytest.mark.parametrize(("case", "ep"), FAST, ids=[_id(c, e) for c, e in FAST])
def test_fast_path_equals_general_path(case: Case, ep: Endpoint[Any]) -> None:
    body = case.sample(ep)
    assert ep.fast is not None
    general = _general(case, ep, body)
    if _id(case, ep) in FALLBACKS:
        with pytest.raises(msgspec.ValidationError):
            ep.fast(body)  # listed as a fallback, yet the fast path takes it: update the list
        return
    assert _fast(ep, body) == general


def test_fallbacks_name_endpoints_with_a_fast_decoder() -> None:
    assert set(FALLBACKS) <= {_id(case, ep) for case, ep in FAST}


def test_unusual_values_fall_back_and_stay_exact() -> None:
    """An id sent as a JSON number, "" for a decimal, an unknown enum value: same result."""
    case = EXCHANGES[0]
    ep = next(e for e in case.endpoints() if e.name == "spot.list_open_orders")
    body = case.sample(ep)
    odd = body.replace(b'"status": "NEW"', b'"status": "SOMETHING_NEW"', 1)
    assert odd != body
    assert _fast(ep, odd)[0].status.value == "SOMETHING_NEW"
    assert _fast(ep, odd) == _general(case, ep, odd)
    quoted = b'"orderId": "1563293653459405312"'
    numeric_id = body.replace(quoted, b'"orderId": 1563293653459405312')
    assert numeric_id != body
    with pytest.raises(msgspec.ValidationError):
        _fast(ep, numeric_id)  # a number where the model has a string: the general path reads it
    assert _general(case, ep, numeric_id)[0].order_id == "1563293653459405312"


OBJECT_ANSWERS = [
    (case, ep)
    for case, ep in FAST
    if _id(case, ep) not in FALLBACKS and case.sample(ep).lstrip()[:1] == b"{"
]


@pytest.mark.parametrize(("case", "ep"), OBJECT_ANSWERS, ids=[_id(c, e) for c, e in OBJECT_ANSWERS])
def test_an_error_code_in_a_200_answer_raises_after_fast_decoding(
    case: Case, ep: Endpoint[Any]
) -> None:
    """The error field is checked after decoding (the body is not scanned): an answer the
    fast decoder reads fine, but whose error-code field holds an error, raises that error."""
    import httpx
    import orjson

    from cambist import errors
    from cambist._runtime.core import CallOptions

    with case.sync("http://127.0.0.1:9", time_sync=False) as client:
        exchange = client._core.exchange
        payload = orjson.loads(case.sample(ep))
        payload.update(
            {exchange.error_code_field: -1004, exchange.error_message_field: "Bad request"}
        )
        body = orjson.dumps(payload)
        assert ep.fast is not None
        try:
            _, code = ep.fast(body)
        except msgspec.ValidationError:
            code = "refused"  # the model's own code field refuses it: the general path reads it
        assert code in (-1004, "refused")
        with pytest.raises(errors.APIError, match="Bad request") as info:
            client._core.handle(ep, httpx.Response(200, content=body), CallOptions())
    assert info.value.code == -1004


def test_nested_lists_built_in_one_go_land_in_their_owners() -> None:
    """A list of models each holding a list of models (exchange information's symbols and
    their filters) builds all the inner models in one call, then slices them back: each
    symbol keeps its own filters, whatever their counts (none, one, several)."""
    import orjson

    case = EXCHANGES[0]
    ep = next(e for e in case.endpoints() if e.name == "market.get_exchange_info")
    symbol = orjson.loads(case.sample(ep))
    filters = symbol["filters"]
    assert len(filters) > 2
    symbols = []
    for i, count in enumerate([0, 1, len(filters), 2, 0]):
        item = dict(symbol, symbol=f"S{i}", filters=filters[:count])
        symbols.append(item)
    body = orjson.dumps({"timezone": "UTC", "serverTime": "1", "symbols": symbols})
    fast = _fast(ep, body)
    assert [len(s.filters) for s in fast.symbols] == [0, 1, len(filters), 2, 0]
    assert fast == _general(case, ep, body)


def test_nest_models_leaves_an_absent_list_none() -> None:
    from cambist._runtime.convert import nest_models

    owners: list[dict[str, Any]] = [{"k": [1, 2]}, {"k": None}, {"k": []}, {"k": [3]}]
    nest_models(lambda items: [x * 10 for x in items], owners, "k")
    assert owners == [{"k": [10, 20]}, {"k": None}, {"k": []}, {"k": [30]}]


@pytest.mark.parametrize("enabled", [True, False])
def test_a_large_answer_leaves_the_collector_as_it_was(enabled: bool) -> None:
    """A large answer is built with automatic collection paused; afterwards it is on again
    only if it was on (a program that disabled it keeps it disabled), also when the fast
    decoder refuses the answer and the general path reads it."""
    import gc

    import httpx
    import orjson

    from cambist._runtime import convert
    from cambist._runtime.core import CallOptions

    case = EXCHANGES[0]
    ep = next(e for e in case.endpoints() if e.name == "spot.list_open_orders")
    order = orjson.loads(case.sample(ep))[0]
    body = orjson.dumps([order] * 400)
    assert len(body) >= convert.LARGE_ANSWER
    quoted = orjson.dumps({"orderId": order["orderId"]})[1:-1]
    odd = body.replace(quoted, quoted.replace(b'"' + order["orderId"].encode() + b'"', b"7"), 1)
    assert odd != body
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with case.sync("http://127.0.0.1:9", time_sync=False) as client:
            core = client._core
            orders = core.handle(ep, httpx.Response(200, content=body), CallOptions())
            assert len(orders) == 400 and gc.isenabled() is enabled
            with pytest.raises(msgspec.ValidationError):
                _fast(ep, odd)  # refused by the fast path: the general path reads it
            assert len(core.handle(ep, httpx.Response(200, content=odd), CallOptions())) == 400
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_concurrent_large_answers_share_one_pause() -> None:
    """Threads building large answers at once: collection is paused while any of them
    builds, and on again once all are done."""
    import gc
    import threading

    import httpx
    import orjson

    from cambist._runtime.core import CallOptions

    case = EXCHANGES[0]
    ep = next(e for e in case.endpoints() if e.name == "spot.list_open_orders")
    body = orjson.dumps(orjson.loads(case.sample(ep)) * 400)
    assert gc.isenabled()
    with case.sync("http://127.0.0.1:9", time_sync=False) as client:
        core = client._core
        counts: list[int] = []

        def work() -> None:
            for _ in range(20):
                counts.append(
                    len(core.handle(ep, httpx.Response(200, content=body), CallOptions()))
                )

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(counts) == 60 and set(counts) == {400}
    assert gc.isenabled()


@pytest.mark.parametrize("stp", ["EXPIRE_TAKER", "SOMETHING_NEW", "", None, "absent"])
def test_an_optional_enum_reads_the_same_on_both_paths(stp: str | None) -> None:
    """An optional enum: a listed value is its member, an unknown one is kept, "" and null
    (and an absent field) are None, on the fast path as on the general one."""
    import orjson

    case = EXCHANGES[0]
    ep = next(e for e in case.endpoints() if e.name == "spot.list_open_orders")
    order = orjson.loads(case.sample(ep))[0]
    if stp == "absent":
        order.pop("stpMode", None)
    else:
        order["stpMode"] = stp
    body = orjson.dumps([order] * 10)
    fast = _fast(ep, body)
    assert fast == _general(case, ep, body)
    expected = None if stp in ("", None, "absent") else stp
    assert {None if o.stp_mode is None else o.stp_mode.value for o in fast} == {expected}
