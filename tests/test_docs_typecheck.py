"""The README's snippets, examples/ and tests/typing_checks/user_code.py pass ``mypy --strict``:
what the README tells users to write type-checks (decimals as ``DecimalLike``, ids as models
return them, typed local exchanges)."""

from __future__ import annotations

from pathlib import Path

from tests.typecheck_docs import readme_snippets, typecheck


def test_readme_has_python_blocks(tmp_path: Path) -> None:
    assert len(readme_snippets(tmp_path)) >= 3


def test_readme_examples_and_user_code_typecheck() -> None:
    result = typecheck()
    assert result.returncode == 0, result.stdout + result.stderr
