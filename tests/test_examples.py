"""Every example in examples/ runs against its local exchange: exit 0 and its key lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# example -> lines its output must contain (each example also asserts what it prints)
EXPECTED = {
    "quickstart": ["async market order", "typed error: AuthenticationError"],
    "hashkey": [
        "typed error: InsufficientBalanceError",
        "typed error: ExecutionStatusUnknownError",
        "async user stream: order",
        "hashkey example: ok",
    ],
    "bibox": [
        "typed error: OrderNotFoundError",
        "async market stream:",
        "bibox example: ok",
    ],
    "bingx": [
        "typed error: InsufficientBalanceError",
        "async user stream: RawEvent type=ACCOUNT_UPDATE",
        "bingx example: ok",
    ],
    "binance_options": [
        "(RESULT): FILLED",
        "typed error: ExecutionStatusUnknownError",
        "binance_options example: ok",
    ],
}


def test_every_example_is_listed() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    for line in EXPECTED[name]:
        assert line in done.stdout, f"{line!r} not in the output:\n{done.stdout}"
