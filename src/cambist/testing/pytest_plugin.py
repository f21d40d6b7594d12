"""pytest fixtures: add ``pytest_plugins = ["cambist.testing.pytest_plugin"]`` to your
``conftest.py``, then ask for ``hashkey_exchange`` (or ``bibox_exchange``,
``bingx_exchange``, ``binance_options_exchange``): a started local exchange, stopped after
the test. ``local_exchange_seed`` (a fixture you may override) seeds their markets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import pytest

from cambist.testing import (
    BiboxExchange,
    BinanceOptionsExchange,
    BingXExchange,
    HashKeyExchange,
    LocalExchange,
)


@pytest.fixture
def local_exchange_seed() -> int:
    return 1


E = TypeVar("E", bound=LocalExchange)


def _run(exchange: E) -> Iterator[E]:
    exchange.start()
    try:
        yield exchange
    finally:
        exchange.stop()


@pytest.fixture
def hashkey_exchange(local_exchange_seed: int) -> Iterator[HashKeyExchange]:
    yield from _run(HashKeyExchange(seed=local_exchange_seed))


@pytest.fixture
def bibox_exchange(local_exchange_seed: int) -> Iterator[BiboxExchange]:
    yield from _run(BiboxExchange(seed=local_exchange_seed))


@pytest.fixture
def bingx_exchange(local_exchange_seed: int) -> Iterator[BingXExchange]:
    yield from _run(BingXExchange(seed=local_exchange_seed))


@pytest.fixture
def binance_options_exchange(local_exchange_seed: int) -> Iterator[BinanceOptionsExchange]:
    yield from _run(BinanceOptionsExchange(seed=local_exchange_seed))
