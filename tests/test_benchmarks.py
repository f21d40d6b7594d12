"""The benchmark's cases are built with the SDK's own runtime: a change that breaks one (a
stream param check refusing a sample's symbol) fails here, not in the next ``nox -s bench``.
Nothing is timed here; timing goals live in the benchmark."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield
    for name in ("streams", "decode", "_common"):
        sys.modules.pop(name, None)  # (plain names: never left for another test to import)


def test_every_stream_case_takes_the_fast_path(bench: None) -> None:
    import streams  # type: ignore[import-not-found]

    cases = streams._cases()
    assert len(cases) == 4
    for title, frames, definition, name, values, book, _, _ in cases:
        engine = streams._engine(definition, definition.channels[name], values, book)
        for frame in frames[:50]:
            assert engine._on_fast(frame) is not None, f"{title}: a push left the fast path"


def test_every_decode_case_takes_the_fast_path(bench: None) -> None:
    import decode  # type: ignore[import-not-found]
    import httpx

    from cambist._runtime.core import CallOptions

    for title, cls, name, body, _ in decode._cases():
        with cls(time_sync=False) as client:
            module = sys.modules[cls.__module__.rsplit(".", 1)[0]]
            ep = next(e for e in module.ENDPOINTS if e.name == name)
            parsed = client._core.handle(ep, httpx.Response(200, content=body), CallOptions())
            assert ep.fast is not None and parsed == ep.fast(body)[0], title
