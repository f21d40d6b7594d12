"""``python -m codegen``: regenerate ``generated/`` from ``specs/`` and ``codegen/``.

- ``python -m codegen``            regenerate (deterministic; output ruff-formatted first)
- ``python -m codegen --check``    regenerate into a temporary tree; exit 1 on any difference
- ``python -m codegen validate``   only load and check the specs
- ``python -m codegen coverage``   compare each spec with its source document (specs/sources/)
- ``python -m codegen diff REF``   the public API changes since git REF, as a changelog entry
- ``python -m codegen schema``     regenerate the loader's typed shapes from specs/schema/
  (``--check``: fail when they, the schema and specs/README.md disagree)
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from codegen.generate import package_files
from codegen.schema import SpecError
from codegen.spec import load_all

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "generated"


def build(root: Path, target: Path, config: Path = ROOT / "pyproject.toml") -> None:
    """Render ``root/specs`` into ``target`` (emptied first) and format it with ruff (its
    settings from ``config``)."""
    specs = load_all(root / "specs", root)
    files = package_files(specs, root)
    # the generator owns the package; anything else (an editable install's egg-info) stays
    if (target / "cambist").exists():
        shutil.rmtree(target / "cambist")
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    options = ["--quiet", "--config", str(config)]
    ruff = [sys.executable, "-m", "ruff"]
    fix = ["check", "--fix-only", "--select", "I,F401,UP"]
    subprocess.run([*ruff, *fix, *options, str(target)], check=True)
    subprocess.run([*ruff, "format", *options, str(target)], check=True)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def check(root: Path) -> int:
    """Regenerate into a temporary tree and compare it with ``generated/`` byte for byte."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh_root = Path(tmp) / "generated"
        build(root, fresh_root)
        fresh = _tree(fresh_root / "cambist")
        current = _tree(root / "generated" / "cambist")
    drift = sorted(set(fresh) ^ set(current)) + sorted(
        name for name in set(fresh) & set(current) if fresh[name] != current[name]
    )
    for name in drift:
        if name in fresh and name in current:
            diff = difflib.unified_diff(
                current[name].decode().splitlines(),
                fresh[name].decode().splitlines(),
                f"generated/cambist/{name}",
                f"regenerated/cambist/{name}",
                lineterm="",
                n=1,
            )
            print("\n".join(list(diff)[:40]))
        else:
            where = "only in generated/" if name in current else "missing from generated/"
            print(f"generated/cambist/{name}: {where}")
    if drift:
        print(f"drift: {len(drift)} file(s) differ; run `python -m codegen` and commit.")
        return 1
    print("generated/ is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="generate",
        choices=["generate", "validate", "coverage", "diff", "schema"],
    )
    parser.add_argument("ref", nargs="?", help="diff: the git ref to compare with (e.g. HEAD~3)")
    parser.add_argument("--check", action="store_true", help="fail if generated/ is stale")
    parser.add_argument("--specs", type=Path, help="validate: the specs folder (default specs/)")
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            folder = args.specs.resolve() if args.specs else ROOT / "specs"
            specs = load_all(folder, folder.parent)
            print(", ".join(f"{s.id}: {len(s.endpoints)} endpoints" for s in specs))
            return 0
        if args.command == "coverage":
            from codegen.coverage import run

            return run(load_all(ROOT / "specs", ROOT), ROOT / "specs" / "sources")
        if args.command == "schema":
            from codegen.schemas import run as schema

            return schema(args.check)
        if args.command == "diff":
            from codegen.diff import run as diff

            print(diff(args.ref or "HEAD", ROOT))
            return 0
        if args.check:
            return check(ROOT)
        build(ROOT, OUT)
    except SpecError as exc:
        print(f"spec error: {exc}", file=sys.stderr)
        return 2
    print(f"generated {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
