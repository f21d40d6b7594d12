from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from cambist.hashkey import AsyncHashKey, HashKey
from tests.doc_examples import hashkey_examples
from tests.loopback import LoopbackServer, Received, Reply


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is alive once the tests are collected (the test modules, the specs several of
    them load) lives to the end of the run: frozen out of the garbage collector's way, its
    full passes no longer walk it. They took over 100 ms each, long enough to fail a test
    whose deadline has a margin of 150 ms (seen: a clock sync that took 157 ms)."""
    gc.collect()
    gc.freeze()


API_KEY = "test-api-key-0123456789"
API_SECRET = "test-api-secret-abcdefghijklmnop"

# Document examples the spec cannot take as they are, replaced by what the tables describe.
_HASHKEY_FIXUPS: dict[tuple[str, str], Any] = {}
_HASHKEY_MISSING: dict[tuple[str, str], Any] = {
    # No samples in the document: built from the response tables.
    ("GET", "/api/v1/account/balanceFlow"): [
        {
            "id": "539870570957903104",
            "accountId": "1649292498437183232",
            "coin": "USDT",
            "coinId": "USDT",
            "coinName": "USDT",
            "flowTypeValue": 51,
            "flowType": "USER_ACCOUNT_TRANSFER",
            "flowName": "",
            "change": "-1.00000000000000000001",
            "total": "8.5",
            "created": "1714557951154",
        }
    ],
    ("GET", "/api/v1/coinInfo"): {"timezone": "UTC", "serverTime": 1714557951154, "coins": []},
}

pytest_plugins = ["cambist.testing.pytest_plugin"]


def hashkey_example(method: str, path: str) -> Any:
    key = (method, path)
    if key in _HASHKEY_MISSING:
        return _HASHKEY_MISSING[key]
    example = hashkey_examples()[key][0]
    fix = _HASHKEY_FIXUPS.get(key)
    return fix(example) if fix else example


def _time_route(r: Received) -> Reply:
    return Reply(200, {"serverTime": int(time.time() * 1000)})


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A loopback server answering every HashKey endpoint with the document's example."""
    with LoopbackServer() as srv:
        from cambist.hashkey import ENDPOINTS

        for ep in ENDPOINTS:
            srv.route(ep.method, ep.path, hashkey_example(ep.method, ep.path))
        srv.routes[("GET", "/api/v1/time")] = _time_route
        yield srv


@pytest.fixture
def hk(server: LoopbackServer) -> Iterator[HashKey]:
    with HashKey(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url) as client:
        yield client


@pytest.fixture
async def ahk(server: LoopbackServer) -> AsyncIterator[AsyncHashKey]:
    async with AsyncHashKey(api_key=API_KEY, api_secret=API_SECRET, base_url=server.url) as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
