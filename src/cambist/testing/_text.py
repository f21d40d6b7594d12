"""How the local exchanges write values: decimals as the exchanges print them, JSON with
exact numbers."""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any

_MARK = f"\0{secrets.token_hex(8)}:"
"""Marks a Decimal's text in the first pass: a string no payload contains by chance."""
_NUMBER = re.compile(r'"\\u0000' + _MARK[1:] + r'([^"]*)"')


def fmt(value: Decimal) -> str:
    """A Decimal as exchanges print it: plain notation, no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0E0") else text


def levels(rows: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    """Order book levels as [price, quantity] strings."""
    return [[fmt(p), fmt(q)] for p, q in rows]


def _marked(value: object) -> str:
    return _MARK + fmt(value) if isinstance(value, Decimal) else str(value)


def dumps(payload: Any) -> str:
    """JSON text in which a Decimal is a JSON number written exactly (``fmt``), for the
    exchanges whose documents send numbers; anything else unknown is written as a string."""
    text = json.dumps(payload, default=_marked)
    return _NUMBER.sub(r"\1", text) if _MARK[1:] in text else text
