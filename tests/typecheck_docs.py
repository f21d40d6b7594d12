"""Type-check what users copy: every ```python block of README.md, examples/*.py and
tests/typing_checks/user_code.py, with ``mypy --strict``. Run: ``python -m tests.typecheck_docs``
(nox -s ci does; so does tests/test_docs_typecheck.py)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def readme_snippets(folder: Path) -> list[Path]:
    """The README's python blocks, one module each (``readme_<line>.py``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        path = folder / f"readme_{line}.py"
        path.write_text(match.group(1), encoding="utf-8")
        out.append(path)
    return out


def typecheck() -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` over the README's blocks, examples/ and the typing checks."""
    with tempfile.TemporaryDirectory() as tmp:
        files = readme_snippets(Path(tmp))
        files += sorted((ROOT / "examples").glob("*.py"))
        files.append(ROOT / "tests" / "typing_checks" / "user_code.py")
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", *map(str, files)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )


def main() -> int:
    result = typecheck()
    print(result.stdout + result.stderr, end="")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
