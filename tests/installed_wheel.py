"""Run by ``nox -s package`` with the interpreter of a fresh venv holding only the built wheel:
every package imports from that install (not from the repository), and a client talks to a
local exchange. ``python -I tests/installed_wheel.py``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import sysconfig
from pathlib import Path

SITE = Path(sysconfig.get_paths()["purelib"]).resolve()


def main() -> None:
    import cambist
    import cambist.testing
    from cambist.testing import EXCHANGES

    modules = ["cambist.errors", "cambist.streams", "cambist.data", "cambist._runtime.core"]
    modules.append("cambist.testing")
    exchanges = sorted(m.name for m in pkgutil.iter_modules(cambist.__path__) if m.ispkg)
    exchanges = [name for name in exchanges if name not in ("_runtime", "testing")]
    assert set(exchanges) == set(EXCHANGES), exchanges
    for name in modules + [f"cambist.{e}" for e in exchanges]:
        module = importlib.import_module(name)
        where = Path(module.__file__ or "").resolve()
        assert where.is_relative_to(SITE), f"{name} imported from {where}, not the wheel"
    for exchange in exchanges:
        package = importlib.import_module(f"cambist.{exchange}")
        assert (Path(package.__file__ or "").parent / "py.typed").exists(), exchange
    assert (SITE / "cambist" / "py.typed").exists()

    from cambist.hashkey import HashKey

    with cambist.testing.HashKeyExchange() as ex, HashKey(**ex.client_options()) as hk:
        assert hk.misc.get_server_time().server_time > 0
        book = hk.market.get_depth(symbol="BTCUSDT", limit=1)
    from cambist.data import to_dict  # its dependency (cattrs) came with the wheel

    assert to_dict(book)["bids"][0]["price"] == str(book.bids[0].price)
    print(f"wheel ok: {', '.join(exchanges)} and cambist.testing import from {SITE}")


if __name__ == "__main__":
    sys.exit(main())
