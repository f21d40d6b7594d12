"""What every benchmark module shares: interleaved rounds, ratio reports, the loopback server,
and the goals table printed at the end of a run (each goal met / not met, from this run's ratios).

Each topic lives in its own module beside ``run.py``; ``run.py`` calls them in order.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rounds(candidates: dict[str, Callable[[], float]], n: int) -> dict[str, float]:
    """Median seconds of each candidate over ``n`` rounds, interleaved so drift hits all."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(n):
        for name, run in candidates.items():
            samples[name].append(run())
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, medians: dict[str, float], baseline: str, unit: str = "s") -> None:
    print(f"\n{title}")
    base = medians[baseline]
    for name, value in medians.items():
        shown = f"{value * 1e3:9.3f} ms" if unit == "s" else f"{value:9.0f} {unit}"
        ratio = value / base if base else float("nan")
        print(f"  {name:<44} {shown}   {ratio:5.2f}x {'(baseline)' if name == baseline else ''}")


@dataclass(frozen=True)
class Goal:
    name: str
    measured: float
    limit: float
    higher_is_better: bool = False
    unit: str = "x"

    @property
    def met(self) -> bool:
        if self.higher_is_better:
            return self.measured >= self.limit
        return self.measured <= self.limit


GOALS: list[Goal] = []


def goal(
    name: str, measured: float, limit: float, *, higher_is_better: bool = False, unit: str = "x"
) -> None:
    """Record a goal measured in this run: a ratio against a peer measured side by side
    (``unit="x"``), or an absolute figure where the goal is one (``unit="s"``)."""
    GOALS.append(Goal(name, measured, limit, higher_is_better, unit))


def print_goals() -> None:
    if not GOALS:
        return
    print("\nGoals (ratios measured in this run)")
    for g in GOALS:
        sign = ">=" if g.higher_is_better else "<="
        verdict = "met" if g.met else "NOT MET"
        shown = f"{g.measured:6.2f}{g.unit}  (goal {sign} {g.limit:.2f}{g.unit})"
        print(f"  {g.name:<60} {shown}  {verdict}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BenchServer:
    """The loopback HTTP server of ``server.py`` in its own process (so it does not share the
    benchmark's core with the client under test)."""

    def __enter__(self) -> str:
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), str(port)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait()
