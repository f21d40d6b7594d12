"""The maintainers' docs-coverage check: a document that gains an endpoint fails it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codegen.coverage import check_spec, run
from codegen.spec import load_all

ROOT = Path(__file__).resolve().parent.parent


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    return tmp_path


def test_every_spec_covers_its_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(load_all(ROOT / "specs", ROOT), ROOT / "specs" / "sources") == 0
    out = capsys.readouterr().out
    assert "hashkey (hashkey.txt): 41 endpoints" in out and "GAPS" not in out


def test_a_new_endpoint_in_the_document_is_a_gap(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    doc = root / "specs" / "sources" / "hashkey.txt"
    doc.write_text(doc.read_text() + "\nGet Margin Info\nGET /api/v1/margin/info\nWeight: 1\n")
    spec = next(s for s in load_all(root / "specs", root) if s.id == "hashkey")
    report = check_spec(spec, root / "specs" / "sources")
    assert report is not None and not report.ok
    assert report.missing == [("GET", "/api/v1/margin/info")]
    assert run([spec], root / "specs" / "sources") == 1


def test_a_spec_endpoint_the_document_dropped_is_a_gap(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    doc = root / "specs" / "sources" / "hashkey.txt"
    doc.write_text(doc.read_text().replace("GET /quote/v1/depth/merged", "(removed)"))
    spec = next(s for s in load_all(root / "specs", root) if s.id == "hashkey")
    report = check_spec(spec, root / "specs" / "sources")
    assert report is not None
    assert report.unmentioned == ["market.get_merged_depth (GET /quote/v1/depth/merged)"]
