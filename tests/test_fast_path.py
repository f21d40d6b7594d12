"""The msgspec fast path and the general converters read every document example the same."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from cambist._runtime.endpoint import Endpoint
from tests.exchanges import EXCHANGES, Case

FAST = [(case, ep) for case in EXCHANGES for ep in case.endpoints() if ep.fast is not None]


def _general(case: Case, ep: Endpoint[Any], body: bytes) -> Any:
    with case.sync("http://127.0.0.1:9", time_sync=False) as client:
        core = client._core
        return core.parse(ep, body, core._decode(body))


@pytest.mark.parametrize(("case", "ep"), FAST, ids=[f"{c.id}:{e.name}" for c, e in FAST])
def test_fast_path_equals_general_path(case: Case, ep: Endpoint[Any]) -> None:
    body = case.sample(ep)
    assert ep.fast is not None
    try:
        fast = ep.fast(body)
    except Exception:
        pytest.skip("this example takes the general path")  # counted below
    assert fast == _general(case, ep, body)


def test_most_examples_take_the_fast_path() -> None:
    taken = 0
    for case, ep in FAST:
        assert ep.fast is not None
        try:
            ep.fast(case.sample(ep))
            taken += 1
        except Exception:
            pass
    assert len(FAST) >= 45 and taken >= len(FAST) - 8, (taken, len(FAST))


def test_unusual_values_fall_back_and_stay_exact() -> None:
    """An id sent as a JSON number, "" for a decimal, an unknown enum value: same result."""
    case = EXCHANGES[0]
    ep = next(e for e in case.endpoints() if e.name == "spot.list_open_orders")
    body = case.sample(ep)
    odd = body.replace(b'"status": "NEW"', b'"status": "SOMETHING_NEW"', 1)
    assert odd != body
    assert ep.fast is not None and ep.fast(odd)[0].status.value == "SOMETHING_NEW"
    assert ep.fast(odd) == _general(case, ep, odd)
    quoted = b'"orderId": "1563293653459405312"'
    numeric_id = body.replace(quoted, b'"orderId": 1563293653459405312')
    assert numeric_id != body
    with pytest.raises(msgspec.ValidationError):
        ep.fast(numeric_id)  # a number where the model has a string: the general path reads it
    assert _general(case, ep, numeric_id)[0].order_id == "1563293653459405312"
