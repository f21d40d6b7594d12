"""Local stand-ins for the exchanges, for demos and tests: no account, no network.

::

    from cambist.hashkey import HashKey
    from cambist.testing import HashKeyExchange

    with HashKeyExchange() as ex:
        hk = HashKey(**ex.client_options())       # base_url, ws_urls and the default keys
        hk.spot.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")

Every local exchange accepts :data:`DEFAULT_API_KEY` / :data:`DEFAULT_API_SECRET` unless
given other ``credentials``, listens on loopback only (unless ``allow_remote=True``), checks
requests as the document says the exchange does, and answers failures with the document's
codes. Trading is simulated on one engine for every exchange: a seeded synthetic market
(``tick()`` moves it, ``trade()`` prints a trade) and a ledger of balances, orders, fills and
transfers (``ledger``); each exchange class only speaks its own wire formats.
``python -m cambist.testing serve hashkey --port 8080`` runs one from the shell; the pytest
fixtures are in ``cambist.testing.pytest_plugin``.
"""

from cambist.testing._bibox import BiboxExchange
from cambist.testing._binance import BinanceOptionsExchange
from cambist.testing._bingx import BingXExchange
from cambist.testing._clock import FakeClock
from cambist.testing._exchanges import DEFAULT_API_KEY, DEFAULT_API_SECRET, LocalExchange
from cambist.testing._hashkey import HashKeyExchange
from cambist.testing._http import Fault
from cambist.testing._market import SymbolRules
from cambist.testing._ws import StreamFaults

EXCHANGES: dict[str, type[LocalExchange]] = {
    "hashkey": HashKeyExchange,
    "bibox": BiboxExchange,
    "bingx": BingXExchange,
    "binance_options": BinanceOptionsExchange,
}

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "EXCHANGES",
    "BiboxExchange",
    "BinanceOptionsExchange",
    "BingXExchange",
    "FakeClock",
    "Fault",
    "HashKeyExchange",
    "LocalExchange",
    "StreamFaults",
    "SymbolRules",
]
