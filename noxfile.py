"""Sessions: ``nox -s ci`` runs every check; ``nox -s demo`` regenerates and runs the examples.

- ci         drift check, ruff (lint + format), mypy --strict, docs coverage, pytest, the
             examples, package
- package    build the sdist and the wheel (from the sdist), install the wheel into a fresh
             venv, import every package from there
- generate   regenerate generated/ from specs/ and codegen/
- demo       regenerate, then run examples/*.py, each against a local loopback exchange
- bench      the benchmarks (ratios against baselines measured side by side)
- tests / lint / typecheck / drift: the parts of ci on their own
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["ci"]
PYTHON = None  # the interpreter nox runs on

SOURCES = ["src", "codegen", "tests", "noxfile.py", "examples", "benchmarks"]


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


def _drift(session: nox.Session) -> None:
    session.run("python", "-m", "codegen", "--check")
    session.run("python", "-m", "codegen", "schema", "--check")  # schema, shapes, docs agree


def _lint(session: nox.Session) -> None:
    session.run("ruff", "check", *SOURCES, "generated")
    session.run("ruff", "format", "--check", *SOURCES, "generated")


def _typecheck(session: nox.Session) -> None:
    session.run("mypy", "--strict", "src/cambist", "generated/cambist", "codegen")
    session.run("python", "-m", "tests.typecheck_docs")  # README snippets, examples/


def _coverage(session: nox.Session) -> None:
    session.run("python", "-m", "codegen", "coverage")


def _tests(session: nox.Session) -> None:
    session.run("pytest", "-q", *session.posargs)


def _examples(session: nox.Session) -> None:
    for example in sorted(Path("examples").glob("*.py")):
        session.run("python", str(example))


def _package(session: nox.Session) -> None:
    tmp = Path(session.create_tmp())
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), ".")
    (wheel,) = dist.glob("cambist-*.whl")
    venv = tmp / "wheel-venv"
    session.run("python", "-m", "venv", "--clear", str(venv))
    python = str(venv / "bin" / "python")
    session.run(python, "-m", "pip", "install", "--quiet", str(wheel), external=True)
    session.run(python, "-I", "tests/installed_wheel.py", external=True)


@nox.session(python=PYTHON)
def ci(session: nox.Session) -> None:
    """Everything CI checks, in one environment."""
    _install(session)
    _drift(session)
    _lint(session)
    _typecheck(session)
    _coverage(session)
    _tests(session)  # runs examples/ too (tests/test_examples.py)
    _package(session)


@nox.session(python=PYTHON)
def package(session: nox.Session) -> None:
    """The built wheel holds the same importable package as the repository."""
    _install(session)
    _package(session)


@nox.session(python=PYTHON)
def coverage(session: nox.Session) -> None:
    """Does each spec cover what its source document mentions? (after a document changes)"""
    _install(session)
    _coverage(session)


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    _install(session)
    session.run("python", "-m", "codegen")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: regenerate the SDK, then use it against the local loopback exchanges."""
    _install(session)
    session.run("python", "-m", "codegen")
    _examples(session)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    _install(session)
    session.install("ccxt==4.5.90", "aiohttp")  # benchmark-only peers (benchmarks/calls.py)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    _install(session)
    _tests(session)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    _install(session)
    _lint(session)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    _install(session)
    _typecheck(session)


@nox.session(python=PYTHON)
def drift(session: nox.Session) -> None:
    _install(session)
    _drift(session)
