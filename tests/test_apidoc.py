"""The generated API reference (``generated/cambist/<exchange>/api.md``) lists every endpoint
with its HTTP line, weight, security and resend policy, every model and enum, every stream
channel and every error code of the spec."""

from __future__ import annotations

import enum
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXCHANGES = ["hashkey", "bibox", "bingx", "binance_options"]


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_api_reference_lists_everything(exchange: str) -> None:
    text = (ROOT / "generated" / "cambist" / exchange / "api.md").read_text()
    package = importlib.import_module(f"cambist.{exchange}")
    rows = text.splitlines()
    for ep in package.ENDPOINTS:
        assert f"#### `{ep.name}`" in text, ep.name
        method = ep.name.split(".")[1]
        row = next(r for r in rows if f"`{ep.method} {ep.path}`" in r and f"[`{method}`]" in r)
        assert f"| {ep.security} |" in row
        assert f"| {'safe' if ep.safe else 'unsafe'} |" in row
        assert f"| {ep.weight if ep.weight is not None else '—'} |" in row
    iterators = 0
    for resource in {ep.name.split(".")[0] for ep in package.ENDPOINTS}:
        module = importlib.import_module(f"cambist.{exchange}.resources.{resource}")
        cls = getattr(module, "".join(part.capitalize() for part in resource.split("_")))
        for name in (n for n in dir(cls) if n.startswith("iter_")):  # the paging methods
            iterators += 1
            assert f"#### `{resource}.{name}`" in text, name
            row = next(r for r in rows if f"[`{name}`](#{resource.replace('_', '')}" in r)
            assert (" a page |" in row or "| — |" in row) and "`Iterator[`" in row
    assert iterators == {"hashkey": 5, "bibox": 3, "bingx": 3, "binance_options": 0}[exchange]
    models = importlib.import_module(f"cambist.{exchange}.models")
    for name in models.__all__:
        value = getattr(models, name)
        if isinstance(value, type) and issubclass(value, enum.Enum):
            assert f"### `{name}`" in text
            for member in value:
                assert f"`{member.value}`" in text
        else:  # attrs models (responses and request models) and row NamedTuples
            assert f"### `{name}`" in text, name
    config = importlib.import_module(f"cambist.{exchange}._config")
    for row in config.EXCHANGE.errors:
        assert f"| `{row.code}` |" in text, row.code


def test_api_reference_shows_typed_signatures() -> None:
    text = (ROOT / "generated" / "cambist" / "hashkey" / "api.md").read_text()
    assert "def create_order(\n    *,\n    symbol: str,\n" in text
    assert "    price: DecimalLike | None = None,\n" in text
    assert ") -> NewOrder\n" in text
    assert "| `subscribe_depth` / `unsubscribe_depth` | `symbol` | [`DepthUpdate`]" in text


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_api_reference_tables_keep_their_columns(exchange: str) -> None:
    """Every table row has its header's cells: a `|` in a cell (``Decimal | None``, even
    inside backticks) splits the cell on GitHub unless it is escaped (``\\|``)."""
    text = (ROOT / "generated" / "cambist" / exchange / "api.md").read_text()
    columns = 0
    for line in text.splitlines():
        if not line.startswith("|"):
            columns = 0
            continue
        cells = len(re.split(r"(?<!\\)\|", line)) - 2
        if columns == 0:
            columns = cells  # the header
        assert cells == columns, line
