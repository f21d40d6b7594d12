"""The JSON response examples of an exchange document, by endpoint (method, path)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

SOURCES = Path(__file__).resolve().parent.parent / "specs" / "sources"
_HEADING = re.compile(r"^(GET|POST|PUT|DELETE) (/\S+)$")


@cache
def hashkey_examples() -> dict[tuple[str, str], list[Any]]:
    """Every JSON value under "Response Content", decoded exactly (Decimal for fractions)."""
    lines = (SOURCES / "hashkey.txt").read_text(encoding="utf-8").splitlines()
    examples: dict[tuple[str, str], list[Any]] = {}
    current: tuple[str, str] | None = None
    collecting = False
    chunk: list[str] = []

    def flush() -> None:
        if current is None or not chunk:
            return
        text = "\n".join(chunk)
        decoder = json.JSONDecoder(parse_float=Decimal)
        pos = 0
        while True:
            starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
            if not starts:
                break
            try:
                value, pos = decoder.raw_decode(text, min(starts))
            except json.JSONDecodeError:
                pos = min(starts) + 1
                continue
            examples.setdefault(current, []).append(value)

    for line in lines:
        heading = _HEADING.match(line.strip())
        if heading:
            flush()
            chunk = []
            current = (heading.group(1), heading.group(2))
            collecting = False
        elif line.startswith("Response Content"):
            collecting = True
        elif collecting and line.startswith("| PARAMETER"):
            flush()
            chunk = []
            collecting = False
        elif collecting:
            chunk.append(line)
    flush()
    return examples
